"""The release's migration: a task of the api image run by ``pulumi up`` before anything rolls.

The runner's code is played against a fake ECS client; the resources are read from whole-stack
runs after a release (every image has a digest) and as committed (no digest: no migration).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.migration.run_migration import POLL_SECONDS, STOP_MARGIN_SECONDS, MigrationFailed, run
from preview.report.docs import released_overrides
from simulation.harness import StackRun, run_stack
from simulation.mocks import ACCOUNT_ID
from stackconfig import ConfigError
from tests.conftest import DIGESTS, committed_run, released_run

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
FUNCTION = "aws:lambda/function:Function"
INVOCATION = "aws:lambda/invocation:Invocation"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SERVICE = "aws:ecs/service:Service"
TASK_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:task/flowbuilder-dev-cluster/0123456789abcdef"
EVENT = {
    "cluster": f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:cluster/flowbuilder-dev-cluster",
    "taskDefinition": "flowbuilder-dev-migrate",
    "container": "migrate",
    "subnets": ["subnet-a", "subnet-b"],
    "securityGroups": ["sg-worker"],
    "assignPublicIp": "DISABLED",
}


# -- the runner's code ----------------------------------------------------------------
class FakeEcs:
    """RunTask answers with one task, which reports ``polls`` RUNNING answers and then ``stopped``."""

    def __init__(self, stopped: dict[str, Any] | None, polls: int = 1, failures: list | None = None) -> None:
        self.stopped, self.polls, self.failures = stopped, polls, failures or []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def run_task(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("run_task", request))
        return {"tasks": [] if self.failures else [{"taskArn": TASK_ARN}], "failures": self.failures}

    def describe_tasks(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("describe_tasks", request))
        self.polls -= 1
        if self.polls > 0 or self.stopped is None:
            return {"tasks": [{"taskArn": TASK_ARN, "lastStatus": "RUNNING"}]}
        return {"tasks": [{"taskArn": TASK_ARN, "lastStatus": "STOPPED", **self.stopped}]}

    def stop_task(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("stop_task", request))
        return {}


def stopped_with(exit_code: int | None, **task: Any) -> dict[str, Any]:
    container = {"name": "migrate"} | ({"exitCode": exit_code} if exit_code is not None else {})
    return {"containers": [container, {"name": "sidecar", "exitCode": 0}], **task}


def plenty() -> int:
    return 600_000


def test_the_runner_starts_one_on_demand_task_in_the_given_network_and_succeeds_on_exit_0():
    ecs = FakeEcs(stopped_with(0), polls=3)
    sleeps: list[float] = []
    assert run(ecs, EVENT, plenty, sleeps.append) == {"taskArn": TASK_ARN, "exitCode": 0}
    (name, request), *polls = ecs.calls
    assert name == "run_task"
    assert request == {
        "cluster": EVENT["cluster"],
        "taskDefinition": "flowbuilder-dev-migrate",
        "launchType": "FARGATE",
        "count": 1,
        "startedBy": "pulumi-migration",
        "propagateTags": "TASK_DEFINITION",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": ["subnet-a", "subnet-b"],
                "securityGroups": ["sg-worker"],
                "assignPublicIp": "DISABLED",
            }
        },
    }
    assert polls == [("describe_tasks", {"cluster": EVENT["cluster"], "tasks": [TASK_ARN]})] * 3
    assert sleeps == [POLL_SECONDS] * 3


@pytest.mark.parametrize(
    ("stopped", "said"),
    [
        (stopped_with(3), "exit code 3"),
        # Stopped before the container ran (image pull, no capacity): no exit code at all.
        (stopped_with(None, stopCode="TaskFailedToStart", stoppedReason="CannotPullContainerError"), "exit code None"),
    ],
    ids=["non-zero-exit", "never-ran"],
)
def test_the_runner_fails_the_invocation_unless_the_migration_container_exited_0(stopped, said):
    with pytest.raises(MigrationFailed, match=said):
        run(FakeEcs(stopped), EVENT, plenty, lambda _: None)


def test_the_runner_judges_the_migration_container_not_another_one():
    stopped = {"containers": [{"name": "sidecar", "exitCode": 0}, {"name": "migrate", "exitCode": 1}]}
    with pytest.raises(MigrationFailed, match="exit code 1"):
        run(FakeEcs(stopped), EVENT, plenty, lambda _: None)


def test_the_runner_fails_when_run_task_starts_nothing():
    ecs = FakeEcs(None, failures=[{"reason": "RESOURCE:ENI"}])
    with pytest.raises(MigrationFailed, match="RESOURCE:ENI"):
        run(ecs, EVENT, plenty, lambda _: None)
    assert [name for name, _ in ecs.calls] == ["run_task"]


def test_the_runner_stops_a_migration_that_outlives_its_timeout_and_fails():
    ecs = FakeEcs(None, polls=100)
    remaining = iter([600_000, 600_000, (POLL_SECONDS + STOP_MARGIN_SECONDS) * 1000 - 1])
    with pytest.raises(MigrationFailed, match="did not finish within migration.timeoutMinutes"):
        run(ecs, EVENT, lambda: next(remaining), lambda _: None)
    assert ecs.calls[-1] == (
        "stop_task",
        {"cluster": EVENT["cluster"], "task": TASK_ARN, "reason": "migration exceeded migration.timeoutMinutes"},
    )
    assert [name for name, _ in ecs.calls].count("describe_tasks") == 2


# -- what the program declares ------------------------------------------------------------
def container_of(definition) -> dict[str, Any]:
    (container,) = json.loads(definition.inputs["containerDefinitions"])
    return container


def statements(run: StackRun, policy: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(run.one(ROLE_POLICY, policy).inputs["policy"])["Statement"]}


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "ultra"])
def test_the_migration_task_is_the_api_image_by_digest_with_the_configured_command(stack):
    run = released_run(stack)
    definition = run.one(TASK_DEFINITION, "-migrate")
    assert definition.inputs["family"] == f"flowbuilder-{stack}-migrate"
    assert definition.inputs["skipDestroy"] is True
    container = container_of(definition)
    repository = run.outputs["repositoryUrls"]["api"]
    assert container["image"] == f"{repository}@{DIGESTS['api']}"
    assert container["command"] == ["alembic", "upgrade", "head"]
    assert container["logConfiguration"]["options"]["awslogs-group"] == f"/flowbuilder/{stack}/ecs/migrate"
    environment = {e["name"]: e["value"] for e in container["environment"]}
    # Standard: the migration creates the IAM-authenticated application role; zero-scale has none.
    assert environment.get("DB_APP_USER") == (None if stack == "ultra" else "flowbuilder_app")
    assert ("DB_APP_ROLE_SQL" in environment) is (stack != "ultra")
    assert run.outputs["migration"] == {
        "taskDefinitionFamily": f"flowbuilder-{stack}-migrate",
        "image": f"{repository}@{DIGESTS['api']}",
        "command": ["alembic", "upgrade", "head"],
        "runnerFunctionName": f"flowbuilder-{stack}-migrate-runner",
        "logGroupName": f"/flowbuilder/{stack}/ecs/migrate",
    }


def test_standard_migration_logs_in_as_the_master_user_and_its_role_reads_only_that_secret():
    run = released_run("prod")
    secret = run.outputs["databaseSecretArn"]
    container = container_of(run.one(TASK_DEFINITION, "-migrate"))
    assert container["secrets"] == [
        {"name": "DB_PASSWORD", "valueFrom": f"{secret}:password::"},
        {"name": "DB_USERNAME", "valueFrom": f"{secret}:username::"},
    ]
    assert statements(run, "-migrate-task") == {
        "ReadMasterSecret": {
            "Sid": "ReadMasterSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [secret],
        },
        # The master secret is under the stack key.
        "DecryptDatabaseSecret": {
            "Sid": "DecryptDatabaseSecret",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [run.outputs["stackKeyArn"]],
        },
    }
    assert statements(run, "-migrate-execution")["ReadInjectedSecrets"]["Resource"] == [secret]


def test_zero_scale_migration_gets_the_url_secret_and_its_role_reads_only_that():
    run = released_run("ultra")
    secret = run.outputs["databaseSecretArn"]
    assert container_of(run.one(TASK_DEFINITION, "-migrate"))["secrets"] == [
        {"name": "DATABASE_URL", "valueFrom": secret}
    ]
    found = statements(run, "-migrate-task")
    assert set(found) == {"ReadDatabaseSecret", "DecryptDatabaseSecret"}
    grant, decrypt = found["ReadDatabaseSecret"], found["DecryptDatabaseSecret"]
    assert (grant["Action"], grant["Resource"]) == (["secretsmanager:GetSecretValue"], [secret])
    assert (decrypt["Action"], decrypt["Resource"]) == (["kms:Decrypt"], [run.outputs["stackKeyArn"]])


@pytest.mark.parametrize("stack", ["dev", "ultra"])
def test_the_runner_may_run_only_the_migration_family_on_the_stack_cluster_and_pass_only_its_roles(stack):
    run = released_run(stack)
    cluster = run.one("aws:ecs/cluster:Cluster").state["arn"]
    family = run.one(TASK_DEFINITION, "-migrate").state["arnWithoutRevision"]
    tasks = f"arn:aws:ecs:us-east-1:{ACCOUNT_ID}:task/flowbuilder-{stack}-cluster/*"
    log_group = run.one("aws:cloudwatch/logGroup:LogGroup", "-migrate-runner-logs").state["arn"]
    found = statements(run, "-migrate-runner")
    assert set(found) == {
        "RunMigrationTask",
        "WatchMigrationTask",
        "TagMigrationTask",
        "PassMigrationRoles",
        "DecryptEnvironment",
        "WriteLogs",
        "WriteTraces",
    }
    assert found["RunMigrationTask"]["Action"] == ["ecs:RunTask"]
    assert found["RunMigrationTask"]["Resource"] == [f"{family}:*"]
    assert found["RunMigrationTask"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster}}
    assert found["WatchMigrationTask"]["Action"] == ["ecs:DescribeTasks", "ecs:StopTask"]
    assert found["WatchMigrationTask"]["Resource"] == [tasks]
    assert found["WatchMigrationTask"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster}}
    assert found["TagMigrationTask"]["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
    assert found["PassMigrationRoles"]["Resource"] == [
        run.one(ROLE, "-migrate-execution").state["arn"],
        run.one(ROLE, "-migrate-task").state["arn"],
    ]
    assert found["PassMigrationRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert found["WriteLogs"]["Resource"] == [f"{log_group}:*"]


def test_the_runner_waits_at_most_what_a_synchronous_invocation_allows():
    run = released_run("dev")
    function = run.one(FUNCTION, "-migrate-runner").inputs
    assert (function["runtime"], function["architectures"], function["handler"]) == (
        "python3.13",
        ["arm64"],
        "run_migration.handler",
    )
    # 10 minutes of migration, one minute to start the task; Lambda stops at 900 s.
    assert function["timeout"] == 660
    assert function["reservedConcurrentExecutions"] == 1
    assert "vpcConfig" not in function or not function["vpcConfig"]
    longest = run_stack("dev", {**released_overrides("dev"), "flowbuilder:migration": {"timeoutMinutes": 14}})
    assert longest.one(FUNCTION, "-migrate-runner").inputs["timeout"] == 900


@pytest.mark.parametrize(
    ("stack", "public_ip", "subnets_output"),
    [("dev", "DISABLED", "privateSubnetIds"), ("ultra", "ENABLED", "publicSubnetIds")],
)
def test_the_invocation_runs_the_task_in_the_worker_placement_once_per_api_digest_and_command(
    stack, public_ip, subnets_output
):
    run = released_run(stack)
    invocation = run.one(INVOCATION, "-migrate").inputs
    assert invocation["functionName"] == f"flowbuilder-{stack}-migrate-runner"
    assert json.loads(invocation["input"]) == {
        "cluster": run.one("aws:ecs/cluster:Cluster").state["arn"],
        "taskDefinition": f"flowbuilder-{stack}-migrate",
        "container": "migrate",
        "subnets": run.outputs[subnets_output],
        "securityGroups": [run.outputs["securityGroupIds"]["worker"]],
        "assignPublicIp": public_ip,
    }
    assert invocation["triggers"] == {"apiDigest": DIGESTS["api"], "command": '["alembic", "upgrade", "head"]'}


@pytest.mark.parametrize(
    ("stack", "waiting"),
    [
        ("dev", {(SERVICE, "-api"), (SERVICE, "-worker"), (FUNCTION, "-scheduler")}),
        (
            "ultra",
            {
                (FUNCTION, "-api"),
                (FUNCTION, "-scheduler"),
                ("aws:sfn/stateMachine:StateMachine", "-worker-run"),
                ("aws:pipes/pipe:Pipe", "-worker-pipe"),
            },
        ),
    ],
)
def test_everything_that_runs_new_code_waits_for_the_migration(stack, waiting):
    run = released_run(stack)
    invocation = run.one(INVOCATION, "-migrate")
    for token, name in waiting:
        assert invocation.urn in run.one(token, name).depends_on, name
    # And the invocation waits for the revision it runs.
    definition = run.one(TASK_DEFINITION, "-migrate")
    assert definition.urn in invocation.depends_on


@pytest.mark.parametrize("stack", ["dev", "ultra"])
def test_without_an_api_digest_there_is_no_migration_and_nothing_waits(stack):
    run = committed_run(stack)
    assert run.of_type(INVOCATION) == []
    assert [d.name for d in run.of_type(TASK_DEFINITION) if d.name.endswith("-migrate")] == []
    assert "migration" not in run.outputs


def test_a_new_command_is_a_new_invocation():
    run = run_stack(
        "dev", {**released_overrides("dev"), "flowbuilder:migration": {"command": ["prisma", "migrate", "deploy"]}}
    )
    assert container_of(run.one(TASK_DEFINITION, "-migrate"))["command"] == ["prisma", "migrate", "deploy"]
    assert run.one(INVOCATION, "-migrate").inputs["triggers"]["command"] == '["prisma", "migrate", "deploy"]'


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"timeoutMinutes": 15}, "migration.timeoutMinutes"),
        ({"command": []}, "migration.command"),
        ({"command": "alembic upgrade head"}, "migration.command"),
    ],
)
def test_migration_settings_are_bounded(settings, said):
    with pytest.raises(ConfigError, match=said):
        run_stack("dev", {"flowbuilder:migration": settings})
