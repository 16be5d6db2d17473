"""WorkerPipe: one Fargate Spot task per queued message, without losing a message (zero-scale)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig import StackConfig, physical_name

from .context import AwsAccount
from .iam import policy_document, service_trust_policy, statement

CONTAINER_NAME = "worker"
SPOT_STRATEGY = [{"CapacityProvider": "FARGATE_SPOT", "Weight": 100}]
SCRATCH_PATH = "/tmp"

PENDING_IMAGE_TAG = "pending-first-push"
"""Tag of the task definition's image before ``imageTag`` is set. Nothing runs it: the pipe
stays STOPPED until a real tag is configured, so no message is consumed meanwhile."""

ECS_OVERRIDES_LIMIT = 8192
"""RunTask rejects overrides whose JSON exceeds 8192 characters (ECS API reference, TaskOverride)."""
INLINE_BODY_LIMIT = 6144
"""Largest body, JSON-escaped, passed inline in MESSAGE_BODY; the other ~2000 characters of the
8192 cover the override's names, ids and sizes. A larger body is passed by pointer."""

TASK_START_SECONDS = 300
"""Allowance for Spot placement and the image pull (Fargate pulls the whole image on every start)
on top of ``worker.maxRunMinutes``."""

# RunTask calls that fail before a task exists: throttling (20 RunTask calls/s, burst 100),
# or the Failures list of RunTask (Spot capacity unavailable), which .sync raises as AmazonECS.Unknown.
ECS_API_ERRORS = ["ECS.AmazonECSException", "AmazonECS.Unknown"]
API_RETRY = {
    "IntervalSeconds": 10,
    "MaxAttempts": 6,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 300,
    "JitterStrategy": "FULL",
}
# A task that ran and failed: non-zero exit, Spot interruption (SIGTERM, then SIGKILL after
# stopTimeout), failed image pull, or past its timeout.
TASK_ERRORS = ["States.TaskFailed", "States.Timeout"]
TASK_RETRY_INTERVAL_SECONDS = 60
TASK_RETRY_BACKOFF = 2.0
DLQ_RETRY = {"IntervalSeconds": 5, "MaxAttempts": 5, "BackoffRate": 2.0, "JitterStrategy": "FULL"}
EXECUTION_MARGIN_SECONDS = 300


def retry_delays(interval: float, attempts: int, backoff: float, cap: float | None = None) -> list[float]:
    """The longest wait before each retry (FULL jitter only shortens them)."""
    return [min(interval * backoff**i, cap) if cap else interval * backoff**i for i in range(attempts)]


def task_timeout_seconds(config: StackConfig) -> int:
    """Timeout of one worker attempt: the longest job plus placement and image pull."""
    return config.worker.max_run_minutes * 60 + TASK_START_SECONDS


def worker_attempts(config: StackConfig) -> int:
    """Runs a message gets before the dead-letter queue: ``queue.maxReceiveCount``, as in standard."""
    return config.queue.max_receive_count


def execution_timeout_seconds(config: StackConfig) -> int:
    """Longer than every attempt, wait and dead-letter send together, so a state always times out
    first and its Catch (which owns the message) runs; an execution timeout has no Catch."""
    attempts = worker_attempts(config)
    per_attempt = task_timeout_seconds(config) + sum(
        retry_delays(
            API_RETRY["IntervalSeconds"],
            API_RETRY["MaxAttempts"],
            API_RETRY["BackoffRate"],
            API_RETRY["MaxDelaySeconds"],
        )
    )
    between_attempts = sum(retry_delays(TASK_RETRY_INTERVAL_SECONDS, attempts - 1, TASK_RETRY_BACKOFF))
    dead_letter = sum(retry_delays(DLQ_RETRY["IntervalSeconds"], DLQ_RETRY["MaxAttempts"], DLQ_RETRY["BackoffRate"]))
    return int(attempts * per_attempt + between_attempts + dead_letter + EXECUTION_MARGIN_SECONDS)


def worker_state_machine(
    config: StackConfig,
    *,
    cluster_arn: str,
    task_definition_arn: str,
    subnet_ids: list[str],
    security_group_id: str,
    dead_letter_queue_url: str,
) -> dict[str, Any]:
    """The Amazon States Language (JSONata) definition that owns a message once the pipe hands it over.

    Input: the pipe's batch, a JSON array holding one SQS record. The body goes to the worker in
    MESSAGE_BODY when it fits the override limit, otherwise the worker reads it from this
    execution's input (MESSAGE_EXECUTION_ARN, ``states:DescribeExecution``). A run that fails is
    retried; when every attempt failed the original body goes to the dead-letter queue.
    """
    attempts = worker_attempts(config)
    return {
        "Comment": "Runs one worker task per queued message; the message goes to the dead-letter queue if every attempt fails",
        "QueryLanguage": "JSONata",
        "TimeoutSeconds": execution_timeout_seconds(config),
        "StartAt": "ReadMessage",
        "States": {
            "ReadMessage": {
                "Type": "Pass",
                "Assign": {
                    "messageId": "{% $states.input[0].messageId %}",
                    # Pipes hands SQS bodies over as strings; re-serialise anything else so the
                    # worker and the dead-letter queue always get text.
                    "body": "{% $type($states.input[0].body) = 'string' ? $states.input[0].body : $string($states.input[0].body) %}",
                },
                "Next": "ChooseDelivery",
            },
            "ChooseDelivery": {
                "Type": "Choice",
                "Choices": [
                    {
                        # $string of a one-element array is its JSON: the body as the override will escape it, plus 4.
                        "Condition": f"{{% $length($string([$body])) - 4 <= {INLINE_BODY_LIMIT} %}}",
                        "Next": "PassBodyInline",
                    }
                ],
                "Default": "PassExecutionPointer",
            },
            "PassBodyInline": {
                "Type": "Pass",
                "Assign": {"delivery": {"Name": "MESSAGE_BODY", "Value": "{% $body %}"}},
                "Next": "RunWorker",
            },
            "PassExecutionPointer": {
                "Type": "Pass",
                "Assign": {
                    "delivery": {"Name": "MESSAGE_EXECUTION_ARN", "Value": "{% $states.context.Execution.Id %}"}
                },
                "Next": "RunWorker",
            },
            "RunWorker": {
                "Type": "Task",
                "Resource": "arn:aws:states:::ecs:runTask.sync",
                "TimeoutSeconds": task_timeout_seconds(config),
                "Arguments": {
                    "Cluster": cluster_arn,
                    "TaskDefinition": task_definition_arn,
                    # A capacity provider strategy and no LaunchType: RunTask rejects both together.
                    "CapacityProviderStrategy": SPOT_STRATEGY,
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {
                            "Subnets": subnet_ids,
                            "SecurityGroups": [security_group_id],
                            "AssignPublicIp": "ENABLED",
                        }
                    },
                    "PropagateTags": "TASK_DEFINITION",
                    "Overrides": {
                        "ContainerOverrides": [
                            {
                                "Name": CONTAINER_NAME,
                                "Cpu": config.worker.cpu,
                                "Memory": config.worker.memory,
                                "Environment": [
                                    {"Name": "MESSAGE_ID", "Value": "{% $messageId %}"},
                                    {
                                        "Name": "MESSAGE_ATTEMPT",
                                        "Value": "{% $string($states.context.State.RetryCount + 1) %}",
                                    },
                                    {"Name": "EXIT_AFTER_COMPLETION", "Value": "true"},
                                    "{% $delivery %}",
                                ],
                            }
                        ]
                    },
                },
                "Retry": [
                    {"ErrorEquals": ECS_API_ERRORS, **API_RETRY},
                    {
                        "ErrorEquals": TASK_ERRORS,
                        "IntervalSeconds": TASK_RETRY_INTERVAL_SECONDS,
                        "MaxAttempts": attempts - 1,
                        "BackoffRate": TASK_RETRY_BACKOFF,
                        "JitterStrategy": "FULL",
                    },
                ],
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {"error": "{% $states.errorOutput %}"},
                        "Next": "SendToDeadLetterQueue",
                    }
                ],
                "End": True,
            },
            "SendToDeadLetterQueue": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Arguments": {
                    "QueueUrl": dead_letter_queue_url,
                    # The original body, so a redrive to the work queue replays the message as sent.
                    "MessageBody": "{% $body %}",
                    "MessageAttributes": {
                        "originalMessageId": {"DataType": "String", "StringValue": "{% $messageId %}"},
                        "error": {"DataType": "String", "StringValue": "{% $string($error.Error) %}"},
                        "executionArn": {"DataType": "String", "StringValue": "{% $states.context.Execution.Id %}"},
                    },
                },
                "Retry": [{"ErrorEquals": ["States.ALL"], **DLQ_RETRY}],
                "Next": "Failed",
            },
            "Failed": {
                "Type": "Fail",
                "Error": "WorkerFailed",
                "Cause": "{% 'message ' & $messageId & ' sent to the dead-letter queue after ' & $string($error.Error) %}",
            },
        },
    }


@dataclass
class WorkerPipeArgs:
    """Inputs of :class:`WorkerPipe`: the queue pair, the worker image repository, the public
    subnets and worker security group of the adopted VPC, and the database secret."""

    config: StackConfig
    queue_arn: pulumi.Input[str]
    dlq_arn: pulumi.Input[str]
    dlq_url: pulumi.Input[str]
    repository_url: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    subnet_ids: pulumi.Input[list[str]]
    security_group_id: pulumi.Input[str]
    database_secret_arn: pulumi.Input[str]
    """The secret holding the external database URL; given to the task as DATABASE_URL by reference."""
    database_environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain, non-secret database settings for the container (e.g. the secret's ARN and kind)."""


class WorkerPipe(pulumi.ComponentResource):
    """The zero-scale worker: SQS -> EventBridge Pipe -> Step Functions -> ECS RunTask on Fargate Spot.

    Creates:

    * the stack's ECS cluster ``<name>-cluster`` with the FARGATE_SPOT capacity provider (default
      strategy FARGATE_SPOT weight 100), Container Insights per ``ecs.containerInsights``;
    * the worker task definition ``<name>-worker``: ``worker.cpu``/``worker.memory`` (default 1024 /
      2048), ``ecs.architecture`` (default ARM64), read-only root filesystem with a scratch volume on
      /tmp, stop timeout ``worker.stopTimeoutSeconds`` (120 s, the Spot warning), logs to
      ``/flowbuilder/<stack>/worker`` kept ``logRetentionDays``, DATABASE_URL from the database
      secret by reference; an execution role (pull from the worker repository, write its logs, read
      that one secret) and a task role (read its own execution's input);
    * the state machine ``<name>-worker-run`` (STANDARD): RunTask ``.sync`` with a FARGATE_SPOT
      capacity provider strategy and no launch type, public subnets with a public IP, container
      overrides setting cpu, memory, MESSAGE_ID, MESSAGE_ATTEMPT, EXIT_AFTER_COMPLETION=true and the
      body (or a pointer to it when larger than 6144 escaped characters); ``queue.maxReceiveCount``
      attempts (default 3), then the original body to the dead-letter queue; ERROR logs to
      ``/aws/vendedlogs/states/<name>-worker-run``;
    * the pipe ``<name>-worker``: source the work queue (batch size 1, no batching window), target the
      state machine (FIRE_AND_FORGET), ERROR logs to ``/aws/vendedlogs/pipes/<name>-worker``; its role
      may only read and delete from that queue and start that state machine.

    The pipe deletes a message once StartExecution succeeded; from then on the execution owns it, so
    a task that dies later (Spot interruption, crash) is retried and never loses the message. Until
    ``imageTag`` is set the pipe is created STOPPED and messages wait in the queue.
    """

    cluster_name: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]
    task_definition_arn: pulumi.Output[str]
    state_machine_arn: pulumi.Output[str]
    state_machine_name: pulumi.Output[str]
    pipe_name: pulumi.Output[str]
    pipe_arn: pulumi.Output[str]
    log_group_names: dict[str, pulumi.Output[str]]
    """Keys ``worker``, ``stateMachine``, ``pipe``."""
    awaiting_image: pulumi.Output[str] | None
    """The worker repository URL while no ``imageTag`` is set; None once the image is configured."""

    def __init__(self, name: str, args: WorkerPipeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:WorkerPipe", name, None, opts)
        self._name = name
        self._config = config = args.config
        self._aws = AwsAccount.of(self, config.region)

        cluster, capacity = self._cluster()
        task_definition, execution_role, task_role = self._task_definition(args)
        state_machine_name = physical_name(name, "state-machine", "worker-run")
        self._task_role_policy(task_role, state_machine_name)
        state_machine = self._state_machine(
            args, state_machine_name, cluster, capacity, task_definition, [execution_role, task_role]
        )
        pipe, pipe_log_group = self._pipe(args, state_machine)

        self.cluster_name, self.cluster_arn = cluster.name, cluster.arn
        self.task_definition_arn = task_definition.arn
        self.state_machine_arn, self.state_machine_name = state_machine.arn, state_machine.name
        self.pipe_name, self.pipe_arn = pipe.name, pipe.arn
        self.log_group_names = {
            "worker": self._worker_log_group.name,
            "stateMachine": self._state_machine_log_group.name,
            "pipe": pipe_log_group.name,
        }
        self.awaiting_image = None if config.image_tag else pulumi.Output.from_input(args.repository_url)
        if not config.image_tag:
            pulumi.log.warn(
                "imageTag is not set: the worker pipe is created STOPPED and messages wait in the queue "
                "until a worker image is pushed and imageTag is set (see the imagesToPush output)",
                resource=self,
            )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "cluster_arn": self.cluster_arn,
                "task_definition_arn": self.task_definition_arn,
                "state_machine_arn": self.state_machine_arn,
                "state_machine_name": self.state_machine_name,
                "pipe_name": self.pipe_name,
                "pipe_arn": self.pipe_arn,
                "log_group_names": self.log_group_names,
                "awaiting_image": self.awaiting_image,
            }
        )

    # -- helpers -------------------------------------------------------------
    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _log_group(self, label: str, log_name: str) -> aws.cloudwatch.LogGroup:
        return aws.cloudwatch.LogGroup(
            f"{self._name}-{label}-logs",
            name=log_name,
            retention_in_days=self._config.log_retention_days,
            opts=self._child(),
        )

    def _role(self, label: str, service: str, description: str) -> aws.iam.Role:
        return aws.iam.Role(
            f"{self._name}-{label}",
            assume_role_policy=service_trust_policy(service, self._aws.account),
            description=description,
            opts=self._child(),
        )

    def _role_policy(self, label: str, role: aws.iam.Role, *statements: dict[str, Any]) -> aws.iam.RolePolicy:
        return aws.iam.RolePolicy(
            f"{self._name}-{label}", role=role.id, policy=policy_document(*statements), opts=self._child()
        )

    # -- cluster and task ----------------------------------------------------
    def _cluster(self) -> tuple[aws.ecs.Cluster, aws.ecs.ClusterCapacityProviders]:
        cluster = aws.ecs.Cluster(
            f"{self._name}-cluster",
            name=physical_name(self._name, "ecs-cluster", "cluster"),
            settings=[
                aws.ecs.ClusterSettingArgs(
                    name="containerInsights",
                    value="enabled" if self._config.ecs.container_insights else "disabled",
                )
            ],
            opts=self._child(),
        )
        capacity = aws.ecs.ClusterCapacityProviders(
            f"{self._name}-cluster-capacity",
            cluster_name=cluster.name,
            capacity_providers=["FARGATE_SPOT"],
            default_capacity_provider_strategies=[
                aws.ecs.ClusterCapacityProvidersDefaultCapacityProviderStrategyArgs(
                    capacity_provider="FARGATE_SPOT", weight=100
                )
            ],
            opts=self._child(),
        )
        return cluster, capacity

    def _task_definition(self, args: WorkerPipeArgs) -> tuple[aws.ecs.TaskDefinition, aws.iam.Role, aws.iam.Role]:
        config = self._config
        self._worker_log_group = log_group = self._log_group("worker", f"/flowbuilder/{config.stack}/worker")
        execution_role = self._role(
            "worker-execution",
            "ecs-tasks.amazonaws.com",
            "Lets ECS pull the worker image, write its logs and read the database secret",
        )
        self._role_policy(
            "worker-execution",
            execution_role,
            # GetAuthorizationToken is account-wide: ECR offers no resource to scope it to.
            statement(["ecr:GetAuthorizationToken"], "*", sid="RegistryLogin"),
            statement(
                ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                [args.repository_arn],
                sid="PullWorkerImage",
            ),
            statement(
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [log_group.arn.apply(lambda arn: f"{arn}:*")],
                sid="WriteLogs",
            ),
            statement(["secretsmanager:GetSecretValue"], [args.database_secret_arn], sid="ReadDatabaseSecret"),
        )
        task_role = self._role("worker-task", "ecs-tasks.amazonaws.com", "Identity of the worker container")

        tag = config.image_tag or PENDING_IMAGE_TAG
        environment = {**args.database_environment, "AWS_REGION": config.region, "STACK": config.stack}
        container = {
            "name": CONTAINER_NAME,
            "image": pulumi.Output.from_input(args.repository_url).apply(lambda url: f"{url}:{tag}"),
            "essential": True,
            "readonlyRootFilesystem": True,
            "mountPoints": [{"sourceVolume": "scratch", "containerPath": SCRATCH_PATH, "readOnly": False}],
            # An init process forwards the Spot SIGTERM to the worker and reaps its children.
            "linuxParameters": {"initProcessEnabled": True},
            "stopTimeout": config.worker.stop_timeout_seconds,
            "environment": [{"name": key, "value": value} for key, value in sorted(environment.items())],
            "secrets": [{"name": "DATABASE_URL", "valueFrom": args.database_secret_arn}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group.name,
                    "awslogs-region": config.region,
                    "awslogs-stream-prefix": CONTAINER_NAME,
                },
            },
        }
        task_definition = aws.ecs.TaskDefinition(
            f"{self._name}-worker",
            family=physical_name(self._name, "ecs-family", "worker"),
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(config.worker.cpu),
            memory=str(config.worker.memory),
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture=config.ecs.architecture.value
            ),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            volumes=[aws.ecs.TaskDefinitionVolumeArgs(name="scratch")],
            container_definitions=pulumi.Output.json_dumps([container]),
            opts=self._child(),
        )
        return task_definition, execution_role, task_role

    def _task_role_policy(self, task_role: aws.iam.Role, state_machine_name: str) -> None:
        # A body too large for the override limit is read from the execution's own input.
        self._role_policy(
            "worker-task",
            task_role,
            statement(
                ["states:DescribeExecution"],
                [self._aws.arn("states", f"execution:{state_machine_name}:*")],
                sid="ReadOwnExecutionInput",
            ),
        )

    # -- state machine -------------------------------------------------------
    def _state_machine(
        self,
        args: WorkerPipeArgs,
        state_machine_name: str,
        cluster: aws.ecs.Cluster,
        capacity: aws.ecs.ClusterCapacityProviders,
        task_definition: aws.ecs.TaskDefinition,
        task_roles: list[aws.iam.Role],
    ) -> aws.sfn.StateMachine:
        self._state_machine_log_group = log_group = self._log_group(
            "worker-run", f"/aws/vendedlogs/states/{state_machine_name}"
        )
        role = self._role(
            "worker-run",
            "states.amazonaws.com",
            "Lets the worker state machine run worker tasks and dead-letter messages",
        )
        cluster_tasks = cluster.name.apply(lambda cluster_name: self._aws.arn("ecs", f"task/{cluster_name}/*"))
        policy = self._role_policy(
            "worker-run",
            role,
            statement(
                ["ecs:RunTask"],
                [task_definition.arn_without_revision.apply(lambda arn: f"{arn}:*")],
                sid="RunWorkerTask",
                condition={"ArnEquals": {"ecs:cluster": cluster.arn}},
            ),
            statement(["ecs:StopTask", "ecs:DescribeTasks"], [cluster_tasks], sid="WatchWorkerTasks"),
            # RunTask with PropagateTags tags the task it creates.
            statement(
                ["ecs:TagResource"],
                [cluster_tasks],
                sid="TagWorkerTasks",
                condition={"StringEquals": {"ecs:CreateAction": "RunTask"}},
            ),
            # The .sync integration waits for the task through this rule, which Step Functions manages.
            statement(
                ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                [self._aws.arn("events", "rule/StepFunctionsGetEventsForECSTaskRule")],
                sid="WaitForTaskEvents",
            ),
            statement(
                ["iam:PassRole"],
                [r.arn for r in task_roles],
                sid="PassWorkerRoles",
                condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
            statement(["sqs:SendMessage"], [args.dlq_arn], sid="DeadLetter"),
            # CloudWatch Logs vended delivery has no resource-level permissions: "*" is the only form AWS accepts.
            statement(
                [
                    "logs:CreateLogDelivery",
                    "logs:GetLogDelivery",
                    "logs:UpdateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:DescribeResourcePolicies",
                    "logs:DescribeLogGroups",
                ],
                "*",
                sid="DeliverLogs",
            ),
        )
        definition = pulumi.Output.all(
            cluster.arn, task_definition.arn, args.subnet_ids, args.security_group_id, args.dlq_url
        ).apply(
            lambda values: json.dumps(
                worker_state_machine(
                    self._config,
                    cluster_arn=values[0],
                    task_definition_arn=values[1],
                    subnet_ids=list(values[2]),
                    security_group_id=values[3],
                    dead_letter_queue_url=values[4],
                )
            )
        )
        return aws.sfn.StateMachine(
            f"{self._name}-worker-run",
            name=state_machine_name,
            type="STANDARD",
            role_arn=role.arn,
            definition=definition,
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level="ERROR",
                include_execution_data=False,
                log_destination=log_group.arn.apply(lambda arn: f"{arn}:*"),
            ),
            # Step Functions checks the role's log permissions and RunTask needs the Spot provider attached.
            opts=self._child(depends_on=[policy, capacity]),
        )

    # -- pipe ----------------------------------------------------------------
    def _pipe(
        self, args: WorkerPipeArgs, state_machine: aws.sfn.StateMachine
    ) -> tuple[aws.pipes.Pipe, aws.cloudwatch.LogGroup]:
        pipe_name = physical_name(self._name, "pipe", "worker")
        log_group = self._log_group("pipe", f"/aws/vendedlogs/pipes/{pipe_name}")
        role = self._role(
            "pipe", "pipes.amazonaws.com", "Lets the worker pipe read the work queue and start the worker state machine"
        )
        policy = self._role_policy(
            "pipe",
            role,
            statement(
                ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                [args.queue_arn],
                sid="ConsumeWorkQueue",
            ),
            statement(["states:StartExecution"], [state_machine.arn], sid="StartWorkerRun"),
        )
        pipe = aws.pipes.Pipe(
            f"{self._name}-worker-pipe",
            name=pipe_name,
            description="One worker run per message: work queue -> worker state machine",
            role_arn=role.arn,
            desired_state="RUNNING" if self._config.image_tag else "STOPPED",
            source=args.queue_arn,
            source_parameters=aws.pipes.PipeSourceParametersArgs(
                sqs_queue_parameters=aws.pipes.PipeSourceParametersSqsQueueParametersArgs(batch_size=1),
            ),
            target=state_machine.arn,
            target_parameters=aws.pipes.PipeTargetParametersArgs(
                step_function_state_machine_parameters=aws.pipes.PipeTargetParametersStepFunctionStateMachineParametersArgs(
                    invocation_type="FIRE_AND_FORGET",
                ),
            ),
            log_configuration=aws.pipes.PipeLogConfigurationArgs(
                level="ERROR",
                cloudwatch_logs_log_destination=aws.pipes.PipeLogConfigurationCloudwatchLogsLogDestinationArgs(
                    log_group_arn=log_group.arn,
                ),
            ),
            # The pipe starts polling at creation; without its policy every poll would fail.
            opts=self._child(depends_on=[policy]),
        )
        return pipe, log_group
