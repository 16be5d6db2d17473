"""SQS and SNS: encryption at rest, a dead-letter queue behind every work queue."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pulumi_policy import PolicyResource, Severity

from ._support import UNKNOWN, StackView, Subject, document, number, peek, resource_rule, stack_rule

QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
REDRIVE_ALLOW_POLICY = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
DLQ_NAME = re.compile(r"(-dlq|-dead-letter)(\.fifo)?$")
AWS_MANAGED_SNS_KEY = "alias/aws/sns"
DEFAULT_RETENTION_SECONDS = 345_600  # SQS's default: 4 days

# Where other resources name a queue as the place failed messages go: (type, path to the ARN).
DEAD_LETTER_REFERENCES = (
    (QUEUE, ("redrivePolicy",)),
    ("aws:lambda/function:Function", ("deadLetterConfig", "targetArn")),
    (
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
        ("destinationConfig", "onFailure", "destination"),
    ),
    ("aws:scheduler/schedule:Schedule", ("target", "deadLetterConfig", "arn")),
    ("aws:cloudwatch/eventTarget:EventTarget", ("deadLetterConfig", "arn")),
    ("aws:sns/topicSubscription:TopicSubscription", ("redrivePolicy",)),
)


def _sqs_encrypted(queue: Subject) -> Iterator[str]:
    if queue.get("sqsManagedSseEnabled") is not True and not queue.get("kmsMasterKeyId"):
        yield "neither sqsManagedSseEnabled nor kmsMasterKeyId is set; messages would be stored unencrypted"


def _sns_encrypted(topic: Subject) -> Iterator[str]:
    key = topic.get("kmsMasterKeyId")
    if not key:
        yield "kmsMasterKeyId is not set; the topic is not encrypted at rest"
    elif key == AWS_MANAGED_SNS_KEY:
        # The AWS-managed key's policy cannot grant CloudWatch or Budgets kms:GenerateDataKey,
        # so every alarm action to the topic fails silently.
        yield (
            f"encrypted with {AWS_MANAGED_SNS_KEY}, which CloudWatch alarms and AWS Budgets cannot "
            "publish to; use a customer-managed key whose policy allows "
            "cloudwatch.amazonaws.com and budgets.amazonaws.com"
        )


def _dead_letter_queues(stack: StackView) -> set[str]:
    """Queues that are dead-letter queues: named as one by something, or declaring themselves one."""
    queues = stack.of_type(QUEUE)
    targets: set[str] = set()
    for token, path in DEAD_LETTER_REFERENCES:
        for source in stack.of_type(token):
            targets |= {q.urn for q in queues if q is not source and stack.references(source, path, q, "arn")}
    for allow in stack.of_type(REDRIVE_ALLOW_POLICY):
        targets |= {q.urn for q in queues if stack.references(allow, "queueUrl", q, "url", "id")}
    for queue in queues:
        # Until its producer exists (e.g. a function waiting for its first image), only
        # the queue itself says it is a dead-letter queue: by its allow-list or its name.
        name = str(peek(queue.props, "name", default="") or "")
        if peek(queue.props, "redriveAllowPolicy") or DLQ_NAME.search(name):
            targets.add(queue.urn)
    return targets


def _redrive(queue: PolicyResource) -> dict | None:
    value = peek(queue.props, "redrivePolicy")
    if value is UNKNOWN:
        return {"deadLetterTargetArn": UNKNOWN, "maxReceiveCount": UNKNOWN}
    policy = document(value)
    return policy if isinstance(policy, dict) else None


EVENT_BUFFER_SECONDS = 300
"""A queue keeping messages at most this long is an event buffer (Karpenter's interruption queue):
a message is stale before a dead-letter queue could help."""


def _work_queues_have_dlq(stack: StackView) -> Iterator[tuple[str, str | None]]:
    dead_letter = _dead_letter_queues(stack)
    for queue in stack.of_type(QUEUE):
        if queue.urn in dead_letter:
            continue
        retention = peek(queue.props, "messageRetentionSeconds")
        if retention is not UNKNOWN and retention is not None and number(retention) <= EVENT_BUFFER_SECONDS:
            continue
        redrive = _redrive(queue)
        if not redrive or not redrive.get("deadLetterTargetArn"):
            yield "a work queue without a redrive policy retries a poison message until it expires", queue.urn
        elif not number(redrive.get("maxReceiveCount")) and redrive.get("maxReceiveCount") is not UNKNOWN:
            yield "the redrive policy has no maxReceiveCount", queue.urn


def _dlq_outlives_source(stack: StackView) -> Iterator[tuple[str, str | None]]:
    queues = stack.of_type(QUEUE)
    for queue in queues:
        for dlq in (q for q in queues if q is not queue and stack.references(queue, "redrivePolicy", q, "arn")):
            source_seconds = number(peek(queue.props, "messageRetentionSeconds")) or DEFAULT_RETENTION_SECONDS
            dlq_seconds = number(peek(dlq.props, "messageRetentionSeconds")) or DEFAULT_RETENTION_SECONDS
            # A message keeps its original enqueue time in the DLQ, so a DLQ that keeps
            # messages no longer than its source drops them soon after they arrive.
            if dlq_seconds <= source_seconds:
                yield (
                    f"keeps messages {dlq_seconds / 86400:g} days, not longer than {queue.name} "
                    f"({source_seconds / 86400:g} days); failed messages would expire almost as soon as they land",
                    dlq.urn,
                )


POLICIES = [
    resource_rule(
        "sqs-encrypted",
        "SQS queues must be encrypted at rest (SSE-SQS or KMS).",
        (QUEUE,),
        _sqs_encrypted,
        mandatory=True,
        remediation="Set sqs_managed_sse_enabled=True (or kms_master_key_id).",
        tags=["sqs", "encryption"],
    ),
    stack_rule(
        "sqs-work-queue-has-dlq",
        (
            "Every SQS work queue (any queue that is not a dead-letter queue) must "
            "redrive to a DLQ with a maxReceiveCount."
        ),
        _work_queues_have_dlq,
        mandatory=True,
        remediation=(
            "Give the queue redrive_policy={deadLetterTargetArn: <dlq arn>, maxReceiveCount: queue.maxReceiveCount}."
        ),
        tags=["sqs", "reliability"],
    ),
    stack_rule(
        "sqs-dlq-outlives-source",
        "A dead-letter queue should keep messages longer than the queue that feeds it.",
        _dlq_outlives_source,
        mandatory=False,
        remediation="Keep queue.dlqRetentionDays above queue.messageRetentionDays (defaults 14 and 4).",
        tags=["sqs", "reliability"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "sns-encrypted",
        "SNS topics must be encrypted with a KMS key CloudWatch and Budgets can use (not alias/aws/sns).",
        (TOPIC,),
        _sns_encrypted,
        mandatory=True,
        remediation=(
            "Create a customer-managed KMS key allowing cloudwatch.amazonaws.com and "
            "budgets.amazonaws.com; set kms_master_key_id."
        ),
        tags=["sns", "encryption"],
    ),
]
