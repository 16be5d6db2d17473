"""Database: the standard topology's RDS PostgreSQL and the managed secret its clients read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig.model import DatabaseConfig

from ..constants import POSTGRES_PORT
from ..context import StackContext
from ..iam import role_policy, service_role, statement
from ..logs import log_group
from ..watch import Alarm, Graph, Metric, MissingData, Severity, Watch
from .connection import (
    APPLICATION_DB_USER,
    APPLICATION_ROLE_SQL,
    SECRET_KIND_RDS_MASTER,
    ContainerSecret,
    DatabaseConnection,
)

LOG_EXPORTS = ("postgresql", "upgrade")
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
"""The free retention tier."""
CPU_PERCENT = 80
FREE_STORAGE_FRACTION = 0.10
FREEABLE_MEMORY_BYTES = 64 * 1024**2
GIB = 1024**3


def free_storage_threshold_bytes(allocated_storage_gb: int) -> float:
    """10% of the configured allocation in bytes (RDS sizes storage in GiB)."""
    return allocated_storage_gb * GIB * FREE_STORAGE_FRACTION


@dataclass
class DatabaseArgs:
    """Inputs of :class:`Database`: its settings and Networking's DB subnet group and database group."""

    context: StackContext
    database: DatabaseConfig
    subnet_group_name: pulumi.Input[str]
    security_group_id: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the instance beyond the provider's defaults: ``backup-plan`` selects it into Backups' plan."""


class Database(pulumi.ComponentResource):
    """The platform's PostgreSQL in a standard stack, and the one secret its clients read.

    Creates:

    * a primary RDS PostgreSQL instance named ``<prefix>-postgres``: engine
      ``database.engineVersion`` (default 16, minor upgrades automatic), ``database.instanceClass``
      (dev db.t4g.micro, staging db.t4g.small, prod db.t4g.medium), gp3 storage of
      ``allocatedStorageGb`` (20 / 50 / 100 GB) autoscaling up to ``maxAllocatedStorageGb``
      (100 / 200 / 500 GB), encrypted with the stack key, in the database subnets, not publicly accessible, behind
      Networking's database security group;
    * its master password generated and rotated by RDS in Secrets Manager, encrypted with the stack
      key (``manage_master_user_password``); no password is ever a config value or an input;
    * IAM database authentication, copy of tags to snapshots, backups kept
      ``backupRetentionDays`` (1 / 7 / 30) in ``backupWindow`` (03:00-04:00 UTC), maintenance in
      ``maintenanceWindow`` (sun:04:00-sun:05:00 UTC), Multi-AZ where ``multiAz`` (prod); changes
      applied during ``pulumi up`` unless ``applyImmediately`` is off (prod: maintenance window);
    * a parameter group that forces TLS (``rds.force_ssl = 1``) and logs statements slower than
      ``slowStatementMs`` (500 ms);
    * the ``postgresql`` and ``upgrade`` log exports, into log groups created first so they keep
      ``logRetentionDays`` instead of growing forever;
    * where ``deletionProtection`` (prod): RDS deletion protection and Pulumi ``protect``; where
      ``finalSnapshot`` (prod): a final snapshot ``<prefix>-postgres-final`` and automated backups
      kept after deletion; otherwise both are off and the final snapshot is skipped;
    * where ``performanceInsights`` (prod): Performance Insights kept 7 days under the stack key; where
      ``enhancedMonitoringSeconds`` > 0 (prod: 60): enhanced monitoring and its IAM role.

    No read replica: RDS refuses one for a source whose master password it manages
    (docs/database.md, "Read path").

    ``watch``: CPU above 80 % for 10 minutes, free storage under 10 % of ``allocatedStorageGb``,
    freeable memory under 64 MiB for 10 minutes; CPU, connections, storage and memory graphs.
    """

    connection: DatabaseConnection
    """How the applications connect: IAM authentication as ``flowbuilder_app``, no password."""
    admin_connection: DatabaseConnection
    """How the migration task connects: the master user, its password from the managed secret."""
    application_user_arn: pulumi.Output[str]
    """``arn:<partition>:rds-db:<region>:<account>:dbuser:<DbiResourceId>/flowbuilder_app``."""
    endpoint: pulumi.Output[str]
    """DNS name of the primary, without the port."""
    port: pulumi.Output[int]
    database_name: str
    instance_identifier: pulumi.Output[str]
    """The primary's ``DBInstanceIdentifier`` (CloudWatch dimension)."""
    watch: Watch

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Database", name, None, opts)
        self._name = name
        self._context = args.context
        database = args.database
        major = database.engine_version.split(".")[0]
        parameters = aws.rds.ParameterGroup(
            f"{name}-postgres",
            family=f"postgres{major}",
            description=f"{name} PostgreSQL {major}: TLS only, slow statements logged",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(
                    name="log_min_duration_statement", value=str(database.slow_statement_ms)
                ),
            ],
            opts=self._child(),
        )
        monitoring_role = self._monitoring_role() if database.enhanced_monitoring_seconds else None

        identifier = args.context.name("rds-identifier", "postgres")
        # RDS creates its export log groups with no expiry when they do not exist yet.
        log_groups = [
            log_group(
                f"{name}-postgres-{export}-logs",
                f"/aws/rds/instance/{identifier}/{export}",
                args.context,
                self._child(),
            )
            for export in LOG_EXPORTS
        ]
        primary = aws.rds.Instance(
            f"{name}-postgres",
            identifier=identifier,
            engine="postgres",
            engine_version=database.engine_version,
            engine_lifecycle_support=(
                "open-source-rds-extended-support"
                if database.extended_support
                else "open-source-rds-extended-support-disabled"
            ),
            instance_class=database.instance_class,
            db_name=database.database_name,
            username=database.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.context.stack_key.arn,
            iam_database_authentication_enabled=True,
            port=POSTGRES_PORT,
            db_subnet_group_name=args.subnet_group_name,
            vpc_security_group_ids=[args.security_group_id],
            publicly_accessible=False,
            parameter_group_name=parameters.name,
            allocated_storage=database.allocated_storage_gb,
            max_allocated_storage=database.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.context.stack_key.arn,
            multi_az=database.multi_az,
            backup_retention_period=database.backup_retention_days,
            backup_window=database.backup_window,
            maintenance_window=database.maintenance_window,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            # engineVersion is the only way the major version changes, so a change there is meant.
            allow_major_version_upgrade=True,
            apply_immediately=database.apply_immediately,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            performance_insights_enabled=database.performance_insights,
            performance_insights_retention_period=(
                PERFORMANCE_INSIGHTS_RETENTION_DAYS if database.performance_insights else None
            ),
            performance_insights_kms_key_id=args.context.stack_key.arn if database.performance_insights else None,
            monitoring_interval=database.enhanced_monitoring_seconds,
            monitoring_role_arn=monitoring_role.arn if monitoring_role else None,
            deletion_protection=database.deletion_protection,
            skip_final_snapshot=not database.final_snapshot,
            final_snapshot_identifier=f"{identifier}-final" if database.final_snapshot else None,
            delete_automated_backups=not database.final_snapshot,
            tags=dict(args.tags) or None,
            opts=self._child(protect=database.deletion_protection, depends_on=log_groups),
        )

        secret_arn: pulumi.Output[str] = primary.master_user_secrets.apply(lambda secrets: str(secrets[0].secret_arn))
        self.endpoint = primary.address
        self.port = primary.port
        self.database_name = database.database_name
        self.instance_identifier = primary.identifier
        self.watch = database_watch(primary.identifier, database.allocated_storage_gb)
        settings = {
            "DB_HOST": primary.address,
            "DB_PORT": primary.port.apply(str),
            "DB_NAME": database.database_name,
            "DB_SSLMODE": "require",
        }
        # The master secret rotates every 7 days and ECS reads it only at task start, so the
        # applications never use it: they sign a 15-minute IAM token for every new connection.
        self.application_user_arn = pulumi.Output.concat(
            f"arn:{args.context.account.partition}:rds-db:{args.context.region}:{args.context.account.account}:dbuser:",
            primary.resource_id,
            f"/{APPLICATION_DB_USER}",
        )
        self.connection = DatabaseConnection(
            secret_arn=secret_arn,
            secret_kind=SECRET_KIND_RDS_MASTER,
            environment={**settings, "DB_USER": APPLICATION_DB_USER, "DB_IAM_AUTH": "true"},
            container_secrets=(),
            grants=(statement(["rds-db:connect"], [self.application_user_arn], sid="ConnectAsApplicationUser"),),
        )
        # Only the migration task logs in as the master user; it starts, migrates and stops within
        # minutes of ECS reading the secret, and may re-read it if a rotation happened meanwhile.
        self.admin_connection = DatabaseConnection(
            secret_arn=secret_arn,
            secret_kind=SECRET_KIND_RDS_MASTER,
            environment={
                **settings,
                "DB_SECRET_ARN": secret_arn,
                "DB_SECRET_KIND": SECRET_KIND_RDS_MASTER,
                "DB_APP_USER": APPLICATION_DB_USER,
                "DB_APP_ROLE_SQL": APPLICATION_ROLE_SQL,
            },
            # ECS extracts one JSON key per variable: <secret-arn>:<json-key>::
            container_secrets=tuple(
                ContainerSecret(variable, pulumi.Output.concat(secret_arn, f":{key}::"))
                for variable, key in (("DB_USERNAME", "username"), ("DB_PASSWORD", "password"))
            ),
            grants=(statement(["secretsmanager:GetSecretValue"], [secret_arn], sid="ReadMasterSecret"),),
        )
        self.register_outputs(
            {
                "secret_arn": secret_arn,
                "endpoint": self.endpoint,
                "port": self.port,
                "database_name": self.database_name,
                "instance_identifier": self.instance_identifier,
                "application_user_arn": self.application_user_arn,
            }
        )

    def _child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)

    def _monitoring_role(self) -> aws.iam.Role:
        account = self._context.account
        role = service_role(
            f"{self._name}-rds-monitoring",
            self._context,
            "monitoring.rds.amazonaws.com",
            "Lets RDS enhanced monitoring publish OS metrics to CloudWatch Logs",
            self._child(),
        )
        # The statements of AWS's AmazonRDSEnhancedMonitoringRole (log groups RDS*), in this
        # account and region: RDS creates RDSOSMetrics itself on first delivery and sets its
        # retention, and IAM matches CreateLogGroup against the group's ARN with and without ":*".
        role_policy(
            f"{self._name}-rds-monitoring",
            role,
            [
                statement(
                    ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                    [account.arn("logs", "log-group:RDS*")],
                    sid="EnableCreationAndManagementOfRDSCloudwatchLogGroups",
                ),
                statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
                    [account.arn("logs", "log-group:RDS*:log-stream:*")],
                    sid="EnableCreationAndManagementOfRDSCloudwatchLogStreams",
                ),
            ],
            self._child(),
        )
        return role


def database_watch(identifier: pulumi.Input[str], allocated_storage_gb: int) -> Watch:
    instance = {"DBInstanceIdentifier": identifier}
    cpu = Metric("AWS/RDS", "CPUUtilization", instance)
    storage = Metric("AWS/RDS", "FreeStorageSpace", instance)
    memory = Metric("AWS/RDS", "FreeableMemory", instance)
    free_storage = free_storage_threshold_bytes(allocated_storage_gb)
    alarms = (
        Alarm(
            "db-cpu-high",
            severity=Severity.WARNING,
            summary=f"The database averaged above {CPU_PERCENT}% CPU for 10 minutes.",
            runbook=(
                "Find the expensive statements (Performance Insights where on, else the slow-statement log); "
                "raise database.instanceClass if the load is real."
            ),
            metric=cpu,
            statistic="Average",
            comparison="GreaterThanThreshold",
            threshold=CPU_PERCENT,
            evaluation_periods=2,
            # RDS reports every minute while the instance runs; silence means it is stopped or down.
            treat_missing_data=MissingData.BREACHING,
        ),
        Alarm(
            "db-free-storage-low",
            severity=Severity.CRITICAL,
            summary=f"The database has less than 10% of its configured {allocated_storage_gb} GB of storage free.",
            runbook=(
                "Storage autoscaling acts at the same 10% mark: if the alarm stays, the volume is at "
                "maxAllocatedStorageGb or in its 6-hour cool-down; raise maxAllocatedStorageGb or free space."
            ),
            metric=storage,
            statistic="Minimum",
            comparison="LessThanThreshold",
            threshold=free_storage,
            evaluation_periods=1,
            # db-cpu-high already reports a silent database; this one goes INSUFFICIENT_DATA instead of paging twice.
            treat_missing_data=MissingData.MISSING,
        ),
        Alarm(
            "db-freeable-memory-low",
            severity=Severity.WARNING,
            summary="The database has had less than 64 MiB of freeable memory for 10 minutes.",
            runbook=(
                "Check connection count (each backend costs memory) and raise database.instanceClass if it persists."
            ),
            metric=memory,
            statistic="Average",
            comparison="LessThanThreshold",
            threshold=FREEABLE_MEMORY_BYTES,
            evaluation_periods=2,
            treat_missing_data=MissingData.MISSING,
        ),
    )
    graphs = (
        Graph("Database: CPU (%)", (cpu.line(label="CPU"),), threshold=CPU_PERCENT),
        Graph(
            "Database: connections",
            (Metric("AWS/RDS", "DatabaseConnections", instance).line(label="connections"),),
            stat="Maximum",
        ),
        Graph("Database: free storage (bytes)", (storage.line(label="free"),), stat="Minimum", threshold=free_storage),
        Graph(
            "Database: freeable memory (bytes)",
            (memory.line(label="freeable"),),
            stat="Minimum",
            threshold=FREEABLE_MEMORY_BYTES,
        ),
    )
    return Watch(alarms, graphs)
