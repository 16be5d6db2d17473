"""WorkQueue: the SQS work queue and its dead-letter queue (both topologies)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig import StackConfig, physical_name

from .iam import policy_document

DAY_SECONDS = 86_400
# Long polling: fewer empty receives (each is a billed request) and lower latency.
RECEIVE_WAIT_SECONDS = 20
# Margin above the longest job so a message never reappears while its job still runs.
VISIBILITY_MARGIN_SECONDS = 60


def deny_insecure_transport(queue_arn: pulumi.Input[str]) -> dict:
    """A statement refusing every request to the queue that is not over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": queue_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


@dataclass
class WorkQueueArgs:
    """Inputs of :class:`WorkQueue`."""

    config: StackConfig


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

    queue_url: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    queue_name: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    dlq_arn: pulumi.Output[str]
    dlq_name: pulumi.Output[str]

    def __init__(self, name: str, args: WorkQueueArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:WorkQueue", name, None, opts)
        config = args.config
        child = pulumi.ResourceOptions(parent=self)

        dlq = aws.sqs.Queue(
            f"{name}-work-dlq",
            name=physical_name(name, "sqs", "work-dlq"),
            message_retention_seconds=config.queue.dlq_retention_days * DAY_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-work",
            name=physical_name(name, "sqs", "work"),
            visibility_timeout_seconds=config.worker.max_run_minutes * 60 + VISIBILITY_MARGIN_SECONDS,
            message_retention_seconds=config.queue.message_retention_days * DAY_SECONDS,
            receive_wait_time_seconds=RECEIVE_WAIT_SECONDS,
            sqs_managed_sse_enabled=True,
            redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": config.queue.max_receive_count})
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
        for label, target in (("work", queue), ("work-dlq", dlq)):
            aws.sqs.QueuePolicy(
                f"{name}-{label}-tls-only",
                queue_url=target.url,
                policy=policy_document(deny_insecure_transport(target.arn)),
                opts=child,
            )

        self.queue_url, self.queue_arn, self.queue_name = queue.url, queue.arn, queue.name
        self.dlq_url, self.dlq_arn, self.dlq_name = dlq.url, dlq.arn, dlq.name
        self.register_outputs(
            {
                "queue_url": self.queue_url,
                "queue_arn": self.queue_arn,
                "queue_name": self.queue_name,
                "dlq_url": self.dlq_url,
                "dlq_arn": self.dlq_arn,
                "dlq_name": self.dlq_name,
            }
        )
