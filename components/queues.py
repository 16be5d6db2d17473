"""The one way the program declares an SQS queue: encrypted at rest, reachable only over TLS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from .iam import policy_document
from .watch import Alarm, Graph, Metric, MissingData, Severity

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class QueueRef:
    """One queue as its users name it: URL (SQS API), ARN (IAM, Pipes), name (CloudWatch)."""

    url: pulumi.Output[str]
    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    @classmethod
    def of(cls, queue: aws.sqs.Queue) -> QueueRef:
        return cls(url=queue.url, arn=queue.arn, name=queue.name)


def deny_insecure_transport(queue_arn: pulumi.Input[str]) -> dict[str, Any]:
    """A statement refusing every request to the queue that is not over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": queue_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def encrypted_queue(
    name: str, *, queue_name: str, retention_days: int, opts: pulumi.ResourceOptions, **settings: Any
) -> aws.sqs.Queue:
    """``<name>``: the queue ``queue_name`` (SSE at rest, messages kept ``retention_days``) and
    ``<name>-tls-only``, its policy denying any request not made over TLS."""
    queue = aws.sqs.Queue(
        name,
        name=queue_name,
        message_retention_seconds=retention_days * DAY_SECONDS,
        sqs_managed_sse_enabled=True,
        opts=opts,
        **settings,
    )
    aws.sqs.QueuePolicy(
        f"{name}-tls-only",
        queue_url=queue.url,
        policy=policy_document(deny_insecure_transport(queue.arn)),
        opts=opts,
    )
    return queue


def visible_messages(queue_name: pulumi.Input[str]) -> Metric:
    """``ApproximateNumberOfMessagesVisible`` of one queue."""
    return Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": queue_name})


def dead_letter_alarm(key: str, queue_name: pulumi.Input[str], summary: str, runbook: str) -> Alarm:
    """Critical as soon as one message sits in a dead-letter queue: its work was not done."""
    return Alarm(
        key,
        severity=Severity.CRITICAL,
        summary=summary,
        runbook=runbook,
        metric=visible_messages(queue_name),
        statistic="Maximum",
        comparison="GreaterThanOrEqualToThreshold",
        threshold=1,
        evaluation_periods=1,
        # A dead-letter queue nobody touches goes quiet after six hours with its messages still
        # in it: notBreaching would then send an OK that is not true. Keep the last state.
        treat_missing_data=MissingData.IGNORE,
        essential=True,
    )


def dead_letter_graph(queue_name: pulumi.Input[str], label: str) -> Graph:
    """One queue's line on the dashboard's single graph of every dead-letter queue."""
    return Graph(
        "Dead-letter queues: messages", (visible_messages(queue_name).line(label=label),), stat="Maximum", threshold=1
    )
