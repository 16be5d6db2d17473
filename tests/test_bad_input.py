"""Bad input meets a wall: every class of mistake a new user makes is refused by the offline preview.

Each row writes a project directory (``Pulumi.yaml`` and a stack file) and runs
``python -m preview -C DIR <stack>`` through ``main``. A row passes when the
preview exits 2 before anything runs, names the file and the key, says what is
allowed, prints no traceback, and echoes no secret. Add a row for every new
class of mistake.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import preview.__main__ as cli
from simulation.harness import ROOT

PROJECT_FILE = "name: flowbuilder\nruntime:\n  name: python\n  options:\n    virtualenv: .venv\n"
DEV = {"aws:region": "us-east-1", "flowbuilder:environment": "dev", "flowbuilder:topology": "standard"}
ULTRA = {"aws:region": "us-east-1", "flowbuilder:environment": "staging", "flowbuilder:topology": "zero-scale"}
PROD = {"aws:region": "us-east-1", "flowbuilder:environment": "prod", "flowbuilder:topology": "standard"}
SECRET = "hunter2-Zq8vLw3xR7"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:flowbuilder/stripe-AbC123"
ROLE = "arn:aws:iam::123456789012:role/platform-admin"
CONNECTION = "arn:aws:codeconnections:us-east-1:123456789012:connection/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


@dataclass
class Case:
    """One bad input: a stack file (``config`` lines under a base) or whole files, and what must be said."""

    expected: tuple[str, ...]
    config: str = ""
    """YAML lines added under ``config:`` (indented by the table)."""
    base: dict[str, str] = field(default_factory=lambda: dict(DEV))
    text: str | None = None
    """The whole stack file, when the mistake is in its structure."""
    stack: str = "dev"
    argv: tuple[str, ...] = ()
    project_file: str | None = PROJECT_FILE
    file: str | None = "Pulumi.dev.yaml"
    """The file the message must name (None for command-line mistakes)."""
    secret: str | None = None
    """A value that must not appear anywhere in the output."""
    raw_bytes: bytes | None = None


def bad(case_id: str, config: str, *expected: str, **options) -> pytest.param:
    return pytest.param(Case(expected=expected, config=config, **options), id=case_id)


def bad_file(case_id: str, text: str, *expected: str, **options) -> pytest.param:
    return pytest.param(Case(expected=expected, text=text, **options), id=case_id)


def bad_cli(case_id: str, argv: tuple[str, ...], *expected: str, **options) -> pytest.param:
    return pytest.param(Case(expected=expected, argv=argv, file=None, **options), id=case_id)


def write_project(directory: Path, case: Case) -> None:
    if case.project_file is not None:
        (directory / "Pulumi.yaml").write_text(case.project_file)
    path = directory / f"Pulumi.{case.stack}.yaml"
    if case.raw_bytes is not None:
        path.write_bytes(case.raw_bytes)
    elif case.text is not None:
        path.write_text(case.text)
    else:
        lines = [f"  {key}: {value}" for key, value in case.base.items()]
        lines += [f"  {line}" for line in case.config.splitlines() if line]
        path.write_text("config:\n" + "\n".join(lines) + "\n")


FILES = [
    # -- files the CLI could not read, or would read differently ---------------------------
    bad_file("yaml-syntax", "config:\n  aws:region: [us-east-1\n", "line 3", "unreadable YAML", "expected ','"),
    bad_file("tab-indent", "config:\n\taws:region: us-east-1\n", "line 2, column 1", "a tab", "indent with spaces"),
    bad_file("tab-after-colon", "config:\n  aws:region:\tus-east-1\n", "line 2", "a tab"),
    bad_file("config-is-a-list", "config:\n  - aws:region\n", "line 2, config", "must be a mapping of keys"),
    bad_file("config-is-text", "config: everything\n", "config", "must be a mapping of keys"),
    bad_file("file-is-text", "just some text\n", "line 1", "must be a mapping with a config: key"),
    bad_file("file-is-a-list", "- config\n", "line 1", "must be a mapping with a config: key"),
    bad_file(
        "duplicate-config-key",
        "config:\n  aws:region: us-east-1\n  aws:region: eu-west-1\n",
        "line 3, aws:region",
        "duplicate key",
        "already set on line 2",
    ),
    bad_file(
        "duplicate-after-namespacing",
        "config:\n  flowbuilder:environment: dev\n  environment: prod\n",
        "line 3, flowbuilder:environment",
        "environment is flowbuilder:environment",
    ),
    bad_file(
        "duplicate-nested-key",
        "config:\n  flowbuilder:network:\n    natStrategy: instance\n    natStrategy: none\n",
        "line 4, flowbuilder:network.natStrategy",
        "duplicate key",
    ),
    bad_file("duplicate-top-key", "config: {}\nconfig: {}\n", "line 2", "duplicate key 'config'"),
    bad_file("two-documents", "config: {}\n---\nconfig: {}\n", "line 2", "more than one YAML document"),
    bad_file("unknown-top-key", "conifg:\n  aws:region: us-east-1\n", "line 1", "did you mean 'config'?"),
    bad_file("esc-environment", "environment:\n  - shared\nconfig: {}\n", "line 1", "ESC environments"),
    bad_file(
        "merge-key",
        "config:\n  flowbuilder:network:\n    <<: {natStrategy: none}\n",
        "line 3, flowbuilder:network",
        "merge keys (<<)",
    ),
    bad_file("explicit-tag", "config:\n  flowbuilder:costCenter: !!int 5\n", "flowbuilder:costCenter", "!!int"),
    bad_file("unclosed-quote", "config:\n  flowbuilder:costCenter: 'abc\n", "line 3", "unreadable YAML"),
    bad_file("undefined-alias", "config:\n  flowbuilder:costCenter: *cc\n", "line 2", "undefined alias"),
    bad_file("non-string-key", "config:\n  flowbuilder:network:\n    1: a\n", "line 3", "is not text; quote it"),
    bad_file("list-key", "config:\n  ? [a, b]\n  : c\n", "line 2", "a key must be text"),
    bad_file("two-colons", "config:\n  flowbuilder:network:vpcCidr: 10.0.0.0/16\n", "line 2", "one ':'"),
    pytest.param(Case(expected=("line 2", "is not UTF-8 text"), raw_bytes=b"config:\n  a: \xff\n"), id="not-utf8"),
    bad_file(
        "empty-file",
        "",
        "flowbuilder:environment: missing; allowed: dev, staging, prod",
        "flowbuilder:topology: missing",
        "aws:region: missing",
    ),
    bad_file("empty-config", "config:\n", "flowbuilder:environment: missing"),
    bad_file(
        "secret-in-broken-yaml",
        f'config:\n  flowbuilder:externalDatabaseUrl: "postgresql://app:{SECRET}@db.example.com/app\n',
        "unreadable YAML",
        secret=SECRET,
    ),
    # -- YAML 1.1 surprises: read as yaml.v3 reads them, or refused ------------------------
    bad("leading-zero-top", "flowbuilder:logRetentionDays: 007", "line 5, flowbuilder:logRetentionDays", "octal"),
    bad(
        "leading-zero-nested",
        "flowbuilder:network:\n  availabilityZones: 02",
        "flowbuilder:network.availabilityZones",
        "leading zero",
    ),
    bad("leading-zero-eight", "flowbuilder:network:\n  availabilityZones: 08", "availabilityZones", "leading zero"),
    bad("underscore-number", "flowbuilder:worker:\n  maxCount: 1_000", "flowbuilder:worker.maxCount", "underscores"),
    bad("infinite-budget", "flowbuilder:monitoring:\n  monthlyBudgetUsd: .inf", "monthlyBudgetUsd", "not a finite"),
    bad("nan-budget", "flowbuilder:monitoring:\n  monthlyBudgetUsd: .nan", "monthlyBudgetUsd", "not a finite"),
    bad("yes-boolean", "flowbuilder:network:\n  interfaceEndpoints: yes", "interfaceEndpoints", "true or false"),
    bad("on-boolean", "flowbuilder:ecs:\n  execEnabled: on", "flowbuilder:ecs.execEnabled", "must be true or false"),
    bad("quoted-yes", 'flowbuilder:monitoring:\n  dashboard: "yes"', "monitoring.dashboard", "true or false"),
    bad("one-as-boolean", "flowbuilder:database:\n  multiAz: 1", "flowbuilder:database.multiAz", "true or false"),
    bad("sexagesimal-window", "flowbuilder:database:\n  backupWindow: 5:00-6:00", "backupWindow", "hh:mm-hh:mm"),
    bad("empty-value", "flowbuilder:costCenter:", "line 5, flowbuilder:costCenter", "has no value"),
    bad("null-nested", "flowbuilder:network:\n  vpcCidr: ~", "flowbuilder:network.vpcCidr", "not empty (null)"),
    bad("number-for-text", "flowbuilder:database:\n  engineVersion: 16.10", "engineVersion", "put it in quotes"),
    bad("text-for-count", 'flowbuilder:api:\n  desiredCount: "two"', "api.desiredCount", "whole number (got 'two')"),
    bad("fraction-for-count", "flowbuilder:worker:\n  maxCount: 2.5", "worker.maxCount", "whole number (got 2.5)"),
    bad("boolean-for-count", "flowbuilder:worker:\n  maxCount: true", "worker.maxCount", "not true/false"),
    bad("list-for-section", "flowbuilder:network: [a]", "flowbuilder:network", "must be a mapping", "not a list"),
    bad("text-for-section", "flowbuilder:network: instance", "flowbuilder:network", "must be a mapping"),
    bad("mapping-for-list", "flowbuilder:monitoring:\n  alertEmails: {a: b}", "alertEmails", "must be a list"),
    bad(
        "mapping-for-mode",
        "",
        "flowbuilder:environment",
        "must be one of dev, staging, prod, not a mapping",
        base={**DEV, "flowbuilder:environment": "{name: dev}"},
    ),
    # -- missing and unknown modes ---------------------------------------------------------
    bad(
        "missing-environment",
        "",
        "flowbuilder:environment: missing; allowed: dev, staging, prod",
        base={"aws:region": "us-east-1", "flowbuilder:topology": "standard"},
    ),
    bad(
        "missing-topology",
        "",
        "flowbuilder:topology: missing; allowed: standard, zero-scale",
        base={"aws:region": "us-east-1", "flowbuilder:environment": "dev"},
    ),
    bad(
        "missing-region",
        "",
        "aws:region: missing",
        "pulumi config set aws:region",
        base={"flowbuilder:environment": "dev", "flowbuilder:topology": "standard"},
    ),
    bad(
        "unknown-environment",
        "",
        "flowbuilder:environment: 'production' is not allowed; allowed: dev, staging, prod",
        base={**DEV, "flowbuilder:environment": "production"},
    ),
    bad(
        "unknown-topology",
        "",
        "flowbuilder:topology: 'serverless' is not allowed; allowed: standard, zero-scale",
        base={**DEV, "flowbuilder:topology": "serverless"},
    ),
    bad(
        "unknown-region",
        "",
        "aws:region: not an AWS region; did you mean 'us-east-",
        "allowed: us-east-1",
        base={**DEV, "aws:region": "us-east-7"},
    ),
    bad(
        "region-without-zone-table",
        "",
        "aws:region: not supported",
        "allowed: us-east-1",
        base={**DEV, "aws:region": "us-iso-east-1"},
    ),
]

NAMESPACES = [
    bad(
        "namespace-typo", "flowbuiler:network: {natStrategy: none}", "flowbuiler:network", "did you mean 'flowbuilder'?"
    ),
    bad("namespace-unknown", "kubernetes:context: prod", "kubernetes:context", "reads only flowbuilder: and aws:"),
    bad("aws-key-typo", "aws:regoin: us-east-1", "aws:regoin", "did you mean 'region'?"),
    bad("aws-profile", "aws:profile: prod-admin", "aws:profile", "explicit AWS provider", "AWS_PROFILE"),
    bad("aws-assume-roles", f'aws:assumeRoles: "[{{\\"roleArn\\": \\"{ROLE}\\"}}]"', "aws:assumeRoles", "no effect"),
    bad("aws-allowed-accounts", 'aws:allowedAccountIds: "[\\"123456789012\\"]"', "aws:allowedAccountIds", "no effect"),
    bad("aws-default-tags", "aws:defaultTags: {tags: {team: a}}", "aws:defaultTags", "set by the program"),
    bad("aws-secret-key", f"aws:secretKey: {SECRET}", "aws:secretKey", "credentials never belong", secret=SECRET),
    bad("unknown-top-level-key", "flowbuilder:natStrategy: instance", "flowbuilder:natStrategy: unknown key"),
    bad("top-level-typo", "flowbuilder:netwrok: {natStrategy: none}", "flowbuilder:netwrok", "did you mean 'network'?"),
    bad(
        "nested-typo",
        "flowbuilder:network:\n  natStrategey: instance",
        "flowbuilder:network.natStrategey: unknown key; did you mean 'natStrategy'?",
        "allowed keys here: availabilityZoneIds, availabilityZones",
    ),
    bad("bare-unknown-key", "environmnet: dev", "flowbuilder:environmnet", "did you mean 'environment'?"),
    bad(
        "dotted-key",
        "flowbuilder:network.natStrategy: none",
        "flowbuilder:network.natStrategy",
        "nest it under network",
    ),
    bad(
        "mode-typo",
        "",
        "flowbuilder:environment: 'prd' is not allowed; did you mean 'prod'?",
        base={**DEV, "flowbuilder:environment": "prd"},
    ),
    bad("owned-region", "flowbuilder:region: eu-west-1", "flowbuilder:region", "the region is aws:region"),
    bad("owned-stack", "flowbuilder:stack: prod", "flowbuilder:stack", "not read from the stack file"),
    bad(
        "owned-project",
        "flowbuilder:project: other",
        "flowbuilder:project",
        "Pulumi.yaml's `name`",
    ),
    bad(
        "secret-looking-unknown-key",
        f"flowbuilder:dbPassword: {SECRET}",
        "flowbuilder:dbPassword: unknown key",
        secret=SECRET,
    ),
]

SECRETS = [
    bad(
        "token-inside-a-schedule",
        "flowbuilder:scheduler:\n  scheduleExpression: cron(ghp_Zq8vLw3xR7Tk2Pn9Ym4Hb6Jc1Df5Gs0Aa * * * ? *)",
        "flowbuilder:scheduler.scheduleExpression",
        "cron() minutes",
        "allowed: 0-59",
        secret="Zq8vLw3xR7Tk2Pn9Ym4Hb6Jc1Df5Gs0Aa",
    ),
    bad(
        "credentials-inside-a-rate",
        f"flowbuilder:scheduler:\n  scheduleExpression: rate(https://ops:{SECRET}@example.com minutes)",
        "flowbuilder:scheduler.scheduleExpression",
        "must be a positive whole number",
        secret=SECRET,
    ),
    bad(
        "plaintext-database-url",
        f"flowbuilder:externalDatabaseUrl: postgresql://app:{SECRET}@db.example.com/app",
        "flowbuilder:externalDatabaseUrl",
        "pulumi config set --secret externalDatabaseUrl",
        base=dict(ULTRA),
        file="Pulumi.ultra.yaml",
        stack="ultra",
        secret=SECRET,
    ),
    bad(
        "password-as-application-secret",
        f"flowbuilder:ecs:\n  applicationSecrets:\n    STRIPE_KEY: {SECRET}",
        "flowbuilder:ecs.applicationSecrets.STRIPE_KEY",
        "must be an ARN",
        secret=SECRET,
    ),
    bad(
        "credentials-url-as-database-name",
        f"flowbuilder:database:\n  databaseName: postgresql://ops:{SECRET}@db.example.com/app",
        "flowbuilder:database.databaseName",
        "lowercase letters, digits or underscores",
        secret=SECRET,
    ),
    bad(
        "credentials-url-as-email",
        f"flowbuilder:monitoring:\n  alertEmails: ['https://ops:{SECRET}@hooks.example.com']",
        "flowbuilder:monitoring.alertEmails[0]",
        "must be an e-mail address",
        secret=SECRET,
    ),
    bad(
        "token-as-engine-version",
        "flowbuilder:database:\n  engineVersion: ghp_Zq8vLw3xR7Tk2Pn9Ym4Hb6Jc1Df5Gs0Aa",
        "flowbuilder:database.engineVersion",
        "allowed: at most 16",
        secret="ghp_Zq8vLw3xR7Tk2Pn9Ym4Hb6Jc1Df5Gs0Aa",
    ),
]

BOUNDS = [
    bad("azs-zero", "flowbuilder:network:\n  availabilityZones: 0", "network.availabilityZones", "allowed: 1 to 6"),
    bad("azs-seven", "flowbuilder:network:\n  availabilityZones: 7", "network.availabilityZones", "allowed: 1 to 6"),
    bad(
        "azs-beyond-region",
        "flowbuilder:network:\n  availabilityZones: 4",
        "flowbuilder:network.availabilityZones",
        "us-east-2 has 3 Availability Zones",
        "allowed: 2 to 3",
        base={**DEV, "aws:region": "us-east-2"},
    ),
    bad(
        "azs-us-west-1",
        "flowbuilder:network:\n  availabilityZones: 3",
        "us-west-1 has 2 Availability Zones",
        base={**DEV, "aws:region": "us-west-1"},
    ),
    bad("one-az-standard", "flowbuilder:network:\n  availabilityZones: 1", "standard topology needs at least 2 AZs"),
    bad("api-max-count", "flowbuilder:api:\n  maxCount: 5000", "flowbuilder:api.maxCount", "allowed: 1 to 1000"),
    bad("api-desired-negative", "flowbuilder:api:\n  desiredCount: -1", "api.desiredCount", "allowed: 0 to 1000"),
    bad("api-count-order", "flowbuilder:api:\n  minCount: 2", "api.desiredCount", "need minCount (2) <= desiredCount"),
    bad("worker-max-zero", "flowbuilder:worker:\n  maxCount: 0", "worker.maxCount", "allowed: 1 to 1000"),
    bad("worker-max-huge", "flowbuilder:worker:\n  maxCount: 100000", "worker.maxCount", "allowed: 1 to 1000"),
    bad(
        "backlog-per-task", "flowbuilder:worker:\n  backlogPerTask: 0", "worker.backlogPerTask", "allowed: 1 to 120000"
    ),
    bad("max-run-minutes", "flowbuilder:worker:\n  maxRunMinutes: 720", "worker.maxRunMinutes", "allowed: 1 to 719"),
    bad(
        "scale-in-minutes", "flowbuilder:worker:\n  scaleInAfterMinutes: 0", "scaleInAfterMinutes", "allowed: 1 to 120"
    ),
    bad("stop-timeout", "flowbuilder:worker:\n  stopTimeoutSeconds: 121", "stopTimeoutSeconds", "allowed: 2 to 120 s"),
    bad("spot-weight", "flowbuilder:worker:\n  spotWeight: 1001", "worker.spotWeight", "allowed: 0 to 1000"),
    bad(
        "no-weights",
        "flowbuilder:worker:\n  spotWeight: 0\n  onDemandWeight: 0",
        "worker.spotWeight",
        "cannot both be 0",
    ),
    bad("sample-seconds", "flowbuilder:worker:\n  backlogSampleSeconds: 15", "backlogSampleSeconds", "10, 20, 30, 60"),
    bad("fargate-cpu", "flowbuilder:api:\n  cpu: 300\n  memory: 512", "flowbuilder:api.cpu", "allowed cpu: 256, 512"),
    bad("fargate-cpu-huge", "flowbuilder:api:\n  cpu: 32768", "flowbuilder:api.cpu", "allowed: 256 to 16384"),
    bad(
        "fargate-pair",
        "flowbuilder:worker:\n  cpu: 1024\n  memory: 1024",
        "flowbuilder:worker.memory",
        "allowed memory: 2048-8192 MiB",
    ),
    bad("storage-small", "flowbuilder:database:\n  allocatedStorageGb: 10", "allocatedStorageGb", "20 to 65536 GiB"),
    bad("storage-huge", "flowbuilder:database:\n  allocatedStorageGb: 70000", "allocatedStorageGb", "20 to 65536"),
    bad(
        "storage-ceiling",
        "flowbuilder:database:\n  allocatedStorageGb: 100\n  maxAllocatedStorageGb: 105",
        "database.maxAllocatedStorageGb",
        "below 110",
    ),
    bad("backup-days-zero", "flowbuilder:database:\n  backupRetentionDays: 0", "backupRetentionDays", "1 to 35 days"),
    bad("backup-days-36", "flowbuilder:database:\n  backupRetentionDays: 36", "backupRetentionDays", "1 to 35 days"),
    bad("monitoring-interval", "flowbuilder:database:\n  enhancedMonitoringSeconds: 2", "0, 1, 5, 10, 15, 30, 60"),
    bad("slow-statement", "flowbuilder:database:\n  slowStatementMs: -2", "slowStatementMs", "allowed: -1 to"),
    bad("scheduler-timeout", "flowbuilder:scheduler:\n  timeoutSeconds: 901", "timeoutSeconds", "1 to 900 s"),
    bad("scheduler-timeout-0", "flowbuilder:scheduler:\n  timeoutSeconds: 0", "scheduler.timeoutSeconds", "1 to 900"),
    bad("scheduler-memory", "flowbuilder:scheduler:\n  memoryMb: 64", "scheduler.memoryMb", "128 to 10240 MB"),
    bad("scheduler-memory-big", "flowbuilder:scheduler:\n  memoryMb: 20000", "scheduler.memoryMb", "128 to 10240"),
    bad(
        "migration-timeout",
        "flowbuilder:migration:\n  timeoutMinutes: 15",
        "flowbuilder:migration.timeoutMinutes",
        "1 to 14 minutes",
        "synchronous Lambda invocation",
    ),
    bad("migration-command-empty", "flowbuilder:migration:\n  command: []", "flowbuilder:migration.command"),
    bad(
        "migration-command-string",
        "flowbuilder:migration:\n  command: alembic upgrade head",
        "flowbuilder:migration.command",
        "list",
    ),
    bad(
        "migration-command-blank-argument",
        "flowbuilder:migration:\n  command: ['alembic', '']",
        "migration.command[1]",
        "must not be empty",
    ),
    bad("budget-zero", "flowbuilder:monitoring:\n  monthlyBudgetUsd: 0", "monthlyBudgetUsd", "1 to 1000000000 USD"),
    bad("budget-text-inf", 'flowbuilder:monitoring:\n  monthlyBudgetUsd: "inf"', "monthlyBudgetUsd", "finite"),
    bad("budget-huge", "flowbuilder:monitoring:\n  monthlyBudgetUsd: 1e12", "monthlyBudgetUsd", "1 to 1000000000"),
    bad("oldest-age", "flowbuilder:monitoring:\n  oldestMessageAgeSeconds: 30", "oldestMessageAgeSeconds", "60 to"),
    bad(
        "oldest-age-retention",
        "flowbuilder:monitoring:\n  oldestMessageAgeSeconds: 400000",
        "flowbuilder:monitoring.oldestMessageAgeSeconds",
        "messages expire before the alarm",
    ),
    bad("receive-count-0", "flowbuilder:queue:\n  maxReceiveCount: 0", "queue.maxReceiveCount", "1 to 1000"),
    bad("receive-count-big", "flowbuilder:queue:\n  maxReceiveCount: 1001", "queue.maxReceiveCount", "1 to 1000"),
    bad("retention-15", "flowbuilder:queue:\n  messageRetentionDays: 15", "messageRetentionDays", "1 to 14 days"),
    bad(
        "dlq-shorter",
        "flowbuilder:queue:\n  dlqRetentionDays: 4",
        "flowbuilder:queue.dlqRetentionDays",
        "must be more than messageRetentionDays",
    ),
    bad("log-retention", "flowbuilder:logRetentionDays: 10", "flowbuilder:logRetentionDays", "1, 3, 5, 7, 14"),
    *(
        bad(case_id, config, *expected, base=dict(ULTRA), stack="ultra", file="Pulumi.ultra.yaml")
        for case_id, config, *expected in (
            ("throttle-rate-0", "flowbuilder:api:\n  throttleRatePerSecond: 0", "throttleRatePerSecond", "above 0"),
            ("throttle-rate-big", "flowbuilder:api:\n  throttleRatePerSecond: 20000", "throttleRatePerSecond", "10000"),
            ("throttle-burst", "flowbuilder:api:\n  throttleBurst: 6000", "api.throttleBurst", "allowed: 1 to 5000"),
            ("reserved-concurrency", "flowbuilder:api:\n  lambdaReservedConcurrency: 1000", "0 to 900", "unreserved"),
            ("lambda-memory-small", "flowbuilder:api:\n  memory: 64", "flowbuilder:api.memory", "128 to 10240 MB"),
            ("lambda-memory-big", "flowbuilder:api:\n  memory: 16384", "flowbuilder:api.memory", "128 to 10240 MB"),
        )
    ),
    bad("port-zero", "flowbuilder:api:\n  containerPort: 0", "api.containerPort", "allowed: 1 to 65535"),
    bad("port-big", "flowbuilder:api:\n  containerPort: 70000", "api.containerPort", "allowed: 1 to 65535"),
    bad("keep-images", "flowbuilder:ecs:\n  keepTaggedImages: 0", "ecs.keepTaggedImages", "allowed: 1 to 1000"),
    bad("health-path", "flowbuilder:api:\n  healthCheckPath: health", "api.healthCheckPath", "starting with '/'"),
    bad(
        "system-nodes-1",
        "flowbuilder:eks:\n  systemNodes: {instanceType: t4g.medium, count: 1}",
        "flowbuilder:eks.systemNodes.count",
        "allowed: 2 to 10 nodes",
    ),
    bad(
        "system-node-x86",
        "flowbuilder:eks:\n  systemNodes: {instanceType: t3.medium, count: 2}",
        "flowbuilder:eks.systemNodes.instanceType",
        "Graviton",
        "allowed: t4g.medium, t4g.large",
    ),
    bad("prometheus-volume", "flowbuilder:eks:\n  prometheusVolumeGb: 20000", "prometheusVolumeGb", "0 to 16384 GiB"),
    bad("prometheus-days", "flowbuilder:eks:\n  prometheusRetentionDays: 0", "prometheusRetentionDays", "1 to 365"),
    bad(
        "eks-too-many-cidrs",
        "flowbuilder:eks:\n  publicAccessCidrs: [" + ", ".join(f"203.0.113.{i}/32" for i in range(41)) + "]",
        "flowbuilder:eks.publicAccessCidrs",
        "has 41 entries; allowed: at most 40",
    ),
    bad(
        "control-plane-log-type",
        "flowbuilder:eks:\n  controlPlaneLogTypes: [api, audits]",
        "flowbuilder:eks.controlPlaneLogTypes[1]",
        "allowed: api, audit, authenticator, controllerManager, scheduler",
    ),
    bad(
        "control-plane-log-twice",
        "flowbuilder:eks:\n  controlPlaneLogTypes: [api, audit, api]",
        "flowbuilder:eks.controlPlaneLogTypes[2]",
        "api is listed twice",
    ),
    bad(
        "prod-control-plane-logs",
        "flowbuilder:eks:\n  controlPlaneLogTypes: [api, audit, authenticator]",
        "flowbuilder:eks.controlPlaneLogTypes",
        "prod sends all five control-plane log types; missing: controllerManager, scheduler",
        base=dict(PROD),
        stack="prod",
        file="Pulumi.prod.yaml",
    ),
    bad(
        "eks-version-without-add-ons",
        "flowbuilder:eks:\n  enabled: true\n  kubernetesVersion: '1.34'",
        "flowbuilder:eks.kubernetesVersion",
        "1.34 has no pinned add-on versions",
        "allowed: 1.35",
    ),
    bad(
        "ci-runner-half",
        "flowbuilder:eks:\n  ciRunner: {repository: example-org/flowbuilder-infra}",
        "flowbuilder:eks.ciRunner.connectionArn",
        "needs both repository and connectionArn",
    ),
    bad(
        "ci-runner-repository",
        "flowbuilder:eks:\n  ciRunner:\n    repository: 'https://github.com/example-org/x'\n"
        f"    connectionArn: {CONNECTION}",
        "flowbuilder:eks.ciRunner.repository",
        "<owner>/<repository>",
    ),
    bad(
        "ci-runner-connection",
        "flowbuilder:eks:\n  ciRunner: {repository: example-org/x, connectionArn: 'arn:aws:s3:::bucket'}",
        "flowbuilder:eks.ciRunner.connectionArn",
        "a CodeConnections connection ARN",
    ),
    bad(
        "tracing-sampling",
        "flowbuilder:eks:\n  tracing: {samplingPercent: 101}",
        "eks.tracing.samplingPercent",
        "0 to 100 %",
    ),
    bad(
        "tracing-retention",
        "flowbuilder:eks:\n  tracing: {retentionHours: 721}",
        "eks.tracing.retentionHours",
        "1 to 720 hours",
    ),
    bad("tracing-volume", "flowbuilder:eks:\n  tracing: {volumeGb: 0}", "eks.tracing.volumeGb", "1 to 16384 GiB"),
    bad("tracing-bool", "flowbuilder:eks:\n  tracing: true", "eks.tracing", "must be a mapping"),
    bad("kiali-unknown", "flowbuilder:eks:\n  kiali: {enable: true}", "eks.kiali.enable", "did you mean 'enabled'"),
    bad(
        "pool-family-x86",
        "flowbuilder:eks:\n  nodePools:\n    general: {instanceFamilies: [m7i]}",
        "eks.nodePools.general.instanceFamilies[0]",
        "Graviton instance family",
    ),
    bad(
        "pool-family-twice",
        "flowbuilder:eks:\n  nodePools:\n    spot: {instanceFamilies: [m7g, m7g]}",
        "eks.nodePools.spot.instanceFamilies[1]",
        "listed twice",
    ),
    bad(
        "pool-size",
        "flowbuilder:eks:\n  nodePools:\n    spot: {instanceSizes: [huge]}",
        "eks.nodePools.spot.instanceSizes[0]",
        "instance size",
    ),
    bad(
        "pool-cpu-limit",
        "flowbuilder:eks:\n  nodePools:\n    general: {cpuLimit: 0}",
        "general.cpuLimit",
        "1 to 10000 vCPU",
    ),
    bad(
        "pool-consolidate",
        "flowbuilder:eks:\n  nodePools:\n    general: {consolidateAfterSeconds: 90000}",
        "general.consolidateAfterSeconds",
        "0 to 86400 s",
    ),
    bad(
        "pool-budget",
        "flowbuilder:eks:\n  nodePools:\n    spot: {disruptionBudgetPercent: 150}",
        "spot.disruptionBudgetPercent",
        "0 to 100 %",
    ),
    bad(
        "pool-weights",
        "flowbuilder:eks:\n  nodePools:\n    spot: {weight: 5}",
        "eks.nodePools.spot.weight",
        "must be above general.weight (10)",
    ),
    bad(
        "too-many-emails",
        "flowbuilder:monitoring:\n  alertEmails: [" + ", ".join(f"o{i}@example.com" for i in range(101)) + "]",
        "monitoring.alertEmails",
        "at most 100",
    ),
]


CANARY_DIGEST = "sha256:" + "0" * 64


def service(**changes: object) -> str:
    fields = {
        "name": "api",
        "image": "api",
        "port": 8080,
        "replicas": 2,
        "cpu": "250m",
        "memory": "512Mi",
        "hpa": "{min: 2, max: 4, cpuPercent: 70}",
        "pdb": "{minAvailable: 1}",
        **changes,
    }
    return "{" + ", ".join(f"{key}: {value}" for key, value in fields.items()) + "}"


SERVICES = [
    bad(
        "service-istio-port",
        f"flowbuilder:eks:\n  services: [{service(port=15001)}]",
        "flowbuilder:eks.services[0].port",
        "belong to Istio",
    ),
    bad("service-replicas-0", f"flowbuilder:eks:\n  services: [{service(replicas=0)}]", "services[0].replicas", "1 to"),
    bad(
        "service-replicas-range",
        f"flowbuilder:eks:\n  services: [{service(replicas=9)}]",
        "services[0].replicas",
        "need hpa.min (2) <= replicas (9)",
    ),
    bad(
        "service-hpa-order",
        f"flowbuilder:eks:\n  services: [{service(hpa='{min: 3, max: 2, cpuPercent: 70}', replicas=3)}]",
        "services[0].hpa.max",
        "must be at least hpa.min",
    ),
    bad(
        "service-pdb",
        f"flowbuilder:eks:\n  services: [{service(pdb='{minAvailable: 2}')}]",
        "services[0].pdb.minAvailable",
        "must be below hpa.min",
    ),
    bad(
        "service-image-tag",
        f"flowbuilder:eks:\n  services: [{service(image='flowbuilder-prod/api:1.0.0')}]",
        "services[0].image",
        "allowed: api, worker",
    ),
    bad(
        "service-image-scheduler",
        f"flowbuilder:eks:\n  services: [{service(image='scheduler')}]",
        "services[0].image",
        "allowed: api, worker",
    ),
    bad(
        "service-database-text",
        f"flowbuilder:eks:\n  services: [{service(database='yes')}]",
        "services[0].database",
        "true or false",
    ),
    bad(
        "service-name-long",
        f"flowbuilder:eks:\n  services: [{service(name='a' * 46)}]",
        "services[0].name",
        "at most 45",
    ),
    bad(
        "canary-weight",
        "flowbuilder:eks:\n  services: [" + service(canary="{digest: " + CANARY_DIGEST + ", weight: 101}") + "]",
        "services[0].canary.weight",
        "0 to 100 %",
    ),
    bad(
        "canary-digest",
        "flowbuilder:eks:\n  services: [" + service(canary="{digest: 1.0.0, weight: 10}") + "]",
        "services[0].canary.digest",
        "sha256:",
    ),
    bad(
        "canary-header-name",
        "flowbuilder:eks:\n  services: ["
        + service(canary="{digest: " + CANARY_DIGEST + ", weight: 5, header: {name: X_Canary, value: on}}")
        + "]",
        "services[0].canary.header.name",
        "lowercase HTTP header name",
    ),
    bad(
        "canary-header-value",
        "flowbuilder:eks:\n  services: ["
        + service(canary="{digest: " + CANARY_DIGEST + ', weight: 5, header: {name: x-canary, value: " on"}}')
        + "]",
        "services[0].canary.header.value",
        "without leading or trailing spaces",
    ),
    bad("service-name", f"flowbuilder:eks:\n  services: [{service(name='API_svc')}]", "services[0].name", "DNS label"),
    bad(
        "service-missing-image",
        "flowbuilder:eks:\n  services: [{name: api, port: 8080, replicas: 2, cpu: 250m, memory: 512Mi, "
        "hpa: {min: 2, max: 4, cpuPercent: 70}, pdb: {minAvailable: 1}}]",
        "flowbuilder:eks.services[0].image: missing",
    ),
    bad(
        "service-duplicate-name",
        f"flowbuilder:eks:\n  services: [{service()}, {service()}]",
        "flowbuilder:eks.services[1].name",
        "already used by services[0]",
    ),
    bad(
        "service-duplicate-path",
        f"flowbuilder:eks:\n  services: [{service(gatewayPath='/')}, {service(name='web', gatewayPath='/')}]",
        "flowbuilder:eks.services[1].gatewayPath",
        "already used by services[0]",
    ),
    bad(
        "service-unknown-key",
        f"flowbuilder:eks:\n  services: [{service(replica=2)}]",
        "services[0].replica: unknown key; did you mean 'replicas'?",
    ),
]

CIDRS = [
    bad(
        "vpc-too-wide", "flowbuilder:network:\n  vpcCidr: 10.0.0.0/12", "network.vpcCidr", "/12 is wider", "/16 to /28"
    ),
    bad("vpc-too-narrow", "flowbuilder:network:\n  vpcCidr: 10.0.0.0/29", "network.vpcCidr", "/29 is narrower"),
    bad(
        "vpc-host-bits",
        "flowbuilder:network:\n  vpcCidr: 10.0.1.0/16",
        "network.vpcCidr",
        "host bits set",
        "10.0.0.0/16",
    ),
    bad("vpc-octet", "flowbuilder:network:\n  vpcCidr: 10.256.0.0/16", "network.vpcCidr", "octet 256 is above 255"),
    bad("vpc-not-cidr", "flowbuilder:network:\n  vpcCidr: 10.0.0.0", "network.vpcCidr", "must be an IPv4 CIDR block"),
    bad("vpc-loopback", "flowbuilder:network:\n  vpcCidr: 127.0.0.0/16", "network.vpcCidr", "loopback"),
    bad("vpc-multicast", "flowbuilder:network:\n  vpcCidr: 224.0.0.0/16", "network.vpcCidr", "multicast"),
    bad(
        "subnet-too-narrow",
        "flowbuilder:network:\n  privateSubnetCidrs: [10.0.10.0/29, 10.0.11.0/24]",
        "flowbuilder:network.privateSubnetCidrs[0]",
        "/29 is narrower than AWS allows for a subnet; allowed: /16 to /28",
    ),
    bad(
        "subnet-octet",
        "flowbuilder:network:\n  privateSubnetCidrs: [10.0.10.0/24, 10.0.300.0/24]",
        "flowbuilder:network.privateSubnetCidrs[1]",
        "octet 300",
    ),
    bad(
        "subnet-outside-vpc",
        "flowbuilder:network:\n  privateSubnetCidrs: [10.1.10.0/24, 10.0.11.0/24]",
        "flowbuilder:network.privateSubnetCidrs[0]: 10.1.10.0/24 is outside vpcCidr 10.0.0.0/16",
    ),
    bad(
        "subnet-overlap",
        "flowbuilder:network:\n  databaseSubnetCidrs: [10.0.0.0/23, 10.0.21.0/24]",
        "flowbuilder:network.databaseSubnetCidrs[0]: 10.0.0.0/23 overlaps 10.0.0.0/24 (publicSubnetCidrs[0])",
    ),
    bad(
        "subnet-duplicate",
        "flowbuilder:network:\n  privateSubnetCidrs: [10.0.10.0/24, 10.0.10.0/24]",
        "privateSubnetCidrs[1]",
        "overlaps 10.0.10.0/24 (privateSubnetCidrs[0])",
    ),
    bad(
        "subnet-too-few",
        "flowbuilder:network:\n  publicSubnetCidrs: [10.0.0.0/24]",
        "flowbuilder:network.publicSubnetCidrs: has 1 CIDRs; need one per availability zone (2)",
    ),
    bad(
        "subnet-too-many",
        "flowbuilder:network:\n  publicSubnetCidrs: [" + ", ".join(f"10.0.{i}.0/24" for i in range(7)) + "]",
        "flowbuilder:network.publicSubnetCidrs",
        "allowed: at most 6",
    ),
    bad(
        "zone-id-shape",
        "flowbuilder:network:\n  availabilityZoneIds: [use1-az1, us-east-1b]",
        "flowbuilder:network.availabilityZoneIds[1]",
        "must be an Availability Zone ID: <region-code>-az<N>",
    ),
    bad(
        "zone-id-excluded",
        "flowbuilder:network:\n  availabilityZoneIds: [use1-az1, use1-az3]",
        "flowbuilder:network.availabilityZoneIds[1]",
        "excluded: EKS does not offer it",
    ),
    bad(
        "zone-id-count",
        "flowbuilder:network:\n  availabilityZoneIds: [use1-az1]",
        "flowbuilder:network.availabilityZoneIds: has 1 zone IDs; allowed: exactly availabilityZones (2)",
    ),
    bad(
        "zone-id-duplicate",
        "flowbuilder:network:\n  availabilityZoneIds: [use1-az2, use1-az2]",
        "flowbuilder:network.availabilityZoneIds: names use1-az2 more than once",
    ),
    bad(
        "zone-id-other-region",
        "flowbuilder:network:\n  availabilityZoneIds: [use1-az1, use2-az1]",
        "flowbuilder:network.availabilityZoneIds[1]: use2-az1 is not a zone of us-east-1; allowed: use1-az<N>",
    ),
    bad(
        "alb-subnet-too-small",
        "flowbuilder:network:\n  publicSubnetCidrs: [10.0.0.0/28, 10.0.1.0/24]",
        "flowbuilder:network.publicSubnetCidrs[0]",
        "too small for the load balancer",
        "/16 to /27",
    ),
    bad(
        "eks-open-endpoint",
        "flowbuilder:eks:\n  publicAccessCidrs: [0.0.0.0/0]",
        "flowbuilder:eks.publicAccessCidrs",
        "cover the whole internet",
    ),
    bad(
        "eks-open-in-halves",
        "flowbuilder:eks:\n  publicAccessCidrs: [0.0.0.0/1, 128.0.0.0/1]",
        "flowbuilder:eks.publicAccessCidrs",
        "cover the whole internet",
    ),
    bad(
        "eks-open-in-quarters",
        "flowbuilder:eks:\n  publicAccessCidrs: [0.0.0.0/2, 64.0.0.0/2, 128.0.0.0/2, 192.0.0.0/2]",
        "cover the whole internet",
    ),
    bad("eks-cidr-octet", "flowbuilder:eks:\n  publicAccessCidrs: [203.0.113.300/32]", "publicAccessCidrs[0]", "octet"),
    bad(
        "eks-cidr-host-bits", "flowbuilder:eks:\n  publicAccessCidrs: [203.0.113.7/24]", "publicAccessCidrs[0]", "host"
    ),
    bad("eks-cidr-prefix", "flowbuilder:eks:\n  publicAccessCidrs: [203.0.113.0/33]", "publicAccessCidrs[0]", "/33"),
]

ARNS = [
    bad(
        "cert-wrong-service",
        "flowbuilder:domain:\n  name: api.example.com\n"
        "  certificateArn: arn:aws:iam::123456789012:server-certificate/x",
        "flowbuilder:domain.certificateArn",
        "must be an ARN of acm",
    ),
    bad(
        "cert-wrong-region",
        f"flowbuilder:domain:\n  name: api.example.com\n  certificateArn: {CERT.replace('us-east-1', 'eu-west-1')}",
        "flowbuilder:domain.certificateArn",
        "the certificate is in eu-west-1",
        "stack's region us-east-1",
    ),
    bad(
        "cert-wrong-partition",
        f"flowbuilder:domain:\n  name: api.example.com\n  certificateArn: {CERT.replace('arn:aws:', 'arn:aws-cn:')}",
        "domain.certificateArn",
        "(aws-cn)",
    ),
    bad(
        "cert-bad-partition",
        f"flowbuilder:domain:\n  name: api.example.com\n  certificateArn: {CERT.replace('arn:aws:', 'arn:amazon:')}",
        "domain.certificateArn",
        "not an AWS partition",
    ),
    bad(
        "cert-bad-id",
        "flowbuilder:domain:\n  name: api.example.com\n"
        "  certificateArn: arn:aws:acm:us-east-1:123456789012:certificate/abc",
        "domain.certificateArn",
        "lowercase UUID",
    ),
    bad(
        "cert-no-account",
        "flowbuilder:domain:\n  name: api.example.com\n  certificateArn: arn:aws:acm:us-east-1:1234:certificate/x",
        "domain.certificateArn",
        "12-digit account",
    ),
    bad(
        "secret-partial-arn",
        "flowbuilder:ecs:\n  applicationSecrets:\n    STRIPE_KEY: "
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe",
        "flowbuilder:ecs.applicationSecrets.STRIPE_KEY",
        "complete secret ARN",
    ),
    bad(
        "secret-other-region",
        f"flowbuilder:ecs:\n  applicationSecrets:\n    STRIPE_KEY: {SECRET_ARN.replace('us-east-1', 'eu-west-1')}",
        "flowbuilder:ecs.applicationSecrets.STRIPE_KEY",
        "the secret is in eu-west-1",
    ),
    bad(
        "secret-stage-and-id",
        f"flowbuilder:ecs:\n  applicationSecrets:\n    STRIPE_KEY: {SECRET_ARN}:key:AWSCURRENT:"
        "0123456789abcdef0123456789abcdef",
        "applicationSecrets.STRIPE_KEY",
        "not both",
    ),
    bad(
        "secret-name-lowercase",
        f"flowbuilder:ecs:\n  applicationSecrets:\n    stripe_key: {SECRET_ARN}",
        "flowbuilder:ecs.applicationSecrets.stripe_key",
        "variable name",
        "capital letters",
    ),
    bad(
        "secret-name-reserved",
        f"flowbuilder:ecs:\n  applicationSecrets:\n    DB_HOST: {SECRET_ARN}",
        "flowbuilder:ecs.applicationSecrets.DB_HOST",
        "the program sets DB_HOST itself",
    ),
    bad(
        "secret-name-queue",
        f"flowbuilder:ecs:\n  applicationSecrets:\n    QUEUE_URL: {SECRET_ARN}",
        "applicationSecrets.QUEUE_URL",
        "the program sets QUEUE_URL",
    ),
    bad(
        "role-is-a-user",
        "flowbuilder:eks:\n  adminRoleArns: [arn:aws:iam::123456789012:user/alice]",
        "flowbuilder:eks.adminRoleArns[0]",
        "must name an IAM role",
    ),
    bad(
        "role-with-region",
        "flowbuilder:eks:\n  adminRoleArns: [arn:aws:iam:us-east-1:123456789012:role/admin]",
        "eks.adminRoleArns[0]",
        "iam ARNs have no region",
    ),
    bad(
        "role-name-long",
        f"flowbuilder:eks:\n  adminRoleArns: [arn:aws:iam::123456789012:role/{'r' * 65}]",
        "eks.adminRoleArns[0]",
        "1-64 letters",
    ),
    bad(
        "role-wrong-partition",
        "flowbuilder:eks:\n  adminRoleArns: [arn:aws-us-gov:iam::123456789012:role/admin]",
        "eks.adminRoleArns[0]",
        "partition aws-us-gov",
    ),
    bad(
        "role-duplicate",
        f"flowbuilder:eks:\n  adminRoleArns: [{ROLE}, {ROLE}]",
        "flowbuilder:eks.adminRoleArns[1]",
        "listed twice",
    ),
    bad(
        "vpc-id",
        "flowbuilder:network:\n  existingVpcId: vpc-123",
        "network.existingVpcId",
        "8 or 17",
        base=dict(ULTRA),
        stack="ultra",
        file="Pulumi.ultra.yaml",
    ),
]

LISTS = [
    bad(
        "rds-class-size", "flowbuilder:database:\n  instanceClass: db.t4g.nano", "instanceClass", "micro, small, medium"
    ),
    bad("rds-class-family", "flowbuilder:database:\n  instanceClass: db.x9.large", "instanceClass", "families"),
    bad("rds-class-prefix", "flowbuilder:database:\n  instanceClass: t4g.micro", "instanceClass", "db.t4g.micro"),
    bad(
        "engine-minor", 'flowbuilder:database:\n  engineVersion: "16.99"', "database.engineVersion", "16 or 16.9-16.12"
    ),
    bad("engine-old", 'flowbuilder:database:\n  engineVersion: "12"', "database.engineVersion", "allowed: 13, 14"),
    bad(
        "engine-past-support",
        'flowbuilder:database:\n  engineVersion: "13"',
        "flowbuilder:database.engineVersion",
        "left RDS standard support on 2026-02-28",
        "extendedSupport: true",
    ),
    bad("nat-not-graviton", "flowbuilder:network:\n  natInstanceType: t3.nano", "natInstanceType", "Graviton"),
    bad("nat-not-ec2", "flowbuilder:network:\n  natInstanceType: t4g.nanoo", "natInstanceType", "allowed t4g sizes"),
    bad(
        "node-type-retired",
        "flowbuilder:eks:\n  nodeInstanceType: t4g.large",
        "flowbuilder:eks.nodeInstanceType: unknown key",
        "eks.systemNodes.instanceType sizes the fixed system nodes",
    ),
    bad(
        "k8s-extended",
        'flowbuilder:eks:\n  kubernetesVersion: "1.29"',
        "flowbuilder:eks.kubernetesVersion",
        "left EKS standard support",
        "allowed: 1.33, 1.34, 1.35",
    ),
    bad("k8s-unknown", 'flowbuilder:eks:\n  kubernetesVersion: "1.99"', "eks.kubernetesVersion", "allowed: 1.33"),
    bad("k8s-number", "flowbuilder:eks:\n  kubernetesVersion: 1.3", "eks.kubernetesVersion", "put it in quotes"),
    bad(
        "spot-types-retired",
        "flowbuilder:eks:\n  spotInstanceTypes: [t4g.medium, c7g.large]",
        "flowbuilder:eks.spotInstanceTypes: unknown key",
        "Karpenter's NodePools (the mesh project) list the instance types",
    ),
    bad("flow-logs", "flowbuilder:network:\n  flowLogTraffic: SOME", "flowLogTraffic", "allowed: ALL, ACCEPT, REJECT"),
    bad("nat-strategy", "flowbuilder:network:\n  natStrategy: nat-gw", "natStrategy", "allowed: none, single-gateway"),
    bad("architecture", "flowbuilder:ecs:\n  architecture: arm64", "ecs.architecture", "allowed: ARM64, X86_64"),
]

SCHEDULES = [
    bad("rate-zero", "flowbuilder:scheduler:\n  scheduleExpression: rate(0 minutes)", "positive whole number"),
    bad("rate-singular", "flowbuilder:scheduler:\n  scheduleExpression: rate(1 minutes)", "must be 'minute'"),
    bad("rate-plural", "flowbuilder:scheduler:\n  scheduleExpression: rate(5 minute)", "must be 'minutes'"),
    bad("rate-weeks", "flowbuilder:scheduler:\n  scheduleExpression: rate(2 weeks)", "allowed: minute(s), hour(s)"),
    bad("rate-words", "flowbuilder:scheduler:\n  scheduleExpression: rate(five minutes)", "positive whole number"),
    bad("cron-five-fields", "flowbuilder:scheduler:\n  scheduleExpression: cron(0 12 * * ?)", "6 fields", "got 5"),
    bad("cron-minute", "flowbuilder:scheduler:\n  scheduleExpression: cron(60 12 * * ? *)", "minutes", "0-59"),
    bad("cron-hour", "flowbuilder:scheduler:\n  scheduleExpression: cron(0 24 * * ? *)", "hours", "0-23"),
    bad("cron-both-days", "flowbuilder:scheduler:\n  scheduleExpression: cron(0 12 * * * *)", "exactly one of"),
    bad("cron-neither-?", "flowbuilder:scheduler:\n  scheduleExpression: cron(0 12 ? * ? *)", "exactly one of"),
    bad("cron-month", "flowbuilder:scheduler:\n  scheduleExpression: cron(0 12 1 13 ? *)", "month", "1-12 or JAN-DEC"),
    bad("cron-weekday", "flowbuilder:scheduler:\n  scheduleExpression: cron(0 12 ? * 8 *)", "day-of-week", "SUN-SAT"),
    bad("cron-year", "flowbuilder:scheduler:\n  scheduleExpression: cron(0 12 * * ? 2200)", "year", "1970-2199"),
    bad("cron-step", "flowbuilder:scheduler:\n  scheduleExpression: cron(*/0 * * * ? *)", "the step after '/'"),
    bad("cron-backwards", "flowbuilder:scheduler:\n  scheduleExpression: cron(0 18-9 * * ? *)", "runs backwards"),
    bad("cron-nth-week", "flowbuilder:scheduler:\n  scheduleExpression: cron(0 9 ? * 2#6 *)", "must be 1-5"),
    bad("at-once", "flowbuilder:scheduler:\n  scheduleExpression: at(2026-01-01T00:00:00)", "at() runs once"),
    bad("at-bad-date", "flowbuilder:scheduler:\n  scheduleExpression: at(2026-13-01T00:00:00)", "yyyy-mm-ddThh:mm:ss"),
    bad("not-an-expression", "flowbuilder:scheduler:\n  scheduleExpression: every 5 minutes", "must be rate("),
]

WINDOWS = [
    bad("backup-hour-25", 'flowbuilder:database:\n  backupWindow: "25:00-26:00"', "backupWindow", "allowed: 00-23"),
    bad("backup-minute-61", 'flowbuilder:database:\n  backupWindow: "03:61-04:30"', "backupWindow", "allowed: 00-59"),
    bad("backup-short", 'flowbuilder:database:\n  backupWindow: "03:00-03:15"', "backupWindow", "at least 30"),
    bad("backup-form", 'flowbuilder:database:\n  backupWindow: "3:00-4:00"', "backupWindow", "hh:mm-hh:mm in UTC"),
    bad("maintenance-caps", 'flowbuilder:database:\n  maintenanceWindow: "Sun:04:00-Sun:05:00"', "lowercase days"),
    bad("maintenance-day", 'flowbuilder:database:\n  maintenanceWindow: "sun:04:00-sut:05:00"', "'sut' is not allowed"),
    bad("maintenance-hour", 'flowbuilder:database:\n  maintenanceWindow: "sun:24:00-mon:01:00"', "00-23"),
    bad("maintenance-short", 'flowbuilder:database:\n  maintenanceWindow: "sun:04:00-sun:04:10"', "lasts 10 minutes"),
    bad(
        "windows-overlap",
        'flowbuilder:database:\n  backupWindow: "04:30-05:30"',
        "flowbuilder:database.backupWindow",
        "overlaps maintenanceWindow sun:04:00-sun:05:00 on sun",
    ),
    bad(
        "windows-overlap-midnight",
        'flowbuilder:database:\n  backupWindow: "23:30-00:30"\n  maintenanceWindow: "mon:00:00-mon:00:45"',
        "database.backupWindow",
        "overlaps maintenanceWindow mon:00:00-mon:00:45",
    ),
    bad(
        "windows-overlap-week-wrap",
        'flowbuilder:database:\n  backupWindow: "23:45-00:30"\n  maintenanceWindow: "sun:23:50-mon:00:40"',
        "database.backupWindow",
        "overlaps",
    ),
]

NAMES = [
    bad("database-name-reserved", "flowbuilder:database:\n  databaseName: select", "databaseName", "reserved word"),
    bad(
        "database-name-digit", 'flowbuilder:database:\n  databaseName: "1db"', "databaseName", "starting with a letter"
    ),
    bad("master-user-long", f"flowbuilder:database:\n  masterUsername: {'u' * 17}", "masterUsername", "at most 16"),
    bad("master-user-app", "flowbuilder:database:\n  masterUsername: flowbuilder_app", "masterUsername", "IAM-auth"),
    bad("master-user-reserved", "flowbuilder:database:\n  masterUsername: user", "masterUsername", "reserved word"),
    bad("cost-center-chars", "flowbuilder:costCenter: 'cc#42'", "flowbuilder:costCenter", "a tag value allows only"),
    bad("cost-center-long", f"flowbuilder:costCenter: {'c' * 300}", "flowbuilder:costCenter", "at most 256"),
    bad(
        "emails-duplicate",
        "flowbuilder:monitoring:\n  alertEmails: [ops@example.com, OPS@example.com]",
        "flowbuilder:monitoring.alertEmails[1]",
        "repeats alertEmails[0]",
    ),
    bad("email-shape", "flowbuilder:monitoring:\n  alertEmails: [ops-at-example.com]", "alertEmails[0]", "e-mail"),
    pytest.param(
        Case(
            expected=("Pulumi.yaml", "name", "lowercase letters", "S3 buckets"),
            project_file="name: Flow_Builder\nruntime: python\n",
            file="Pulumi.yaml",
        ),
        id="project-name-aws",
    ),
    pytest.param(
        Case(
            expected=("Pulumi.yaml", "name", "at most 100 letters, digits, hyphens"),
            project_file="name: flow builder\nruntime: python\n",
            file="Pulumi.yaml",
        ),
        id="project-name-pulumi",
    ),
    pytest.param(
        Case(
            expected=("Pulumi.yaml: invalid project", "name: 'flowbuilder-platform-infrastructure", "at most"),
            project_file="name: flowbuilder-platform-infrastructure\nruntime: python\n",
            base={
                "aws:region": "us-east-1",
                "flowbuilder-platform-infrastructure:environment": "dev",
                "flowbuilder-platform-infrastructure:topology": "standard",
            },
            file="Pulumi.yaml",
        ),
        id="project-name-too-long",
    ),
    pytest.param(
        Case(
            expected=("stack name 'development-eu-west-sandbox'", "alb names would be 43 characters (limit 32)"),
            stack="development-eu-west-sandbox",
            file="Pulumi.development-eu-west-sandbox.yaml",
        ),
        id="stack-name-too-long",
    ),
    pytest.param(
        Case(expected=("stack name 'Dev'", "lowercase letters"), stack="Dev", file="Pulumi.Dev.yaml"),
        id="stack-name-uppercase",
    ),
    pytest.param(
        Case(expected=("stack name 'dev_eu'", "single hyphens"), stack="dev_eu", file="Pulumi.dev_eu.yaml"),
        id="stack-name-underscore",
    ),
    pytest.param(
        Case(expected=("Pulumi.yaml", "name: missing"), project_file="runtime: python\n", file="Pulumi.yaml"),
        id="project-name-missing",
    ),
    pytest.param(
        Case(
            expected=("Pulumi.yaml", "runtime", "must be python"),
            project_file="name: flowbuilder\nruntime: nodejs\n",
            file="Pulumi.yaml",
        ),
        id="project-runtime",
    ),
    pytest.param(
        Case(
            expected=("Pulumi.yaml", "config", "project-level config"),
            project_file="name: flowbuilder\nruntime: python\nconfig:\n  costCenter: {default: x}\n",
            file="Pulumi.yaml",
        ),
        id="project-config",
    ),
    pytest.param(
        Case(
            expected=("Pulumi.yaml", "line 2", "unreadable YAML"),
            project_file="name: [flowbuilder\n",
            file="Pulumi.yaml",
        ),
        id="project-yaml",
    ),
    pytest.param(
        Case(expected=("Pulumi.yaml", "no such file"), project_file=None, file="Pulumi.yaml"), id="no-project"
    ),
]

DIGEST = "sha256:" + "0123456789abcdef" * 4
COMMIT = "4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"
IS_A_DIGEST = "must be an image digest: sha256: and 64 lowercase hexadecimal digits"

IMAGES = [
    bad("images-tag", "flowbuilder:images:\n  api: '4f1c2d9'", "flowbuilder:images.api", IS_A_DIGEST),
    bad("images-latest", "flowbuilder:images:\n  api: latest", "flowbuilder:images.api", IS_A_DIGEST),
    bad(
        "images-repository-and-tag",
        "flowbuilder:images:\n  worker: flowbuilder-dev/worker:4f1c2d9",
        "flowbuilder:images.worker",
        IS_A_DIGEST,
    ),
    bad("images-no-algorithm", f"flowbuilder:images:\n  api: {DIGEST[7:]}", "flowbuilder:images.api", IS_A_DIGEST),
    bad("images-uppercase-hex", f"flowbuilder:images:\n  api: sha256:{'A' * 64}", "images.api", IS_A_DIGEST),
    bad("images-63-digits", f"flowbuilder:images:\n  scheduler: {DIGEST[:-1]}", "images.scheduler", IS_A_DIGEST),
    bad("images-65-digits", f"flowbuilder:images:\n  scheduler: {DIGEST}0", "images.scheduler", "at most 71"),
    bad("images-empty-digest", "flowbuilder:images:\n  api: ''", "flowbuilder:images.api", "must not be empty"),
    bad(
        "images-unknown-name",
        f"flowbuilder:images:\n  migrate: {DIGEST}",
        "flowbuilder:images.migrate: unknown key",
        "allowed keys here: api, scheduler, sourceCommit, worker",
    ),
    bad(
        "images-misspelled-name",
        f"flowbuilder:images:\n  schedular: {DIGEST}",
        "flowbuilder:images.schedular: unknown key; did you mean 'scheduler'?",
    ),
    bad(
        "images-short-commit",
        "flowbuilder:images:\n  sourceCommit: '4f1c2d9'",
        "flowbuilder:images.sourceCommit",
        "a full git commit SHA: 40 lowercase hexadecimal digits",
    ),
    bad(
        "images-uppercase-commit",
        f"flowbuilder:images:\n  sourceCommit: {COMMIT.upper()}",
        "flowbuilder:images.sourceCommit",
        "40 lowercase hexadecimal digits",
    ),
    bad(
        "images-commit-as-number",
        f"flowbuilder:images:\n  sourceCommit: {'1234567890' * 4}",
        "flowbuilder:images.sourceCommit",
        "quote it if it is text",
    ),
    bad("images-a-digest", f"flowbuilder:images: {DIGEST}", "flowbuilder:images", "must be a mapping"),
    bad("images-a-list", f"flowbuilder:images: [{DIGEST}]", "flowbuilder:images", "must be a mapping", "not a list"),
    bad(
        "images-bad-with-released",
        "flowbuilder:images:\n  api: latest",
        "flowbuilder:images.api",
        IS_A_DIGEST,
        argv=("--released",),
    ),
    bad(
        "image-tag-retired",
        "flowbuilder:imageTag: 4f1c2d9",
        "flowbuilder:imageTag: unknown key",
        "replaced by flowbuilder:images",
    ),
    bad(
        "api-certificate-retired",
        f"flowbuilder:api:\n  certificateArn: {CERT}",
        "flowbuilder:api.certificateArn: unknown key",
        "moved to flowbuilder:domain.certificateArn",
    ),
    bad(
        "eks-node-count-retired",
        "flowbuilder:eks:\n  nodeCount: 3",
        "flowbuilder:eks.nodeCount: unknown key",
        "eks.systemNodes.count is the fixed system node count",
    ),
    bad(
        "eks-spot-group-retired",
        "flowbuilder:eks:\n  spotNodeGroup: true",
        "flowbuilder:eks.spotNodeGroup: unknown key",
        "Karpenter's NodePools (the mesh project)",
    ),
    bad(
        "read-replicas-retired",
        "flowbuilder:database:\n  readReplicas: 0",
        "flowbuilder:database.readReplicas: unknown key",
        "RDS does not create read replicas",
    ),
]


def ultra(case_id: str, config: str, *expected: str) -> pytest.param:
    return bad(case_id, config, *expected, base=dict(ULTRA), stack="ultra", file="Pulumi.ultra.yaml")


ZERO_SCALE = "has no effect in the zero-scale topology; it belongs to standard stacks"
STANDARD = "has no effect in the standard topology; it belongs to zero-scale stacks"
TOPOLOGY = [
    # -- a key that acts only in the other topology is refused and sent where it belongs ------
    ultra(
        "zero-scale-nat", "flowbuilder:network:\n  natStrategy: single-gateway", "network.natStrategy: " + ZERO_SCALE
    ),
    ultra(
        "zero-scale-endpoints",
        "flowbuilder:network:\n  interfaceEndpoints: false",
        "flowbuilder:network.interfaceEndpoints: " + ZERO_SCALE,
        "(a zero-scale stack takes here: existingVpcId)",
    ),
    ultra("zero-scale-vpc-cidr", "flowbuilder:network:\n  vpcCidr: 10.1.0.0/16", "network.vpcCidr: " + ZERO_SCALE),
    ultra("zero-scale-mesh", "flowbuilder:eks:\n  enabled: false", "flowbuilder:eks: " + ZERO_SCALE),
    ultra("zero-scale-database", "flowbuilder:database:\n  multiAz: true", "flowbuilder:database: " + ZERO_SCALE),
    ultra("zero-scale-api-count", "flowbuilder:api:\n  desiredCount: 2", "flowbuilder:api.desiredCount: " + ZERO_SCALE),
    ultra("zero-scale-api-cpu", "flowbuilder:api:\n  cpu: 512", "flowbuilder:api.cpu: " + ZERO_SCALE),
    ultra(
        "zero-scale-certificate",
        f"flowbuilder:api:\n  certificateArn: {CERT}",
        "api.certificateArn: unknown key; it moved to flowbuilder:domain.certificateArn",
    ),
    ultra("zero-scale-worker-max", "flowbuilder:worker:\n  maxCount: 50", "flowbuilder:worker.maxCount: " + ZERO_SCALE),
    ultra("zero-scale-spot-weight", "flowbuilder:worker:\n  onDemandWeight: 1", "worker.onDemandWeight: " + ZERO_SCALE),
    ultra(
        "zero-scale-sampling", "flowbuilder:worker:\n  backlogSampleSeconds: 10", "backlogSampleSeconds: " + ZERO_SCALE
    ),
    ultra("zero-scale-exec", "flowbuilder:ecs:\n  execEnabled: true", "flowbuilder:ecs.execEnabled: " + ZERO_SCALE),
    ultra(
        "zero-scale-app-secrets",
        f"flowbuilder:ecs:\n  applicationSecrets:\n    STRIPE_KEY: {SECRET_ARN}",
        "flowbuilder:ecs.applicationSecrets: " + ZERO_SCALE,
    ),
    ultra(
        "zero-scale-typo-still-a-typo", "flowbuilder:network:\n  existingVpcID: vpc-1", "did you mean 'existingVpcId'?"
    ),
    bad("standard-existing-vpc", "flowbuilder:network:\n  existingVpcId: vpc-0123abcd", "existingVpcId: " + STANDARD),
    bad("standard-throttle", "flowbuilder:api:\n  throttleBurst: 5", "flowbuilder:api.throttleBurst: " + STANDARD),
    bad(
        "standard-concurrency",
        "flowbuilder:api:\n  lambdaReservedConcurrency: 5",
        "api.lambdaReservedConcurrency: " + STANDARD,
        "(a standard stack takes here: ",
    ),
    bad(
        "standard-no-way-out",
        "flowbuilder:network:\n  natStrategy: none\n  interfaceEndpoints: false",
        "flowbuilder:network.natStrategy",
        "no way to ECR",
    ),
    bad(
        "prod-one-api-task",
        "flowbuilder:api:\n  minCount: 1\n  desiredCount: 1",
        "flowbuilder:api.minCount",
        "prod keeps at least 2",
        base=dict(PROD),
        stack="prod",
        file="Pulumi.prod.yaml",
    ),
    # -- combinations that cannot work --------------------------------------------------------
    bad(
        "no-nat-mesh",
        "flowbuilder:network:\n  natStrategy: none\n  interfaceEndpoints: true\nflowbuilder:eks:\n  enabled: true",
        "flowbuilder:network.natStrategy",
        "EKS, STS and EC2 APIs",
        "choose a NAT strategy or set eks.enabled: false",
    ),
    bad(
        "no-nat-exec",
        "flowbuilder:network:\n  natStrategy: none\n  interfaceEndpoints: true",
        "flowbuilder:ecs.execEnabled",
        "ssmmessages",
        "set execEnabled: false or choose a NAT strategy",
    ),
    bad(
        "retention-shorter-than-attempts",
        "flowbuilder:queue:\n  messageRetentionDays: 1\nflowbuilder:worker:\n  maxRunMinutes: 719",
        "flowbuilder:queue.messageRetentionDays",
        "maxReceiveCount (3) x (worker.maxRunMinutes (719) + 1) = 2160 minutes",
        "before its last attempt",
    ),
    ultra(
        "burst-above-concurrency",
        "flowbuilder:api:\n  throttleBurst: 20",
        "flowbuilder:api.throttleBurst",
        "above lambdaReservedConcurrency (10)",
        "allowed: 1 to 10",
    ),
    bad("force-delete-yes", "flowbuilder:ecs:\n  forceDeleteRepositories: yes", "ecs.forceDeleteRepositories", "true"),
]

STAGING = {"aws:region": "us-east-1", "flowbuilder:environment": "staging", "flowbuilder:topology": "standard"}
ZONE = "flowbuilder:domain:\n  name: api.example.com\n  zoneName: example.com"

DOMAIN = [
    bad(
        "domain-name-upper",
        "flowbuilder:domain:\n  name: API.example.com\n  zoneName: example.com",
        "flowbuilder:domain.name",
        "lowercase letters",
    ),
    bad(
        "domain-name-one-label",
        "flowbuilder:domain:\n  name: localhost\n  zoneName: localhost",
        "flowbuilder:domain.name",
        "two or more labels",
    ),
    bad(
        "domain-name-trailing-dot",
        "flowbuilder:domain:\n  name: api.example.com.\n  zoneName: example.com",
        "flowbuilder:domain.name",
        "without a trailing dot",
    ),
    bad(
        "domain-label-long",
        f"flowbuilder:domain:\n  name: {'a' * 64}.example.com\n  zoneName: example.com",
        "flowbuilder:domain.name",
        "1 to 63",
    ),
    bad(
        "domain-zone-id-shape",
        "flowbuilder:domain:\n  name: api.example.com\n  hostedZoneId: z123abc",
        "flowbuilder:domain.hostedZoneId",
        "Z and up to 32 capital letters and digits",
    ),
    bad(
        "domain-zone-id-and-name",
        "flowbuilder:domain:\n  name: api.example.com\n  hostedZoneId: Z0123456789ABC\n  zoneName: example.com",
        "flowbuilder:domain.zoneName",
        "not both",
    ),
    bad(
        "domain-zone-not-parent",
        "flowbuilder:domain:\n  name: api.example.com\n  zoneName: example.org",
        "flowbuilder:domain.zoneName",
        "does not hold 'api.example.com'",
    ),
    bad(
        "domain-zone-suffix-not-label",
        "flowbuilder:domain:\n  name: api.myexample.com\n  zoneName: example.com",
        "flowbuilder:domain.zoneName",
        "does not hold",
    ),
    bad(
        "domain-name-without-zone",
        "flowbuilder:domain:\n  name: api.example.com",
        "flowbuilder:domain.name",
        "hostedZoneId or zoneName",
        "certificateArn",
    ),
    bad(
        "domain-zone-without-name",
        "flowbuilder:domain:\n  zoneName: example.com",
        "flowbuilder:domain.zoneName",
        "needs domain.name",
    ),
    bad("domain-hsts-short", f"{ZONE}\n  hstsMaxAgeSeconds: 60", "flowbuilder:domain.hstsMaxAgeSeconds", "300"),
    bad(
        "domain-hsts-long",
        f"{ZONE}\n  hstsMaxAgeSeconds: 94608000",
        "flowbuilder:domain.hstsMaxAgeSeconds",
        "63072000",
    ),
    bad(
        "domain-tls-policy-old",
        f"{ZONE}\n  tlsPolicy: ELBSecurityPolicy-2016-08",
        "flowbuilder:domain.tlsPolicy",
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
    ),
    bad(
        "domain-unknown-key",
        f"{ZONE}\n  hostedZone: Z0123456789ABC",
        "flowbuilder:domain.hostedZone: unknown key",
        "hostedZoneId",
    ),
    bad(
        "waf-rate-low",
        "flowbuilder:waf:\n  rateLimitPer5Minutes: 5",
        "flowbuilder:waf.rateLimitPer5Minutes",
        "10",
        "2000000000",
    ),
    bad(
        "waf-rate-high",
        "flowbuilder:waf:\n  rateLimitPer5Minutes: 3000000000",
        "flowbuilder:waf.rateLimitPer5Minutes",
        "2000000000",
    ),
    bad("waf-enabled-text", "flowbuilder:waf:\n  enabled: 'yes'", "flowbuilder:waf.enabled", "true or false"),
    bad(
        "staging-without-https",
        "",
        "flowbuilder:domain.name",
        "staging serves HTTPS only",
        base=dict(STAGING),
        stack="staging",
        file="Pulumi.staging.yaml",
    ),
    bad(
        "prod-without-https",
        "",
        "flowbuilder:domain.name",
        "prod serves HTTPS only",
        base=dict(PROD),
        stack="prod",
        file="Pulumi.prod.yaml",
    ),
    bad(
        "zero-scale-waf",
        "flowbuilder:waf:\n  enabled: true",
        "flowbuilder:waf: ",
        ZERO_SCALE,
        base=dict(ULTRA),
        stack="ultra",
        file="Pulumi.ultra.yaml",
    ),
]

UPLOADS_EMAIL = [
    bad(
        "uploads-origin-http",
        "flowbuilder:uploads:\n  corsOrigins: [http://app.example.com]",
        "uploads.corsOrigins[0]",
        "https origin",
    ),
    bad(
        "uploads-origin-path",
        "flowbuilder:uploads:\n  corsOrigins: [https://app.example.com/]",
        "uploads.corsOrigins[0]",
        "no path",
    ),
    bad(
        "uploads-origin-port",
        "flowbuilder:uploads:\n  corsOrigins: ['https://app.example.com:70000']",
        "uploads.corsOrigins[0]",
        "port above 65535",
    ),
    bad(
        "uploads-origin-twice",
        "flowbuilder:uploads:\n  corsOrigins: [https://a.example.com, https://a.example.com]",
        "uploads.corsOrigins[1]",
        "listed twice",
    ),
    bad("uploads-prefix-slash", "flowbuilder:uploads:\n  prefix: uploads", "uploads.prefix", "each ending in '/'"),
    bad("uploads-prefix-star", "flowbuilder:uploads:\n  prefix: 'up*/'", "uploads.prefix", "S3 key prefix"),
    bad(
        "uploads-tier",
        "flowbuilder:uploads:\n  transitionStorageClass: GLACIER",
        "uploads.transitionStorageClass",
        "INTELLIGENT_TIERING",
    ),
    bad(
        "uploads-ia-too-soon",
        "flowbuilder:uploads:\n  transitionStorageClass: STANDARD_IA\n  transitionAfterDays: 7",
        "uploads.transitionAfterDays",
        "30 or more",
    ),
    bad(
        "uploads-noncurrent-0",
        "flowbuilder:uploads:\n  noncurrentExpiryDays: 0",
        "uploads.noncurrentExpiryDays",
        "1 to 36500 days",
    ),
    bad("uploads-versioning-text", "flowbuilder:uploads:\n  versioning: 'yes'", "uploads.versioning", "true or false"),
    bad(
        "cdn-price-class",
        "flowbuilder:uploads:\n  cdn: {enabled: true, priceClass: PriceClass_300}",
        "uploads.cdn.priceClass",
        "PriceClass_100",
    ),
    bad(
        "cdn-alias-alone",
        "flowbuilder:uploads:\n  cdn: {enabled: true, alias: media.example.com}",
        "uploads.cdn.certificateArn",
        "go together",
    ),
    bad(
        "cdn-certificate-region",
        "flowbuilder:uploads:\n  cdn: {enabled: true, alias: media.example.com, "
        "certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b'}",
        "uploads.cdn.certificateArn",
        "us-east-1 only",
    ),
    bad("email-no-domain", "flowbuilder:email:\n  enabled: true", "email.domain", "required when email.enabled"),
    bad(
        "email-domain-shape",
        "flowbuilder:email:\n  enabled: true\n  domain: Example.COM.",
        "email.domain",
        "domain name",
    ),
    bad(
        "email-mail-from",
        "flowbuilder:email:\n  mailFromSubdomain: mail.out",
        "email.mailFromSubdomain",
        "one DNS label",
    ),
    bad("email-zone", "flowbuilder:email:\n  hostedZoneId: zone-1", "email.hostedZoneId", "hosted zone id"),
    bad("email-dmarc", "flowbuilder:email:\n  dmarcPolicy: strict", "email.dmarcPolicy", "quarantine"),
    bad(
        "email-webhook-http",
        "flowbuilder:email:\n  webhookUrl: http://api.example.com/ses",
        "email.webhookUrl",
        "https URL",
    ),
    bad("email-report-address", "flowbuilder:email:\n  dmarcReportEmail: reports", "email.dmarcReportEmail", "@"),
    bad(
        "ecs-secret-uploads-name",
        f"flowbuilder:ecs:\n  applicationSecrets:\n    UPLOADS_KEY: {SECRET_ARN}",
        "applicationSecrets",
        "UPLOADS_*",
    ),
]

CACHE_AND_BACKUPS = [
    bad("cache-mode", "flowbuilder:cache:\n  mode: redis", "flowbuilder:cache.mode", "allowed: serverless, node"),
    bad("cache-node-type", "flowbuilder:cache:\n  nodeType: t4g.micro", "cache.nodeType", "cache.t4g.micro"),
    bad("cache-nodes", "flowbuilder:cache:\n  nodeCount: 7", "flowbuilder:cache.nodeCount", "1 to 6 nodes"),
    bad("cache-storage", "flowbuilder:cache:\n  maxDataStorageGb: 6000", "cache.maxDataStorageGb", "1 to 5000 GB"),
    bad("cache-snapshot-days", "flowbuilder:cache:\n  snapshotRetentionDays: 36", "snapshotRetentionDays", "0 to 35"),
    bad("cache-snapshot-time", 'flowbuilder:cache:\n  snapshotTime: "25:00"', "cache.snapshotTime", "HH:MM"),
    bad(
        "zero-scale-cache",
        "flowbuilder:cache:\n  enabled: true",
        "flowbuilder:cache: ",
        ZERO_SCALE,
        base=dict(ULTRA),
        stack="ultra",
        file="Pulumi.ultra.yaml",
    ),
    bad(
        "zero-scale-backups",
        "flowbuilder:backups:\n  enabled: true",
        "flowbuilder:backups: ",
        ZERO_SCALE,
        base=dict(ULTRA),
        stack="ultra",
        file="Pulumi.ultra.yaml",
    ),
    bad(
        "backups-same-region",
        "flowbuilder:backups:\n  copyRegion: us-east-1",
        "flowbuilder:backups.copyRegion",
        "the stack's own region",
        base=dict(PROD),
        stack="prod",
        file="Pulumi.prod.yaml",
    ),
    bad("backups-region", "flowbuilder:backups:\n  copyRegion: mars-1", "flowbuilder:backups.copyRegion", "not an AWS"),
    bad(
        "vault-lock-range",
        "flowbuilder:backups:\n  vaultLock: {enabled: true, minRetentionDays: 60, maxRetentionDays: 30}",
        "flowbuilder:backups.vaultLock.maxRetentionDays",
        "below minRetentionDays",
    ),
    bad(
        "vault-lock-grace",
        "flowbuilder:backups:\n  vaultLock: {changeableForDays: 1}",
        "backups.vaultLock.changeableForDays",
        "3 to 36500 days",
    ),
    bad(
        "vault-lock-refuses-retention",
        "flowbuilder:backups:\n  vaultLock: {enabled: true, minRetentionDays: 7, maxRetentionDays: 60}",
        "flowbuilder:backups.weeklyRetentionDays",
        "outside vaultLock's 7 to 60 days",
        base=dict(PROD),
        stack="prod",
        file="Pulumi.prod.yaml",
    ),
]

COMMAND_LINE = [
    bad_cli("job-minutes-negative", ("--job-minutes", "-5"), "--job-minutes", "allowed: above 0 up to 719"),
    bad_cli("job-minutes-nan", ("--job-minutes", "nan"), "--job-minutes", "allowed: above 0"),
    bad_cli("job-minutes-inf", ("--job-minutes", "inf"), "--job-minutes", "allowed: above 0"),
    bad_cli("job-minutes-zero", ("--job-minutes", "0"), "--job-minutes", "allowed: above 0"),
    bad_cli("job-minutes-long", ("--job-minutes", "10000"), "--job-minutes", "up to 719"),
    bad_cli("job-minutes-text", ("--job-minutes", "ten"), "--job-minutes", "not a number of minutes"),
    bad_cli("format", ("--format", "yaml"), "--format", "choose from 'json', 'markdown', 'text'"),
    bad_cli("unknown-flag", ("--colour",), "unrecognized arguments: --colour"),
    bad_cli("compare-unknown", ("--compare", "qa"), "--compare 'qa'", "stacks there", "dev"),
    bad_cli("compare-itself", ("--compare", "dev"), "--compare dev", "another stack"),
    bad_cli("released-with-a-value", ("--released=yes",), "--released", "ignored explicit argument 'yes'"),
    bad_cli("image-tag-retired", ("--image-tag", "4f1c2d9"), "unrecognized arguments: --image-tag"),
]


@pytest.mark.parametrize(
    "case",
    FILES
    + NAMESPACES
    + SECRETS
    + BOUNDS
    + SERVICES
    + CIDRS
    + ARNS
    + LISTS
    + SCHEDULES
    + WINDOWS
    + NAMES
    + IMAGES
    + TOPOLOGY
    + DOMAIN
    + UPLOADS_EMAIL
    + CACHE_AND_BACKUPS,
)
def test_bad_stack_file_is_refused_with_file_key_and_what_is_allowed(case: Case, tmp_path, capsys):
    write_project(tmp_path, case)
    assert cli.main(["-C", str(tmp_path), case.stack, *case.argv]) == 2
    out, err = capsys.readouterr()
    assert out == "", "nothing is reported as previewed"
    assert err.startswith("error: ") or err.startswith("usage: ")
    assert "Traceback" not in err
    assert case.file in err
    for expected in case.expected:
        assert expected in err, f"{expected!r} not in:\n{err}"
    if case.secret:
        assert case.secret not in out + err


@pytest.mark.parametrize("case", COMMAND_LINE)
def test_bad_command_line_is_refused_before_anything_runs(case: Case, tmp_path, capsys, monkeypatch):
    write_project(tmp_path, case)
    (tmp_path / "Pulumi.prod.yaml").write_text((tmp_path / "Pulumi.dev.yaml").read_text())
    monkeypatch.setattr(cli, "run_stack", lambda *a, **k: pytest.fail("the program ran despite a bad command line"))
    assert cli.main(["-C", str(tmp_path), case.stack, *case.argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.startswith("usage: python -m preview")
    for expected in case.expected:
        assert expected in err, f"{expected!r} not in:\n{err}"


def test_an_unknown_stack_lists_the_stack_files_present(tmp_path, capsys):
    (tmp_path / "Pulumi.yaml").write_text(PROJECT_FILE)
    for stack in ("alpha", "beta"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    (tmp_path / "Pulumi.gamma.yaml").mkdir()
    assert cli.main(["-C", str(tmp_path), "prod"]) == 2
    err = capsys.readouterr().err
    assert "STACK 'prod': there is no Pulumi.prod.yaml" in err
    assert "stacks there (from the Pulumi.<stack>.yaml files): alpha, beta" in err


def test_the_default_directory_lists_the_committed_stacks(capsys):
    assert cli.main(["qa"]) == 2
    assert "stacks there (from the Pulumi.<stack>.yaml files): dev, prod, staging, ultra" in capsys.readouterr().err


@pytest.mark.parametrize(("problem", "expected"), [("missing", "no such directory"), ("file", "is a file")])
def test_directory_must_be_a_project(problem, expected, tmp_path, capsys):
    target = tmp_path / "nowhere"
    if problem == "file":
        target.write_text("")
    assert cli.main(["-C", str(target), "dev"]) == 2
    assert f"-C {target}: {expected}" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["directory", "trailing-slash", "under-a-file", "unwritable"])
def test_diagram_path_that_cannot_be_written_is_refused_before_the_run(kind, tmp_path, capsys, monkeypatch):
    write_project(tmp_path, Case(expected=()))
    monkeypatch.setattr(cli, "run_stack", lambda *a, **k: pytest.fail("the program ran despite a bad --diagram"))
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    target, expected = {
        "directory": (str(tmp_path), "is a directory"),
        "trailing-slash": (str(tmp_path / "new") + "/", "is a directory"),
        "under-a-file": (str(blocker / "d.mmd"), f"{blocker} is a file"),
        "unwritable": (str(locked / "d.mmd"), "is not writable"),
    }[kind]
    if kind == "unwritable" and __import__("os").access(locked, __import__("os").W_OK):
        pytest.skip("running as a user who can write anywhere")
    assert cli.main(["-C", str(tmp_path), "dev", "--diagram", target]) == 2
    err = capsys.readouterr().err
    assert f"--diagram {target}" in err and expected in err


def test_nothing_is_written_when_the_configuration_is_refused(tmp_path, capsys):
    write_project(tmp_path, Case(expected=(), config="flowbuilder:network:\n  vpcCidr: 10.0.0.0/8"))
    target = tmp_path / "out" / "dev.mmd"
    assert cli.main(["-C", str(tmp_path), "dev", "--diagram", str(target)]) == 2
    assert not target.exists() and not target.parent.exists()
    assert "flowbuilder:network.vpcCidr" in capsys.readouterr().err


def test_every_problem_of_a_file_is_reported_at_once(tmp_path, capsys):
    write_project(
        tmp_path,
        Case(
            expected=(),
            config="flowbuiler:x: 1\naws:profile: p\nflowbuilder:api:\n  maxCount: 0\nflowbuilder:queue:\n"
            "  maxReceiveCount: 0",
        ),
    )
    assert cli.main(["-C", str(tmp_path), "dev"]) == 2
    err = capsys.readouterr().err
    for key in ("flowbuiler:x", "aws:profile", "flowbuilder:api.maxCount", "flowbuilder:queue.maxReceiveCount"):
        assert f"  - {key}: " in err


# -- as a process: exit code and no traceback from the real entry point -------------------------
@pytest.mark.parametrize(
    ("text", "argv", "expected"),
    [
        ("config:\n\taws:region: us-east-1\n", (), "a tab"),
        ("config:\n  aws:region: us-east-1\n  flowbuilder:environment: {name: dev}\n", (), "flowbuilder:environment"),
        ("config: {}\n", ("--job-minutes", "nan"), "--job-minutes"),
    ],
    ids=["yaml", "config", "flag"],
)
def test_the_process_exits_2_without_a_traceback(text, argv, expected, tmp_path):
    (tmp_path / "Pulumi.yaml").write_text(PROJECT_FILE)
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "preview", "-C", str(tmp_path), "dev", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr and result.stdout == ""


# -- valid stacks are unaffected ----------------------------------------------------------------
def test_a_committed_stack_previews_the_same_from_another_directory(tmp_path, capsys):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(ROOT / "Pulumi.dev.yaml", tmp_path / "Pulumi.dev.yaml")
    assert cli.main(["dev", "--format", "json"]) == 0
    here = capsys.readouterr().out
    assert cli.main(["-C", str(tmp_path), "dev", "--format", "json"]) == 0
    # The output is in a canonical order: the same bytes, whatever directory the files came from.
    assert capsys.readouterr().out == here


def test_more_zones_than_the_mocks_used_to_offer_preview_cleanly(tmp_path, capsys):
    """us-east-1 has six zones: four AZs is valid, and the preview must not trip over made-up zones."""
    write_project(
        tmp_path,
        Case(
            expected=(),
            config="flowbuilder:network:\n  availabilityZones: 4\n  natStrategy: gateway-per-az",
        ),
    )
    assert cli.main(["-C", str(tmp_path), "dev", "--format", "json"]) in (0, 1)
    out = capsys.readouterr().out
    # The fourth-lowest usable zone ID of the mocks' account (use1-az3 is skipped).
    assert '"use1-az5"' in out
