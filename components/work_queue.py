"""WorkQueue: the SQS work queue and its dead-letter queue (both topologies)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import QueueConfig

from .context import StackContext
from .queues import QueueRef, encrypted_queue

# Long polling: fewer empty receives (each is a billed request) and lower latency.
RECEIVE_WAIT_SECONDS = 20
# Margin above the longest job so a message never reappears while its job still runs.
VISIBILITY_MARGIN_SECONDS = 60


@dataclass
class WorkQueueArgs:
    """Inputs of :class:`WorkQueue`."""

    context: StackContext
    queue: QueueConfig
    max_run_minutes: int
    """``worker.maxRunMinutes``: the longest a job may hold a message."""


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
    """

    work: QueueRef
    dead_letter: QueueRef

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
        self.register_outputs({"work": vars(self.work), "dead_letter": vars(self.dead_letter)})
