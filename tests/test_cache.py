"""Cache: Valkey reachable only from the API and worker, IAM-authenticated, encrypted, watched."""

from __future__ import annotations

import functools
import json
from typing import Any

import pulumi
import pytest

from components import ApplicationAccess, Cache, CacheArgs
from components.watch import Watch
from simulation.harness import StackRun
from simulation.mocks import ACCOUNT_ID
from stackconfig import Environment
from stackconfig.model import CacheConfig
from tests.component_support import run_component, section

SERVERLESS = "aws:elasticache/serverlessCache:ServerlessCache"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SUBNET_GROUP = "aws:elasticache/subnetGroup:SubnetGroup"
USER = "aws:elasticache/user:User"
USER_GROUP = "aws:elasticache/userGroup:UserGroup"
GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"

SUBNETS = ["subnet-db-a", "subnet-db-b"]
APP_GROUPS = ["sg-api", "sg-worker"]
ROLES = ["flowbuilder-dev-api-task-1234567", "flowbuilder-dev-worker-task-1234567"]


@functools.cache
def cache_alone(environment: Environment = Environment.DEV, settings: str = "{}") -> tuple[StackRun, Watch]:
    """The Cache component alone in the dev stack with ``environment``'s defaults and these settings."""
    built: list[Cache] = []

    def build(context) -> None:
        cache = Cache(
            context.prefix,
            CacheArgs(
                context,
                section(CacheConfig, "cache", environment, enabled=True, **json.loads(settings)),
                vpc_id="vpc-0abc",
                subnet_ids=SUBNETS,
                access=ApplicationAccess(role_names=ROLES, security_group_ids=APP_GROUPS),
            ),
        )
        built.append(cache)
        pulumi.export("endpoint", cache.endpoint)

    run = run_component(build)
    return run, built[0].watch


def node(**settings: Any) -> tuple[StackRun, Watch]:
    return cache_alone(Environment.DEV, json.dumps({"mode": "node", **settings}))


def test_serverless_is_valkey_in_the_database_subnets_limited_and_behind_its_own_group():
    run, _ = cache_alone()
    cache = run.one(SERVERLESS).inputs
    group = run.one(GROUP)
    assert cache["name"] == "flowbuilder-dev-cache"
    assert (cache["engine"], cache["majorEngineVersion"]) == ("valkey", "8")
    assert cache["subnetIds"] == SUBNETS
    assert cache["securityGroupIds"] == [group.id]
    assert cache["cacheUsageLimits"] == {
        "dataStorage": {"maximum": 1, "unit": "GB"},
        "ecpuPerSeconds": [{"maximum": 5000}],
    }
    assert cache["userGroupId"] == "flowbuilder-dev-cache-users"
    # dev keeps no snapshot; prod keeps 7 days from 05:00 UTC.
    assert cache["snapshotRetentionLimit"] == 0 and "dailySnapshotTime" not in cache
    prod = cache_alone(Environment.PROD)[0].one(SERVERLESS).inputs
    assert (prod["snapshotRetentionLimit"], prod["dailySnapshotTime"]) == (7, "05:00")
    assert run.outputs["endpoint"].endswith(".cache.amazonaws.com")


def test_one_iam_user_in_a_group_without_default_and_no_password_anywhere():
    run, _ = cache_alone()
    user = run.one(USER).inputs
    assert user["userId"] == user["userName"] == "flowbuilder-dev-cache-app"
    assert user["authenticationMode"] == {"type": "iam"}
    assert user["accessString"] == "on ~* &* +@all -@dangerous"
    assert "passwords" not in user and not user.get("noPasswordRequired")
    group = run.one(USER_GROUP).inputs
    assert (group["engine"], group["userIds"]) == ("valkey", ["flowbuilder-dev-cache-app"])


def test_6379_only_between_the_application_groups_and_the_cache_group():
    run, _ = cache_alone()
    cache_group = run.one(GROUP).id
    ingress = {(r.inputs["securityGroupId"], r.inputs["referencedSecurityGroupId"]) for r in run.of_type(INGRESS)}
    egress = {(r.inputs["securityGroupId"], r.inputs["referencedSecurityGroupId"]) for r in run.of_type(EGRESS)}
    assert ingress == {(cache_group, app) for app in APP_GROUPS}
    assert egress == {(app, cache_group) for app in APP_GROUPS}
    for rule in run.of_type(INGRESS) + run.of_type(EGRESS):
        assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 6379, 6379)


@pytest.mark.parametrize(
    "mode, kind",
    [("serverless", "serverlesscache:flowbuilder-dev-cache"), ("node", "replicationgroup:flowbuilder-dev-valkey")],
)
def test_each_application_role_may_connect_to_exactly_this_cache_as_this_user(mode, kind):
    run, _ = cache_alone(settings=json.dumps({"mode": mode}))
    policies = run.of_type(ROLE_POLICY)
    assert sorted(p.inputs["role"] for p in policies) == sorted(ROLES)
    for policy in policies:
        assert json.loads(policy.inputs["policy"])["Statement"] == [
            {
                "Effect": "Allow",
                "Action": ["elasticache:Connect"],
                "Resource": [
                    f"arn:aws:elasticache:us-east-1:{ACCOUNT_ID}:{kind}",
                    f"arn:aws:elasticache:us-east-1:{ACCOUNT_ID}:user:flowbuilder-dev-cache-app",
                ],
                "Sid": "ConnectToCache",
            }
        ]


def test_node_mode_encrypts_requires_tls_and_authenticates_through_the_user_group():
    run, _ = node()
    group = run.one(REPLICATION_GROUP).inputs
    assert group["replicationGroupId"] == "flowbuilder-dev-valkey"
    assert (group["engine"], group["engineVersion"], group["nodeType"]) == ("valkey", "8.0", "cache.t4g.micro")
    assert group["atRestEncryptionEnabled"] is True
    assert (group["transitEncryptionEnabled"], group["transitEncryptionMode"]) == (True, "required")
    assert group["userGroupIds"] == ["flowbuilder-dev-cache-users"]
    assert "authToken" not in group
    assert group["subnetGroupName"] == run.one(SUBNET_GROUP).inputs["name"]
    assert run.one(SUBNET_GROUP).inputs["subnetIds"] == SUBNETS
    assert (group["numCacheClusters"], group["automaticFailoverEnabled"], group["multiAzEnabled"]) == (1, False, False)


def test_two_nodes_fail_over_across_azs_and_snapshots_take_an_hour_across_midnight():
    group = node(nodeCount=2, snapshotRetentionDays=3, snapshotTime="23:30")[0].one(REPLICATION_GROUP).inputs
    assert (group["numCacheClusters"], group["automaticFailoverEnabled"], group["multiAzEnabled"]) == (2, True, True)
    assert (group["snapshotRetentionLimit"], group["snapshotWindow"]) == (3, "23:30-00:30")
    # Maintenance follows the snapshot, never overlapping it (AWS refuses an overlap).
    assert group["maintenanceWindow"] == "mon:00:30-mon:01:30"
    assert node()[0].one(REPLICATION_GROUP).inputs["maintenanceWindow"] == "sun:06:00-sun:07:00"


def test_serverless_alarms_on_bytes_against_its_storage_limit_and_on_any_eviction():
    _, watch = cache_alone(settings=json.dumps({"maxDataStorageGb": 2, "memoryAlarmPercent": 75}))
    alarms = {alarm.key: alarm for alarm in watch.alarms}
    memory, evictions = alarms["cache-memory"], alarms["cache-evictions"]
    assert (memory.metric.name, memory.metric.dimensions) == (
        "BytesUsedForCache",
        {"clusterId": "flowbuilder-dev-cache"},
    )
    assert (memory.comparison, memory.threshold) == ("GreaterThanThreshold", 1.5e9)
    assert (evictions.metric.name, evictions.statistic, evictions.threshold) == ("Evictions", "Sum", 0)


def test_node_alarms_on_memory_percentage_of_the_first_node():
    _, watch = node()
    memory = {alarm.key: alarm for alarm in watch.alarms}["cache-memory"]
    assert memory.metric.name == "DatabaseMemoryUsagePercentage"
    assert memory.metric.dimensions == {"CacheClusterId": "flowbuilder-dev-valkey-001"}
    assert memory.threshold == 80


def test_staging_and_prod_api_and_worker_get_the_cache_settings_and_dev_does_not(any_stack):
    expected = any_stack.stack in ("staging", "prod")
    for family in ("api", "worker"):
        task = any_stack.one(TASK_DEFINITION, f"-{family}") if any_stack.stack != "ultra" else None
        if task is None:
            continue
        environment = {e["name"]: e["value"] for e in json.loads(task.inputs["containerDefinitions"])[0]["environment"]}
        cache = {key: value for key, value in environment.items() if key.startswith("CACHE_")}
        if not expected:
            assert cache == {}
            continue
        prefix = f"flowbuilder-{any_stack.stack}"
        assert cache == {
            "CACHE_ENDPOINT": any_stack.outputs["cacheEndpoint"],
            "CACHE_PORT": "6379",
            "CACHE_USER": f"{prefix}-cache-app",
            "CACHE_NAME": f"{prefix}-cache",
            "CACHE_SERVERLESS": "true",
            "CACHE_IAM_AUTH": "true",
        }
        assert any_stack.outputs["cacheUser"] == f"{prefix}-cache-app"
