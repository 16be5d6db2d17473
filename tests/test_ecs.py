"""ECS: the cluster, the API service and the queue worker, their tasks and IAM, and the worker's 0 <-> N scaling."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pulumi
import pytest

from components.database import DatabaseConnection
from components.ecs import (
    BACKLOG_NAMESPACE,
    ApiService,
    ApiServiceArgs,
    ClusterRef,
    QueueWorker,
    QueueWorkerArgs,
)
from components.ecs.backlog_sampler import FUNCTION_SOURCE
from components.ecs.queue_backlog import Sample, Settings, metric_data
from components.ecs.task_definition import ECS_EXEC_ACTIONS, secret_resource
from components.front_door import LoadBalancerTarget
from components.iam import statement
from components.images import NOT_RELEASED_TAG
from components.network import Placement
from simulation.harness import StackRun, run_stack
from simulation.mocks import ACCOUNT_ID
from stackconfig import ConfigError
from stackconfig.model import ApiConfig, EcsConfig, WorkerConfig
from tests.component_support import image, queue_ref, run_component, section
from tests.conftest import DIGESTS, committed_run, released_run

CLUSTER = "aws:ecs/cluster:Cluster"
CAPACITY = "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"
SERVICE = "aws:ecs/service:Service"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LISTENER = "aws:lb/listener:Listener"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SCALING_TARGET = "aws:appautoscaling/target:Target"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
FUNCTION = "aws:lambda/function:Function"

STRIPE = "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/stripe-AbCdEf"
SENTRY = "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/observability-Zy9x8W:sentryDsn::"
DB_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0a1b2c3d-Qw3rTy"
STANDARD = ("dev", "staging", "prod")


# -- runs ----------------------------------------------------------------------


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


def scaling_target(run: StackRun, service: str) -> dict[str, Any]:
    return run.one(SCALING_TARGET, f"-{service}-scaling").inputs


# -- the two services on their own ---------------------------------------------


DB_USER_ARN = f"arn:aws:rds-db:us-east-1:{ACCOUNT_ID}:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/flowbuilder_app"


def database() -> DatabaseConnection:
    """What the standard database hands the applications: IAM authentication, no password."""
    return DatabaseConnection(
        secret_arn=pulumi.Output.from_input(DB_SECRET),
        secret_kind="rds-master-json",
        environment={"DB_HOST": "db.internal", "DB_PORT": "5432", "DB_USER": "flowbuilder_app", "DB_IAM_AUTH": "true"},
        container_secrets=(),
        grants=(statement(["rds-db:connect"], [DB_USER_ARN], sid="ConnectAsApplicationUser"),),
    )


def cluster_ref() -> ClusterRef:
    return ClusterRef(
        "flowbuilder-dev-cluster",
        pulumi.Output.from_input(f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:cluster/flowbuilder-dev-cluster"),
    )


def api_service(api: ApiConfig, ecs: EcsConfig, digest: str | None):
    """The program that declares only the API service, with these settings."""

    def build(context) -> None:
        ApiService(
            context.prefix,
            ApiServiceArgs(
                context,
                api,
                ecs,
                cluster=cluster_ref(),
                image=image("api", digest),
                placement=Placement(["subnet-a", "subnet-b"], "sg-api"),
                target=LoadBalancerTarget(
                    target_group_arn=pulumi.Output.from_input("arn:aws:elasticloadbalancing:tg"),
                    target_group_arn_suffix=pulumi.Output.from_input("targetgroup/api/1"),
                    load_balancer_arn_suffix=pulumi.Output.from_input("app/api/1"),
                    container_port=8080,
                ),
                queue=queue_ref("flowbuilder-dev-work"),
                database=database(),
            ),
        )

    return build


@functools.cache
def api_alone(digest: str | None = DIGESTS["api"], ecs: str = "{}", api: str = "{}") -> StackRun:
    return run_component(
        api_service(section(ApiConfig, "api", **json.loads(api)), section(EcsConfig, "ecs", **json.loads(ecs)), digest)
    )


@functools.cache
def worker_alone(digest: str | None = DIGESTS["worker"], worker: str = "{}", ecs: str = "{}") -> StackRun:
    def build(context) -> None:
        QueueWorker(
            context.prefix,
            QueueWorkerArgs(
                context,
                section(WorkerConfig, "worker", **json.loads(worker)),
                section(EcsConfig, "ecs", **json.loads(ecs)),
                cluster=cluster_ref(),
                image=image("worker", digest),
                placement=Placement(["subnet-a", "subnet-b"], "sg-worker"),
                queue=queue_ref("flowbuilder-dev-work"),
                database=database(),
                failure_retention_days=14,
            ),
        )

    return run_component(build)


# -- which stacks ----------------------------------------------------------------


def test_every_stack_has_one_cluster_and_only_standard_stacks_the_services(any_stack):
    kinds = [r.type for r in any_stack.resources]
    services = 0 if any_stack.stack == "ultra" else 1
    assert kinds.count("flowbuilder:index:EcsCluster") == 1
    assert kinds.count("flowbuilder:index:ApiService") == services
    assert kinds.count("flowbuilder:index:QueueWorker") == services
    assert len(any_stack.of_type(SERVICE)) == 2 * services


# -- cluster -----------------------------------------------------------------


@pytest.mark.parametrize(("stack", "insights"), [("dev", "disabled"), ("staging", "disabled"), ("prod", "enabled")])
def test_container_insights_is_on_in_prod_only(stack, insights):
    cluster = committed_run(stack).one(CLUSTER, "-cluster")
    assert cluster.inputs["name"] == f"flowbuilder-{stack}-cluster"
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": insights}]
    assert committed_run(stack).outputs["ecsClusterName"] == f"flowbuilder-{stack}-cluster"


def test_container_insights_writes_to_a_declared_log_group_with_the_stack_retention(prod, dev):
    group = prod.one(LOG_GROUP, "-container-insights")
    assert group.inputs["name"] == "/aws/ecs/containerinsights/flowbuilder-prod-cluster/performance"
    assert group.inputs["retentionInDays"] == 30
    assert group.urn in prod.one(CLUSTER, "-cluster").depends_on
    assert [g for g in dev.of_type(LOG_GROUP) if "containerinsights" in g.inputs["name"]] == []


@pytest.mark.parametrize(
    ("stack", "providers", "strategy"),
    [
        ("dev", ["FARGATE", "FARGATE_SPOT"], [("FARGATE_SPOT", 1)]),
        ("staging", ["FARGATE", "FARGATE_SPOT"], [("FARGATE", 1), ("FARGATE_SPOT", 3)]),
        ("prod", ["FARGATE", "FARGATE_SPOT"], [("FARGATE", 1), ("FARGATE_SPOT", 3)]),
        ("ultra", ["FARGATE_SPOT"], [("FARGATE_SPOT", 100)]),
    ],
)
def test_capacity_providers_and_a_per_stack_default_strategy(stack, providers, strategy):
    attached = committed_run(stack).one(CAPACITY).inputs
    assert attached["capacityProviders"] == providers
    assert [(s["capacityProvider"], s["weight"]) for s in attached["defaultCapacityProviderStrategies"]] == strategy
    assert [s["base"] for s in attached["defaultCapacityProviderStrategies"]] == [0] * len(strategy)


@pytest.mark.parametrize("stack", STANDARD)
def test_services_wait_for_the_capacity_providers_and_their_execution_policy(stack):
    run = committed_run(stack)
    for service in ("api", "worker"):
        depends = {run.by_urn(urn).name for urn in run.one(SERVICE, f"-{service}").depends_on}
        assert {f"flowbuilder-{stack}-capacity-providers", f"flowbuilder-{stack}-{service}-execution"} <= depends


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
    assert settings["name"] == f"flowbuilder-prod-{service}"


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
    # ECS accepts the target group only once a listener uses it.
    assert LISTENER in {prod.by_urn(urn).type for urn in service.depends_on}


def test_desired_counts_follow_the_api_image_and_the_config():
    assert committed_run("prod").one(SERVICE, "-api").inputs["desiredCount"] == 0
    assert released_run("prod").one(SERVICE, "-api").inputs["desiredCount"] == 2
    assert released_run("dev").one(SERVICE, "-api").inputs["desiredCount"] == 1
    assert released_run("prod").one(SERVICE, "-worker").inputs["desiredCount"] == 0


def test_worker_uses_the_stack_spot_strategy(prod, dev):
    def strategies(run: StackRun) -> list[tuple[str, int]]:
        return [
            (s["capacityProvider"], s["weight"])
            for s in run.one(SERVICE, "-worker").inputs["capacityProviderStrategies"]
        ]

    assert strategies(prod) == [("FARGATE", 1), ("FARGATE_SPOT", 3)]
    assert strategies(dev) == [("FARGATE_SPOT", 1)]
    assert "loadBalancers" not in prod.one(SERVICE, "-worker").inputs


@pytest.mark.parametrize(("stack", "enabled"), [("dev", True), ("staging", True), ("prod", False)])
def test_ecs_exec_is_on_outside_prod_and_every_session_is_logged_encrypted(stack, enabled):
    run = committed_run(stack)
    assert [s.inputs["enableExecuteCommand"] for s in run.of_type(SERVICE)] == [enabled, enabled]
    exec_config = run.one(CLUSTER).inputs["configuration"]["executeCommandConfiguration"]
    sessions = [g for g in run.of_type(LOG_GROUP) if g.name.endswith("-exec-sessions")]
    if not enabled:
        assert exec_config == {"logging": "NONE"}
        assert sessions == []
        return
    log_name = f"/flowbuilder/{stack}/ecs/exec-sessions"
    assert exec_config == {
        "logging": "OVERRIDE",
        "logConfiguration": {"cloudWatchLogGroupName": log_name, "cloudWatchEncryptionEnabled": True},
    }
    (group,) = sessions
    assert group.inputs["name"] == log_name
    assert group.inputs["kmsKeyId"] == run.one("aws:kms/key:Key", "-stack").state["arn"]
    assert group.urn in run.one(CLUSTER).depends_on


# -- task definitions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "service", "cpu", "memory"),
    [
        ("dev", "api", "256", "512"),
        ("dev", "worker", "1024", "2048"),
        ("prod", "api", "1024", "2048"),
        ("prod", "worker", "2048", "4096"),
        ("ultra", "worker", "1024", "2048"),
    ],
)
def test_task_sizes(stack, service, cpu, memory):
    task = committed_run(stack).one(TASK_DEFINITION, f"-{service}").inputs
    assert (task["cpu"], task["memory"]) == (cpu, memory)
    assert task["family"] == f"flowbuilder-{stack}-{service}"
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    # A replaced revision stays ACTIVE: the circuit breaker rolls back to it, a started RunTask still starts.
    assert task["skipDestroy"] is True


def test_arm64_by_default_and_x86_when_configured(dev):
    assert dev.one(TASK_DEFINITION, "-api").inputs["runtimePlatform"] == {
        "operatingSystemFamily": "LINUX",
        "cpuArchitecture": "ARM64",
    }
    x86 = worker_alone(ecs=json.dumps({"architecture": "X86_64"}))
    assert x86.one(TASK_DEFINITION, "-worker").inputs["runtimePlatform"]["cpuArchitecture"] == "X86_64"


@pytest.mark.parametrize(
    ("stack", "service"), [("dev", "api"), ("dev", "worker"), ("prod", "api"), ("ultra", "worker")]
)
def test_containers_are_read_only_unprivileged_with_a_scratch_volume(stack, service):
    run = committed_run(stack)
    definition = container(run, service)
    assert definition["readonlyRootFilesystem"] is True
    assert definition["privileged"] is False
    assert definition["essential"] is True
    assert definition["linuxParameters"] == {"initProcessEnabled": True}
    mounts = {m["containerPath"]: m for m in definition["mountPoints"]}
    assert mounts["/tmp"] == {"sourceVolume": "scratch", "containerPath": "/tmp", "readOnly": False}
    volumes = [v["name"] for v in run.one(TASK_DEFINITION, f"-{service}").inputs["volumes"]]
    if stack == "dev":
        # ECS Exec's agent needs these writable when the root filesystem is read-only.
        assert volumes == ["scratch", "exec-agent-state", "exec-agent-logs"]
        assert set(mounts) == {"/tmp", "/var/lib/amazon", "/var/log/amazon"}
    else:
        assert volumes == ["scratch"]
        assert set(mounts) == {"/tmp"}


@pytest.mark.parametrize(
    ("stack", "service", "group"),
    [("prod", "api", "ecs/api"), ("prod", "worker", "ecs/worker"), ("ultra", "worker", "worker")],
)
def test_logs_go_to_the_tasks_own_log_group(stack, service, group):
    run = committed_run(stack)
    logging = container(run, service)["logConfiguration"]
    assert logging == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": f"/flowbuilder/{stack}/{group}",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": service,
        },
    }
    assert run.one(LOG_GROUP, f"-{service}-logs").inputs["retentionInDays"] == 30


def test_images_are_the_repository_at_the_recorded_digest(dev):
    urls = dev.outputs["repositoryUrls"]
    released = released_run("dev")
    assert container(released, "api")["image"] == f"{urls['api']}@{DIGESTS['api']}"
    assert container(released, "worker")["image"] == f"{urls['worker']}@{DIGESTS['worker']}"
    assert released.outputs["containerImages"] == {
        "api": f"{urls['api']}@{DIGESTS['api']}",
        "worker": f"{urls['worker']}@{DIGESTS['worker']}",
    }
    assert container(dev, "api")["image"] == f"{urls['api']}:{NOT_RELEASED_TAG}"


def test_api_maps_its_port_and_the_worker_drains_for_two_minutes(prod):
    api, worker = container(prod, "api"), container(prod, "worker")
    assert api["portMappings"] == [{"name": "http", "containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}]
    assert "stopTimeout" not in api
    assert worker["stopTimeout"] == 120
    assert "portMappings" not in worker


@pytest.mark.parametrize("service", ["api", "worker"])
def test_the_services_log_in_with_iam_as_the_application_user_and_never_see_the_master_secret(prod, service):
    definition = container(prod, service)
    # The master secret rotates every 7 days and ECS reads secrets only at task start.
    assert definition["secrets"] == []
    environment = {e["name"]: e["value"] for e in definition["environment"]}
    assert environment["DB_USER"] == "flowbuilder_app"
    assert environment["DB_IAM_AUTH"] == "true"
    assert environment["DB_HOST"] == prod.outputs["databaseEndpoint"]
    assert (environment["DB_NAME"], environment["DB_SSLMODE"]) == ("flowbuilder", "require")
    assert environment["QUEUE_URL"] == prod.outputs["workQueueUrl"]
    assert (environment["AWS_REGION"], environment["STACK"], environment["DB_PORT"]) == ("us-east-1", "prod", "5432")
    assert not {"DB_PASSWORD", "DB_USERNAME", "DATABASE_URL", "DB_SECRET_ARN"} & set(environment)
    assert prod.outputs["databaseSecretArn"] not in json.dumps(definition)


@pytest.mark.parametrize("role", ["api-task", "worker-task"])
def test_the_service_roles_may_connect_exactly_as_the_application_user(prod, role):
    db = prod.one("aws:rds/instance:Instance", "-postgres")
    (connect,) = [s for s in role_statements(prod, role) if s["Sid"] == "ConnectAsApplicationUser"]
    assert connect["Action"] == ["rds-db:connect"]
    assert connect["Resource"] == [
        f"arn:aws:rds-db:us-east-1:{ACCOUNT_ID}:dbuser:{db.state['resourceId']}/flowbuilder_app"
    ]


def test_no_container_definition_holds_a_plaintext_secret(any_stack):
    secret_name = re.compile(r"PASSWORD|PASSWD|TOKEN|PRIVATE|API_KEY|CREDENTIAL|DSN", re.IGNORECASE)
    tasks = any_stack.of_type(TASK_DEFINITION)
    assert len(tasks) == (1 if any_stack.stack == "ultra" else 2)
    for task in tasks:
        assert "containerDefinitions" not in task.secret_inputs
        for definition in json.loads(task.inputs["containerDefinitions"]):
            for variable in definition["environment"]:
                assert not secret_name.search(variable["name"]), f"{task.name}: {variable['name']} is plain"
                assert "postgresql://" not in variable["value"], f"{task.name}: {variable['name']} holds a URL"
            # Standard stacks' services authenticate with IAM; zero-scale's worker gets the URL by reference.
            assert bool(definition["secrets"]) is (any_stack.stack == "ultra")
            for secret in definition["secrets"]:
                assert secret["valueFrom"].startswith("arn:aws:secretsmanager:"), f"{task.name}: {secret}"


def test_application_secrets_are_injected_by_reference_and_readable_exactly():
    run = api_alone(ecs=json.dumps({"applicationSecrets": {"STRIPE_API_KEY": STRIPE, "SENTRY_DSN": SENTRY}}))
    injected = {s["name"]: s["valueFrom"] for s in container(run, "api")["secrets"]}
    assert injected == {"STRIPE_API_KEY": STRIPE, "SENTRY_DSN": SENTRY}
    assert "STRIPE_API_KEY" not in {e["name"] for e in container(run, "api")["environment"]}
    readable = by_sid(statements(run, "-api-execution"))["ReadInjectedSecrets"]
    assert readable["Action"] == ["secretsmanager:GetSecretValue"]
    # One ARN per secret, without the JSON key; never the database's master secret.
    assert readable["Resource"] == sorted(
        [STRIPE, "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/observability-Zy9x8W"]
    )


@pytest.mark.parametrize("variable", ["QUEUE_URL", "DB_PASSWORD"])
def test_an_application_secret_may_not_shadow_a_variable_the_stack_sets(variable):
    with pytest.raises(ConfigError, match=f"applicationSecrets.{variable}: variable name: the program sets {variable}"):
        run_stack("dev", {"flowbuilder:ecs": {"applicationSecrets": {variable: STRIPE}}})


@pytest.mark.parametrize("variable", ["QUEUE_URL", "DB_HOST"])
def test_the_api_task_refuses_a_variable_set_twice_whatever_settings_it_is_handed(variable):
    # The config refuses these names (above); the task definition checks again on its own, so a
    # variable the program starts setting later can never silently replace an application secret.
    ecs = section(EcsConfig, "ecs").model_copy(update={"application_secrets": {variable: STRIPE}})
    with pytest.raises(ValueError, match=f"{variable}: set twice in the api task"):
        run_component(api_service(section(ApiConfig, "api"), ecs, DIGESTS["api"]))


def test_application_secrets_must_name_a_complete_secret_arn():
    partial = "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/stripe"
    with pytest.raises(ConfigError, match="applicationSecrets"):
        run_stack("dev", {"flowbuilder:ecs": {"applicationSecrets": {"STRIPE_API_KEY": partial}}})


def test_secret_resource_strips_the_json_key_suffix():
    assert secret_resource(STRIPE) == STRIPE
    assert (
        secret_resource(SENTRY)
        == "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/observability-Zy9x8W"
    )


# -- IAM -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "service", "log_group"),
    [("prod", "api", "ecs/api"), ("prod", "worker", "ecs/worker"), ("ultra", "worker", "worker")],
)
def test_each_execution_role_pulls_one_image_writes_one_log_group_reads_what_it_injects(stack, service, log_group):
    run = committed_run(stack)
    found = by_sid(statements(run, f"-{service}-execution"))
    # Only zero-scale's worker has a secret to inject (the database URL); standard services use IAM.
    injects = stack == "ultra"
    secrets = {"ReadInjectedSecrets", "DecryptInjectedSecrets"} if injects else set()
    assert set(found) == {"RegistryLogin", "PullImage", "WriteLogs"} | secrets
    assert (found["RegistryLogin"]["Action"], found["RegistryLogin"]["Resource"]) == (
        ["ecr:GetAuthorizationToken"],
        "*",
    )
    assert found["PullImage"]["Action"] == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
    ]
    assert found["PullImage"]["Resource"] == [
        f"arn:aws:ecr:us-east-1:{ACCOUNT_ID}:repository/flowbuilder-{stack}/{service}"
    ]
    assert found["WriteLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert found["WriteLogs"]["Resource"] == [
        f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:/flowbuilder/{stack}/{log_group}:*"
    ]
    if injects:
        assert found["ReadInjectedSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
        assert found["ReadInjectedSecrets"]["Resource"] == [run.outputs["databaseSecretArn"]]
        # The injected secrets are under the stack key: ECS decrypts them with this role.
        assert found["DecryptInjectedSecrets"]["Action"] == ["kms:Decrypt"]
        assert found["DecryptInjectedSecrets"]["Resource"] == [run.outputs["stackKeyArn"]]
    # The only "*" is the registry login, which AWS cannot narrow.
    assert [s["Sid"] for s in found.values() if "*" in resources_of(s)] == ["RegistryLogin"]
    task = run.one(TASK_DEFINITION, f"-{service}").inputs
    assert task["executionRoleArn"] == run.one(ROLE, f"-{service}-execution").state["arn"]
    assert task["taskRoleArn"] == run.one(ROLE, f"-{service}-task").state["arn"]


def own_statements(run: StackRun, role_name: str) -> list[dict[str, Any]]:
    """The role's statements without what the uploads bucket, the e-mail identity and the cache grant it
    (tests/test_uploads_email.py and tests/test_cache.py check those)."""
    found = role_statements(run, role_name)
    assert [s["Action"] for s in found if s.get("Sid") == "ConnectToCache"] in ([], [["elasticache:Connect"]])
    return [s for s in found if s.get("Sid") not in ("UploadsObjects", "SendFromIdentity", "ConnectToCache")]


def test_api_task_role_may_only_send_to_the_work_queue_and_connect_to_the_database(prod):
    grant, connect = own_statements(prod, "api-task")
    assert connect["Sid"] == "ConnectAsApplicationUser"
    assert grant["Action"] == ["sqs:SendMessage"]
    assert grant["Resource"] == [f"arn:aws:sqs:us-east-1:{ACCOUNT_ID}:flowbuilder-prod-work"]


def test_worker_task_role_may_only_consume_the_work_queue_and_connect_to_the_database(prod):
    grant, connect = own_statements(prod, "worker-task")
    assert connect["Sid"] == "ConnectAsApplicationUser"
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
def test_with_ecs_exec_the_only_stars_are_the_session_channel_and_finding_its_log(dev, role):
    starred = [s for s in role_statements(dev, role) if "*" in resources_of(s)]
    assert [(s["Sid"], s["Action"]) for s in starred] == [
        ("EcsExecSessions", ECS_EXEC_ACTIONS),
        ("FindSessionLogGroup", ["logs:DescribeLogGroups"]),
    ]


@pytest.mark.parametrize("role", ["api-task", "worker-task"])
def test_with_ecs_exec_tasks_write_the_session_log_and_nothing_else(dev, role):
    (write,) = [s for s in role_statements(dev, role) if s.get("Sid") == "WriteSessionLog"]
    assert write["Action"] == ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    assert write["Resource"] == [f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:/flowbuilder/dev/ecs/exec-sessions:*"]


def test_without_ecs_exec_no_task_role_may_log_sessions(prod):
    sids = {s.get("Sid") for role in ("api-task", "worker-task") for s in role_statements(prod, role)}
    assert not sids & {"EcsExecSessions", "FindSessionLogGroup", "WriteSessionLog"}


@pytest.mark.parametrize("role", ["api-execution", "worker-execution", "api-task", "worker-task"])
def test_task_roles_trust_only_ecs_tasks_of_this_account(prod, role):
    (trust,) = json.loads(prod.one(ROLE, f"-{role}").inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}


def test_application_task_roles_are_named_for_other_components(prod):
    assert prod.outputs["applicationRoleNames"][:2] == [
        prod.one(ROLE, "-api-task").state["name"],
        prod.one(ROLE, "-worker-task").state["name"],
    ]


# -- API scaling -----------------------------------------------------------------


def test_api_scales_on_cpu_and_memory_at_70_percent():
    run = released_run("prod")
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
    with pytest.raises(ConfigError, match="api.minCount: prod keeps at least 2"):
        run_stack("prod", {"flowbuilder:api": {"minCount": 1, "desiredCount": 1}})


# -- images, each on its own ----------------------------------------------------------


def test_before_an_image_exists_both_services_are_capped_at_zero(dev, prod):
    for run in (dev, prod):
        for service in ("api", "worker"):
            target = scaling_target(run, service)
            assert (target["minCapacity"], target["maxCapacity"]) == (0, 0)
    steps = prod.outputs["imagesToPush"]
    urls = prod.outputs["repositoryUrls"]
    assert steps["push"] == [f"docker push {urls[image]}:<git-sha>" for image in ("api", "worker", "scheduler")]
    assert "flowbuilder:images in Pulumi.prod.yaml" in steps["then"]
    assert "imagesToPush" not in released_run("prod").outputs


def test_an_api_digest_alone_releases_the_api_and_leaves_the_worker_waiting():
    run = run_stack("prod", {"flowbuilder:images": {"api": DIGESTS["api"]}})
    assert run.one(SERVICE, "-api").inputs["desiredCount"] == 2
    assert (scaling_target(run, "api")["minCapacity"], scaling_target(run, "api")["maxCapacity"]) == (2, 10)
    assert (scaling_target(run, "worker")["minCapacity"], scaling_target(run, "worker")["maxCapacity"]) == (0, 0)
    assert container(run, "worker")["image"].endswith(f"/flowbuilder-prod/worker:{NOT_RELEASED_TAG}")
    assert run.outputs["imagesToPush"]["push"] == [
        f"docker push {run.outputs['repositoryUrls'][image]}:<git-sha>" for image in ("worker", "scheduler")
    ]


def test_a_worker_digest_alone_lets_the_worker_scale_and_keeps_the_api_at_zero():
    run = worker_alone()
    assert (scaling_target(run, "worker")["minCapacity"], scaling_target(run, "worker")["maxCapacity"]) == (0, 3)
    api = api_alone(digest=None)
    assert api.one(SERVICE, "-api").inputs["desiredCount"] == 0
    assert (scaling_target(api, "api")["minCapacity"], scaling_target(api, "api")["maxCapacity"]) == (0, 0)


# -- worker scaling: zero to one, one to many, back to zero ------------------------


def test_worker_scales_between_zero_and_its_maximum_once_released():
    target = scaling_target(released_run("prod"), "worker")
    assert target["resourceId"] == "service/flowbuilder-prod-cluster/flowbuilder-prod-worker"
    assert (target["minCapacity"], target["maxCapacity"]) == (0, 20)
    assert scaling_target(released_run("dev"), "worker")["maxCapacity"] == 3


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
    run = released_run("prod")
    alarm, policy = alarm_for(run, "worker-wake")
    assert alarm["name"] == "flowbuilder-prod-worker-wake"
    assert alarm["namespace"] == BACKLOG_NAMESPACE
    assert alarm["metricName"] == "BacklogWithNoTasks"
    assert alarm["dimensions"] == {"ClusterName": "flowbuilder-prod-cluster", "ServiceName": "flowbuilder-prod-worker"}
    assert (alarm["statistic"], alarm["period"]) == ("Maximum", 20)
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (1, 1)
    assert alarm["treatMissingData"] == "notBreaching"
    assert policy["policyType"] == "StepScaling"
    step = policy["stepScalingPolicyConfiguration"]
    assert (step["adjustmentType"], step["metricAggregationType"], step["cooldown"]) == ("ExactCapacity", "Maximum", 60)
    assert step["stepAdjustments"] == [{"metricIntervalLowerBound": "0", "scalingAdjustment": 1}]
    assert policy["resourceId"] == scaling_target(run, "worker")["resourceId"]
    # The chain end to end: one visible message, no task -> the alarm breaches -> exactly 1 task.
    idle_with_message = published(run, Sample(visible=1, in_flight=0, desired=0, running=0))
    assert breaches(alarm, idle_with_message[alarm["metricName"]])
    # Once a task is wanted the wake signal drops, so the policy never pulls a scaled-out service back to 1.
    busy = published(run, Sample(visible=50, in_flight=3, desired=3, running=3))
    assert not breaches(alarm, busy[alarm["metricName"]])


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "ultra"])
def test_scaling_alarms_rest_on_the_sampler_never_on_sqs_metrics(stack):
    run = released_run(stack)
    scaling = [
        a for a in run.of_type(ALARM) if any(":scalingPolicy:" in arn for arn in a.inputs.get("alarmActions", []))
    ]
    expected = (
        [] if stack == "ultra" else [f"flowbuilder-{stack}-worker-scale-to-zero", f"flowbuilder-{stack}-worker-wake"]
    )
    assert sorted(a.inputs["name"] for a in scaling) == expected
    assert {a.inputs["namespace"] for a in scaling} <= {BACKLOG_NAMESPACE}


def test_one_to_many_tracks_backlog_per_task_without_scaling_in():
    run = released_run("prod")
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
    run = released_run("prod")
    alarm, policy = alarm_for(run, "worker-scale-to-zero")
    assert alarm["metricName"] == "TasksWithNoBacklog"
    # Minimum over each minute: one sample with a message in it breaks the streak.
    assert (alarm["statistic"], alarm["period"]) == ("Minimum", 60)
    assert (alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (15, 15)
    assert alarm["treatMissingData"] == "notBreaching"
    step = policy["stepScalingPolicyConfiguration"]
    # Once stopped, the policy waits a minute before it may act again (a wake-up can still start a task).
    assert (step["adjustmentType"], step["metricAggregationType"], step["cooldown"]) == ("ExactCapacity", "Minimum", 60)
    assert step["stepAdjustments"] == [{"metricIntervalLowerBound": "0", "scalingAdjustment": 0}]
    idle = published(run, Sample(visible=0, in_flight=0, desired=4, running=4))
    assert breaches(alarm, idle["TasksWithNoBacklog"])
    for still_working in (Sample(0, 1, 4, 4), Sample(2, 0, 4, 4)):
        assert not breaches(alarm, published(run, still_working)["TasksWithNoBacklog"])
    # Already at zero the alarm stays quiet, so it cannot undo a wake-up.
    assert not breaches(alarm, published(run, Sample(0, 0, 0, 0))["TasksWithNoBacklog"])


def test_scale_in_window_and_sample_interval_follow_the_worker_settings():
    run = worker_alone(worker=json.dumps({"scaleInAfterMinutes": 30, "backlogSampleSeconds": 10}))
    to_zero, _ = alarm_for(run, "worker-scale-to-zero")
    wake, _ = alarm_for(run, "worker-wake")
    assert (to_zero["evaluationPeriods"], to_zero["datapointsToAlarm"]) == (30, 30)
    assert "30 minutes" in to_zero["alarmDescription"]
    assert wake["period"] == 10
    function = run.one(FUNCTION, "-queue-backlog").inputs
    assert function["environment"]["variables"]["SAMPLE_INTERVAL_SECONDS"] == "10"
    assert function["timeout"] == 5 * 10 + 15


# -- the backlog sampler ----------------------------------------------------------


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
    assert function["code"].assets["queue_backlog.py"].text == FUNCTION_SOURCE.read_text()
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
        prod.one("aws:cloudwatch/eventRule:EventRule", "-queue-backlog").state["arn"],
    )
    retries = prod.one("aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig", "-queue-backlog").inputs
    assert (retries["maximumRetryAttempts"], retries["maximumEventAgeInSeconds"]) == (0, 60)
    failures = prod.one("aws:sqs/queue:Queue", "-backlog-dlq")
    assert retries["destinationConfig"] == {"onFailure": {"destination": failures.state["arn"]}}
    assert failures.inputs["name"] == "flowbuilder-prod-backlog-dlq"
    assert failures.inputs["sqsManagedSseEnabled"] is True
    assert failures.inputs["messageRetentionSeconds"] == 14 * 86_400
    assert (
        prod.one("aws:sqs/queuePolicy:QueuePolicy", "-backlog-dlq-tls-only").inputs["queueUrl"] == failures.state["url"]
    )


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
    assert found["WriteLogs"]["Resource"] == [
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
        "WriteLogs",
        "RecordFailedSamples",
        "DecryptEnvironment",
        "WriteTraces",
    }
    # Its environment is under the stack key; the function's role decrypts it at start.
    assert found["DecryptEnvironment"]["Action"] == ["kms:Decrypt"]
    assert found["DecryptEnvironment"]["Resource"] == [prod.outputs["stackKeyArn"]]
    assert prod.one(LOG_GROUP, "-queue-backlog-logs").inputs["retentionInDays"] == 30


def test_outputs_name_the_services_and_the_backlog_metrics(prod):
    assert prod.outputs["apiServiceName"] == "flowbuilder-prod-api"
    assert prod.outputs["workerServiceName"] == "flowbuilder-prod-worker"
    assert prod.outputs["workerBacklogMetric"] == {
        "namespace": BACKLOG_NAMESPACE,
        "dimensions": {"ClusterName": "flowbuilder-prod-cluster", "ServiceName": "flowbuilder-prod-worker"},
        "metrics": ["QueueBacklog", "BacklogPerTask", "BacklogWithNoTasks", "TasksWithNoBacklog"],
    }
