"""SchedulerLambda: the container-image function that feeds the work queue on a schedule (both topologies)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig import StackConfig, Topology, physical_name

from .context import AwsAccount
from .iam import policy_document, service_trust_policy, statement
from .lambda_image import (
    LAMBDA_ARCHITECTURES,
    function_log_group,
    function_role,
    image_pull_policy,
    image_uri,
    logs_and_traces,
)
from .queues import encrypted_queue

FUNCTION_RETRIES = 1
"""Lambda's own retries of a failed run. One covers a passing fault; the next tick redoes the
work anyway, and fewer retries keep the single concurrency slot free for fresh ticks."""
FUNCTION_EVENT_MAX_AGE_SECONDS = 900
"""A tick still waiting for the concurrency slot after 15 minutes (three 5-minute periods) is
stale: later ticks are queued behind it. It goes to the failure queue instead of running."""
SCHEDULE_RETRIES = 3
SCHEDULE_EVENT_MAX_AGE_SECONDS = 300
"""EventBridge Scheduler's retries of the invoke call itself, within one period."""


@dataclass
class SchedulerLambdaArgs:
    """Inputs of :class:`SchedulerLambda`. ``subnet_ids`` and ``security_group_id`` (the private
    subnets and the scheduler group, allowed to PostgreSQL) are required in standard and unused in
    zero-scale, where the function runs outside any VPC."""

    config: StackConfig
    queue_url: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    repository_url: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    database_secret_arn: pulumi.Input[str]
    database_environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain, non-secret database settings (host, port, name, the secret's ARN and kind)."""
    subnet_ids: pulumi.Input[list[str]] | None = None
    security_group_id: pulumi.Input[str] | None = None


class SchedulerLambda(pulumi.ComponentResource):
    """The scheduler: a container-image Lambda run every 5 minutes that pushes due work to the queue.

    Creates:

    * the function ``<name>-scheduler`` from ``<scheduler repository>:<imageTag>``: ``scheduler.memoryMb``
      (512) MB, ``scheduler.timeoutSeconds`` (300) s, ``ecs.architecture`` (arm64 by default), reserved
      concurrency 1 so runs never overlap, X-Ray active tracing, environment QUEUE_URL, STACK,
      DB_SECRET_ARN and the database's plain settings (never a password); in standard it runs in the
      private subnets behind the scheduler security group, in zero-scale outside any VPC;
    * an EventBridge Scheduler schedule ``<name>-scheduler`` on ``scheduler.scheduleExpression``
      (``rate(5 minutes)``), no flexible window, 3 retries within 300 s;
    * the failure queue ``<name>-scheduler-dlq`` (SSE, TLS only, kept ``queue.dlqRetentionDays``):
      the schedule's dead-letter queue and the function's on-failure destination (after 1 retry,
      or when a tick waited 15 minutes for the concurrency slot);
    * the log group ``/aws/lambda/<name>-scheduler`` kept ``logRetentionDays``;
    * roles: the function may send to the work queue and the failure queue, read the one database
      secret, write its logs and traces (plus manage its network interfaces in standard); the
      schedule may invoke the function and dead-letter to the failure queue;
    * a policy on the scheduler repository letting Lambda pull the function's image.

    A container-image function cannot be created before its image exists, so until ``imageTag`` is
    set the function and its schedule are not declared and ``awaiting_image`` names the repository
    to push to; everything else is created so the first real deploy only adds them.
    """

    function_name: str
    function_arn: pulumi.Output[str] | None
    schedule_name: str | None
    failure_queue_url: pulumi.Output[str]
    failure_queue_arn: pulumi.Output[str]
    failure_queue_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    awaiting_image: pulumi.Output[str] | None
    """The scheduler repository URL while no ``imageTag`` is set; None once the function exists."""

    def __init__(self, name: str, args: SchedulerLambdaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:SchedulerLambda", name, None, opts)
        self._name = name
        self._config = config = args.config
        self._in_vpc = config.topology is Topology.STANDARD
        if self._in_vpc and (args.subnet_ids is None or args.security_group_id is None):
            raise ValueError(
                "a standard stack's SchedulerLambda needs the private subnets and the scheduler security group"
            )
        self._aws = AwsAccount.of(self, config.region)
        self.function_name = physical_name(name, "lambda", "scheduler")
        function_arn = self._aws.arn("lambda", f"function:{self.function_name}")

        failure_queue = self._failure_queue()
        log_group = function_log_group(
            f"{name}-scheduler", self.function_name, config.log_retention_days, self._child()
        )
        role, role_policy = self._function_role(args, failure_queue, log_group)
        repository_policy = image_pull_policy(
            f"{name}-scheduler", args.repository_arn, function_arn, "LambdaPullsSchedulerImage", self._child()
        )

        self.failure_queue_url, self.failure_queue_arn = failure_queue.url, failure_queue.arn
        self.failure_queue_name = failure_queue.name
        self.log_group_name = log_group.name
        if config.image_tag:
            function = self._function(args, role, [log_group, role_policy, repository_policy])
            self._on_failure(function, failure_queue)
            self.schedule_name = self._schedule(function, failure_queue)
            self.function_arn = function.arn
            self.awaiting_image = None
        else:
            pulumi.log.warn(
                "imageTag is not set: the scheduler Lambda and its schedule are created once a scheduler image "
                "is pushed and imageTag is set (see the imagesToPush output)",
                resource=self,
            )
            self.function_arn = None
            self.schedule_name = None
            self.awaiting_image = pulumi.Output.from_input(args.repository_url)
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "schedule_name": self.schedule_name,
                "failure_queue_url": self.failure_queue_url,
                "failure_queue_arn": self.failure_queue_arn,
                "failure_queue_name": self.failure_queue_name,
                "log_group_name": self.log_group_name,
                "awaiting_image": self.awaiting_image,
            }
        )

    # -- helpers -------------------------------------------------------------
    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    # -- resources -----------------------------------------------------------
    def _failure_queue(self) -> aws.sqs.Queue:
        return encrypted_queue(
            f"{self._name}-scheduler-dlq",
            queue_name=physical_name(self._name, "sqs", "scheduler-dlq"),
            retention_days=self._config.queue.dlq_retention_days,
            opts=self._child(),
        )

    def _function_role(
        self, args: SchedulerLambdaArgs, failure_queue: aws.sqs.Queue, log_group: aws.cloudwatch.LogGroup
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        role = function_role(
            f"{self._name}-scheduler", self._aws.account, "Identity of the scheduler Lambda", self._child()
        )
        statements = [
            statement(["sqs:SendMessage"], [args.queue_arn], sid="EnqueueWork"),
            statement(["sqs:SendMessage"], [failure_queue.arn], sid="RecordFailedRuns"),
            statement(["secretsmanager:GetSecretValue"], [args.database_secret_arn], sid="ReadDatabaseSecret"),
            *logs_and_traces(log_group),
        ]
        if self._in_vpc:
            statements += [
                # Describe calls support no resource-level permissions.
                statement(["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"], "*", sid="DescribeNetwork"),
                # Lambda creates and deletes its network interfaces in the stack's region and account only.
                statement(
                    [
                        "ec2:CreateNetworkInterface",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    [self._aws.arn("ec2", "*/*")],
                    sid="ManageNetworkInterfaces",
                ),
            ]
        policy = aws.iam.RolePolicy(
            f"{self._name}-scheduler", role=role.id, policy=policy_document(*statements), opts=self._child()
        )
        return role, policy

    def _function(
        self, args: SchedulerLambdaArgs, role: aws.iam.Role, prerequisites: list[pulumi.Resource]
    ) -> aws.lambda_.Function:
        config = self._config
        environment = {
            **args.database_environment,
            "DB_SECRET_ARN": args.database_secret_arn,
            "QUEUE_URL": args.queue_url,
            "STACK": config.stack,
        }
        return aws.lambda_.Function(
            f"{self._name}-scheduler",
            name=self.function_name,
            description="Pushes due work to the work queue on a schedule",
            package_type="Image",
            image_uri=image_uri(args.repository_url, config.image_tag),
            architectures=[LAMBDA_ARCHITECTURES[config.ecs.architecture]],
            memory_size=config.scheduler.memory_mb,
            timeout=config.scheduler.timeout_seconds,
            reserved_concurrent_executions=1,
            role=role.arn,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            vpc_config=(
                aws.lambda_.FunctionVpcConfigArgs(
                    subnet_ids=args.subnet_ids, security_group_ids=[args.security_group_id]
                )
                if self._in_vpc
                else None
            ),
            # The log group must exist first to keep its retention; Lambda checks the role's
            # network permissions and the image's pull permission when the function is created.
            opts=self._child(depends_on=prerequisites),
        )

    def _on_failure(self, function: aws.lambda_.Function, failure_queue: aws.sqs.Queue) -> None:
        aws.lambda_.FunctionEventInvokeConfig(
            f"{self._name}-scheduler-on-failure",
            function_name=function.name,
            maximum_retry_attempts=FUNCTION_RETRIES,
            maximum_event_age_in_seconds=FUNCTION_EVENT_MAX_AGE_SECONDS,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=failure_queue.arn
                ),
            ),
            opts=self._child(),
        )

    def _schedule(self, function: aws.lambda_.Function, failure_queue: aws.sqs.Queue) -> str:
        role = aws.iam.Role(
            f"{self._name}-scheduler-invoke",
            assume_role_policy=service_trust_policy("scheduler.amazonaws.com", self._aws.account),
            description="Lets the schedule invoke the scheduler Lambda",
            opts=self._child(),
        )
        policy = aws.iam.RolePolicy(
            f"{self._name}-scheduler-invoke",
            role=role.id,
            policy=policy_document(
                statement(["lambda:InvokeFunction"], [function.arn], sid="InvokeScheduler"),
                statement(["sqs:SendMessage"], [failure_queue.arn], sid="DeadLetter"),
            ),
            opts=self._child(),
        )
        schedule_name = physical_name(self._name, "schedule", "scheduler")
        aws.scheduler.Schedule(
            f"{self._name}-scheduler",
            name=schedule_name,
            description=f"Runs {self.function_name} on {self._config.scheduler.schedule_expression}",
            schedule_expression=self._config.scheduler.schedule_expression,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            state="ENABLED",
            target=aws.scheduler.ScheduleTargetArgs(
                arn=function.arn,
                role_arn=role.arn,
                # Scheduler fills these in per run, so the function can tell ticks apart.
                input=json.dumps(
                    {
                        "stack": self._config.stack,
                        "scheduledTime": "<aws.scheduler.scheduled-time>",
                        "executionId": "<aws.scheduler.execution-id>",
                    }
                ),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=SCHEDULE_RETRIES,
                    maximum_event_age_in_seconds=SCHEDULE_EVENT_MAX_AGE_SECONDS,
                ),
                dead_letter_config=aws.scheduler.ScheduleTargetDeadLetterConfigArgs(arn=failure_queue.arn),
            ),
            opts=self._child(depends_on=[policy]),
        )
        return schedule_name
