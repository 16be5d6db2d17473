"""WorkQueue: the work queue, its dead-letter queue, redrive both ways, encryption and TLS-only policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import WorkQueue, WorkQueueArgs
from simulation.harness import RecordedResource, StackRun
from simulation.mocks import ACCOUNT_ID
from stackconfig.model import QueueConfig
from tests.component_support import run_component, section

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
REDRIVE_ALLOW = "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy"
DAY = 86_400


def queues(run: StackRun) -> tuple[RecordedResource, RecordedResource]:
    prefix = f"flowbuilder-{run.stack}"
    return run.one(QUEUE, f"{prefix}-work"), run.one(QUEUE, f"{prefix}-work-dlq")


def arn(run: StackRun, suffix: str) -> str:
    return f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:flowbuilder-{run.stack}-{suffix}"


def url(run: StackRun, suffix: str) -> str:
    return f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT_ID}/flowbuilder-{run.stack}-{suffix}"


def test_queue_names_and_outputs(any_stack):
    work, dlq = queues(any_stack)
    assert work.inputs["name"] == f"flowbuilder-{any_stack.stack}-work"
    assert dlq.inputs["name"] == f"flowbuilder-{any_stack.stack}-work-dlq"
    assert any_stack.outputs["workQueueUrl"] == url(any_stack, "work")
    assert any_stack.outputs["deadLetterQueueUrl"] == url(any_stack, "work-dlq")


def test_dead_letter_queue_keeps_messages_fourteen_days(any_stack):
    _, dlq = queues(any_stack)
    assert dlq.inputs["messageRetentionSeconds"] == 14 * DAY
    assert "redrivePolicy" not in dlq.inputs


def test_work_queue_redrives_after_three_receives(any_stack):
    work, _ = queues(any_stack)
    assert json.loads(work.inputs["redrivePolicy"]) == {
        "deadLetterTargetArn": arn(any_stack, "work-dlq"),
        "maxReceiveCount": 3,
    }
    assert work.inputs["messageRetentionSeconds"] == 4 * DAY
    assert work.inputs["receiveWaitTimeSeconds"] == 20


def test_visibility_outlasts_the_longest_job(any_stack):
    work, _ = queues(any_stack)
    # maxRunMinutes defaults to 15: a job may run 900 s, the message stays hidden 960 s.
    assert work.inputs["visibilityTimeoutSeconds"] == 960
    assert work.inputs["visibilityTimeoutSeconds"] > 15 * 60


def queue_alone(max_run_minutes: int = 15, **settings: int) -> StackRun:
    def build(context) -> None:
        WorkQueue(
            context.prefix,
            WorkQueueArgs(
                context,
                section(QueueConfig, "queue", **settings),
                max_run_minutes=max_run_minutes,
                oldest_message_alarm_seconds=900,
            ),
        )

    return run_component(build)


def test_visibility_follows_max_run_minutes():
    work, _ = queues(queue_alone(max_run_minutes=45))
    assert work.inputs["visibilityTimeoutSeconds"] == 45 * 60 + 60


def test_receive_count_and_retention_follow_the_queue_config():
    run = queue_alone(maxReceiveCount=5, dlqRetentionDays=7, messageRetentionDays=2)
    work, dlq = queues(run)
    assert json.loads(work.inputs["redrivePolicy"])["maxReceiveCount"] == 5
    assert dlq.inputs["messageRetentionSeconds"] == 7 * DAY
    assert work.inputs["messageRetentionSeconds"] == 2 * DAY


@pytest.mark.parametrize("label", ["work", "work-dlq"])
def test_both_queues_are_encrypted_at_rest(any_stack, label):
    queue = any_stack.one(QUEUE, f"flowbuilder-{any_stack.stack}-{label}")
    assert queue.inputs["sqsManagedSseEnabled"] is True


@pytest.mark.parametrize("label", ["work", "work-dlq"])
def test_both_queues_refuse_requests_not_over_tls(any_stack, label):
    policy = any_stack.one(QUEUE_POLICY, f"-{label}-tls-only")
    assert policy.inputs["queueUrl"] == url(any_stack, label)
    document: dict[str, Any] = json.loads(policy.inputs["policy"])
    (deny,) = document["Statement"]
    assert deny == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",
        "Resource": arn(any_stack, label),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_only_the_work_queue_may_redrive_into_the_dlq(any_stack):
    allow = any_stack.one(REDRIVE_ALLOW, "-work-dlq-redrive-allow")
    assert allow.inputs["queueUrl"] == url(any_stack, "work-dlq")
    assert json.loads(allow.inputs["redriveAllowPolicy"]) == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [arn(any_stack, "work")],
    }
