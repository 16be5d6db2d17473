"""BacklogSampler: the small function whose metrics scale the queue worker, from zero and back to it.

SQS's own CloudWatch metrics arrive late after a quiet period (up to 15 minutes) and say nothing
about the service, so a function samples the queue and the service itself several times a minute
and publishes what scaling needs (see :mod:`components.ecs.queue_backlog`, its source).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pulumi
import pulumi_aws as aws

from ..context import StackContext
from ..iam import role_policy, statement
from ..lambdas import function_log_group, function_role, logs_and_traces, stack_key_decrypt
from ..queues import QueueRef, dead_letter_alarm, dead_letter_graph, encrypted_queue
from ..watch import Alarm, Metric, MissingData, Severity, Watch

BACKLOG_NAMESPACE = "Flowbuilder/Worker"
"""CloudWatch namespace of the sampler's metrics (dimensions ClusterName, ServiceName)."""
BACKLOG_METRICS = ("QueueBacklog", "BacklogPerTask", "BacklogWithNoTasks", "TasksWithNoBacklog")
FUNCTION_SOURCE = Path(__file__).parent / "queue_backlog.py"


@dataclass(frozen=True)
class BacklogMetrics:
    """Where the sampler publishes: one namespace, one service's dimensions."""

    namespace: str
    dimensions: Mapping[str, str]
    names: tuple[str, ...]

    def as_output(self) -> dict[str, object]:
        """The ``workerBacklogMetric`` stack output."""
        return {"namespace": self.namespace, "dimensions": dict(self.dimensions), "metrics": list(self.names)}


@dataclass
class BacklogSamplerArgs:
    """Inputs of :class:`BacklogSampler`."""

    context: StackContext
    queue: QueueRef
    """The work queue it samples."""
    cluster_name: str
    service_name: str
    service_arn: pulumi.Input[str]
    """The worker service whose desired and running counts it reads."""
    sample_seconds: int
    """``worker.backlogSampleSeconds``: 10, 20, 30 or 60."""
    failure_retention_days: int
    """``queue.dlqRetentionDays``: how long failed samples are kept."""


class BacklogSampler(pulumi.ComponentResource):
    """The queue-backlog function and what runs it.

    Creates the Lambda ``<name>-queue-backlog`` (inline Python from
    :mod:`components.ecs.queue_backlog`, arm64, 128 MB, concurrency 1, X-Ray), run every minute
    by an EventBridge rule, which samples the queue every ``worker.backlogSampleSeconds`` (20) and
    publishes ``Flowbuilder/Worker`` metrics; its role may read that queue's attributes, that one
    service, write its logs and traces, and publish to that namespace only; failed samples go to
    ``<name>-backlog-dlq`` (not retried: a stale sample is worthless).

    ``watch``: the failure queue not empty, and any error of the function (critical both: without
    samples the worker neither wakes from 0 nor returns to it); the failure queue's graph line.
    """

    metrics: BacklogMetrics
    function_name: pulumi.Output[str]
    failure_queue: QueueRef
    """Where failed samples are recorded; not empty means the worker's scaling is blind."""
    log_group_name: pulumi.Output[str]
    watch: Watch

    def __init__(self, name: str, args: BacklogSamplerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:BacklogSampler", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = args.context
        function_name = context.name("lambda", "queue-backlog")
        samples = 60 // args.sample_seconds
        log_group = function_log_group(f"{name}-queue-backlog", function_name, context, child)
        # Where failed samples are recorded: not retried (they are stale), but visible.
        failures = encrypted_queue(
            f"{name}-backlog-dlq",
            queue_name=context.name("sqs", "backlog-dlq"),
            retention_days=args.failure_retention_days,
            opts=child,
        )
        role = function_role(
            f"{name}-queue-backlog",
            context,
            "Queue backlog function: read the work queue and worker service, publish backlog metrics",
            child,
        )
        policy = role_policy(
            f"{name}-queue-backlog",
            role,
            [
                statement(["sqs:GetQueueAttributes"], [args.queue.arn], sid="ReadQueueDepth"),
                statement(["ecs:DescribeServices"], [args.service_arn], sid="ReadWorkerCounts"),
                # PutMetricData has no resource-level permissions; the namespace condition is the narrowing AWS offers.
                statement(
                    ["cloudwatch:PutMetricData"],
                    "*",
                    sid="PublishBacklogMetrics",
                    condition={"StringEquals": {"cloudwatch:namespace": BACKLOG_NAMESPACE}},
                ),
                statement(["sqs:SendMessage"], [failures.arn], sid="RecordFailedSamples"),
                stack_key_decrypt(context, "DecryptEnvironment"),
                *logs_and_traces(log_group),
            ],
            child,
        )
        function = aws.lambda_.Function(
            f"{name}-queue-backlog",
            name=function_name,
            description=(
                f"Publishes {args.service_name}'s queue backlog to {BACKLOG_NAMESPACE} every {args.sample_seconds} s"
            ),
            runtime="python3.13",
            architectures=["arm64"],
            handler="queue_backlog.handler",
            code=pulumi.AssetArchive({"queue_backlog.py": pulumi.StringAsset(FUNCTION_SOURCE.read_text())}),
            role=role.arn,
            memory_size=128,
            # One sampler at a time: each run ends well inside its minute.
            reserved_concurrent_executions=1,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            # The last sample starts (samples - 1) * interval seconds in; 15 s covers its API calls.
            timeout=(samples - 1) * args.sample_seconds + 15,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "QUEUE_URL": args.queue.url,
                    "CLUSTER_NAME": args.cluster_name,
                    "SERVICE_NAME": args.service_name,
                    "METRIC_NAMESPACE": BACKLOG_NAMESPACE,
                    "SAMPLE_INTERVAL_SECONDS": str(args.sample_seconds),
                }
            ),
            kms_key_arn=context.stack_key.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, policy]),
        )
        # A sample retried later is stale: the next invocation is a minute away anyway.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-queue-backlog",
            function_name=function.name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=60,
            destination_config=aws.lambda_.FunctionEventInvokeConfigDestinationConfigArgs(
                on_failure=aws.lambda_.FunctionEventInvokeConfigDestinationConfigOnFailureArgs(
                    destination=failures.arn
                ),
            ),
            opts=child,
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-queue-backlog",
            name=function_name,
            description="Runs the queue backlog function every minute",
            schedule_expression="rate(1 minute)",
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-queue-backlog",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-queue-backlog",
            rule=rule.name,
            arn=function.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=0, maximum_event_age_in_seconds=60
            ),
            opts=child,
        )
        self.metrics = BacklogMetrics(
            namespace=BACKLOG_NAMESPACE,
            dimensions={"ClusterName": args.cluster_name, "ServiceName": args.service_name},
            names=BACKLOG_METRICS,
        )
        self.function_name = function.name
        self.failure_queue = QueueRef.of(failures)
        self.log_group_name = log_group.name
        self.watch = sampler_watch(failures.name, function_name)
        self.register_outputs(
            {
                "metrics": self.metrics.as_output(),
                "function_name": self.function_name,
                "log_group_name": self.log_group_name,
            }
        )


def sampler_watch(failure_queue_name: pulumi.Input[str], function_name: str) -> Watch:
    """Scaling is blind while the sampler fails: page on its failure queue and on its errors."""
    runbook = (
        "Read /aws/lambda/<prefix>-queue-backlog and the failed event in <prefix>-backlog-dlq; until samples "
        "resume the worker neither starts from 0 nor returns to it. Purge the queue once understood."
    )
    return Watch(
        (
            # A failed sample loses no work: not one of the few alarms a zero-scale stack keeps.
            replace(
                dead_letter_alarm(
                    "backlog-dlq-not-empty",
                    failure_queue_name,
                    "A backlog sample failed: the worker's scaling had no signal for that minute.",
                    runbook,
                ),
                essential=False,
            ),
            Alarm(
                "backlog-sampler-errors",
                severity=Severity.CRITICAL,
                summary="The backlog sampler failed: the worker's scaling is blind while it does.",
                runbook=runbook,
                metric=Metric("AWS/Lambda", "Errors", {"FunctionName": function_name}),
                statistic="Sum",
                comparison="GreaterThanOrEqualToThreshold",
                threshold=1,
                evaluation_periods=1,
                # The sampler runs every minute: no Errors datapoint means no error.
                treat_missing_data=MissingData.NOT_BREACHING,
            ),
        ),
        (dead_letter_graph(failure_queue_name, "backlog sampler failures"),),
    )
