"""Monitoring: alarms paging the encrypted alert topic, a dashboard of the stack's resources, a budget, retention."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components import Monitoring, MonitoringArgs
from components.database.rds import database_watch
from components.ecs import BACKLOG_METRICS as SAMPLER_METRICS
from components.ecs import BACKLOG_NAMESPACE, ClusterRef
from components.ecs.api_service import no_healthy_targets
from components.ecs.backlog_sampler import sampler_watch
from components.ecs.service import service_watch
from components.front_door import LoadBalancerTarget
from components.front_door.load_balancer import load_balancer_watch
from components.scheduler_lambda import scheduler_watch
from components.watch import Watch
from components.work_queue import queue_watch
from preview.report.docs import released_overrides
from simulation.harness import PROJECT, ROOT, STACKS, RecordedResource, StackRun, run_stack
from simulation.mocks import ACCOUNT_ID
from stackconfig.model import MonitoringConfig
from tests.component_support import run_component, section
from tests.conftest import committed_run, released_run

MONITORING = f"{PROJECT}:index:Monitoring"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
TOPIC = "aws:sns/topic:Topic"
TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
KEY = "aws:kms/key:Key"
BUDGET = "aws:budgets/budget:Budget"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

GIB = 1024**3
RETENTION_DAYS = {"dev": 7, "staging": 14, "prod": 30, "ultra": 30}
BUDGET_USD = {"dev": "75.0", "staging": "400.0", "prod": "1500.0", "ultra": "10.0"}
ALLOCATED_GB = {"dev": 20, "staging": 50, "prod": 100}

# Metric names per namespace as the AWS service guides list them: a misspelt metric
# (ApproximateNumberOfVisibleMessages) never has data, so its alarm never fires.
KNOWN_METRICS: dict[str, set[str]] = {
    "AWS/ECS": {"CPUUtilization", "MemoryUtilization"},
    "ECS/ContainerInsights": {"RunningTaskCount", "DesiredTaskCount", "PendingTaskCount"},
    "AWS/SQS": {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateAgeOfOldestMessage",
    },
    "AWS/ApplicationELB": {
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_5XX_Count",
        "TargetResponseTime",
        "HealthyHostCount",
        "UnHealthyHostCount",
    },
    "AWS/RDS": {"CPUUtilization", "DatabaseConnections", "FreeStorageSpace", "FreeableMemory"},
    "AWS/Lambda": {"Invocations", "Errors", "Throttles", "Duration"},
    "AWS/EventBridge/Pipes": {"Invocations", "ExecutionFailed", "TargetStageFailed", "ExecutionThrottled"},
    "AWS/States": {
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    },
    # HTTP APIs publish 4xx/5xx/Count; 4XXError/5XXError are the REST API names and never have data here.
    "AWS/ApiGateway": {"4xx", "5xx", "Count", "Latency", "IntegrationLatency"},
    "AWS/WAFV2": {"AllowedRequests", "BlockedRequests", "CountedRequests"},
    BACKLOG_NAMESPACE: set(SAMPLER_METRICS),
    "AWS/ElastiCache": {
        "BytesUsedForCache",
        "DatabaseMemoryUsagePercentage",
        "Evictions",
        "ElastiCacheProcessingUnits",
    },
    "AWS/Backup": {"NumberOfBackupJobsFailed", "NumberOfCopyJobsFailed"},
}
DIMENSIONS: dict[str, set[str]] = {
    "AWS/ECS": {"ClusterName", "ServiceName"},
    "ECS/ContainerInsights": {"ClusterName", "ServiceName"},
    BACKLOG_NAMESPACE: {"ClusterName", "ServiceName"},
    "AWS/SQS": {"QueueName"},
    "AWS/ApplicationELB": {"LoadBalancer", "TargetGroup"},
    "AWS/RDS": {"DBInstanceIdentifier"},
    "AWS/Lambda": {"FunctionName"},
    "AWS/EventBridge/Pipes": {"PipeName"},
    "AWS/States": {"StateMachineArn"},
    "AWS/ApiGateway": {"ApiId", "Stage"},
    "AWS/WAFV2": {"WebACL", "Region", "Rule"},
    # Serverless caches are "clusterId"; node-based ones report per member cluster.
    "AWS/ElastiCache": {"clusterId", "CacheClusterId"},
    "AWS/Backup": {"BackupVaultName"},
}

STANDARD_ALARMS = {
    "api-cpu-high",
    "worker-cpu-high",
    "queue-backlog-warning",
    "queue-backlog-critical",
    "queue-oldest-message-age",
    "dlq-not-empty",
    "scheduler-dlq-not-empty",
    "api-5xx-rate-warning",
    "api-5xx-rate-critical",
    "api-p95-latency",
    "db-cpu-high",
    "db-free-storage-low",
    "db-freeable-memory-low",
    # Without samples the worker neither wakes from 0 nor returns to it.
    "backlog-dlq-not-empty",
    "backlog-sampler-errors",
}
STANDARD_ALARMS_WITH_IMAGE = STANDARD_ALARMS | {"api-no-healthy-targets", "scheduler-errors", "scheduler-throttles"}
WAF_ALARMS = {"waf-blocked-requests"}
CACHE_ALARMS = {"cache-memory", "cache-evictions"}
BACKUP_ALARMS = {"backup-jobs-failed", "backup-copy-jobs-failed"}
EXTRA_ALARMS = {"dev": set(), "staging": WAF_ALARMS | CACHE_ALARMS, "prod": WAF_ALARMS | CACHE_ALARMS | BACKUP_ALARMS}
"""What a stack's WAF (staging, prod), cache (staging, prod) and backups (prod) add."""
ULTRA_ALARMS = {"dlq-not-empty", "scheduler-dlq-not-empty", "worker-pipe-failures", "worker-run-failures"}
ULTRA_ALARMS_WITH_IMAGE = ULTRA_ALARMS | {"scheduler-errors", "api-5xx", "api-throttles"}


# -- runs --------------------------------------------------------------------
def with_image(stack: str) -> StackRun:
    """The stack after its first release: the scheduler function exists, the API runs."""
    return released_run(stack)


@functools.cache
def ultra_with_dashboard() -> StackRun:
    return run_stack("ultra", overrides={**released_overrides("ultra"), f"{PROJECT}:monitoring": {"dashboard": True}})


@functools.cache
def with_monitoring(stack: str, monitoring: str) -> StackRun:
    return run_stack(stack, overrides={f"{PROJECT}:monitoring": json.loads(monitoring)})


RUNS = [*STACKS, *(f"{stack}+image" for stack in STACKS), "ultra+dashboard"]
"""Every committed stack, each again after its first release, and ultra with its optional dashboard."""


def run_named(label: str) -> StackRun:
    if label == "ultra+dashboard":
        return ultra_with_dashboard()
    stack, _, variant = label.partition("+")
    return with_image(stack) if variant else committed_run(stack)


# -- helpers -----------------------------------------------------------------
def owned_by_monitoring(run: StackRun, resource: RecordedResource) -> bool:
    owner = run.component_of(resource)
    return owner is not None and owner.type == MONITORING


def alarms(run: StackRun) -> dict[str, RecordedResource]:
    """The Monitoring component's alarms, keyed by name without the stack prefix."""
    prefix = f"{PROJECT}-{run.stack}-"
    return {
        alarm.inputs["name"].removeprefix(prefix): alarm
        for alarm in run.of_type(ALARM)
        if owned_by_monitoring(run, alarm)
    }


def topic_arn(run: StackRun) -> str:
    return run.one(TOPIC).state["arn"]


def stack_dimension_values(run: StackRun) -> dict[str, set[str]]:
    """Every value a CloudWatch dimension may take: the names and ids of this stack's resources."""

    def values(token: str, key: str, source: str = "inputs") -> set[str]:
        return {getattr(r, source)[key] for r in run.of_type(token) if getattr(r, source).get(key)}

    return {
        "ClusterName": values("aws:ecs/cluster:Cluster", "name"),
        "ServiceName": values("aws:ecs/service:Service", "name"),
        "QueueName": values("aws:sqs/queue:Queue", "name"),
        "LoadBalancer": values("aws:lb/loadBalancer:LoadBalancer", "arnSuffix", "state"),
        "TargetGroup": values("aws:lb/targetGroup:TargetGroup", "arnSuffix", "state"),
        "DBInstanceIdentifier": values("aws:rds/instance:Instance", "identifier"),
        "FunctionName": values("aws:lambda/function:Function", "name"),
        "PipeName": values("aws:pipes/pipe:Pipe", "name"),
        "StateMachineArn": values("aws:sfn/stateMachine:StateMachine", "arn", "state"),
        "ApiId": values("aws:apigatewayv2/api:Api", "id", "state"),
        "Stage": values("aws:apigatewayv2/stage:Stage", "name"),
        "WebACL": values("aws:wafv2/webAcl:WebAcl", "name"),
        "Region": values("pulumi:providers:aws", "region"),
        # WAF's own aggregate over every rule of a web ACL.
        "Rule": {"ALL"} if run.of_type("aws:wafv2/webAcl:WebAcl") else set(),
        "clusterId": values("aws:elasticache/serverlessCache:ServerlessCache", "name"),
        "CacheClusterId": {
            f"{group.inputs['replicationGroupId']}-{member:03d}"
            for group in run.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
            for member in range(1, int(group.inputs.get("numCacheClusters", 1)) + 1)
        },
        "BackupVaultName": values("aws:backup/vault:Vault", "name"),
    }


def dashboard_lines(run: StackRun) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """(namespace, metric, dimensions, options) of every metric on the dashboard, parsed from its JSON body."""
    body = json.loads(run.one(DASHBOARD).inputs["dashboardBody"])
    lines = []
    for widget in body["widgets"]:
        if widget["type"] != "metric":
            continue
        for line in widget["properties"]["metrics"]:
            if isinstance(line[0], dict):
                continue
            options = line[-1] if isinstance(line[-1], dict) else {}
            plain = line[:-1] if options else line
            namespace, metric, pairs = plain[0], plain[1], plain[2:]
            assert len(pairs) % 2 == 0, f"odd dimension list in {line}"
            lines.append((namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True)), options))
    return lines


def alarm_metrics(alarm: RecordedResource) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) of a plain alarm, or of each metric of a metric-math alarm."""
    inputs = alarm.inputs
    if inputs.get("metricName"):
        return [(inputs["namespace"], inputs["metricName"], inputs["dimensions"])]
    return [
        (query["metric"]["namespace"], query["metric"]["metricName"], query["metric"]["dimensions"])
        for query in inputs["metricQueries"]
        if query.get("metric")
    ]


def assert_metric_names_the_stack(
    run: StackRun, namespace: str, metric: str, dimensions: dict[str, str], where: str
) -> None:
    assert metric in KNOWN_METRICS[namespace], f"{where}: {namespace} has no metric {metric}"
    assert dimensions, f"{where}: {namespace}/{metric} has no dimension, so it watches nothing of this stack"
    assert set(dimensions) <= DIMENSIONS[namespace], f"{where}: {namespace} has no dimensions {set(dimensions)}"
    known = stack_dimension_values(run)
    for dimension, value in dimensions.items():
        assert value in known[dimension], (
            f"{where}: {dimension}={value!r} is not a resource of the stack ({known[dimension]})"
        )


# -- alarms -> topic ---------------------------------------------------------
@pytest.mark.parametrize("label", RUNS)
def test_every_alarm_pages_the_topic_and_reports_recovery(label):
    run = run_named(label)
    topic = topic_arn(run)
    found = alarms(run)
    assert found
    for key, alarm in found.items():
        assert alarm.inputs["alarmActions"] == [topic], key
        assert alarm.inputs["okActions"] == [topic], key
        assert not alarm.inputs.get("insufficientDataActions"), key
        assert alarm.inputs["treatMissingData"] in {"notBreaching", "breaching", "ignore", "missing"}, key
        assert alarm.inputs["alarmDescription"].startswith(("WARNING: ", "CRITICAL: ")), key
        assert "Runbook: " in alarm.inputs["alarmDescription"], key


@pytest.mark.parametrize("label", RUNS)
def test_alarms_outside_monitoring_only_drive_autoscaling(label):
    run = run_named(label)
    others = [alarm for alarm in run.of_type(ALARM) if not owned_by_monitoring(run, alarm)]
    # The worker's wake-up and scale-to-zero alarms, in standard stacks only.
    assert len(others) == (0 if run.stack == "ultra" else 2)
    for alarm in others:
        actions = alarm.inputs.get("alarmActions") or []
        assert actions and all(arn.startswith("arn:aws:autoscaling:") for arn in actions), alarm.name


@pytest.mark.parametrize("label", RUNS)
def test_every_alarm_metric_names_a_resource_of_the_stack(label):
    run = run_named(label)
    for key, alarm in alarms(run).items():
        for namespace, metric, dimensions in alarm_metrics(alarm):
            assert_metric_names_the_stack(run, namespace, metric, dimensions, f"alarm {key}")


# -- which alarms ------------------------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_standard_stack_alarms(stack):
    assert set(alarms(committed_run(stack))) == STANDARD_ALARMS | EXTRA_ALARMS[stack]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_standard_stack_after_first_release_also_watches_api_health_and_scheduler(stack):
    assert set(alarms(with_image(stack))) == STANDARD_ALARMS_WITH_IMAGE | EXTRA_ALARMS[stack]


def documented_alarms(heading: str) -> set[str]:
    """The alarm keys a table of docs/monitoring.md lists under ``### <heading>``."""
    text = (Path(ROOT) / "docs" / "monitoring.md").read_text()
    part = text.split(f"\n### {heading}\n", 1)[1]
    part = re.split(r"\n##+ ", part, maxsplit=1)[0]
    return set(re.findall(r"^\| `([a-z0-9-]+)`", part, re.MULTILINE))


@pytest.mark.parametrize(("stack", "heading"), [("prod", "Standard stacks"), ("ultra", "Zero-scale (`ultra`)")])
def test_every_alarm_the_docs_promise_exists_and_every_alarm_is_documented(stack, heading):
    assert documented_alarms(heading) == set(alarms(with_image(stack)))


def test_the_backlog_sampler_pages_on_its_failure_queue_and_its_errors():
    run = committed_run("dev")
    found = alarms(run)
    topic = run.one(TOPIC).state["arn"]
    failures = found["backlog-dlq-not-empty"].inputs
    assert (failures["namespace"], failures["metricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert failures["dimensions"] == {"QueueName": "flowbuilder-dev-backlog-dlq"}
    assert (failures["statistic"], failures["comparisonOperator"], failures["threshold"]) == (
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1,
    )
    assert failures["treatMissingData"] == "ignore"
    errors = found["backlog-sampler-errors"].inputs
    assert (errors["namespace"], errors["metricName"]) == ("AWS/Lambda", "Errors")
    assert errors["dimensions"] == {"FunctionName": "flowbuilder-dev-queue-backlog"}
    assert (errors["statistic"], errors["threshold"], errors["evaluationPeriods"]) == ("Sum", 1, 1)
    assert errors["treatMissingData"] == "notBreaching"
    for alarm in (failures, errors):
        assert alarm["alarmActions"] == [topic]
        assert alarm["alarmDescription"].startswith("CRITICAL:")


def test_ultra_keeps_only_the_alarms_that_watch_for_lost_work_and_failed_requests():
    assert set(alarms(committed_run("ultra"))) == ULTRA_ALARMS
    # Scheduler throttles cost an alarm and lose nothing (the event is retried), so ultra skips
    # them; API throttles are a caller's failed request, so ultra keeps those.
    assert set(alarms(with_image("ultra"))) == ULTRA_ALARMS_WITH_IMAGE


def test_ultra_alarm_metrics_stay_inside_the_free_tier():
    metrics = sum(len(alarm_metrics(alarm)) for alarm in alarms(with_image("ultra")).values())
    # DLQ, scheduler DLQ, scheduler errors, pipe failures, 3 Step Functions outcomes, API 5xx, API throttles
    assert metrics == 9
    assert metrics <= 10


def test_ultra_api_5xx_alarm_watches_the_http_apis_default_stage():
    run = with_image("ultra")
    alarm = alarms(run)["api-5xx"].inputs
    api = run.one("aws:apigatewayv2/api:Api")
    assert api.id and api.inputs["protocolType"] == "HTTP"
    assert alarm["dimensions"] == {"ApiId": api.id, "Stage": "$default"}
    stage = run.one("aws:apigatewayv2/stage:Stage")
    assert (stage.inputs["apiId"], stage.inputs["name"]) == (api.id, "$default")
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/ApiGateway", "5xx", "Sum")
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanOrEqualToThreshold", 5)
    assert (alarm["period"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (300, 1, 1)
    assert alarm["treatMissingData"] == "notBreaching"
    assert alarm["alarmDescription"].startswith("CRITICAL: ")
    assert "/flowbuilder/ultra/http-api/access" in alarm["alarmDescription"]
    assert alarm["alarmActions"] == alarm["okActions"] == [topic_arn(run)]


def test_ultra_api_throttles_alarm_watches_the_api_function():
    run = with_image("ultra")
    alarm = alarms(run)["api-throttles"].inputs
    function = run.one("aws:lambda/function:Function", "-api")
    assert function.inputs["name"] == "flowbuilder-ultra-api"
    assert function.inputs["reservedConcurrentExecutions"] == 10
    assert alarm["dimensions"] == {"FunctionName": "flowbuilder-ultra-api"}
    assert (alarm["namespace"], alarm["metricName"], alarm["statistic"]) == ("AWS/Lambda", "Throttles", "Sum")
    assert (alarm["comparisonOperator"], alarm["threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert (alarm["period"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (300, 1, 1)
    assert alarm["treatMissingData"] == "notBreaching"
    assert alarm["alarmDescription"].startswith("WARNING: ")
    assert "more than 10 ran at once" in alarm["alarmDescription"]
    assert alarm["alarmActions"] == alarm["okActions"] == [topic_arn(run)]


@pytest.mark.parametrize("label", ["ultra", "dev", "dev+image", "staging+image", "prod+image"])
def test_api_gateway_and_api_function_alarms_only_where_the_serverless_api_serves(label):
    found = alarms(run_named(label))
    assert not {"api-5xx", "api-throttles"} & set(found)
    assert not any(
        namespace == "AWS/ApiGateway" for alarm in found.values() for namespace, _, _ in alarm_metrics(alarm)
    )


# -- thresholds --------------------------------------------------------------
# key: (namespace, metric, statistic, comparison, threshold, period, evaluation periods, treat missing data)
SINGLE_METRIC_ALARMS = {
    "api-cpu-high": ("AWS/ECS", "CPUUtilization", "Average", "GreaterThanThreshold", 80, 300, 2, "notBreaching"),
    "worker-cpu-high": ("AWS/ECS", "CPUUtilization", "Average", "GreaterThanThreshold", 80, 300, 2, "notBreaching"),
    "queue-backlog-warning": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        "GreaterThanThreshold",
        100,
        300,
        3,
        "ignore",
    ),
    "queue-backlog-critical": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        "GreaterThanThreshold",
        1000,
        300,
        2,
        "ignore",
    ),
    "queue-oldest-message-age": (
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "Maximum",
        "GreaterThanThreshold",
        900,
        300,
        1,
        "ignore",
    ),
    "dlq-not-empty": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1,
        300,
        1,
        "ignore",
    ),
    "scheduler-dlq-not-empty": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        "GreaterThanOrEqualToThreshold",
        1,
        300,
        1,
        "ignore",
    ),
    "api-p95-latency": (
        "AWS/ApplicationELB",
        "TargetResponseTime",
        "p95",
        "GreaterThanThreshold",
        2,
        300,
        2,
        "notBreaching",
    ),
    "api-no-healthy-targets": (
        "AWS/ApplicationELB",
        "HealthyHostCount",
        "Minimum",
        "LessThanThreshold",
        1,
        60,
        3,
        "breaching",
    ),
    "db-cpu-high": ("AWS/RDS", "CPUUtilization", "Average", "GreaterThanThreshold", 80, 300, 2, "breaching"),
    "db-freeable-memory-low": (
        "AWS/RDS",
        "FreeableMemory",
        "Average",
        "LessThanThreshold",
        64 * 1024**2,
        300,
        2,
        "missing",
    ),
    "scheduler-errors": ("AWS/Lambda", "Errors", "Sum", "GreaterThanOrEqualToThreshold", 1, 300, 1, "notBreaching"),
    "scheduler-throttles": (
        "AWS/Lambda",
        "Throttles",
        "Sum",
        "GreaterThanOrEqualToThreshold",
        1,
        300,
        1,
        "notBreaching",
    ),
}


@pytest.mark.parametrize("key", SINGLE_METRIC_ALARMS)
def test_single_metric_alarm_thresholds(key):
    namespace, metric, statistic, comparison, threshold, period, periods, missing = SINGLE_METRIC_ALARMS[key]
    alarm = alarms(with_image("prod"))[key].inputs
    assert (alarm["namespace"], alarm["metricName"]) == (namespace, metric)
    assert alarm.get("extendedStatistic" if statistic.startswith("p") else "statistic") == statistic
    assert alarm["comparisonOperator"] == comparison
    assert alarm["threshold"] == threshold
    assert alarm["period"] == period
    assert alarm["evaluationPeriods"] == periods
    assert alarm["datapointsToAlarm"] == periods
    assert alarm["treatMissingData"] == missing


def test_ecs_cpu_alarms_watch_api_and_worker_services():
    run = committed_run("prod")
    found = alarms(run)
    assert found["api-cpu-high"].inputs["dimensions"] == {
        "ClusterName": "flowbuilder-prod-cluster",
        "ServiceName": "flowbuilder-prod-api",
    }
    assert found["worker-cpu-high"].inputs["dimensions"] == {
        "ClusterName": "flowbuilder-prod-cluster",
        "ServiceName": "flowbuilder-prod-worker",
    }


def test_queue_alarms_watch_the_work_queue_and_its_dlq():
    found = alarms(committed_run("dev"))
    for key in ("queue-backlog-warning", "queue-backlog-critical", "queue-oldest-message-age"):
        assert found[key].inputs["dimensions"] == {"QueueName": "flowbuilder-dev-work"}, key
    assert found["dlq-not-empty"].inputs["dimensions"] == {"QueueName": "flowbuilder-dev-work-dlq"}
    assert found["scheduler-dlq-not-empty"].inputs["dimensions"] == {"QueueName": "flowbuilder-dev-scheduler-dlq"}


def test_oldest_message_bound_comes_from_config():
    run = with_monitoring("dev", json.dumps({"oldestMessageAgeSeconds": 600}))
    assert alarms(run)["queue-oldest-message-age"].inputs["threshold"] == 600


@pytest.mark.parametrize("stack", ALLOCATED_GB)
def test_free_storage_alarm_is_ten_percent_of_allocated_storage(stack):
    alarm = alarms(committed_run(stack))["db-free-storage-low"].inputs
    assert alarm["threshold"] == ALLOCATED_GB[stack] * GIB * 0.1
    assert (alarm["metricName"], alarm["statistic"], alarm["comparisonOperator"]) == (
        "FreeStorageSpace",
        "Minimum",
        "LessThanThreshold",
    )
    assert alarm["dimensions"] == {"DBInstanceIdentifier": f"flowbuilder-{stack}-postgres"}
    assert alarm["treatMissingData"] == "missing"


@pytest.mark.parametrize("key, threshold, periods", [("api-5xx-rate-warning", 1, 3), ("api-5xx-rate-critical", 5, 1)])
def test_5xx_rate_is_metric_math_over_requests(key, threshold, periods):
    run = committed_run("prod")
    alarm = alarms(run)[key].inputs
    assert "metricName" not in alarm and "statistic" not in alarm
    assert (alarm["threshold"], alarm["evaluationPeriods"], alarm["comparisonOperator"]) == (
        threshold,
        periods,
        "GreaterThanThreshold",
    )
    assert alarm["treatMissingData"] == "notBreaching"
    queries = {query["id"]: query for query in alarm["metricQueries"]}
    load_balancer = run.one("aws:lb/loadBalancer:LoadBalancer").state["arnSuffix"]
    assert load_balancer.startswith("app/flowbuilder-prod-api/")
    for query_id, metric in (
        ("requests", "RequestCount"),
        ("target5xx", "HTTPCode_Target_5XX_Count"),
        ("elb5xx", "HTTPCode_ELB_5XX_Count"),
    ):
        assert queries[query_id]["metric"] == {
            "namespace": "AWS/ApplicationELB",
            "metricName": metric,
            "dimensions": {"LoadBalancer": load_balancer},
            "stat": "Sum",
            "period": 300,
        }
        assert queries[query_id]["returnData"] is False
    returned = [query for query in alarm["metricQueries"] if query["returnData"]]
    assert [query["id"] for query in returned] == ["rate"]
    assert returned[0]["expression"] == "IF(total >= 10, 100 * errors / total, 0)"
    assert queries["errors"]["expression"] == "FILL(target5xx, 0) + FILL(elb5xx, 0)"
    assert queries["total"]["expression"] == "FILL(requests, 0) + FILL(elb5xx, 0)"


def test_latency_and_health_alarms_watch_the_api_target_group():
    run = with_image("prod")
    found = alarms(run)
    target = {
        "LoadBalancer": run.one("aws:lb/loadBalancer:LoadBalancer").state["arnSuffix"],
        "TargetGroup": run.one("aws:lb/targetGroup:TargetGroup").state["arnSuffix"],
    }
    assert target["TargetGroup"].startswith("targetgroup/")
    assert found["api-p95-latency"].inputs["dimensions"] == target
    assert found["api-p95-latency"].inputs["evaluateLowSampleCountPercentiles"] == "ignore"
    assert found["api-no-healthy-targets"].inputs["dimensions"] == target


def test_worker_run_failures_sum_failed_timed_out_and_aborted_executions():
    run = committed_run("ultra")
    alarm = alarms(run)["worker-run-failures"].inputs
    machine = run.one("aws:sfn/stateMachine:StateMachine").state["arn"]
    metrics = {q["id"]: q["metric"] for q in alarm["metricQueries"] if q.get("metric")}
    assert {m["metricName"] for m in metrics.values()} == {
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    }
    assert all(m["dimensions"] == {"StateMachineArn": machine} and m["stat"] == "Sum" for m in metrics.values())
    returned = [q for q in alarm["metricQueries"] if q["returnData"]]
    assert [q["expression"] for q in returned] == ["FILL(failed, 0) + FILL(timedout, 0) + FILL(aborted, 0)"]
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    pipe = alarms(run)["worker-pipe-failures"].inputs
    assert (pipe["namespace"], pipe["metricName"], pipe["statistic"]) == (
        "AWS/EventBridge/Pipes",
        "ExecutionFailed",
        "Sum",
    )
    assert pipe["dimensions"] == {"PipeName": run.one("aws:pipes/pipe:Pipe").inputs["name"]}


# -- dashboard ---------------------------------------------------------------
@pytest.mark.parametrize("label", [label for label in RUNS if not label.startswith("ultra")] + ["ultra+dashboard"])
def test_every_dashboard_metric_names_a_resource_of_the_stack(label):
    run = run_named(label)
    lines = dashboard_lines(run)
    assert lines
    for namespace, metric, dimensions, _ in lines:
        assert_metric_names_the_stack(run, namespace, metric, dimensions, f"dashboard {namespace}/{metric}")


@pytest.mark.parametrize("label", [label for label in RUNS if not label.startswith("ultra")] + ["ultra+dashboard"])
def test_dashboard_expressions_use_only_defined_series_and_the_alarm_widget_lists_every_alarm(label):
    run = run_named(label)
    body = json.loads(run.one(DASHBOARD).inputs["dashboardBody"])
    alarm_widgets = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(alarm_widgets) == 1
    assert sorted(alarm_widgets[0]["properties"]["alarms"]) == sorted(a.state["arn"] for a in alarms(run).values())
    for widget in body["widgets"]:
        properties = widget["properties"]
        if widget["type"] != "metric":
            continue
        assert properties["region"] == "us-east-1"
        ids = {line[-1]["id"] for line in properties["metrics"] if isinstance(line[-1], dict) and "id" in line[-1]}
        for line in properties["metrics"]:
            if isinstance(line[0], dict):
                expression = line[0]["expression"]
                tokens = expression.replace("(", " ").replace(")", " ").replace(",", " ").split()
                # Functions (IF, FILL) are upper case; series ids are lower case.
                referenced = {token for token in tokens if token.isidentifier() and token.islower()}
                assert referenced and referenced <= ids - {line[0]["id"]}, expression


def test_standard_dashboard_covers_the_issue_list():
    run = with_image("prod")
    present = {(namespace, metric, tuple(sorted(dims.items()))) for namespace, metric, dims, _ in dashboard_lines(run)}
    for service in ("flowbuilder-prod-api", "flowbuilder-prod-worker"):
        dims = (("ClusterName", "flowbuilder-prod-cluster"), ("ServiceName", service))
        for metric in ("CPUUtilization", "MemoryUtilization"):
            assert ("AWS/ECS", metric, dims) in present
        # prod turns Container Insights on, the only source of a running-task count.
        assert ("ECS/ContainerInsights", "RunningTaskCount", dims) in present
    names = {(namespace, metric) for namespace, metric, _ in present}
    for expected in [
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/ApplicationELB", "RequestCount"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("AWS/ApplicationELB", "TargetResponseTime"),
        ("AWS/RDS", "CPUUtilization"),
        ("AWS/RDS", "DatabaseConnections"),
        ("AWS/RDS", "FreeStorageSpace"),
        ("AWS/RDS", "FreeableMemory"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "Throttles"),
        (BACKLOG_NAMESPACE, "BacklogPerTask"),
    ]:
        assert expected in names, expected
    queues = {dict(dims)["QueueName"] for _, metric, dims in present if metric == "ApproximateNumberOfMessagesVisible"}
    assert queues == {
        "flowbuilder-prod-work",
        "flowbuilder-prod-work-dlq",
        "flowbuilder-prod-scheduler-dlq",
        "flowbuilder-prod-backlog-dlq",
    }
    body = json.loads(run.one(DASHBOARD).inputs["dashboardBody"])
    latency = next(w for w in body["widgets"] if w["properties"].get("title", "").startswith("API: target response"))
    assert latency["properties"]["stat"] == "p95"
    assert [line[1] for line in latency["properties"]["metrics"]] == ["TargetResponseTime"]
    rate = next(w for w in body["widgets"] if w["properties"].get("title") == "API: 5xx rate (%)")
    assert [line[0]["expression"] for line in rate["properties"]["metrics"] if isinstance(line[0], dict)][-1] == (
        "IF(total >= 10, 100 * errors / total, 0)"
    )


def test_dashboard_without_container_insights_has_no_running_task_widget():
    names = {metric for _, metric, _, _ in dashboard_lines(committed_run("dev"))}
    assert "RunningTaskCount" not in names
    assert {"QueueBacklog", "BacklogPerTask"} <= names


def test_ultra_dashboard_is_optional_and_shows_pipe_and_worker_runs():
    assert committed_run("ultra").of_type(DASHBOARD) == []
    names = {(namespace, metric) for namespace, metric, _, _ in dashboard_lines(ultra_with_dashboard())}
    assert ("AWS/EventBridge/Pipes", "ExecutionFailed") in names
    assert ("AWS/States", "ExecutionsFailed") in names
    assert not any(namespace in ("AWS/ECS", "AWS/RDS", "AWS/ApplicationELB") for namespace, _ in names)


def test_dashboard_url_is_exported():
    run = committed_run("staging")
    name = run.one(DASHBOARD).inputs["dashboardName"]
    assert name == "flowbuilder-staging-overview"
    assert run.outputs["dashboardUrl"].endswith(f"?region=us-east-1#dashboards/dashboard/{name}")
    assert "dashboardUrl" not in committed_run("ultra").outputs


# -- topic -------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_topic_is_encrypted_with_the_stack_key_alarms_and_budgets_can_use(stack):
    run = committed_run(stack)
    # The stack key is the only key outside EKS: the alert topic has none of its own.
    key = run.one(KEY, "-stack")
    topic = run.one(TOPIC)
    assert topic.inputs["name"] == f"flowbuilder-{stack}-alerts"
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    assert key.inputs["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    assert statements["AccountAdministersKey"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    services = statements["AlertPublishersEncryptToTopic"]
    assert services["Effect"] == "Allow"
    assert sorted(services["Principal"]["Service"]) == [
        "budgets.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "ses.amazonaws.com",
    ]
    assert sorted(services["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]


@pytest.mark.parametrize("stack", STACKS)
def test_only_this_accounts_alarms_and_budgets_may_publish(stack):
    run = committed_run(stack)
    arn = topic_arn(run)
    policy = run.one(TOPIC_POLICY)
    assert policy.inputs["arn"] == arn
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    assert set(statements) == {"AlarmsPublish", "BudgetsPublish"}
    for sid, service, source in (
        ("AlarmsPublish", "cloudwatch.amazonaws.com", f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:*"),
        ("BudgetsPublish", "budgets.amazonaws.com", f"arn:aws:budgets::{ACCOUNT_ID}:*"),
    ):
        statement = statements[sid]
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Service": service}
        assert statement["Action"] == "sns:Publish"
        assert statement["Resource"] == arn
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": source},
        }


def test_alarms_and_budget_wait_for_the_topic_policy():
    run = committed_run("dev")
    policy_urn = run.one(TOPIC_POLICY).urn
    for alarm in alarms(run).values():
        assert policy_urn in alarm.depends_on, alarm.name
    assert policy_urn in run.one(BUDGET).depends_on


def test_alert_emails_are_subscribed_by_address():
    emails = ["oncall@example.com", "platform@example.org"]
    run = with_monitoring("prod", json.dumps({"alertEmails": emails}))
    subscriptions = run.of_type(SUBSCRIPTION)
    assert sorted(s.inputs["endpoint"] for s in subscriptions) == emails
    assert all(s.inputs["protocol"] == "email" and s.inputs["topic"] == topic_arn(run) for s in subscriptions)
    assert committed_run("prod").of_type(SUBSCRIPTION) == []


# -- budget ------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_monthly_budget_per_stack(stack):
    run = committed_run(stack)
    budget = run.one(BUDGET).inputs
    assert budget["name"] == f"flowbuilder-{stack}-monthly"
    assert (budget["budgetType"], budget["timeUnit"], budget["limitUnit"]) == ("COST", "MONTHLY", "USD")
    assert budget["limitAmount"] == BUDGET_USD[stack]
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": [f"user:stack${stack}"]}]
    notifications = {(n["notificationType"], n["threshold"]): n for n in budget["notifications"]}
    assert set(notifications) == {("ACTUAL", 80), ("FORECASTED", 100)}
    for notification in notifications.values():
        assert notification["comparisonOperator"] == "GREATER_THAN"
        assert notification["thresholdType"] == "PERCENTAGE"
        assert notification["subscriberSnsTopicArns"] == [topic_arn(run)]
    # The filter only sees cost the provider tags with the same stack value.
    provider = next(r for r in run.resources if r.type == "pulumi:providers:aws")
    tags = provider.inputs["defaultTags"]
    tags = json.loads(tags) if isinstance(tags, str) else tags
    assert tags["tags"]["stack"] == stack


def test_budget_limit_comes_from_config():
    run = with_monitoring("staging", json.dumps({"monthlyBudgetUsd": 612.5}))
    assert run.one(BUDGET).inputs["limitAmount"] == "612.5"


# -- log retention -----------------------------------------------------------
@pytest.mark.parametrize("label", RUNS)
def test_every_log_group_keeps_the_stacks_retention(label):
    run = run_named(label)
    groups = run.of_type(LOG_GROUP)
    assert groups
    expected = RETENTION_DAYS[run.stack]
    for group in groups:
        assert group.inputs.get("retentionInDays") == expected, group.inputs["name"]


@pytest.mark.parametrize("label", RUNS)
def test_services_that_log_write_to_a_log_group_the_program_declares(label):
    """A service that creates its log group on first write creates it without retention."""
    run = run_named(label)
    names = {g.inputs["name"] for g in run.of_type(LOG_GROUP)}
    arns = {g.state["arn"] for g in run.of_type(LOG_GROUP)}
    for function in run.of_type("aws:lambda/function:Function"):
        group = (function.inputs.get("loggingConfig") or {}).get("logGroup") or f"/aws/lambda/{function.inputs['name']}"
        assert group in names, f"Lambda {function.inputs['name']} logs to undeclared {group}"
    for definition in run.of_type("aws:ecs/taskDefinition:TaskDefinition"):
        for container in json.loads(definition.inputs["containerDefinitions"]):
            options = (container.get("logConfiguration") or {}).get("options") or {}
            if (container.get("logConfiguration") or {}).get("logDriver") == "awslogs":
                assert options["awslogs-group"] in names, container["name"]
                assert options.get("awslogs-create-group") != "true", container["name"]
    for machine in run.of_type("aws:sfn/stateMachine:StateMachine"):
        destination = (machine.inputs.get("loggingConfiguration") or {}).get("logDestination")
        assert destination and destination.removesuffix(":*") in arns, machine.inputs["name"]
    for pipe in run.of_type("aws:pipes/pipe:Pipe"):
        destination = pipe.inputs["logConfiguration"]["cloudwatchLogsLogDestination"]["logGroupArn"]
        assert destination in arns, pipe.inputs["name"]
    for stage in run.of_type("aws:apigatewayv2/stage:Stage"):
        destination = (stage.inputs.get("accessLogSettings") or {}).get("destinationArn")
        assert destination is None or destination.removesuffix(":*") in arns, stage.name
    for instance in run.of_type("aws:rds/instance:Instance"):
        for export in instance.inputs.get("enabledCloudwatchLogsExports") or []:
            assert f"/aws/rds/instance/{instance.inputs['identifier']}/{export}" in names
    for cluster in run.of_type("aws:eks/cluster:Cluster"):
        if cluster.inputs.get("enabledClusterLogTypes"):
            assert f"/aws/eks/{cluster.inputs['name']}/cluster" in names, cluster.inputs["name"]


# -- the component on its own ------------------------------------------------
def monitoring_alone(watches_of, *, essential_only: bool = False, dashboard: bool = True) -> StackRun:
    """Monitoring given the watches ``watches_of()`` builds (inside the program, where outputs live)."""

    def build(context) -> None:
        settings = section(MonitoringConfig, "monitoring", dashboard=dashboard)
        Monitoring(
            context.prefix, MonitoringArgs(context, settings, watches_of(), essential_alarms_only=essential_only)
        )

    return run_component(build, stack="prod")


def synthetic_watches() -> list[Watch]:
    """Every watch of a standard stack, built from made-up names."""
    cluster = ClusterRef("c-main", pulumi.Output.from_input("arn:aws:ecs:us-east-1:123456789012:cluster/c-main"))
    target = LoadBalancerTarget(
        target_group_arn=pulumi.Output.from_input("arn:tg"),
        target_group_arn_suffix=pulumi.Output.from_input("targetgroup/tg/fedcba9876543210"),
        load_balancer_arn_suffix=pulumi.Output.from_input("app/lb/0123456789abcdef"),
        container_port=8080,
    )
    return [
        service_watch("api", cluster, "s-api", container_insights=True) + Watch((no_healthy_targets(target),)),
        service_watch("worker", cluster, "s-worker", container_insights=True),
        queue_watch("q-work", "q-dlq", 900),
        sampler_watch("q-backlog-dlq", "f-queue-backlog"),
        load_balancer_watch(target),
        database_watch("db-main", 40),
        scheduler_watch("q-scheduler-dlq", "f-scheduler", 300),
    ]


SYNTHETIC_NAMES = {
    "c-main",
    "s-api",
    "s-worker",
    "q-work",
    "q-dlq",
    "app/lb/0123456789abcdef",
    "targetgroup/tg/fedcba9876543210",
    "db-main",
    "f-scheduler",
    "q-scheduler-dlq",
    "q-backlog-dlq",
    "f-queue-backlog",
}


def test_component_renders_every_alarm_and_graph_it_is_given():
    run = monitoring_alone(synthetic_watches)
    assert set(alarms(run)) == STANDARD_ALARMS_WITH_IMAGE
    used = set()
    for _, _, dimensions, _ in dashboard_lines(run):
        used |= set(dimensions.values())
    for alarm in alarms(run).values():
        for _, _, dimensions in alarm_metrics(alarm):
            used |= set(dimensions.values())
    assert used == SYNTHETIC_NAMES
    assert alarms(run)["db-free-storage-low"].inputs["threshold"] == 40 * GIB * 0.1


def test_graphs_of_one_title_are_drawn_as_one_where_the_first_stood():
    body = json.loads(monitoring_alone(synthetic_watches).one(DASHBOARD).inputs["dashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert len(titles) == len(set(titles))
    assert titles[:6] == [
        "Alarms",
        "api: CPU and memory (%)",
        "Running tasks (Container Insights)",
        "worker: CPU and memory (%)",
        "Work queue: messages",
        "Work queue: age of oldest message (s)",
    ]
    running = body["widgets"][2]["properties"]["metrics"]
    assert [line[5] for line in running] == ["s-api", "s-worker"]
    dead_letters = next(w for w in body["widgets"] if w["properties"]["title"] == "Dead-letter queues: messages")
    assert titles.index("Dead-letter queues: messages") == 6
    assert [line[3] for line in dead_letters["properties"]["metrics"]] == ["q-dlq", "q-backlog-dlq", "q-scheduler-dlq"]


def test_only_the_essential_alarms_where_asked():
    run = monitoring_alone(synthetic_watches, essential_only=True)
    assert set(alarms(run)) == {"dlq-not-empty", "scheduler-dlq-not-empty", "scheduler-errors"}


def test_no_dashboard_unless_asked_and_only_what_is_watched():
    run = monitoring_alone(lambda: [queue_watch("q-work", "q-dlq", 900)], dashboard=False)
    assert set(alarms(run)) == {
        "queue-backlog-warning",
        "queue-backlog-critical",
        "queue-oldest-message-age",
        "dlq-not-empty",
    }
    assert run.of_type(DASHBOARD) == []
    assert run.one(BUDGET).inputs["name"] == "flowbuilder-prod-monthly"


def test_an_alarm_key_watched_twice_is_refused():
    with pytest.raises(ValueError, match="alarm keys watched twice: dlq-not-empty"):
        monitoring_alone(lambda: [queue_watch("q-a", "q-a-dlq", 900), queue_watch("q-b", "q-b-dlq", 900)])
