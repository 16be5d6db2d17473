"""Queue backlog sampler: the worker service's scaling signals, every few seconds.

Runs in AWS Lambda (Python 3.13, arm64), invoked once a minute by an EventBridge
rule. One invocation takes a sample every ``SAMPLE_INTERVAL_SECONDS`` (20 by
default: samples at 0, 20 and 40 s). A sample reads the work queue's counters
with ``GetQueueAttributes`` and the worker service's desired and running counts
with ``DescribeServices``, then publishes, at 1-second storage resolution:

``QueueBacklog``        visible + in-flight messages
``BacklogPerTask``      visible messages / max(desired count, 1)
``BacklogWithNoTasks``  QueueBacklog while the desired count is 0, else 0
``TasksWithNoBacklog``  the desired count while QueueBacklog is 0, else 0

SQS's own CloudWatch metrics stop after 6 hours without activity and can lag up
to 15 minutes when traffic resumes; ``GetQueueAttributes`` answers from the queue
itself, so a message that arrives after a quiet night is seen at the next sample.

The function only reads and publishes: scaling decisions stay with Application
Auto Scaling (alarms on these metrics), which also enforces min and max capacity.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

QUEUE_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
# Time one sample may take (two API calls and one PutMetricData) when deciding
# whether another fits before the function's timeout.
SAMPLE_BUDGET_SECONDS = 5


@dataclass(frozen=True)
class Sample:
    """The queue and the service at one instant."""

    visible: int
    in_flight: int
    desired: int
    running: int

    @property
    def backlog(self) -> int:
        return self.visible + self.in_flight

    @property
    def backlog_per_task(self) -> float:
        # Divided by the desired count, not the running count: Application Auto
        # Scaling multiplies the metric's ratio to its target by the desired count,
        # so counting tasks that are still starting as missing would overshoot.
        return self.visible / max(self.desired, 1)

    @property
    def backlog_with_no_tasks(self) -> int:
        return self.backlog if self.desired == 0 else 0

    @property
    def tasks_with_no_backlog(self) -> int:
        return self.desired if self.backlog == 0 else 0


@dataclass(frozen=True)
class Settings:
    """What the function samples, from its environment variables."""

    queue_url: str
    cluster: str
    service: str
    namespace: str
    interval_seconds: int
    samples: int

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> Settings:
        interval = int(environ["SAMPLE_INTERVAL_SECONDS"])
        return cls(
            queue_url=environ["QUEUE_URL"],
            cluster=environ["CLUSTER_NAME"],
            service=environ["SERVICE_NAME"],
            namespace=environ["METRIC_NAMESPACE"],
            interval_seconds=interval,
            samples=max(1, 60 // interval),
        )

    @property
    def dimensions(self) -> list[dict[str, str]]:
        return [{"Name": "ClusterName", "Value": self.cluster}, {"Name": "ServiceName", "Value": self.service}]


def read_sample(sqs: Any, ecs: Any, settings: Settings) -> Sample:
    """Read the queue's counters and the service's counts."""
    attributes = sqs.get_queue_attributes(QueueUrl=settings.queue_url, AttributeNames=list(QUEUE_ATTRIBUTES))[
        "Attributes"
    ]
    described = ecs.describe_services(cluster=settings.cluster, services=[settings.service])
    services = described.get("services") or []
    if described.get("failures") or not services:
        # Publishing nothing keeps the scale-to-zero alarm from firing on a blind sample.
        raise RuntimeError(f"DescribeServices {settings.cluster}/{settings.service}: {described.get('failures')}")
    service = services[0]
    return Sample(
        visible=int(attributes["ApproximateNumberOfMessages"]),
        in_flight=int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        desired=int(service["desiredCount"]),
        running=int(service["runningCount"]),
    )


def metric_data(sample: Sample, settings: Settings, timestamp: datetime) -> list[dict[str, Any]]:
    """The PutMetricData entries of one sample, at 1-second storage resolution."""
    values = {
        "QueueBacklog": sample.backlog,
        "BacklogPerTask": sample.backlog_per_task,
        "BacklogWithNoTasks": sample.backlog_with_no_tasks,
        "TasksWithNoBacklog": sample.tasks_with_no_backlog,
    }
    return [
        {
            "MetricName": name,
            "Dimensions": settings.dimensions,
            "Timestamp": timestamp,
            "Value": float(value),
            "Unit": "Count",
            "StorageResolution": 1,
        }
        for name, value in values.items()
    ]


def _aws_clients() -> tuple[Any, Any, Any]:
    import boto3  # the Lambda runtime ships boto3; imported here so tests need no AWS SDK

    return boto3.client("sqs"), boto3.client("ecs"), boto3.client("cloudwatch")


def handler(
    event: dict[str, Any],
    context: Any,
    *,
    clients: tuple[Any, Any, Any] | None = None,
    environ: dict[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Take ``60 / interval`` samples ``interval`` seconds apart and publish each at once."""
    settings = Settings.from_environment(dict(os.environ) if environ is None else environ)
    sqs, ecs, cloudwatch = clients or _aws_clients()
    started = clock()
    taken = []
    for index in range(settings.samples):
        if index:
            due = started + index * settings.interval_seconds
            remaining = context.get_remaining_time_in_millis() / 1000
            if due - clock() + SAMPLE_BUDGET_SECONDS > remaining:
                break
            sleep(max(0.0, due - clock()))
        sample = read_sample(sqs, ecs, settings)
        cloudwatch.put_metric_data(Namespace=settings.namespace, MetricData=metric_data(sample, settings, now()))
        print(json.dumps({"sample": index, **asdict(sample), "backlog_per_task": sample.backlog_per_task}))
        taken.append(asdict(sample))
    return {"samples": taken}
