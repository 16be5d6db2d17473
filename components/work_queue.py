"""WorkQueue: the SQS work queue and its dead-letter queue (both topologies)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import QueueConfig

from .context import StackContext
from .queues import QueueRef, dead_letter_alarm, dead_letter_graph, encrypted_queue
from .watch import Alarm, Graph, Metric, MissingData, Severity, Watch

# Long polling: fewer empty receives (each is a billed request) and lower latency.
RECEIVE_WAIT_SECONDS = 20
# Margin above the longest job so a message never reappears while its job still runs.
VISIBILITY_MARGIN_SECONDS = 60
BACKLOG_WARNING_MESSAGES = 100
BACKLOG_CRITICAL_MESSAGES = 1000


@dataclass
class WorkQueueArgs:
    """Inputs of :class:`WorkQueue`."""

    context: StackContext
    queue: QueueConfig
    max_run_minutes: int
    """``worker.maxRunMinutes``: the longest a job may hold a message."""
    oldest_message_alarm_seconds: int
    """``monitoring.oldestMessageAgeSeconds``: a message waiting longer means work is stuck."""


class WorkQueue(pulumi.ComponentResource):
    """The queue that carries work from the API and the scheduler to the workers.

    Creates:

    * ``<name>-work``: SSE-SQS encrypted, long polling (20 s), visibility timeout
      ``worker.maxRunMinutes`` + 60 s (default 15 min -> 960 s), retention
      ``queue.messageRetentionDays`` (default 4), redrive to the DLQ after
      ``queue.maxReceiveCount`` receives (default 3);
    * ``<name>-work-dlq``: SSE-SQS, retention ``queue.dlqRetentionDays`` (default 14),
      a redrive-allow policy admitting only the work queue;
    * on both, a queue policy denying any request not made over TLS.

    ``watch``: backlog above 100 (warning) and 1000 (critical) messages, the oldest message older
    than ``monitoring.oldestMessageAgeSeconds`` (900 s), and any message in the dead-letter queue.
    """

    work: QueueRef
    dead_letter: QueueRef
    watch: Watch

    def __init__(self, name: str, args: WorkQueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:WorkQueue", name, None, opts)
        context, settings = args.context, args.queue
        child = pulumi.ResourceOptions(parent=self)

        dlq = encrypted_queue(
            f"{name}-work-dlq",
            queue_name=context.name("sqs", "work-dlq"),
            retention_days=settings.dlq_retention_days,
            opts=child,
        )
        queue = encrypted_queue(
            f"{name}-work",
            queue_name=context.name("sqs", "work"),
            retention_days=settings.message_retention_days,
            visibility_timeout_seconds=args.max_run_minutes * 60 + VISIBILITY_MARGIN_SECONDS,
            receive_wait_time_seconds=RECEIVE_WAIT_SECONDS,
            redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": settings.max_receive_count})
            ),
            opts=child,
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-work-dlq-redrive-allow",
            queue_url=dlq.url,
            redrive_allow_policy=queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=child,
        )

        self.work, self.dead_letter = QueueRef.of(queue), QueueRef.of(dlq)
        self.watch = queue_watch(queue.name, dlq.name, args.oldest_message_alarm_seconds)
        self.register_outputs({"work": vars(self.work), "dead_letter": vars(self.dead_letter)})


def queue_watch(queue_name: pulumi.Input[str], dlq_name: pulumi.Input[str], oldest_bound: int) -> Watch:
    """The work queue's alarms and graphs."""
    queue = {"QueueName": queue_name}
    visible = Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue)
    oldest = Metric("AWS/SQS", "ApproximateAgeOfOldestMessage", queue)
    # SQS stops publishing a queue's metrics after six hours without activity, with messages
    # in it or not: keeping the last state neither clears a real backlog nor alarms on quiet.
    backlog = tuple(
        Alarm(
            key,
            severity=severity,
            summary=f"More than {messages} messages have waited in the work queue for {periods * 5} minutes.",
            runbook=(
                "Check that worker tasks are running and not failing (ECS service events, worker logs) "
                "and whether the worker is at worker.maxCount; raise it if the load is real."
            ),
            metric=visible,
            statistic="Maximum",
            comparison="GreaterThanThreshold",
            threshold=messages,
            evaluation_periods=periods,
            treat_missing_data=MissingData.IGNORE,
        )
        for key, severity, messages, periods in (
            ("queue-backlog-warning", Severity.WARNING, BACKLOG_WARNING_MESSAGES, 3),
            ("queue-backlog-critical", Severity.CRITICAL, BACKLOG_CRITICAL_MESSAGES, 2),
        )
    )
    stuck = Alarm(
        "queue-oldest-message-age",
        severity=Severity.CRITICAL,
        summary=f"The oldest message in the work queue is older than {oldest_bound} seconds: work is stuck.",
        runbook=(
            "Check that the worker scaled out from zero (backlog alarms, ECS service events) and that "
            "tasks are not crash-looping; a poison message cycles until maxReceiveCount."
        ),
        metric=oldest,
        statistic="Maximum",
        comparison="GreaterThanThreshold",
        threshold=oldest_bound,
        evaluation_periods=1,
        treat_missing_data=MissingData.IGNORE,
    )
    dead_letters = dead_letter_alarm(
        "dlq-not-empty",
        dlq_name,
        "A message failed every attempt and was dead-lettered; its work is not done.",
        "Read the message and the worker logs for its id, fix the cause, then redrive the "
        "dead-letter queue to the work queue (SQS console: Start DLQ redrive).",
    )
    graphs = (
        Graph(
            "Work queue: messages",
            (
                visible.line(label="visible"),
                Metric("AWS/SQS", "ApproximateNumberOfMessagesNotVisible", queue).line(label="in flight"),
            ),
            stat="Maximum",
            threshold=BACKLOG_WARNING_MESSAGES,
            threshold_label="backlog warning",
        ),
        Graph(
            "Work queue: age of oldest message (s)",
            (oldest.line(label="oldest"),),
            stat="Maximum",
            threshold=oldest_bound,
        ),
        dead_letter_graph(dlq_name, "work DLQ"),
    )
    return Watch((*backlog, stuck, dead_letters), graphs)
