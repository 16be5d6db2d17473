"""EcsCluster: cluster, ALB and listeners, API and worker services, IAM, and the worker's 0 <-> N scaling."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest

from components.ecs_cluster import (
    BACKLOG_FUNCTION_SOURCE,
    BACKLOG_NAMESPACE,
    ECS_EXEC_ACTIONS,
    ELB_LOG_DELIVERY_ACCOUNTS,
    IMAGE_TAG_PLACEHOLDER,
    secret_resource,
)
from components.functions.queue_backlog import Sample, Settings, metric_data
from simulation.harness import StackRun, run_stack
from simulation.mocks import ACCOUNT_ID
from tests.conftest import committed_run

CLUSTER = "aws:ecs/cluster:Cluster"
CAPACITY = "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"
SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ALB = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
FUNCTION = "aws:lambda/function:Function"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"

IMAGE_TAG = "4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0b7f4a8e-1c2d-4e5f-9a8b-7c6d5e4f3a2b"
STRIPE = "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/stripe-AbCdEf"
SENTRY = "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/observability-Zy9x8W:sentryDsn::"


@functools.cache
def dev_https() -> StackRun:
    """dev with a certificate and an image tag: the HTTPS listeners and a released service."""
    return run_stack(
        "dev",
        {"flowbuilder:api": {"certificateArn": CERTIFICATE}, "flowbuilder:imageTag": IMAGE_TAG},
    )


@functools.cache
def prod_released() -> StackRun:
    return run_stack("prod", {"flowbuilder:imageTag": IMAGE_TAG})


@functools.cache
def dev_app_secrets() -> StackRun:
    """dev on x86 with two application secrets (one a JSON key of a shared secret)."""
    return run_stack(
        "dev",
        {
            "flowbuilder:ecs": {
                "architecture": "X86_64",
                "applicationSecrets": {"STRIPE_API_KEY": STRIPE, "SENTRY_DSN": SENTRY},
            }
        },
    )


def container(run: StackRun, service: str) -> dict[str, Any]:
    (definition,) = json.loads(run.one(TASK_DEFINITION, f"-{service}").inputs["containerDefinitions"])
    return definition


def statements(run: StackRun, policy_name: str) -> list[dict[str, Any]]:
    return json.loads(run.one(ROLE_POLICY, policy_name).inputs["policy"])["Statement"]


def role_statements(run: StackRun, role_name: str) -> list[dict[str, Any]]:
    """Every statement of every inline policy on the role ``<prefix>-<role_name>``."""
    role = run.one(ROLE, f"-{role_name}")
    policies = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    assert policies, f"{role_name} has no inline policy"
    return [s for p in policies for s in json.loads(p.inputs["policy"])["Statement"]]


def by_sid(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in found}


def resources_of(entry: dict[str, Any]) -> list[str]:
    return entry["Resource"] if isinstance(entry["Resource"], list) else [entry["Resource"]]


def database_secret_arn(run: StackRun) -> str:
    return run.outputs["databaseSecretArn"]


# -- which stacks ------------------------------------------------------------


def test_every_standard_stack_has_one_cluster_and_ultra_none(any_stack):
    expected = 0 if any_stack.stack == "ultra" else 1
    assert len([r for r in any_stack.resources if r.type == "flowbuilder:index:EcsCluster"]) == expected
    assert len(any_stack.of_type(ALB)) == expected


# -- cluster -----------------------------------------------------------------


@pytest.mark.parametrize(("stack", "insights"), [("dev", "disabled"), ("staging", "disabled"), ("prod", "enabled")])
def test_container_insights_is_on_in_prod_only(stack, insights):
    cluster = committed_run(stack).one(CLUSTER, "-cluster")
    assert cluster.inputs["name"] == f"flowbuilder-{stack}-cluster"
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": insights}]


def test_container_insights_writes_to_a_declared_log_group_with_the_stack_retention(prod, dev):
    group = prod.one("aws:cloudwatch/logGroup:LogGroup", "-container-insights")
    assert group.inputs["name"] == "/aws/ecs/containerinsights/flowbuilder-prod-cluster/performance"
    assert group.inputs["retentionInDays"] == 30
    assert group.urn in prod.one(CLUSTER, "-cluster").depends_on
    assert [g for g in dev.of_type("aws:cloudwatch/logGroup:LogGroup") if "containerinsights" in g.inputs["name"]] == []


@pytest.mark.parametrize(
    ("stack", "strategy"),
    [
        ("dev", [("FARGATE_SPOT", 1)]),
        ("staging", [("FARGATE", 1), ("FARGATE_SPOT", 3)]),
        ("prod", [("FARGATE", 1), ("FARGATE_SPOT", 3)]),
    ],
)
def test_both_capacity_providers_and_a_per_stack_default_strategy(stack, strategy):
    providers = committed_run(stack).one(CAPACITY)
    assert providers.inputs["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert [
        (s["capacityProvider"], s["weight"]) for s in providers.inputs["defaultCapacityProviderStrategies"]
    ] == strategy
    assert all(s["base"] == 0 for s in providers.inputs["defaultCapacityProviderStrategies"])


# -- load balancer -------------------------------------------------------------


def test_alb_is_internet_facing_in_the_public_subnets_and_drops_invalid_headers(dev):
    alb = dev.one(ALB)
    assert alb.inputs["name"] == "flowbuilder-dev-api"
    assert alb.inputs["internal"] is False
    assert alb.inputs["loadBalancerType"] == "application"
    assert alb.inputs["subnets"] == dev.outputs["publicSubnetIds"]
    assert alb.inputs["securityGroups"] == [dev.outputs["securityGroupIds"]["alb"]]
    assert alb.inputs["dropInvalidHeaderFields"] is True


def test_dev_alb_has_no_deletion_protection_or_access_logs(dev):
    alb = dev.one(ALB)
    assert alb.inputs["enableDeletionProtection"] is False
    assert "accessLogs" not in alb.inputs
    assert dev.of_type("aws:s3/bucket:Bucket") == []


def test_prod_alb_is_protected_and_logs_to_an_sse_s3_bucket(prod):
    alb = prod.one(ALB)
    bucket_name = f"flowbuilder-prod-alb-logs-{ACCOUNT_ID}"
    assert alb.inputs["enableDeletionProtection"] is True
    assert alb.inputs["accessLogs"] == {"enabled": True, "bucket": bucket_name, "prefix": "alb"}
    assert prod.one("aws:s3/bucket:Bucket").inputs["bucket"] == bucket_name
    (rule,) = prod.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs[
        "rules"
    ]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    block = prod.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = prod.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (lifecycle,) = prod.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert lifecycle["status"] == "Enabled"
    assert lifecycle["expiration"] == {"days": 30}
    assert lifecycle["filter"] == {"prefix": "alb/"}
    # ELB validates the bucket when logging is switched on: policy, ownership and encryption come first.
    depends = {prod.by_urn(urn).type for urn in alb.depends_on}
    assert {BUCKET_POLICY, "aws:s3/bucketOwnershipControls:BucketOwnershipControls"} <= depends


def test_access_log_bucket_policy_lets_only_elb_write_this_accounts_prefix(prod):
    bucket = f"flowbuilder-prod-alb-logs-{ACCOUNT_ID}"
    found = by_sid(json.loads(prod.one(BUCKET_POLICY).inputs["policy"])["Statement"])
    objects = f"arn:aws:s3:::{bucket}/alb/AWSLogs/{ACCOUNT_ID}/*"
    assert found["LogDeliveryService"] == {
        "Sid": "LogDeliveryService",
        "Effect": "Allow",
        "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": objects,
    }
    # us-east-1 predates the service principal: its regional ELB account is granted too.
    assert found["RegionalElbAccount"]["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}
    assert found["RegionalElbAccount"]["Action"] == "s3:PutObject"
    assert found["RegionalElbAccount"]["Resource"] == objects
    deny = found["DenyInsecureTransport"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def test_newer_regions_grant_only_the_log_delivery_service_principal():
    from components.ecs_cluster import alb_log_bucket_policy
    from simulation.harness import run_program

    holder = {}
    run_program(
        lambda: alb_log_bucket_policy("arn:aws:s3:::logs", ACCOUNT_ID, "eu-south-2").apply(
            holder.setdefault("p", []).append
        ),
        stack="dev",
        config={},
    )
    sids = [s["Sid"] for s in json.loads(holder["p"][0])["Statement"]]
    assert "eu-south-2" not in ELB_LOG_DELIVERY_ACCOUNTS
    assert sids == ["LogDeliveryService", "DenyInsecureTransport"]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_target_group_checks_health_on_the_container_port(stack):
    group = committed_run(stack).one(TARGET_GROUP)
    assert group.inputs["name"] == f"flowbuilder-{stack}-api"
    assert (group.inputs["targetType"], group.inputs["port"], group.inputs["protocol"]) == ("ip", 8080, "HTTP")
    assert group.inputs["deregistrationDelay"] == 60
    check = group.inputs["healthCheck"]
    assert check["path"] == "/health"
    assert check["matcher"] == "200"
    assert (check["healthyThreshold"], check["unhealthyThreshold"]) == (5, 2)
    assert (check["interval"], check["timeout"]) == (30, 5)


def test_without_a_certificate_one_plain_http_listener_forwards(dev):
    (listener,) = dev.of_type(LISTENER)
    assert (listener.inputs["port"], listener.inputs["protocol"]) == (80, "HTTP")
    (action,) = listener.inputs["defaultActions"]
    assert action["type"] == "forward"
    assert action["targetGroupArn"] == dev.one(TARGET_GROUP).state["arn"]
    assert dev.outputs["apiUrl"].startswith("http://flowbuilder-dev-api-")
    assert dev.outputs["apiEndpointNote"].startswith("plain HTTP: no certificateArn configured")


def test_with_a_certificate_https_on_tls12_plus_and_http_redirects():
    run = dev_https()
    listeners = {r.inputs["port"]: r.inputs for r in run.of_type(LISTENER)}
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["protocol"] == "HTTPS"
    assert https["certificateArn"] == CERTIFICATE
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    (forward,) = https["defaultActions"]
    assert (forward["type"], forward["targetGroupArn"]) == ("forward", run.one(TARGET_GROUP).state["arn"])
    (redirect,) = listeners[80]["defaultActions"]
    assert redirect["type"] == "redirect"
    assert redirect["redirect"] == {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"}
    assert run.outputs["apiUrl"].startswith("https://")
    assert "plain HTTP" not in run.outputs["apiEndpointNote"]


# -- services ----------------------------------------------------------------


@pytest.mark.parametrize("service", ["api", "worker"])
def test_services_run_in_private_subnets_without_public_ips(prod, service):
    settings = prod.one(SERVICE, f"-{service}").inputs
    network = settings["networkConfiguration"]
    assert network["subnets"] == prod.outputs["privateSubnetIds"]
    assert network["assignPublicIp"] is False
    assert network["securityGroups"] == [prod.outputs["securityGroupIds"][service]]
    assert settings["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert (settings["deploymentMinimumHealthyPercent"], settings["deploymentMaximumPercent"]) == (100, 200)
    assert prod.one(SERVICE, f"-{service}").ignore_changes == ["desiredCount"]
    assert settings["cluster"] == prod.one(CLUSTER).state["arn"]


def test_api_service_sits_behind_the_target_group_with_a_grace_period(prod):
    service = prod.one(SERVICE, "-api")
    (balancer,) = service.inputs["loadBalancers"]
    assert balancer == {
        "targetGroupArn": prod.one(TARGET_GROUP).state["arn"],
        "containerName": "api",
        "containerPort": 8080,
    }
    assert service.inputs["healthCheckGracePeriodSeconds"] == 60
    assert service.inputs["availabilityZoneRebalancing"] == "ENABLED"
    assert [(s["capacityProvider"], s["weight"]) for s in service.inputs["capacityProviderStrategies"]] == [
        ("FARGATE", 1)
    ]
    # The target group must be attached to a listener before ECS accepts it.
    assert {prod.by_urn(urn).type for urn in service.depends_on} >= {LISTENER, CAPACITY}


def test_desired_counts_follow_the_image_and_the_config():
    assert committed_run("prod").one(SERVICE, "-api").inputs["desiredCount"] == 0
    assert prod_released().one(SERVICE, "-api").inputs["desiredCount"] == 2
    assert dev_https().one(SERVICE, "-api").inputs["desiredCount"] == 1
    assert prod_released().one(SERVICE, "-worker").inputs["desiredCount"] == 0


def test_worker_uses_the_stack_spot_strategy(prod, dev):
    strategies = lambda run: [  # noqa: E731
        (s["capacityProvider"], s["weight"]) for s in run.one(SERVICE, "-worker").inputs["capacityProviderStrategies"]
    ]
    assert strategies(prod) == [("FARGATE", 1), ("FARGATE_SPOT", 3)]
    assert strategies(dev) == [("FARGATE_SPOT", 1)]
    assert "loadBalancers" not in prod.one(SERVICE, "-worker").inputs


@pytest.mark.parametrize(("stack", "enabled"), [("dev", True), ("staging", True), ("prod", False)])
def test_ecs_exec_is_on_outside_prod(stack, enabled):
    run = committed_run(stack)
    assert all(s.inputs["enableExecuteCommand"] is enabled for s in run.of_type(SERVICE))
    assert run.one(CLUSTER).inputs["configuration"]["executeCommandConfiguration"] == {"logging": "NONE"}


# -- task definitions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "service", "cpu", "memory"),
    [
        ("dev", "api", "256", "512"),
        ("dev", "worker", "1024", "2048"),
        ("prod", "api", "1024", "2048"),
        ("prod", "worker", "2048", "4096"),
    ],
)
def test_task_sizes(stack, service, cpu, memory):
    task = committed_run(stack).one(TASK_DEFINITION, f"-{service}").inputs
    assert (task["cpu"], task["memory"]) == (cpu, memory)
    assert task["family"] == f"flowbuilder-{stack}-{service}"
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    assert task["skipDestroy"] is True


def test_arm64_by_default_and_x86_when_configured(dev):
    assert dev.one(TASK_DEFINITION, "-api").inputs["runtimePlatform"] == {
        "operatingSystemFamily": "LINUX",
        "cpuArchitecture": "ARM64",
    }
    assert dev_app_secrets().one(TASK_DEFINITION, "-worker").inputs["runtimePlatform"]["cpuArchitecture"] == "X86_64"


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("service", ["api", "worker"])
def test_containers_are_read_only_unprivileged_with_a_scratch_volume(stack, service):
    run = committed_run(stack)
    definition = container(run, service)
    assert definition["readonlyRootFilesystem"] is True
    assert definition["privileged"] is False
    assert definition["essential"] is True
    mounts = {m["containerPath"]: m for m in definition["mountPoints"]}
    assert mounts["/tmp"] == {"sourceVolume": "scratch", "containerPath": "/tmp", "readOnly": False}
    volumes = [v["name"] for v in run.one(TASK_DEFINITION, f"-{service}").inputs["volumes"]]
    if stack == "dev":
        # ECS Exec's agent needs these writable when the root filesystem is read-only.
        assert volumes == ["scratch", "exec-agent-state", "exec-agent-logs"]
        assert {"/var/lib/amazon", "/var/log/amazon"} <= set(mounts)
    else:
        assert volumes == ["scratch"]
        assert set(mounts) == {"/tmp"}


@pytest.mark.parametrize("service", ["api", "worker"])
def test_logs_go_to_the_service_log_group_kept_per_environment(prod, dev, service):
    logging = container(prod, service)["logConfiguration"]
    assert logging["logDriver"] == "awslogs"
    assert logging["options"] == {
        "awslogs-group": f"/flowbuilder/prod/ecs/{service}",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": service,
    }
    assert prod.one(LOG_GROUP, f"-{service}-logs").inputs["retentionInDays"] == 30
    assert dev.one(LOG_GROUP, f"-{service}-logs").inputs["retentionInDays"] == 7


def test_images_are_the_repository_at_the_configured_tag(dev):
    urls = dev.outputs["repositoryUrls"]
    released = dev_https()
    assert container(released, "api")["image"] == f"{urls['api']}:{IMAGE_TAG}"
    assert container(released, "worker")["image"] == f"{urls['worker']}:{IMAGE_TAG}"
    assert container(dev, "api")["image"] == f"{urls['api']}:{IMAGE_TAG_PLACEHOLDER}"


def test_api_maps_its_port_and_the_worker_drains_for_two_minutes(prod):
    api, worker = container(prod, "api"), container(prod, "worker")
    assert api["portMappings"] == [{"name": "http", "containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}]
    assert "stopTimeout" not in api
    assert worker["stopTimeout"] == 120
    assert "portMappings" not in worker


@pytest.mark.parametrize("service", ["api", "worker"])
def test_database_credentials_arrive_only_as_secret_references(prod, service):
    definition = container(prod, service)
    arn = database_secret_arn(prod)
    assert definition["secrets"] == [
        {"name": "DB_PASSWORD", "valueFrom": f"{arn}:password::"},
        {"name": "DB_USERNAME", "valueFrom": f"{arn}:username::"},
    ]
    environment = {e["name"]: e["value"] for e in definition["environment"]}
    assert {"DB_HOST", "DB_PORT", "DB_NAME", "QUEUE_URL", "AWS_REGION", "STACK"} <= set(environment)
    assert environment["QUEUE_URL"] == prod.outputs["workQueueUrl"]
    assert (environment["AWS_REGION"], environment["STACK"], environment["DB_PORT"]) == ("us-east-1", "prod", "5432")
    assert not {"DB_PASSWORD", "DB_USERNAME", "DATABASE_URL"} & set(environment)


def test_no_container_definition_holds_a_plaintext_secret(any_stack):
    secret_name = re.compile(r"PASSWORD|PASSWD|TOKEN|PRIVATE|API_KEY|CREDENTIAL|DSN", re.IGNORECASE)
    for task in any_stack.of_type(TASK_DEFINITION):
        assert "containerDefinitions" not in task.secret_inputs
        for definition in json.loads(task.inputs["containerDefinitions"]):
            for variable in definition.get("environment", []):
                assert not secret_name.search(variable["name"]), f"{task.name}: {variable['name']} is plain"
                assert "postgresql://" not in variable["value"], f"{task.name}: {variable['name']} holds a URL"
            for secret in definition.get("secrets", []):
                assert secret["valueFrom"].startswith("arn:aws:secretsmanager:"), f"{task.name}: {secret}"


def test_application_secrets_are_injected_by_reference_and_readable_exactly():
    run = dev_app_secrets()
    for service in ("api", "worker"):
        injected = {s["name"]: s["valueFrom"] for s in container(run, service)["secrets"]}
        assert injected["STRIPE_API_KEY"] == STRIPE
        assert injected["SENTRY_DSN"] == SENTRY
        assert "STRIPE_API_KEY" not in {e["name"] for e in container(run, service)["environment"]}
    readable = by_sid(statements(run, "-execution"))["ReadInjectedSecrets"]
    assert readable["Action"] == ["secretsmanager:GetSecretValue"]
    assert sorted(readable["Resource"]) == sorted(
        [
            database_secret_arn(run),
            STRIPE,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/observability-Zy9x8W",
        ]
    )


@pytest.mark.parametrize("variable", ["QUEUE_URL", "DB_PASSWORD"])
def test_an_application_secret_may_not_shadow_a_variable_the_stack_sets(variable):
    with pytest.raises(ValueError, match=f"{variable}: set twice in the api task"):
        run_stack("dev", {"flowbuilder:ecs": {"applicationSecrets": {variable: STRIPE}}})


def test_application_secrets_must_name_a_complete_secret_arn():
    from stackconfig import ConfigError

    partial = "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/stripe"
    with pytest.raises(ConfigError, match="applicationSecrets"):
        run_stack("dev", {"flowbuilder:ecs": {"applicationSecrets": {"STRIPE_API_KEY": partial}}})


def test_secret_resource_strips_the_json_key_suffix():
    assert secret_resource(f"{STRIPE}") == STRIPE
    assert (
        secret_resource(SENTRY)
        == "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/observability-Zy9x8W"
    )


# -- IAM -----------------------------------------------------------------------


def test_execution_role_pulls_logs_and_reads_only_what_it_injects(prod):
    found = by_sid(statements(prod, "-execution"))
    assert set(found) == {"RegistryLogin", "PullServiceImages", "WriteServiceLogs", "ReadInjectedSecrets"}
    assert found["RegistryLogin"]["Action"] == ["ecr:GetAuthorizationToken"]
    assert found["RegistryLogin"]["Resource"] == "*"
    repositories = prod.outputs["repositoryUrls"]
    assert found["PullServiceImages"]["Action"] == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
    ]
    assert found["PullServiceImages"]["Resource"] == [
        f"arn:aws:ecr:us-east-1:{ACCOUNT_ID}:repository/flowbuilder-prod/{image}" for image in ("api", "worker")
    ]
    assert set(repositories) == {"api", "worker", "scheduler"}
    assert found["WriteServiceLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert found["WriteServiceLogs"]["Resource"] == [
        f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:/flowbuilder/prod/ecs/{service}:*"
        for service in ("api", "worker")
    ]
    assert found["ReadInjectedSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert found["ReadInjectedSecrets"]["Resource"] == [database_secret_arn(prod)]
    # The only "*" is the registry login, which AWS cannot narrow.
    assert [s["Sid"] for s in found.values() if "*" in resources_of(s)] == ["RegistryLogin"]


def test_api_task_role_may_only_send_to_the_work_queue(prod):
    (grant,) = role_statements(prod, "api-task")
    queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:flowbuilder-prod-work"
    assert grant["Action"] == ["sqs:SendMessage"]
    assert grant["Resource"] == [queue_arn]


def test_worker_task_role_may_only_consume_the_work_queue(prod):
    (grant,) = role_statements(prod, "worker-task")
    assert grant["Action"] == [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    ]
    assert grant["Resource"] == [f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:flowbuilder-prod-work"]


@pytest.mark.parametrize("role", ["api-task", "worker-task"])
def test_no_task_role_has_a_star_resource_in_prod(prod, role):
    assert all("*" not in resources_of(s) for s in role_statements(prod, role))


@pytest.mark.parametrize("role", ["api-task", "worker-task"])
def test_with_ecs_exec_the_only_star_is_the_session_channel(dev, role):
    starred = [s for s in role_statements(dev, role) if "*" in resources_of(s)]
    assert [(s["Sid"], s["Action"]) for s in starred] == [("EcsExecSessions", ECS_EXEC_ACTIONS)]


@pytest.mark.parametrize("role", ["execution", "api-task", "worker-task"])
def test_task_roles_trust_only_ecs_tasks_of_this_account(prod, role):
    (trust,) = json.loads(prod.one(ROLE, f"-{role}").inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}


def test_task_definitions_use_the_shared_execution_role_and_their_own_task_role(prod):
    execution = prod.one(ROLE, "-execution").state["arn"]
    for service in ("api", "worker"):
        task = prod.one(TASK_DEFINITION, f"-{service}").inputs
        assert task["executionRoleArn"] == execution
        assert task["taskRoleArn"] == prod.one(ROLE, f"-{service}-task").state["arn"]


# -- API scaling -----------------------------------------------------------------


def scaling_target(run: StackRun, service: str) -> dict[str, Any]:
    return run.one(SCALING_TARGET, f"-{service}-scaling").inputs


def test_api_scales_on_cpu_and_memory_at_70_percent():
    run = prod_released()
    target = scaling_target(run, "api")
    assert target["resourceId"] == "service/flowbuilder-prod-cluster/flowbuilder-prod-api"
    assert (target["minCapacity"], target["maxCapacity"]) == (2, 10)
    for label, metric in (("cpu", "ECSServiceAverageCPUUtilization"), ("memory", "ECSServiceAverageMemoryUtilization")):
        policy = run.one(SCALING_POLICY, f"-api-{label}").inputs
        assert policy["policyType"] == "TargetTrackingScaling"
        tracking = policy["targetTrackingScalingPolicyConfiguration"]
        assert tracking["targetValue"] == 70
        assert tracking["predefinedMetricSpecification"] == {"predefinedMetricType": metric}
        assert (tracking["scaleOutCooldown"], tracking["scaleInCooldown"]) == (60, 300)


def test_prod_refuses_fewer_than_two_api_tasks():
    from stackconfig import ConfigError

    with pytest.raises(ConfigError, match="api.minCount: prod keeps at least 2"):
        run_stack("prod", {"flowbuilder:api": {"minCount": 1, "desiredCount": 1}})


# -- worker scaling: zero to one, one to many, back to zero ------------------------


def test_before_an_image_exists_both_services_are_capped_at_zero(dev, prod):
    for run in (dev, prod):
        for service in ("api", "worker"):
            target = scaling_target(run, service)
            assert (target["minCapacity"], target["maxCapacity"]) == (0, 0)
    steps = prod.outputs["imagesToPush"]
    urls = prod.outputs["repositoryUrls"]
    assert f"docker push {urls['api']}:<git-sha>" in steps["push"]
    assert f"docker push {urls['worker']}:<git-sha>" in steps["push"]
    assert steps["then"] == "pulumi config set imageTag <git-sha> && pulumi up"
    assert "imagesToPush" not in prod_released().outputs


def test_worker_scales_between_zero_and_its_maximum_once_released():
    target = scaling_target(prod_released(), "worker")
    assert target["resourceId"] == "service/flowbuilder-prod-cluster/flowbuilder-prod-worker"
    assert (target["minCapacity"], target["maxCapacity"]) == (0, 20)
    assert scaling_target(dev_https(), "worker")["maxCapacity"] == 3


def alarm_for(run: StackRun, policy_label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The alarm whose action is the policy ``<prefix>-<policy_label>``, and that policy."""
    policy = run.one(SCALING_POLICY, f"-{policy_label}")
    (alarm,) = [a for a in run.of_type(ALARM) if a.inputs.get("alarmActions") == [policy.state["arn"]]]
    return alarm.inputs, policy.inputs


def breaches(alarm: dict[str, Any], value: float) -> bool:
    compare = {
        "GreaterThanOrEqualToThreshold": value >= alarm["threshold"],
        "LessThanOrEqualToThreshold": value <= alarm["threshold"],
        "GreaterThanThreshold": value > alarm["threshold"],
        "LessThanThreshold": value < alarm["threshold"],
    }
    return compare[alarm["comparisonOperator"]]


def published(run: StackRun, sample: Sample) -> dict[str, float]:
    """What the deployed function would publish for ``sample``, keyed by metric name."""
    variables = run.one(FUNCTION, "-queue-backlog").inputs["environment"]["variables"]
    settings = Settings.from_environment(variables)
    return {d["MetricName"]: d["Value"] for d in metric_data(sample, settings, None)}


def test_zero_to_one_one_message_on_an_idle_worker_sets_one_task():
    run = prod_released()
    alarm, policy = alarm_for(run, "worker-wake")
    assert alarm["namespace"] == BACKLOG_NAMESPACE
    assert alarm["metricName"] == "BacklogWithNoTasks"
    assert alarm["dimensions"] == {"ClusterName": "flowbuilder-prod-cluster", "ServiceName": "flowbuilder-prod-worker"}
    assert (alarm["statistic"], alarm["period"]) == ("Maximum", 20)
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (1, 1)
    assert alarm["treatMissingData"] == "notBreaching"
    assert policy["policyType"] == "StepScaling"
    step = policy["stepScalingPolicyConfiguration"]
    assert step["adjustmentType"] == "ExactCapacity"
    assert step["stepAdjustments"] == [{"metricIntervalLowerBound": "0", "scalingAdjustment": 1}]
    assert policy["resourceId"] == scaling_target(run, "worker")["resourceId"]
    # The chain end to end: one visible message, no task -> the alarm breaches -> exactly 1 task.
    idle_with_message = published(run, Sample(visible=1, in_flight=0, desired=0, running=0))
    assert breaches(alarm, idle_with_message[alarm["metricName"]])
    # Once a task is wanted the wake signal drops, so the policy never pulls a scaled-out service back to 1.
    busy = published(run, Sample(visible=50, in_flight=3, desired=3, running=3))
    assert not breaches(alarm, busy[alarm["metricName"]])


def test_scale_from_zero_does_not_rest_on_sqs_metrics(any_stack):
    for alarm in any_stack.of_type(ALARM):
        if alarm.inputs.get("alarmActions") and any("scalingPolicy" in a for a in alarm.inputs["alarmActions"]):
            assert alarm.inputs["namespace"] != "AWS/SQS", alarm.name


def test_one_to_many_tracks_backlog_per_task_without_scaling_in():
    run = prod_released()
    policy = run.one(SCALING_POLICY, "-worker-backlog").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert tracking["targetValue"] == 10
    assert tracking["disableScaleIn"] is True
    assert tracking["scaleOutCooldown"] == 60
    metric = tracking["customizedMetricSpecification"]
    assert (metric["namespace"], metric["metricName"], metric["statistic"]) == (
        BACKLOG_NAMESPACE,
        "BacklogPerTask",
        "Average",
    )
    assert {d["name"]: d["value"] for d in metric["dimensions"]} == {
        "ClusterName": "flowbuilder-prod-cluster",
        "ServiceName": "flowbuilder-prod-worker",
    }


def test_back_to_zero_only_after_the_queue_stayed_empty_for_fifteen_minutes():
    run = prod_released()
    alarm, policy = alarm_for(run, "worker-scale-to-zero")
    assert alarm["metricName"] == "TasksWithNoBacklog"
    # Minimum over each minute: one sample with a message in it breaks the streak.
    assert (alarm["statistic"], alarm["period"]) == ("Minimum", 60)
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (15, 15)
    assert alarm["treatMissingData"] == "notBreaching"
    step = policy["stepScalingPolicyConfiguration"]
    assert step["adjustmentType"] == "ExactCapacity"
    assert step["stepAdjustments"] == [{"metricIntervalLowerBound": "0", "scalingAdjustment": 0}]
    idle = published(run, Sample(visible=0, in_flight=0, desired=4, running=4))
    assert breaches(alarm, idle["TasksWithNoBacklog"])
    for still_working in (Sample(0, 1, 4, 4), Sample(2, 0, 4, 4)):
        assert not breaches(alarm, published(run, still_working)["TasksWithNoBacklog"])
    # Already at zero the alarm stays quiet, so it cannot undo a wake-up.
    assert not breaches(alarm, published(run, Sample(0, 0, 0, 0))["TasksWithNoBacklog"])


def test_scale_in_window_follows_the_config():
    run = run_stack("dev", {"flowbuilder:worker": {"scaleInAfterMinutes": 30, "backlogSampleSeconds": 10}})
    to_zero, _ = alarm_for(run, "worker-scale-to-zero")
    wake, _ = alarm_for(run, "worker-wake")
    assert (to_zero["evaluationPeriods"], to_zero["datapointsToAlarm"]) == (30, 30)
    assert wake["period"] == 10
    function = run.one(FUNCTION, "-queue-backlog").inputs
    assert function["environment"]["variables"]["SAMPLE_INTERVAL_SECONDS"] == "10"
    assert function["timeout"] == 5 * 10 + 15


# -- the backlog function ----------------------------------------------------------


def test_backlog_function_is_inline_python_on_arm_every_minute(prod):
    function = prod.one(FUNCTION, "-queue-backlog").inputs
    assert function["name"] == "flowbuilder-prod-queue-backlog"
    assert (function["runtime"], function["architectures"], function["handler"]) == (
        "python3.13",
        ["arm64"],
        "queue_backlog.handler",
    )
    assert function["memorySize"] == 128
    assert function["timeout"] == 2 * 20 + 15
    assert function["reservedConcurrentExecutions"] == 1
    assert function["tracingConfig"] == {"mode": "Active"}
    assert function["code"].assets["queue_backlog.py"].text == BACKLOG_FUNCTION_SOURCE.read_text()
    assert function["environment"]["variables"] == {
        "QUEUE_URL": prod.outputs["workQueueUrl"],
        "CLUSTER_NAME": "flowbuilder-prod-cluster",
        "SERVICE_NAME": "flowbuilder-prod-worker",
        "METRIC_NAMESPACE": BACKLOG_NAMESPACE,
        "SAMPLE_INTERVAL_SECONDS": "20",
    }
    rule = prod.one("aws:cloudwatch/eventRule:EventRule", "-queue-backlog").inputs
    assert rule["scheduleExpression"] == "rate(1 minute)"
    target = prod.one("aws:cloudwatch/eventTarget:EventTarget", "-queue-backlog").inputs
    assert target["arn"] == prod.one(FUNCTION, "-queue-backlog").state["arn"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 0, "maximumEventAgeInSeconds": 60}
    permission = prod.one("aws:lambda/permission:Permission", "-queue-backlog").inputs
    assert (permission["principal"], permission["sourceArn"]) == (
        "events.amazonaws.com",
        prod.one("aws:cloudwatch/eventRule:EventRule").state["arn"],
    )
    retries = prod.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "-queue-backlog").inputs
    assert (retries["maximumRetryAttempts"], retries["maximumEventAgeInSeconds"]) == (0, 60)
    failures = prod.one("aws:sqs/queue:Queue", "-backlog-dlq")
    assert retries["destinationConfig"] == {"onFailure": {"destination": failures.state["arn"]}}
    assert failures.inputs["name"] == "flowbuilder-prod-backlog-dlq"
    assert failures.inputs["sqsManagedSseEnabled"] is True
    assert failures.inputs["messageRetentionSeconds"] == 14 * 86_400


def test_backlog_function_reads_one_queue_one_service_and_publishes_one_namespace(prod):
    found = by_sid(statements(prod, "-queue-backlog"))
    assert found["ReadQueueDepth"]["Action"] == ["sqs:GetQueueAttributes"]
    assert found["ReadQueueDepth"]["Resource"] == [f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:flowbuilder-prod-work"]
    assert found["ReadWorkerCounts"]["Action"] == ["ecs:DescribeServices"]
    assert found["ReadWorkerCounts"]["Resource"] == [
        f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:service/flowbuilder-prod-cluster/flowbuilder-prod-worker"
    ]
    publish = found["PublishBacklogMetrics"]
    assert (publish["Action"], publish["Resource"]) == (["cloudwatch:PutMetricData"], "*")
    assert publish["Condition"] == {"StringEquals": {"cloudwatch:namespace": BACKLOG_NAMESPACE}}
    assert found["WriteOwnLogs"]["Resource"] == [
        f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:/aws/lambda/flowbuilder-prod-queue-backlog:*"
    ]
    assert found["RecordFailedSamples"]["Action"] == ["sqs:SendMessage"]
    assert found["RecordFailedSamples"]["Resource"] == [
        f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:flowbuilder-prod-backlog-dlq"
    ]
    assert (found["WriteTraces"]["Action"], found["WriteTraces"]["Resource"]) == (
        ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "*",
    )
    assert set(found) == {
        "ReadQueueDepth",
        "ReadWorkerCounts",
        "PublishBacklogMetrics",
        "WriteOwnLogs",
        "RecordFailedSamples",
        "WriteTraces",
    }
    assert prod.one(LOG_GROUP, "-queue-backlog-logs").inputs["retentionInDays"] == 30


def test_outputs_monitoring_needs(prod):
    assert prod.outputs["ecsClusterName"] == "flowbuilder-prod-cluster"
    assert prod.outputs["apiServiceName"] == "flowbuilder-prod-api"
    assert prod.outputs["workerServiceName"] == "flowbuilder-prod-worker"
    assert prod.outputs["workerBacklogMetric"] == {
        "namespace": BACKLOG_NAMESPACE,
        "dimensions": {"ClusterName": "flowbuilder-prod-cluster", "ServiceName": "flowbuilder-prod-worker"},
        "metrics": ["QueueBacklog", "BacklogPerTask", "BacklogWithNoTasks", "TasksWithNoBacklog"],
    }
