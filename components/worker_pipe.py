"""WorkerPipe: one Fargate Spot task per queued message, without losing a message (zero-scale)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from stackconfig import CpuArchitecture
from stackconfig.model import WorkerTaskConfig

from .context import StackContext
from .database import DatabaseConnection
from .ecs import ClusterRef, TaskSpec, fargate_task, task_role
from .ecs.task_definition import ECS_TASKS, FargateTask
from .iam import role_policy, service_role, statement
from .images import Image
from .lambdas import stack_key_decrypt
from .logs import log_group, log_stream_arn
from .network import Placement
from .queues import QueueRef
from .watch import Alarm, Graph, Metric, MissingData, Severity, Watch, expression
from .worker_run import CONTAINER_NAME, WorkerRun, worker_state_machine


@dataclass
class WorkerPipeArgs:
    """Inputs of :class:`WorkerPipe`."""

    context: StackContext
    worker: WorkerTaskConfig
    max_receive_count: int
    """``queue.maxReceiveCount``: the runs a message gets before the dead-letter queue."""
    architecture: CpuArchitecture
    cluster: ClusterRef
    image: Image
    placement: Placement
    """The adopted VPC's public subnets, the worker group, a public IP per task (no NAT)."""
    queue: QueueRef
    dead_letter: QueueRef
    database: DatabaseConnection
    """The external database: its URL reaches the task as DATABASE_URL, by reference."""
    after: Sequence[pulumi.Resource] = ()
    """What must succeed before runs use a new revision: the release's migration."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Settings of the parts the stack turns on (the uploads bucket, the e-mail identity)."""


class WorkerPipe(pulumi.ComponentResource):
    """The zero-scale worker: SQS -> EventBridge Pipe -> Step Functions -> ECS RunTask on Fargate Spot.

    Creates:

    * the worker task definition ``<name>-worker`` (see :mod:`components.ecs.task_definition`):
      ``worker.cpu``/``worker.memory`` (default 1024 / 2048), stop timeout
      ``worker.stopTimeoutSeconds`` (120 s, the Spot warning), logs in ``/flowbuilder/<stack>/worker``,
      DATABASE_URL from the database secret by reference; a task role that may read its own
      execution's input;
    * the state machine ``<name>-worker-run`` (STANDARD, :mod:`components.worker_run`): RunTask
      ``.sync`` on the stack's cluster with a FARGATE_SPOT capacity provider strategy and no launch
      type, public subnets with a public IP, container overrides setting cpu, memory, MESSAGE_ID,
      MESSAGE_ATTEMPT, EXIT_AFTER_COMPLETION=true and the body (or a pointer to it when larger than
      6144 escaped characters); ``queue.maxReceiveCount`` attempts (default 3), then the original
      body to the dead-letter queue; ERROR logs to ``/aws/vendedlogs/states/<name>-worker-run``;
    * the pipe ``<name>-worker``: source the work queue (batch size 1, no batching window), target the
      state machine (FIRE_AND_FORGET), ERROR logs to ``/aws/vendedlogs/pipes/<name>-worker``; its role
      may only read and delete from that queue, start that state machine and write that log group.

    The pipe deletes a message once StartExecution succeeded; from then on the execution owns it, so
    a task that dies later (Spot interruption, crash) is retried and never loses the message. Until
    ``flowbuilder:images`` records a worker digest the pipe is created STOPPED and messages wait in
    the queue.

    ``watch``: a pipe execution that failed to start a run, and a run that failed, timed out or
    was aborted; the pipe's executions and the runs' outcomes.
    """

    task_role_name: pulumi.Output[str]
    """The worker's role: an application principal other components may grant access to."""
    task_definition_arn: pulumi.Output[str]
    state_machine_arn: pulumi.Output[str]
    pipe_name: pulumi.Output[str]
    log_group_names: dict[str, pulumi.Output[str]]
    """Keys ``worker``, ``stateMachine``, ``pipe``."""
    watch: Watch

    def __init__(self, name: str, args: WorkerPipeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:WorkerPipe", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        context = args.context
        if not args.image.released:
            args.image.warn_unreleased(
                "the worker pipe is created STOPPED and messages wait in the queue until the release workflow "
                "records one",
                self,
            )

        state_machine_name = context.name("state-machine", "worker-run")
        # A body too large for the override limit is read from the execution's own input.
        role = task_role(
            f"{name}-worker",
            context,
            "Identity of the worker container",
            [
                statement(
                    ["states:DescribeExecution"],
                    [context.account.arn("states", f"execution:{state_machine_name}:*")],
                    sid="ReadOwnExecutionInput",
                ),
                *args.database.grants,
                # The URL secret is under the stack key.
                stack_key_decrypt(context, "DecryptDatabaseSecret"),
            ],
            self._child,
        )
        task = fargate_task(
            f"{name}-worker",
            context=context,
            family=context.name("ecs-family", "worker"),
            log_name=f"/flowbuilder/{context.stack}/worker",
            spec=TaskSpec(
                container_name=CONTAINER_NAME,
                image=args.image,
                cpu=args.worker.cpu,
                memory=args.worker.memory,
                architecture=args.architecture,
                environment={
                    **args.environment,
                    **args.database.environment,
                    "AWS_REGION": context.region,
                    "STACK": context.stack,
                },
                secrets=list(args.database.container_secrets),
                # Fargate Spot's reclaim notice is 2 minutes; stopTimeout is how long SIGTERM lasts before SIGKILL.
                container={"stopTimeout": args.worker.stop_timeout_seconds},
            ),
            role=role,
            opts=self._child,
        )
        state_machine, run_logs = self._state_machine(state_machine_name, task, role)
        pipe, pipe_logs = self._pipe(state_machine)

        self.task_role_name = role.name
        self.task_definition_arn = task.definition.arn
        self.state_machine_arn = state_machine.arn
        self.pipe_name = pipe.name
        self.log_group_names = {"worker": task.log_group.name, "stateMachine": run_logs.name, "pipe": pipe_logs.name}
        self.watch = pipe_watch(pipe.name, state_machine.arn)
        self.register_outputs(
            {
                "task_role_name": self.task_role_name,
                "task_definition_arn": self.task_definition_arn,
                "state_machine_arn": self.state_machine_arn,
                "pipe_name": self.pipe_name,
                "log_group_names": self.log_group_names,
            }
        )

    def _state_machine(
        self, state_machine_name: str, task: FargateTask, role: aws.iam.Role
    ) -> tuple[aws.sfn.StateMachine, aws.cloudwatch.LogGroup]:
        args, context = self._args, self._args.context
        logs = log_group(
            f"{self._name}-worker-run-logs", f"/aws/vendedlogs/states/{state_machine_name}", context, self._child
        )
        run_role = service_role(
            f"{self._name}-worker-run",
            context,
            "states.amazonaws.com",
            "Lets the worker state machine run worker tasks and dead-letter messages",
            self._child,
        )
        cluster_tasks = context.account.arn("ecs", f"task/{args.cluster.name}/*")
        policy = role_policy(
            f"{self._name}-worker-run",
            run_role,
            [
                statement(
                    ["ecs:RunTask"],
                    [task.definition.arn_without_revision.apply(lambda arn: f"{arn}:*")],
                    sid="RunWorkerTask",
                    condition={"ArnEquals": {"ecs:cluster": args.cluster.arn}},
                ),
                statement(["ecs:StopTask", "ecs:DescribeTasks"], [cluster_tasks], sid="WatchWorkerTasks"),
                # A timed-out run finds its task by StartedBy; ListTasks is scoped to the cluster's instances.
                statement(
                    ["ecs:ListTasks"],
                    [context.account.arn("ecs", f"container-instance/{args.cluster.name}/*")],
                    sid="FindTimedOutTasks",
                    condition={"ArnEquals": {"ecs:cluster": args.cluster.arn}},
                ),
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
                    [context.account.arn("events", "rule/StepFunctionsGetEventsForECSTaskRule")],
                    sid="WaitForTaskEvents",
                ),
                statement(
                    ["iam:PassRole"],
                    [task.execution_role.arn, role.arn],
                    sid="PassWorkerRoles",
                    condition={"StringEquals": {"iam:PassedToService": ECS_TASKS}},
                ),
                statement(["sqs:SendMessage"], [args.dead_letter.arn], sid="DeadLetter"),
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
            ],
            self._child,
        )
        run = WorkerRun.of(args.worker, args.max_receive_count)
        placement = args.placement
        definition = pulumi.Output.all(
            args.cluster.arn,
            task.definition.arn,
            placement.subnet_ids,
            placement.security_group_id,
            args.dead_letter.url,
        ).apply(
            lambda values: json.dumps(
                worker_state_machine(
                    run,
                    partition=context.account.partition,
                    cluster_arn=values[0],
                    task_definition_arn=values[1],
                    subnet_ids=list(values[2]),
                    security_group_id=values[3],
                    assign_public_ip=placement.public_ip,
                    dead_letter_queue_url=values[4],
                )
            )
        )
        machine = aws.sfn.StateMachine(
            f"{self._name}-worker-run",
            name=state_machine_name,
            type="STANDARD",
            role_arn=run_role.arn,
            definition=definition,
            logging_configuration=aws.sfn.StateMachineLoggingConfigurationArgs(
                level="ERROR",
                include_execution_data=False,
                log_destination=logs.arn.apply(lambda arn: f"{arn}:*"),
            ),
            # Step Functions checks the role's log permissions; the cluster ARN in the definition
            # resolves only once the Spot capacity provider RunTask names is attached.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, *args.after]),
        )
        return machine, logs

    def _pipe(self, state_machine: aws.sfn.StateMachine) -> tuple[aws.pipes.Pipe, aws.cloudwatch.LogGroup]:
        args, context = self._args, self._args.context
        pipe_name = context.name("pipe", "worker")
        logs = log_group(f"{self._name}-pipe-logs", f"/aws/vendedlogs/pipes/{pipe_name}", context, self._child)
        role = service_role(
            f"{self._name}-pipe",
            context,
            "pipes.amazonaws.com",
            "Lets the worker pipe read the work queue and start the worker state machine",
            self._child,
        )
        policy = role_policy(
            f"{self._name}-pipe",
            role,
            [
                statement(
                    ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                    [args.queue.arn],
                    sid="ConsumeWorkQueue",
                ),
                statement(["states:StartExecution"], [state_machine.arn], sid="StartWorkerRun"),
                # Pipes writes its CloudWatch Logs destination with the pipe's own role.
                statement(["logs:CreateLogStream", "logs:PutLogEvents"], [log_stream_arn(logs)], sid="WritePipeLogs"),
            ],
            self._child,
        )
        pipe = aws.pipes.Pipe(
            f"{self._name}-worker-pipe",
            name=pipe_name,
            description="One worker run per message: work queue -> worker state machine",
            role_arn=role.arn,
            desired_state="RUNNING" if args.image.released else "STOPPED",
            source=args.queue.arn,
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
                    log_group_arn=logs.arn,
                ),
            ),
            # The pipe starts polling at creation; without its policy every poll would fail. Its
            # source is replace-only and its name fixed: the old pipe goes first (messages wait).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, *args.after], delete_before_replace=True),
        )
        return pipe, logs


RUN_OUTCOMES = (
    ("ExecutionsStarted", "started"),
    ("ExecutionsSucceeded", "succeeded"),
    ("ExecutionsFailed", "failed"),
    ("ExecutionsTimedOut", "timed out"),
    ("ExecutionsAborted", "aborted"),
)


def pipe_watch(pipe_name: pulumi.Input[str], state_machine_arn: pulumi.Input[str]) -> Watch:
    pipe = {"PipeName": pipe_name}
    machine = {"StateMachineArn": state_machine_arn}
    unfinished = (
        *(
            Metric("AWS/States", metric_name, machine).sum_query(query_id)
            for query_id, metric_name in (
                ("failed", "ExecutionsFailed"),
                ("timedout", "ExecutionsTimedOut"),
                ("aborted", "ExecutionsAborted"),
            )
        ),
        expression(
            "unfinished",
            "FILL(failed, 0) + FILL(timedout, 0) + FILL(aborted, 0)",
            "Worker runs failed, timed out or aborted",
            returned=True,
        ),
    )
    alarms = (
        Alarm(
            "worker-pipe-failures",
            severity=Severity.CRITICAL,
            summary="The worker pipe failed to hand a message to the worker state machine.",
            runbook=(
                "Read the pipe's log group (/aws/vendedlogs/pipes/...); the message stays in the queue and "
                "is retried until maxReceiveCount, then dead-lettered."
            ),
            metric=Metric("AWS/EventBridge/Pipes", "ExecutionFailed", pipe),
            statistic="Sum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            # Pipes publish only while they run executions.
            treat_missing_data=MissingData.NOT_BREACHING,
            essential=True,
        ),
        Alarm(
            "worker-run-failures",
            severity=Severity.CRITICAL,
            summary="A worker run (one message) failed, timed out or was aborted.",
            runbook=(
                "Open the execution in Step Functions: WorkerFailed means every attempt failed and the "
                "message is in the dead-letter queue; a timeout or abort may have lost the message."
            ),
            queries=unfinished,
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            treat_missing_data=MissingData.NOT_BREACHING,
            essential=True,
        ),
    )
    graphs = (
        Graph(
            "Worker pipe: executions",
            tuple(
                Metric("AWS/EventBridge/Pipes", metric, pipe).line(label=label)
                for metric, label in (
                    ("Invocations", "invocations"),
                    ("ExecutionFailed", "failed"),
                    ("TargetStageFailed", "target stage failed"),
                    ("ExecutionThrottled", "throttled"),
                )
            ),
            stat="Sum",
        ),
        Graph(
            "Worker runs (Step Functions)",
            tuple(Metric("AWS/States", metric, machine).line(label=label) for metric, label in RUN_OUTCOMES),
            stat="Sum",
        ),
    )
    return Watch(alarms, graphs)
