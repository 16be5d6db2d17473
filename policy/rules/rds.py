"""RDS: encryption, no public access, backups, prod resilience, IAM auth, log exports, managed password."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from ._support import Subject, number, resource_rule
from .exceptions import excepted

INSTANCE = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
DATABASES = (INSTANCE,)

# The log each engine writes its errors and slow statements to.
ENGINE_LOGS = {"postgres": "postgresql", "mysql": "error"}
MIN_BACKUP_DAYS_OUTSIDE_DEV = 7


def _days(count: float) -> str:
    return f"{count:g} day" if count == 1 else f"{count:g} days"


def _replica(db: Subject) -> bool:
    return bool(db.get("replicateSourceDb"))


def _storage_encrypted(db: Subject) -> Iterator[str]:
    encrypted = db.get("storageEncrypted")
    # A replica left unset inherits its source's encryption.
    if encrypted is True or (encrypted is None and _replica(db)):
        return
    yield f"storageEncrypted is {encrypted!r}; set it to true (it cannot be turned on later without a restore)"


def _not_public(db: Subject) -> Iterator[str]:
    if db.get("publiclyAccessible") is True:
        yield "publiclyAccessible is true; the database must only be reachable inside the VPC"


def _backups(db: Subject) -> Iterator[str]:
    if _replica(db):
        return
    days = number(db.get("backupRetentionPeriod"))
    minimum = 1 if excepted("dev-backups-one-day", db.facts) else MIN_BACKUP_DAYS_OUTSIDE_DEV
    if days is None or days < minimum:
        shown = "unset" if days is None else _days(days)
        yield f"backupRetentionPeriod is {shown}; {db.facts.describe()} needs at least {_days(minimum)}"


def _prod_resilience(db: Subject) -> Iterator[str]:
    if excepted("rds-resilience-outside-prod", db.facts):
        return
    if db.get("deletionProtection") is not True:
        yield "deletionProtection must be true in prod"
    if db.get("skipFinalSnapshot") is True:
        yield "skipFinalSnapshot is true; a prod database must leave a final snapshot when deleted"
    if not _replica(db) and db.get("multiAz") is not True:
        yield "multiAz must be true in prod (a single-AZ primary is down for the whole of an AZ outage)"


def _iam_auth(db: Subject) -> Iterator[str]:
    if db.get("iamDatabaseAuthenticationEnabled") is not True:
        yield "iamDatabaseAuthenticationEnabled must be true so clients can use short-lived IAM tokens"


def _log_exports(db: Subject) -> Iterator[str]:
    exports = db.get("enabledCloudwatchLogsExports", default=[])
    needed = ENGINE_LOGS.get(str(db.get("engine", default="")))
    if not exports:
        yield f"enabledCloudwatchLogsExports is empty; export the engine log ({needed or 'error'}) to CloudWatch"
    elif needed and needed not in exports:
        yield f"enabledCloudwatchLogsExports {exports} lacks {needed!r}"


def _managed_password(db: Subject) -> Iterator[str]:
    if _replica(db) or db.get("snapshotIdentifier"):
        return
    given = [key for key in ("password", "passwordWo") if db.get(key)]
    if given:
        yield f"{', '.join(given)} is set; the master password must not be an input (it lands in state and config)"
    if db.get("manageMasterUserPassword") is not True:
        yield "manageMasterUserPassword must be true so RDS keeps and rotates the password in Secrets Manager"


def _force_tls(group: Subject) -> Iterator[str]:
    family = str(group.get("family", default=""))
    if "postgres" not in family:
        return
    parameters = {
        p.get("name"): str(p.get("value")) for p in group.get("parameters", default=[]) if isinstance(p, dict)
    }
    if parameters.get("rds.force_ssl") != "1":
        yield (
            f"rds.force_ssl is {parameters.get('rds.force_ssl', 'unset')}; set it to 1 "
            f"so no client connects in clear text"
        )


def _performance_insights(db: Subject) -> Iterator[str]:
    if not excepted("performance-insights-outside-prod", db.facts) and db.get("performanceInsightsEnabled") is not True:
        yield "Performance Insights is off in prod; its 7-day tier is free and answers 'why is it slow'"


POLICIES = [
    resource_rule(
        "rds-storage-encrypted",
        "RDS storage must be encrypted at rest.",
        DATABASES,
        _storage_encrypted,
        mandatory=True,
        remediation="Set storage_encrypted=True (default KMS key or a customer key).",
        tags=["rds"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "rds-not-public",
        "RDS instances must not be publicly accessible.",
        (INSTANCE,),
        _not_public,
        mandatory=True,
        remediation="Set publicly_accessible=False and keep the instance in the database subnets.",
        tags=["rds"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "rds-backup-retention",
        "RDS automated backups must be kept at least 7 days outside dev (at least 1 day in dev).",
        DATABASES,
        _backups,
        mandatory=True,
        remediation="Raise database.backupRetentionDays in the stack file.",
        tags=["rds"],
    ),
    resource_rule(
        "rds-prod-resilience",
        "Prod databases must be Multi-AZ, deletion-protected and leave a final snapshot.",
        DATABASES,
        _prod_resilience,
        mandatory=True,
        remediation=(
            "Set database.multiAz and database.deletionProtection to true for prod; never skip the final snapshot."
        ),
        tags=["rds"],
    ),
    resource_rule(
        "rds-iam-authentication",
        "RDS must have IAM database authentication enabled.",
        DATABASES,
        _iam_auth,
        mandatory=True,
        remediation="Set iam_database_authentication_enabled=True.",
        tags=["rds", "iam"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "rds-log-exports",
        "RDS must export its engine log to CloudWatch Logs.",
        DATABASES,
        _log_exports,
        mandatory=True,
        remediation="Set enabled_cloudwatch_logs_exports (PostgreSQL: postgresql and upgrade).",
        tags=["rds", "logging"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "rds-managed-master-password",
        "The RDS master password must be managed by RDS in Secrets Manager, never passed as an input.",
        DATABASES,
        _managed_password,
        mandatory=True,
        remediation="Set manage_master_user_password=True and remove password.",
        tags=["rds", "secrets"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "rds-force-tls",
        "PostgreSQL parameter groups should force TLS (rds.force_ssl = 1).",
        (PARAMETER_GROUP,),
        _force_tls,
        mandatory=False,
        remediation="Add the parameter rds.force_ssl = 1 (the default from PostgreSQL 15, explicit is safer).",
        tags=["rds", "tls"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "rds-performance-insights-prod",
        "Prod RDS instances should have Performance Insights on.",
        (INSTANCE,),
        _performance_insights,
        mandatory=False,
        remediation="Set database.performanceInsights: true for the prod stack.",
        tags=["rds", "observability"],
        severity=Severity.LOW,
    ),
]
