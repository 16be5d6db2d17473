"""SchedulerLambda: the container-image function that feeds the work queue on a schedule (both topologies)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig import CpuArchitecture
from stackconfig.model import SchedulerConfig

from .context import StackContext
from .database import DatabaseConnection
from .iam import role_policy, service_role, statement
from .images import Image
from .lambdas import (
    LAMBDA_ARCHITECTURES,
    function_log_group,
    function_role,
    image_function,
    image_pull_policy,
    logs_and_traces,
    stack_key_decrypt,
)
from .network import Placement
from .queues import QueueRef, dead_letter_alarm, dead_letter_graph, encrypted_queue
from .watch import Alarm, Graph, Metric, MissingData, Severity, Watch

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
    """Inputs of :class:`SchedulerLambda`."""

    context: StackContext
    scheduler: SchedulerConfig
    architecture: CpuArchitecture
    """``ecs.architecture``: the images are built for one architecture."""
    image: Image
    queue: QueueRef
    """The work queue the function sends to."""
    database: DatabaseConnection
    failure_retention_days: int
    """``queue.dlqRetentionDays``: how long failed ticks are kept."""
    placement: Placement | None = None
    """The private subnets and the scheduler group (allowed to PostgreSQL) in standard; None runs the
    function outside any VPC (zero-scale, whose database is on the internet)."""
    after: Sequence[pulumi.Resource] = ()
    """What must succeed before the function runs a new image: the release's migration."""


class SchedulerLambda(pulumi.ComponentResource):
    """The scheduler: a container-image Lambda run every 5 minutes that pushes due work to the queue.

    Creates:

    * the function ``<name>-scheduler`` from ``<scheduler repository>@<digest>``: ``scheduler.memoryMb``
      (512) MB, ``scheduler.timeoutSeconds`` (300) s, ``ecs.architecture`` (arm64 by default), reserved
      concurrency 1 so runs never overlap, X-Ray active tracing, environment QUEUE_URL, STACK,
      and the database's plain settings (never a password: IAM authentication as ``flowbuilder_app``
      in standard, the URL secret's ARN in zero-scale), encrypted with the stack key; with a placement
      (standard) it runs in the private subnets behind the scheduler security group, else outside any VPC;
    * an EventBridge Scheduler schedule ``<name>-scheduler`` on ``scheduler.scheduleExpression``
      (``rate(5 minutes)``), no flexible window, 3 retries within 300 s, its payload under the stack key;
    * the failure queue ``<name>-scheduler-dlq`` (SSE, TLS only, kept ``queue.dlqRetentionDays``):
      the schedule's dead-letter queue and the function's on-failure destination (after 1 retry,
      or when a tick waited 15 minutes for the concurrency slot);
    * the log group ``/aws/lambda/<name>-scheduler`` kept ``logRetentionDays``;
    * roles: the function may send to the work queue and the failure queue, read the one database
      secret, decrypt with the stack key, write its logs and traces (plus manage its network
      interfaces in a VPC); the schedule may invoke the function, dead-letter to the failure queue
      and decrypt its payload with the stack key;
    * a policy on the scheduler repository letting Lambda pull the function's image.

    A container-image function cannot be created before its image exists, so until
    ``flowbuilder:images`` records a scheduler digest the function and its schedule are not
    declared; everything else is created so the first release only adds them.

    ``watch``: any failed tick in the failure queue; once the function exists, its errors and its
    throttles (a run overlapping the previous one); invocations, errors, throttles and duration.
    """

    function_name: str
    role_name: pulumi.Output[str]
    """The function's role: an application principal other components may grant access to."""
    failure_queue: QueueRef
    log_group_name: pulumi.Output[str]
    watch: Watch

    def __init__(self, name: str, args: SchedulerLambdaArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:SchedulerLambda", name, None, opts)
        self._name = name
        self._args = args
        context = args.context
        self.function_name = context.name("lambda", "scheduler")
        function_arn = context.account.arn("lambda", f"function:{self.function_name}")

        failure_queue = encrypted_queue(
            f"{name}-scheduler-dlq",
            queue_name=context.name("sqs", "scheduler-dlq"),
            retention_days=args.failure_retention_days,
            opts=self._child(),
        )
        log_group = function_log_group(f"{name}-scheduler", self.function_name, context, self._child())
        role = function_role(f"{name}-scheduler", context, "Identity of the scheduler Lambda", self._child())
        policy = role_policy(f"{name}-scheduler", role, self._statements(failure_queue, log_group), self._child())
        pull = image_pull_policy(
            f"{name}-scheduler", args.image, function_arn, "LambdaPullsSchedulerImage", self._child()
        )
        function = image_function(
            f"{name}-scheduler",
            args.image,
            waiting="the scheduler Lambda and its schedule are created once the release workflow records one",
            prerequisites=[log_group, policy, pull, *args.after],
            opts=self._child(),
            function_name=self.function_name,
            description="Pushes due work to the work queue on a schedule",
            architectures=[LAMBDA_ARCHITECTURES[args.architecture]],
            memory_size=args.scheduler.memory_mb,
            timeout=args.scheduler.timeout_seconds,
            reserved_concurrent_executions=1,
            role=role.arn,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={**args.database.environment, "QUEUE_URL": args.queue.url, "STACK": context.stack}
            ),
            kms_key_arn=context.stack_key.arn,
            # Lambda checks the role's network permissions when the function is created.
            vpc_config=(
                aws.lambda_.FunctionVpcConfigArgs(
                    subnet_ids=args.placement.subnet_ids, security_group_ids=[args.placement.security_group_id]
                )
                if args.placement
                else None
            ),
        )
        if function is not None:
            self._on_failure(function, failure_queue)
            self._schedule(function, failure_queue)

        self.role_name = role.name
        self.failure_queue = QueueRef.of(failure_queue)
        self.log_group_name = log_group.name
        self.watch = scheduler_watch(
            failure_queue.name,
            self.function_name if function is not None else None,
            args.scheduler.timeout_seconds,
        )
        self.register_outputs(
            {
                "function_name": self.function_name,
                "role_name": self.role_name,
                "failure_queue_url": self.failure_queue.url,
                "log_group_name": self.log_group_name,
            }
        )

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _statements(self, failure_queue: aws.sqs.Queue, log_group: aws.cloudwatch.LogGroup) -> list[dict[str, Any]]:
        args = self._args
        statements = [
            statement(["sqs:SendMessage"], [args.queue.arn], sid="EnqueueWork"),
            statement(["sqs:SendMessage"], [failure_queue.arn], sid="RecordFailedRuns"),
            *args.database.grants,
            stack_key_decrypt(args.context, "DecryptEnvironmentAndSecret"),
            *logs_and_traces(log_group),
        ]
        if args.placement:
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
                    [args.context.account.arn("ec2", "*/*")],
                    sid="ManageNetworkInterfaces",
                ),
            ]
        return statements

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

    def _schedule(self, function: aws.lambda_.Function, failure_queue: aws.sqs.Queue) -> None:
        context, settings = self._args.context, self._args.scheduler
        role = service_role(
            f"{self._name}-scheduler-invoke",
            context,
            "scheduler.amazonaws.com",
            "Lets the schedule invoke the scheduler Lambda",
            self._child(),
        )
        policy = role_policy(
            f"{self._name}-scheduler-invoke",
            role,
            [
                statement(["lambda:InvokeFunction"], [function.arn], sid="InvokeScheduler"),
                statement(["sqs:SendMessage"], [failure_queue.arn], sid="DeadLetter"),
                stack_key_decrypt(context, "DecryptSchedulePayload"),
            ],
            self._child(),
        )
        aws.scheduler.Schedule(
            f"{self._name}-scheduler",
            name=context.name("schedule", "scheduler"),
            description=f"Runs {self.function_name} on {settings.schedule_expression}",
            schedule_expression=settings.schedule_expression,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            # The payload (target input) is kept under the stack key; the schedule's role decrypts it.
            kms_key_arn=context.stack_key.arn,
            state="ENABLED",
            target=aws.scheduler.ScheduleTargetArgs(
                arn=function.arn,
                role_arn=role.arn,
                # Scheduler fills these in per run, so the function can tell ticks apart.
                input=json.dumps(
                    {
                        "stack": context.stack,
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


def scheduler_watch(failure_queue_name: pulumi.Input[str], function_name: str | None, timeout_seconds: int) -> Watch:
    """The failure queue's alarm always; the function's alarms and graphs once it exists."""
    watch = Watch(
        (
            dead_letter_alarm(
                "scheduler-dlq-not-empty",
                failure_queue_name,
                "A scheduler tick failed after its retries or could not be invoked; its work was not enqueued.",
                "Read the failed event in the queue and the scheduler's logs; the next tick usually "
                "catches up, then purge the queue.",
            ),
        ),
        (dead_letter_graph(failure_queue_name, "scheduler failures"),),
    )
    if function_name is None:
        return watch
    function = {"FunctionName": function_name}
    checks = (
        (
            "scheduler-errors",
            "Errors",
            "A scheduler run failed.",
            "Read the scheduler's log group for the error.",
            True,
        ),
        (
            "scheduler-throttles",
            "Throttles",
            "A scheduler run was throttled: the previous run was still going (concurrency 1).",
            "Read the scheduler's Duration; a run close to its timeout needs less work per tick or a longer schedule.",
            # A throttled tick is retried and loses nothing.
            False,
        ),
    )
    alarms = tuple(
        Alarm(
            key,
            severity=Severity.WARNING,
            summary=summary,
            runbook=runbook,
            metric=Metric("AWS/Lambda", metric_name, function),
            statistic="Sum",
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
            evaluation_periods=1,
            # Lambda publishes only for periods with invocations.
            treat_missing_data=MissingData.NOT_BREACHING,
            essential=essential,
        )
        for key, metric_name, summary, runbook, essential in checks
    )
    duration = Metric("AWS/Lambda", "Duration", function)
    graphs = (
        Graph(
            "Scheduler: invocations, errors, throttles",
            tuple(
                Metric("AWS/Lambda", metric, function).line(label=metric.lower())
                for metric in ("Invocations", "Errors", "Throttles")
            ),
            stat="Sum",
        ),
        Graph(
            "Scheduler: duration (ms)",
            (duration.line(label="p95", stat="p95"), duration.line(label="max", stat="Maximum")),
            threshold=timeout_seconds * 1000,
            threshold_label="timeout",
        ),
    )
    return watch + Watch(alarms, graphs)
