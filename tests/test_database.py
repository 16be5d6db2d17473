"""Database: RDS PostgreSQL per standard stack, the external URL secret in zero-scale, no plaintext credentials."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from components import Database, DatabaseArgs, ExternalDatabase, ExternalDatabaseArgs
from components.database import APPLICATION_ROLE_SQL, SECRET_KIND_RDS_MASTER, SECRET_KIND_URL
from simulation.harness import PROJECT, STACKS, RecordedResource, StackRun, run_stack
from stackconfig import Environment
from stackconfig.model import DatabaseConfig
from tests.component_support import run_component, section
from tests.conftest import committed_run

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

EXTERNAL_URL = "postgresql://flow:Zq8-unique-Pa55word@db.example.net:5432/flow?sslmode=require"
EXTERNAL_PASSWORD = "Zq8-unique-Pa55word"

SIZES = {
    # stack: (instance class, GB, autoscaling ceiling GB, backup days, Multi-AZ)
    "dev": ("db.t4g.micro", 20, 100, 1, False),
    "staging": ("db.t4g.small", 50, 200, 7, False),
    "prod": ("db.t4g.medium", 100, 500, 30, True),
}


@functools.cache
def ultra_with_url() -> StackRun:
    return run_stack("ultra", secrets={f"{PROJECT}:externalDatabaseUrl": EXTERNAL_URL})


@functools.cache
def variant(environment: Environment, database: str) -> StackRun:
    """The Database component alone with ``environment``'s defaults and these settings."""
    return database_alone(environment, json.loads(database))[0]


def database_alone(environment: Environment, settings: dict[str, Any]) -> tuple[StackRun, dict[str, Any]]:
    """The Database component alone, in the dev stack, and what it hands its clients."""

    def build(context) -> None:
        database = Database(
            context.prefix,
            DatabaseArgs(
                context,
                section(DatabaseConfig, "database", environment, **settings),
                subnet_group_name="flowbuilder-dev-db",
                security_group_id="sg-database",
            ),
        )
        export_connection(database.connection)
        export_connection(database.admin_connection, "admin")

    run = run_component(build)
    return run, run.outputs


def export_connection(connection, prefix: str = "") -> None:
    def key(name: str) -> str:
        return f"{prefix}{name[0].upper()}{name[1:]}" if prefix else name

    pulumi.export(key("environment"), connection.environment)
    pulumi.export(key("ecsSecrets"), [secret.entry() for secret in connection.container_secrets])
    pulumi.export(key("secretArn"), connection.secret_arn)
    pulumi.export(key("grants"), list(connection.grants))


def primary(run: StackRun) -> RecordedResource:
    found = run.of_type(INSTANCE)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


# -- standard stacks ---------------------------------------------------------
@pytest.mark.parametrize("stack", SIZES)
def test_each_standard_stack_has_exactly_one_primary_postgres(stack):
    run = committed_run(stack)
    db = primary(run)
    assert db.inputs["engine"] == "postgres"
    assert db.inputs["engineVersion"] == "16"
    assert db.inputs["identifier"] == f"flowbuilder-{stack}-postgres"
    assert db.inputs["engineLifecycleSupport"] == "open-source-rds-extended-support-disabled"


@pytest.mark.parametrize("stack", SIZES)
def test_size_and_backups_per_stack(stack):
    instance_class, storage, ceiling, backup_days, multi_az = SIZES[stack]
    db = primary(committed_run(stack)).inputs
    assert db["instanceClass"] == instance_class
    assert db["allocatedStorage"] == storage
    assert db["maxAllocatedStorage"] == ceiling
    assert db["storageType"] == "gp3"
    assert db["backupRetentionPeriod"] == backup_days
    assert db["multiAz"] is multi_az


@pytest.mark.parametrize("stack", SIZES)
def test_settings_every_standard_stack_has(stack):
    db = primary(committed_run(stack)).inputs
    assert db["storageEncrypted"] is True
    assert db["manageMasterUserPassword"] is True
    assert db["username"] == "flowbuilder"
    assert db["dbName"] == "flowbuilder"
    assert db["iamDatabaseAuthenticationEnabled"] is True
    assert db["autoMinorVersionUpgrade"] is True
    assert db["copyTagsToSnapshot"] is True
    assert db["publiclyAccessible"] is False
    assert db["port"] == 5432
    assert db["backupWindow"] == "03:00-04:00"
    assert db["maintenanceWindow"] == "sun:04:00-sun:05:00"
    assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    for forbidden in ("password", "passwordWo", "snapshotIdentifier", "replicateSourceDb"):
        assert forbidden not in db


@pytest.mark.parametrize("stack", SIZES)
def test_placed_in_database_subnets_behind_the_database_security_group(stack):
    run = committed_run(stack)
    db = primary(run).inputs
    subnet_group = run.one("aws:rds/subnetGroup:SubnetGroup")
    assert db["dbSubnetGroupName"] == subnet_group.state["name"]
    assert sorted(subnet_group.inputs["subnetIds"]) == sorted(run.outputs["databaseSubnetIds"])
    assert db["vpcSecurityGroupIds"] == [run.outputs["securityGroupIds"]["database"]]


@pytest.mark.parametrize("stack", SIZES)
def test_parameter_group_forces_tls_and_logs_slow_statements(stack):
    run = committed_run(stack)
    group = run.one(PARAMETER_GROUP)
    assert group.inputs["family"] == "postgres16"
    parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert parameters == {"rds.force_ssl": "1", "log_min_duration_statement": "500"}
    assert primary(run).inputs["parameterGroupName"] == group.state["name"]


@pytest.mark.parametrize("stack", SIZES)
def test_log_exports_land_in_log_groups_with_retention_created_first(stack):
    run = committed_run(stack)
    db = primary(run)
    retention = {"dev": 7, "staging": 14, "prod": 30}[stack]
    groups = {g.inputs["name"]: g for g in run.of_type(LOG_GROUP) if g.inputs["name"].startswith("/aws/rds/instance/")}
    assert sorted(groups) == [
        f"/aws/rds/instance/flowbuilder-{stack}-postgres/postgresql",
        f"/aws/rds/instance/flowbuilder-{stack}-postgres/upgrade",
    ]
    for group in groups.values():
        assert group.inputs["retentionInDays"] == retention
        assert group.urn in db.depends_on


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_non_prod_can_be_deleted_without_snapshot(stack):
    db = primary(committed_run(stack))
    assert db.protect is False
    assert db.inputs["deletionProtection"] is False
    assert db.inputs["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in db.inputs
    assert db.inputs["deleteAutomatedBackups"] is True
    assert db.inputs["performanceInsightsEnabled"] is False
    assert db.inputs["monitoringInterval"] == 0
    assert "monitoringRoleArn" not in db.inputs
    assert db.inputs["applyImmediately"] is True
    assert not [r for r in committed_run(stack).of_type(ROLE) if r.name.endswith("-rds-monitoring")]


def test_prod_is_protected(prod):
    db = primary(prod)
    assert db.protect is True
    assert db.inputs["deletionProtection"] is True
    assert db.inputs["skipFinalSnapshot"] is False
    assert db.inputs["finalSnapshotIdentifier"] == "flowbuilder-prod-postgres-final"
    assert db.inputs["deleteAutomatedBackups"] is False
    assert db.inputs["multiAz"] is True
    assert db.inputs["backupRetentionPeriod"] == 30
    assert db.inputs["applyImmediately"] is False


def test_prod_performance_insights_and_enhanced_monitoring(prod):
    db = primary(prod).inputs
    assert db["performanceInsightsEnabled"] is True
    assert db["performanceInsightsRetentionPeriod"] == 7
    assert db["monitoringInterval"] == 60
    role = prod.one(ROLE, "-rds-monitoring")
    assert db["monitoringRoleArn"] == role.state["arn"]

    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "monitoring.rds.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        }
    ]
    policy = prod.one(ROLE_POLICY, "-rds-monitoring")
    assert policy.inputs["role"] == role.id
    statements = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}
    # AmazonRDSEnhancedMonitoringRole's statements, in this account and region: RDS creates
    # RDSOSMetrics itself, and a grant on that exact name alone is refused for CreateLogGroup.
    log_groups = "arn:aws:logs:us-east-1:123456789012:log-group:RDS*"
    groups = statements["EnableCreationAndManagementOfRDSCloudwatchLogGroups"]
    assert groups["Action"] == ["logs:CreateLogGroup", "logs:PutRetentionPolicy"]
    assert groups["Resource"] == [log_groups]
    streams = statements["EnableCreationAndManagementOfRDSCloudwatchLogStreams"]
    assert streams["Action"] == [
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
        "logs:GetLogEvents",
    ]
    assert streams["Resource"] == [f"{log_groups}:log-stream:*"]
    assert all(s["Effect"] == "Allow" for s in statements.values())


@pytest.mark.parametrize("stack", SIZES)
def test_stack_outputs_name_the_database_and_its_managed_secret(stack):
    run = committed_run(stack)
    db = primary(run)
    secret_arn = db.state["masterUserSecrets"][0]["secretArn"]
    assert secret_arn.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-")
    assert run.outputs["databaseSecretArn"] == secret_arn
    assert run.outputs["databaseSecretKind"] == SECRET_KIND_RDS_MASTER
    assert run.outputs["databaseEndpoint"] == db.state["address"]
    assert ":" not in run.outputs["databaseEndpoint"]
    assert run.outputs["databasePort"] == 5432
    assert run.outputs["databaseName"] == "flowbuilder"
    assert run.outputs["databaseInstanceId"] == f"flowbuilder-{stack}-postgres"


# -- configuration variants -----------------------------------------------
def test_engine_version_selects_the_parameter_group_family():
    run = variant(
        Environment.DEV, json.dumps({"engineVersion": "17", "slowStatementMs": 250, "instanceClass": "db.t4g.large"})
    )
    assert primary(run).inputs["engineVersion"] == "17"
    assert primary(run).inputs["instanceClass"] == "db.t4g.large"
    group = run.one(PARAMETER_GROUP)
    assert group.inputs["family"] == "postgres17"
    assert {p["name"]: p["value"] for p in group.inputs["parameters"]}["log_min_duration_statement"] == "250"


def test_deletion_protection_alone_brings_pulumi_protect():
    db = primary(variant(Environment.STAGING, json.dumps({"deletionProtection": True})))
    assert db.protect is True
    assert db.inputs["deletionProtection"] is True
    assert db.inputs["skipFinalSnapshot"] is True


def test_prod_can_apply_a_planned_change_at_once():
    db = primary(variant(Environment.PROD, json.dumps({"applyImmediately": True, "engineVersion": "17"})))
    assert db.inputs["applyImmediately"] is True
    assert db.inputs["engineVersion"] == "17"
    assert db.protect is True


def test_extended_support_is_an_explicit_opt_in():
    db = primary(variant(Environment.DEV, json.dumps({"extendedSupport": True})))
    assert db.inputs["engineLifecycleSupport"] == "open-source-rds-extended-support"


# -- zero-scale --------------------------------------------------------------
def test_ultra_has_no_rds_and_an_empty_url_secret(ultra):
    assert ultra.of_type(INSTANCE) == []
    assert ultra.of_type(PARAMETER_GROUP) == []
    assert ultra.of_type("aws:rds/subnetGroup:SubnetGroup") == []
    secret = ultra.one(SECRET, "-database-url")
    assert ultra.of_type(SECRET_VERSION) == []
    assert "secretString" not in secret.inputs
    assert ultra.outputs["databaseSecretArn"] == secret.state["arn"]
    assert ultra.outputs["databaseSecretKind"] == SECRET_KIND_URL
    for standard_only in ("databaseEndpoint", "databasePort", "databaseName", "databaseInstanceId"):
        assert standard_only not in ultra.outputs


def test_ultra_writes_the_configured_url_as_a_secret_version():
    run = ultra_with_url()
    secret = run.one(SECRET, "-database-url")
    version = run.one(SECRET_VERSION, "-database-url")
    assert version.inputs["secretId"] == secret.id
    assert version.inputs["secretString"] == EXTERNAL_URL
    assert "secretString" in version.secret_inputs
    assert version.protect is False
    assert run.outputs["databaseSecretArn"] == secret.state["arn"]


# -- what clients receive ----------------------------------------------------
def test_standard_applications_log_in_with_iam_as_the_application_user_without_a_password():
    run, outputs = database_alone(Environment.DEV, {})
    db = primary(run)
    assert db.inputs["iamDatabaseAuthenticationEnabled"] is True
    assert outputs["ecsSecrets"] == []
    assert outputs["environment"] == {
        "DB_HOST": db.state["address"],
        "DB_PORT": "5432",
        "DB_NAME": "flowbuilder",
        "DB_SSLMODE": "require",
        "DB_USER": "flowbuilder_app",
        "DB_IAM_AUTH": "true",
    }
    assert outputs["environment"]["DB_HOST"].startswith("flowbuilder-dev-postgres.")
    resource_id = db.state["resourceId"]
    assert resource_id.startswith("db-")
    assert outputs["grants"] == [
        {
            "Sid": "ConnectAsApplicationUser",
            "Effect": "Allow",
            "Action": ["rds-db:connect"],
            "Resource": [f"arn:aws:rds-db:us-east-1:123456789012:dbuser:{resource_id}/flowbuilder_app"],
        }
    ]
    assert db.inputs["dbSubnetGroupName"] == "flowbuilder-dev-db"
    assert db.inputs["vpcSecurityGroupIds"] == ["sg-database"]


def test_only_the_migration_connection_carries_the_master_credentials_by_json_key_reference():
    run, outputs = database_alone(Environment.DEV, {})
    arn = outputs["adminSecretArn"]
    assert arn == primary(run).state["masterUserSecrets"][0]["secretArn"]
    assert outputs["adminEcsSecrets"] == [
        {"name": "DB_USERNAME", "valueFrom": f"{arn}:username::"},
        {"name": "DB_PASSWORD", "valueFrom": f"{arn}:password::"},
    ]
    assert outputs["adminEnvironment"] == {
        "DB_SECRET_ARN": arn,
        "DB_SECRET_KIND": SECRET_KIND_RDS_MASTER,
        "DB_APP_USER": "flowbuilder_app",
        "DB_APP_ROLE_SQL": APPLICATION_ROLE_SQL,
        "DB_HOST": primary(run).state["address"],
        "DB_PORT": "5432",
        "DB_NAME": "flowbuilder",
        "DB_SSLMODE": "require",
    }
    assert outputs["adminGrants"] == [
        {"Sid": "ReadMasterSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [arn]}
    ]


def test_the_application_role_sql_logs_in_only_with_iam_and_gets_data_rights_not_ownership():
    statements = [line.strip() for line in APPLICATION_ROLE_SQL.splitlines() if line.strip()]
    # Idempotent: every release's migration runs it again.
    assert "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'flowbuilder_app') THEN" in statements
    assert "CREATE ROLE flowbuilder_app LOGIN;" in statements
    assert "GRANT rds_iam TO flowbuilder_app;" in statements
    assert "PASSWORD" not in APPLICATION_ROLE_SQL.upper()
    assert (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO flowbuilder_app;"
        in statements
    )
    # Data rights only: no DDL, no superuser-like grants.
    assert not any(word in APPLICATION_ROLE_SQL for word in ("CREATEDB", "CREATEROLE", "SUPERUSER", "ALL PRIVILEGES"))
    assert "GRANT CREATE" not in APPLICATION_ROLE_SQL


def test_zero_scale_clients_get_the_url_by_reference_only():
    def build(context) -> None:
        url = pulumi.Output.secret(EXTERNAL_URL)
        export_connection(ExternalDatabase(context.prefix, ExternalDatabaseArgs(context, url)).connection)

    outputs = run_component(build, stack="ultra").outputs
    arn = outputs["secretArn"]
    assert outputs["ecsSecrets"] == [{"name": "DATABASE_URL", "valueFrom": arn}]
    assert outputs["environment"] == {"DB_SECRET_ARN": arn, "DB_SECRET_KIND": SECRET_KIND_URL}
    assert outputs["grants"] == [
        {"Sid": "ReadDatabaseSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [arn]}
    ]
    assert EXTERNAL_URL not in json.dumps(outputs)


# -- no plaintext credentials anywhere ----------------------------------------
CREDENTIAL_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@\"']+:[^@\s/\"']+@", re.IGNORECASE)
SENSITIVE_KEY = re.compile(r"password|passwd|secret_?string|connection_?string|database_?url", re.IGNORECASE)
# Keys that name where a credential lives (a Kubernetes Secret key, an ARN), not the credential.
REFERENCE_KEY = re.compile(r"(key|arn|ref|name|file|version|id|kind)$", re.IGNORECASE)


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")
    elif isinstance(value, str) and value[:1] in "{[":
        # JSON documents (container definitions, policies) are searched inside too.
        try:
            document = json.loads(value)
        except json.JSONDecodeError:
            return
        yield from _walk(document, f"{path}<json>")


def _covered(path: str, secret_paths: frozenset[str]) -> bool:
    return any(path == s or path.startswith((f"{s}.", f"{s}[", f"{s}<")) for s in secret_paths)


def plaintext_credentials(
    values: dict[str, Any], secret_paths: frozenset[str], known: tuple[str, ...] = ()
) -> list[str]:
    """Paths holding a credential that is not a Pulumi secret."""
    found = []
    for path, value in _walk(values):
        if not isinstance(value, str) or not value or _covered(path, secret_paths):
            continue
        key = re.split(r"[.\[<]", path)[-1] if path else ""
        if CREDENTIAL_URL.search(value) or any(k in value for k in known):
            found.append(path)
        elif SENSITIVE_KEY.search(key) and not REFERENCE_KEY.search(key) and not value.startswith("arn:"):
            found.append(path)
        elif path.endswith(".value") and SENSITIVE_KEY.search(str(_sibling_name(values, path))):
            found.append(path)
    return found


def _sibling_name(values: dict[str, Any], path: str) -> Any:
    # ECS/Lambda style {"name": "DB_PASSWORD", "value": "..."} pairs.
    parent_path = path.removesuffix(".value")
    for candidate_path, candidate in _walk(values):
        if candidate_path == parent_path and isinstance(candidate, dict):
            return candidate.get("name")
    return None


def _all_runs() -> Iterator[StackRun]:
    yield from (committed_run(stack) for stack in STACKS)
    yield ultra_with_url()


def test_credential_scanner_finds_what_it_must():
    leak = {"containerDefinitions": json.dumps([{"environment": [{"name": "DB_PASSWORD", "value": "hunter2"}]}])}
    assert plaintext_credentials(leak, frozenset()) == ["containerDefinitions<json>[0].environment[0].value"]
    assert plaintext_credentials({"url": "postgres://u:pw@h/db"}, frozenset()) == ["url"]
    assert plaintext_credentials({"masterPassword": "x"}, frozenset()) == ["masterPassword"]
    assert plaintext_credentials({"note": EXTERNAL_PASSWORD}, frozenset(), (EXTERNAL_PASSWORD,)) == ["note"]
    assert plaintext_credentials({"secretString": EXTERNAL_URL}, frozenset({"secretString"})) == []
    assert plaintext_credentials({"DB_SECRET_ARN": "arn:aws:secretsmanager:x"}, frozenset()) == []
    assert plaintext_credentials({"admin": {"passwordKey": "admin-password"}}, frozenset()) == []
    assert plaintext_credentials({"variables": {"DB_PASSWORD": "hunter2"}}, frozenset()) == ["variables.DB_PASSWORD"]


@pytest.mark.parametrize("which", [*STACKS, "ultra+url"])
def test_no_plaintext_credentials_in_any_resource_or_output(which):
    run = ultra_with_url() if which == "ultra+url" else committed_run(which)
    leaks = []
    for resource in run.resources:
        for where, values, secret in (
            ("inputs", resource.inputs, resource.secret_inputs),
            ("state", resource.state, resource.secret_state),
        ):
            leaks += [
                f"{resource.name} {where}.{p}" for p in plaintext_credentials(values, secret, (EXTERNAL_PASSWORD,))
            ]
    public_outputs = {k: v for k, v in run.outputs.items() if k not in run.secret_outputs}
    leaks += [f"output {p}" for p in plaintext_credentials(public_outputs, frozenset(), (EXTERNAL_PASSWORD,))]
    assert leaks == []


def test_the_external_url_is_secret_wherever_it_appears():
    run = ultra_with_url()
    holders = [
        (r.name, where)
        for r in run.resources
        for where, values in (("inputs", r.inputs), ("state", r.state))
        if EXTERNAL_PASSWORD in json.dumps(values)
    ]
    assert holders == [("flowbuilder-ultra-database-url", "inputs"), ("flowbuilder-ultra-database-url", "state")]
    assert run.one(SECRET_VERSION).secret_state == frozenset({"secretString"})


def test_no_rds_instance_takes_a_password_input():
    for run in _all_runs():
        for db in run.of_type(INSTANCE):
            assert not {"password", "passwordWo", "passwordWoVersion"} & set(db.inputs)
