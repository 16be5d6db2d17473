"""The stack key (components/stack_key.py) and who uses it, the roles that read through it, the
failure queues of asynchronously invoked functions, and the named exceptions of the policy pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policy.rules import POLICIES
from policy.rules._support import StackFacts
from policy.rules.exceptions import BY_NAME, DEVIATIONS, excepted, in_effect
from preview.analysis import analyse
from preview.checks.security import security_section
from preview.report.render import render_markdown, render_text
from simulation.harness import ROOT, STACKS, StackRun
from simulation.mocks import ACCOUNT_ID
from tests.conftest import committed_run, released_run

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
REPOSITORY = "aws:ecr/repository:Repository"
SECRET = "aws:secretsmanager/secret:Secret"
TOPIC = "aws:sns/topic:Topic"
FUNCTION = "aws:lambda/function:Function"
SCHEDULE = "aws:scheduler/schedule:Schedule"
DATABASE = "aws:rds/instance:Instance"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
QUEUE = "aws:sqs/queue:Queue"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"


def stack_key(run: StackRun):
    return run.one(KEY, "-stack")


def key_statements(run: StackRun) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(stack_key(run).inputs["policy"])["Statement"]}


# -- the key -----------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_one_rotating_key_per_stack_under_its_alias(stack):
    run = committed_run(stack)
    key = stack_key(run)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert key.inputs["customerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    alias = run.one(ALIAS, "-stack")
    assert alias.inputs["name"] == f"alias/flowbuilder-{stack}"
    assert alias.inputs["targetKeyId"] == key.state["keyId"]
    assert run.outputs["stackKeyArn"] == key.state["arn"]
    # The alert topic's key is gone: the only other keys are the EKS cluster's envelope key and the
    # backup vaults' (the copy vault's lives in another region; docs/security.md).
    others = sorted(k.name for k in run.of_type(KEY) if k is not key)
    eks = [f"flowbuilder-{stack}-eks-secrets"] if stack in ("staging", "prod") else []
    vaults = [f"flowbuilder-{stack}-backups", f"flowbuilder-{stack}-backups-copy"] if stack == "prod" else []
    assert others == sorted(eks + vaults)


@pytest.mark.parametrize("stack", STACKS)
def test_idle_cost_has_one_key_line_per_key(stack):
    run = committed_run(stack)
    lines = [line for line in analyse(run).cost.lines if line.unit == "key-month"]
    assert sorted(line.resource for line in lines) == sorted(k.name for k in run.of_type(KEY))
    assert all(line.monthly_usd == pytest.approx(1.0) for line in lines)


def test_the_account_administers_the_key_but_does_not_use_it_directly(prod):
    admin = key_statements(prod)["AccountAdministersKey"]
    assert admin["Principal"] == {"AWS": ROOT_ARN}
    assert admin["Resource"] == "*"
    assert {"kms:Put*", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:Describe*"} <= set(admin["Action"])
    assert not {"kms:*", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"} & set(admin["Action"])


def test_the_accounts_principals_use_the_key_only_through_the_stacks_services(prod):
    use = key_statements(prod)["AccountUsesKeyThroughStackServices"]
    assert use["Principal"] == {"AWS": ROOT_ARN}
    assert use["Action"] == [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:CreateGrant",
        "kms:DescribeKey",
    ]
    assert use["Condition"] == {
        "StringEquals": {
            "kms:CallerAccount": ACCOUNT_ID,
            "kms:ViaService": [
                "ecr.us-east-1.amazonaws.com",
                "lambda.us-east-1.amazonaws.com",
                "rds.us-east-1.amazonaws.com",
                "secretsmanager.us-east-1.amazonaws.com",
                "scheduler.us-east-1.amazonaws.com",
            ],
        }
    }


def test_function_roles_decrypt_only_this_accounts_lambda_environments(prod):
    environments = key_statements(prod)["AccountDecryptsLambdaEnvironments"]
    assert environments["Principal"] == {"AWS": ROOT_ARN}
    assert environments["Action"] == ["kms:Decrypt"]
    assert environments["Condition"] == {
        "StringEquals": {"kms:CallerAccount": ACCOUNT_ID},
        "StringLike": {
            "kms:EncryptionContext:aws:lambda:FunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:*"
        },
    }


def test_cloudwatch_logs_may_use_the_key_for_this_accounts_log_groups_only(prod):
    logs = key_statements(prod)["CloudWatchLogsEncryptsThisAccountsLogGroups"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Action"] == ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    assert logs["Condition"] == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:*"}
    }


def test_only_alarms_budgets_and_ses_may_publish_encrypted_and_nothing_else_is_granted(prod):
    statements = key_statements(prod)
    publishers = statements["AlertPublishersEncryptToTopic"]
    assert publishers["Principal"] == {
        "Service": ["cloudwatch.amazonaws.com", "budgets.amazonaws.com", "ses.amazonaws.com"]
    }
    assert publishers["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert set(statements) == {
        "AccountAdministersKey",
        "AccountUsesKeyThroughStackServices",
        "AccountDecryptsLambdaEnvironments",
        "CloudWatchLogsEncryptsThisAccountsLogGroups",
        "AlertPublishersEncryptToTopic",
    }
    assert all(s["Effect"] == "Allow" and s["Resource"] == "*" for s in statements.values())


# -- who uses it -------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_every_log_group_repository_secret_and_topic_is_under_the_stack_key(stack):
    run = released_run(stack)
    arn = stack_key(run).state["arn"]
    groups = run.of_type(LOG_GROUP)
    assert groups and {g.name: g.inputs.get("kmsKeyId") for g in groups} == {g.name: arn for g in groups}
    repositories = run.of_type(REPOSITORY)
    assert len(repositories) == 3
    for repository in repositories:
        assert repository.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": arn}]
    assert [s.inputs["kmsKeyId"] for s in run.of_type(SECRET)] == ([arn] if stack == "ultra" else [])
    assert [t.inputs["kmsMasterKeyId"] for t in run.of_type(TOPIC)] == [arn]


@pytest.mark.parametrize("stack", STACKS)
def test_every_function_environment_and_the_schedule_payload_are_under_the_stack_key(stack):
    run = released_run(stack)
    arn = stack_key(run).state["arn"]
    functions = run.of_type(FUNCTION)
    expected = {"scheduler", "migrate-runner"} | ({"api"} if stack == "ultra" else {"queue-backlog"})
    assert {f.name.removeprefix(f"flowbuilder-{stack}-") for f in functions} == expected
    assert {f.name: f.inputs["kmsKeyArn"] for f in functions} == {f.name: arn for f in functions}
    (schedule,) = run.of_type(SCHEDULE)
    assert schedule.inputs["kmsKeyArn"] == arn


@pytest.mark.parametrize(("stack", "insights"), [("dev", False), ("staging", False), ("prod", True)])
def test_the_database_its_master_secret_and_performance_insights_are_under_the_stack_key(stack, insights):
    run = committed_run(stack)
    arn = stack_key(run).state["arn"]
    database = run.one(DATABASE).inputs
    assert (database["storageEncrypted"], database["kmsKeyId"]) == (True, arn)
    assert (database["manageMasterUserPassword"], database["masterUserSecretKmsKeyId"]) == (True, arn)
    assert database.get("performanceInsightsKmsKeyId") == (arn if insights else None)


def policies_of(run: StackRun, role) -> list[dict[str, Any]]:
    return [
        s
        for p in run.of_type(ROLE_POLICY)
        if p.inputs["role"] == role.id
        for s in json.loads(p.inputs["policy"])["Statement"]
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


@pytest.mark.parametrize("stack", STACKS)
def test_every_role_that_reads_a_secret_or_runs_a_function_may_decrypt_with_the_stack_key_and_no_other(stack):
    run = released_run(stack)
    arn = stack_key(run).state["arn"]
    function_roles = {f.inputs["role"] for f in run.of_type(FUNCTION)}
    readers = 0
    for role in run.of_type(ROLE):
        statements = policies_of(run, role)
        reads_secret = any("secretsmanager:GetSecretValue" in actions(s) for s in statements)
        decrypts = [s for s in statements if "kms:Decrypt" in actions(s) and arn in json.dumps(s["Resource"])]
        if reads_secret or role.state["arn"] in function_roles:
            readers += 1
            assert [(s["Action"], s["Resource"]) for s in decrypts] == [(["kms:Decrypt"], [arn])], role.name
        elif decrypts:
            # The schedule's role decrypts the payload it delivers; nothing else reaches for the stack key.
            assert role.name.endswith("-scheduler-invoke"), role.name
            assert [(s["Action"], s["Resource"]) for s in decrypts] == [(["kms:Decrypt"], [arn])]
    # Standard: the scheduler's and the backlog sampler's function roles, the migration runner's, the
    # migration task's role and execution role (the only readers of the master secret; the API and
    # worker log in with IAM), and External Secrets where EKS runs; zero-scale: the worker's task and
    # execution roles (the URL secret), the API function's, the scheduler's and the migration's three.
    assert readers == {"dev": 5, "staging": 6, "prod": 6, "ultra": 7}[stack]


# -- failures of asynchronous invocations ------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_every_asynchronously_invoked_function_sends_failures_to_an_encrypted_alarmed_queue(stack):
    run = released_run(stack)
    invoked = {s.inputs["target"]["arn"] for s in run.of_type(SCHEDULE)} | {
        t.inputs["arn"] for t in run.of_type(EVENT_TARGET)
    }
    functions = [f for f in run.of_type(FUNCTION) if f.state["arn"] in invoked]
    assert len(functions) == (1 if stack == "ultra" else 2)
    queues = {q.state["arn"]: q for q in run.of_type(QUEUE)}
    watched = {a.inputs.get("dimensions", {}).get("QueueName") for a in run.of_type(ALARM)}
    for function in functions:
        (config,) = [c for c in run.of_type(INVOKE_CONFIG) if c.inputs["functionName"] == function.state["name"]]
        queue = queues[config.inputs["destinationConfig"]["onFailure"]["destination"]]
        assert queue.inputs["sqsManagedSseEnabled"] is True
        assert queue.state["name"] in watched
    # Why there is no dead_letter_config beside the destination is a named exception.
    assert excepted("lambda-failures-to-on-failure-destination", StackFacts(stack, None, None))


# -- named exceptions --------------------------------------------------------------------
def test_every_exception_a_rule_relaxes_names_a_rule_of_the_pack():
    rules = {rule.name for rule in POLICIES}
    assert {d.rule for d in DEVIATIONS if d.rule} <= rules
    assert len(BY_NAME) == len(DEVIATIONS)


def test_a_rule_cannot_consult_an_exception_the_table_does_not_declare():
    with pytest.raises(KeyError):
        excepted("no-such-exception", StackFacts("dev", "dev", "standard"))


def test_the_rules_consult_every_exception_that_names_a_rule():
    source = "\n".join(path.read_text() for path in (Path(ROOT) / "policy" / "rules").glob("*.py"))
    for deviation in DEVIATIONS:
        if deviation.rule:
            assert f'excepted("{deviation.name}"' in source, deviation.name


def committed_facts(stack: str) -> StackFacts:
    config = committed_run(stack).config
    return StackFacts(stack, config.environment.value, config.topology.value)


def test_each_exception_says_in_words_the_committed_stacks_it_applies_to():
    for deviation in DEVIATIONS:
        applies = [stack for stack in STACKS if deviation.applies(committed_facts(stack))]
        said = list(STACKS) if deviation.stacks == "every stack" else deviation.stacks.split(", ")
        assert applies == said, deviation.name


def test_docs_security_lists_every_exception_with_its_stacks_and_controls():
    text = (Path(ROOT) / "docs" / "security.md").read_text()
    for deviation in DEVIATIONS:
        (row,) = [line for line in text.splitlines() if line.startswith(f"| `{deviation.name}` |")]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == (", ".join(deviation.controls) or "—"), deviation.name
        assert cells[2] == deviation.stacks, deviation.name


@pytest.mark.parametrize(
    ("environment", "topology", "present", "absent"),
    [
        ("dev", "standard", {"dev-backups-one-day", "ecs-exec-outside-prod"}, {"zero-scale-public-tasks"}),
        ("staging", "standard", {"rds-resilience-outside-prod"}, {"dev-backups-one-day"}),
        ("prod", "standard", {"database-default-port"}, {"container-insights-outside-prod", "ecs-exec-outside-prod"}),
        (
            "prod",
            "zero-scale",
            {"zero-scale-public-tasks", "container-insights-outside-prod"},
            {"rds-resilience-outside-prod"},
        ),
    ],
)
def test_which_exceptions_are_in_effect_depends_on_environment_and_topology(environment, topology, present, absent):
    names = {d.name for d in in_effect(StackFacts("x", environment, topology))}
    assert present <= names
    assert not absent & names


# -- the preview -------------------------------------------------------------------------
def test_preview_lists_the_keys_users_and_the_stacks_exceptions():
    run = released_run("dev")
    section = security_section(run)
    users = {(u["type"], u["name"]): u["fields"] for u in section["stack_key_users"]}
    assert users[(TOPIC, "flowbuilder-dev-alerts")] == ["kmsMasterKeyId"]
    assert users[(DATABASE, "flowbuilder-dev-postgres")] == ["kmsKeyId", "masterUserSecretKmsKeyId"]
    assert users[(SCHEDULE, "flowbuilder-dev-scheduler")] == ["kmsKeyArn"]
    assert users[(ROLE_POLICY, "flowbuilder-dev-migrate-execution")] == ["policy"]
    assert {name for (kind, name) in users if kind == LOG_GROUP} == {g.name for g in run.of_type(LOG_GROUP)}
    assert (KEY, "flowbuilder-dev-stack") not in users and not any(kind == ALIAS for kind, _ in users)
    names = [d["name"] for d in section["deviations"]]
    assert names == [d.name for d in in_effect(StackFacts("dev", "dev", "standard"))]


def test_preview_text_and_markdown_show_the_security_section():
    analysis = analyse(committed_run("ultra"))
    analysis.report.sections["security"] = security_section(analysis.run)
    text, markdown = render_text(analysis.report), render_markdown(analysis.report)
    users = len(analysis.report.sections["security"]["stack_key_users"])
    assert f"Stack key: {users} resource(s) use it" in text
    assert "  zero-scale-public-tasks (ECS.2, ECS.16, relaxes ecs-no-public-ip)" in text
    assert "| `zero-scale-public-tasks` | ECS.2, ECS.16 |" in markdown
