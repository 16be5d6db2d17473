"""The queue backlog function's logic, run against fake SQS, ECS and CloudWatch clients."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from components.ecs.queue_backlog import Sample, Settings, handler, metric_data

ENVIRON = {
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/flowbuilder-dev-work",
    "CLUSTER_NAME": "flowbuilder-dev-cluster",
    "SERVICE_NAME": "flowbuilder-dev-worker",
    "METRIC_NAMESPACE": "Flowbuilder/Worker",
    "SAMPLE_INTERVAL_SECONDS": "20",
}
NOW = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


class FakeSqs:
    def __init__(self, readings: list[tuple[int, int]]) -> None:
        self.readings = list(readings)
        self.calls: list[dict] = []

    def get_queue_attributes(self, **kwargs):
        self.calls.append(kwargs)
        visible, in_flight = self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(in_flight),
            }
        }


class FakeEcs:
    def __init__(self, desired: int, running: int, failures: list | None = None) -> None:
        self.desired, self.running, self.failures = desired, running, failures or []
        self.calls: list[dict] = []

    def describe_services(self, **kwargs):
        self.calls.append(kwargs)
        if self.failures:
            return {"services": [], "failures": self.failures}
        return {"services": [{"desiredCount": self.desired, "runningCount": self.running}], "failures": []}


class FakeCloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def put_metric_data(self, **kwargs):
        self.calls.append(kwargs)


class FakeTime:
    """A clock that only advances when the handler sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeContext:
    """Lambda's context: the time left before the timeout, on the fake clock."""

    def __init__(self, remaining_ms: int, fake_time: FakeTime | None = None) -> None:
        self.fake_time = fake_time or FakeTime()
        self.deadline = self.fake_time.now + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - self.fake_time.now) * 1000)


def values(call: dict) -> dict[str, float]:
    return {datum["MetricName"]: datum["Value"] for datum in call["MetricData"]}


def run(readings, desired=0, running=0, remaining_ms=55_000, environ=ENVIRON):
    sqs, ecs, cloudwatch, fake_time = FakeSqs(readings), FakeEcs(desired, running), FakeCloudWatch(), FakeTime()
    result = handler(
        {},
        FakeContext(remaining_ms, fake_time),
        clients=(sqs, ecs, cloudwatch),
        environ=environ,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        now=lambda: NOW,
    )
    return result, sqs, ecs, cloudwatch, fake_time


def test_one_message_on_an_idle_service_raises_the_wake_signal():
    _, sqs, ecs, cloudwatch, _ = run([(1, 0)], desired=0, running=0)
    first = values(cloudwatch.calls[0])
    assert first == {"QueueBacklog": 1.0, "BacklogPerTask": 1.0, "BacklogWithNoTasks": 1.0, "TasksWithNoBacklog": 0.0}
    assert sqs.calls[0] == {
        "QueueUrl": ENVIRON["QUEUE_URL"],
        "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }
    assert ecs.calls[0] == {"cluster": "flowbuilder-dev-cluster", "services": ["flowbuilder-dev-worker"]}


def test_in_flight_messages_keep_running_tasks_from_scaling_to_zero():
    _, _, _, cloudwatch, _ = run([(0, 3)], desired=3, running=3)
    assert values(cloudwatch.calls[0]) == {
        "QueueBacklog": 3.0,
        "BacklogPerTask": 0.0,
        "BacklogWithNoTasks": 0.0,
        "TasksWithNoBacklog": 0.0,
    }


def test_an_empty_queue_with_tasks_running_reports_them_idle():
    _, _, _, cloudwatch, _ = run([(0, 0)], desired=4, running=4)
    assert values(cloudwatch.calls[0])["TasksWithNoBacklog"] == 4.0
    assert values(cloudwatch.calls[0])["BacklogWithNoTasks"] == 0.0


def test_backlog_per_task_divides_by_the_desired_count_not_the_running_count():
    # 100 waiting, 5 tasks wanted but only 1 started: per wanted task is 20, not 100.
    sample = Sample(visible=100, in_flight=1, desired=5, running=1)
    assert sample.backlog_per_task == 20.0
    assert Sample(visible=7, in_flight=0, desired=0, running=0).backlog_per_task == 7.0


def test_every_datum_is_high_resolution_with_the_service_dimensions():
    settings = Settings.from_environment(ENVIRON)
    data = metric_data(Sample(2, 1, 1, 1), settings, NOW)
    assert [d["MetricName"] for d in data] == [
        "QueueBacklog",
        "BacklogPerTask",
        "BacklogWithNoTasks",
        "TasksWithNoBacklog",
    ]
    for datum in data:
        assert datum["StorageResolution"] == 1
        assert datum["Unit"] == "Count"
        assert datum["Timestamp"] == NOW
        assert datum["Dimensions"] == [
            {"Name": "ClusterName", "Value": "flowbuilder-dev-cluster"},
            {"Name": "ServiceName", "Value": "flowbuilder-dev-worker"},
        ]


def test_three_samples_twenty_seconds_apart_each_published_at_once():
    result, _, _, cloudwatch, fake_time = run([(0, 0), (1, 0), (5, 2)], desired=0, running=0)
    assert len(cloudwatch.calls) == 3
    assert all(call["Namespace"] == "Flowbuilder/Worker" for call in cloudwatch.calls)
    assert fake_time.sleeps == [20.0, 20.0]
    assert [values(call)["BacklogWithNoTasks"] for call in cloudwatch.calls] == [0.0, 1.0, 7.0]
    assert [sample["visible"] for sample in result["samples"]] == [0, 1, 5]


@pytest.mark.parametrize(("interval", "samples"), [("10", 6), ("30", 2), ("60", 1)])
def test_the_interval_sets_how_many_samples_a_minute_takes(interval, samples):
    _, _, _, cloudwatch, _ = run(
        [(0, 0)], remaining_ms=120_000, environ={**ENVIRON, "SAMPLE_INTERVAL_SECONDS": interval}
    )
    assert len(cloudwatch.calls) == samples


def test_no_sample_is_started_that_would_outlive_the_timeout():
    # 30 s left: the sample due at 20 s fits (with its 5 s budget), the one at 40 s does not.
    _, _, _, cloudwatch, _ = run([(0, 0)], remaining_ms=30_000)
    assert len(cloudwatch.calls) == 2


def test_a_missing_service_publishes_nothing_and_fails_the_invocation():
    sqs, ecs, cloudwatch = FakeSqs([(3, 0)]), FakeEcs(0, 0, failures=[{"reason": "MISSING"}]), FakeCloudWatch()
    with pytest.raises(RuntimeError, match="MISSING"):
        handler({}, FakeContext(55_000), clients=(sqs, ecs, cloudwatch), environ=ENVIRON, sleep=lambda _: None)
    assert cloudwatch.calls == []
