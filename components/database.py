"""Database: RDS PostgreSQL in a standard stack, the external database's URL secret in zero-scale."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig import StackConfig, Topology, physical_name

from .context import AwsAccount
from .iam import policy_document, service_trust_policy, statement
from .networking import POSTGRES_PORT

SECRET_KIND_RDS_MASTER = "rds-master-json"
"""The RDS-managed master secret: JSON ``{"username": ..., "password": ...}``."""
SECRET_KIND_URL = "url"
"""A plain ``postgresql://user:password@host:port/db`` string."""

LOG_EXPORTS = ("postgresql", "upgrade")
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
"""The free retention tier."""


@dataclass
class DatabaseArgs:
    """Inputs of :class:`Database`.

    Standard topology needs ``db_subnet_group_name`` and ``security_group_id`` from
    Networking; zero-scale takes ``external_database_url`` (``StackSecrets.external_database_url``,
    a Pulumi secret, or None when ``externalDatabaseUrl`` is not set).
    """

    config: StackConfig
    db_subnet_group_name: pulumi.Input[str] | None = None
    security_group_id: pulumi.Input[str] | None = None
    external_database_url: pulumi.Output[str] | None = None


class Database(pulumi.ComponentResource):
    """The platform's PostgreSQL, and the one secret its clients read.

    Standard topology creates:

    * a primary RDS PostgreSQL instance named ``<prefix>-postgres``: engine
      ``database.engineVersion`` (default 16, minor upgrades automatic), ``database.instanceClass``
      (dev db.t4g.micro, staging db.t4g.small, prod db.t4g.medium), gp3 storage of
      ``allocatedStorageGb`` (20 / 50 / 100 GB) autoscaling up to ``maxAllocatedStorageGb``
      (100 / 200 / 500 GB), encrypted, in the database subnets, not publicly accessible, behind
      Networking's database security group;
    * its master password generated and rotated by RDS in Secrets Manager
      (``manage_master_user_password``); no password is ever a config value or an input;
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
    * where ``performanceInsights`` (prod): Performance Insights kept 7 days; where
      ``enhancedMonitoringSeconds`` > 0 (prod: 60): enhanced monitoring and its IAM role;
    * no read replicas: RDS refuses them for a source whose master password it manages, so the
      config accepts only ``readReplicas: 0`` (docs/database.md, "Read path").

    Zero-scale topology creates no RDS: one Secrets Manager secret holds the external database
    URL. Its value is written only when ``externalDatabaseUrl`` is set as a Pulumi secret;
    otherwise the secret is created empty, and a value put into it by hand is never overwritten.
    """

    secret_arn: pulumi.Output[str]
    """The secret clients receive by reference (ECS ``valueFrom``, Lambda reads it by ARN)."""
    secret_kind: str
    """``SECRET_KIND_RDS_MASTER`` (standard) or ``SECRET_KIND_URL`` (zero-scale)."""
    endpoint: pulumi.Output[str] | None
    """DNS name of the primary, without the port; None in zero-scale."""
    port: pulumi.Output[int] | None
    database_name: str | None
    instance_identifier: pulumi.Output[str] | None
    """The primary's ``DBInstanceIdentifier`` (CloudWatch dimension)."""
    allocated_storage_gb: int | None
    connection_environment: dict[str, pulumi.Input[str]]
    """Plain (non-secret) environment for clients: host, port, name, secret ARN and kind."""
    ecs_secrets: list[dict[str, pulumi.Input[str]]]
    """ECS container ``secrets`` entries (``name``/``valueFrom``) carrying the credentials."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Database", name, None, opts)
        self._name = name
        self._config = args.config
        if args.config.topology is Topology.STANDARD:
            if args.db_subnet_group_name is None or args.security_group_id is None:
                raise ValueError(
                    "a standard stack's Database needs Networking's DB subnet group and database security group"
                )
            self._create_rds(args.db_subnet_group_name, args.security_group_id)
        else:
            self._create_url_secret(args.external_database_url)
        self._client_wiring()
        self.register_outputs(
            {
                "secret_arn": self.secret_arn,
                "secret_kind": self.secret_kind,
                "endpoint": self.endpoint,
                "port": self.port,
                "database_name": self.database_name,
                "instance_identifier": self.instance_identifier,
            }
        )

    # -- standard ------------------------------------------------------------
    def _create_rds(self, subnet_group: pulumi.Input[str], security_group: pulumi.Input[str]) -> None:
        database = self._config.database
        major = database.engine_version.split(".")[0]
        parameters = aws.rds.ParameterGroup(
            f"{self._name}-postgres",
            family=f"postgres{major}",
            description=f"{self._name} PostgreSQL {major}: TLS only, slow statements logged",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ParameterGroupParameterArgs(
                    name="log_min_duration_statement", value=str(database.slow_statement_ms)
                ),
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        monitoring_role = self._monitoring_role() if database.enhanced_monitoring_seconds else None

        identifier = physical_name(self._name, "rds-identifier", "postgres")
        # RDS creates its export log groups with no expiry when they do not exist yet.
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{self._name}-postgres-{export}-logs",
                name=f"/aws/rds/instance/{identifier}/{export}",
                retention_in_days=self._config.log_retention_days,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for export in LOG_EXPORTS
        ]
        primary = aws.rds.Instance(
            f"{self._name}-postgres",
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
            iam_database_authentication_enabled=True,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnet_group,
            vpc_security_group_ids=[security_group],
            publicly_accessible=False,
            parameter_group_name=parameters.name,
            allocated_storage=database.allocated_storage_gb,
            max_allocated_storage=database.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
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
            monitoring_interval=database.enhanced_monitoring_seconds,
            monitoring_role_arn=monitoring_role.arn if monitoring_role else None,
            deletion_protection=database.deletion_protection,
            skip_final_snapshot=not database.final_snapshot,
            final_snapshot_identifier=f"{identifier}-final" if database.final_snapshot else None,
            delete_automated_backups=not database.final_snapshot,
            opts=pulumi.ResourceOptions(parent=self, protect=database.deletion_protection, depends_on=log_groups),
        )

        self.secret_arn = primary.master_user_secrets.apply(lambda secrets: secrets[0].secret_arn)
        self.secret_kind = SECRET_KIND_RDS_MASTER
        self.endpoint = primary.address
        self.port = primary.port
        self.database_name = database.database_name
        self.instance_identifier = primary.identifier
        self.allocated_storage_gb = database.allocated_storage_gb

    def _monitoring_role(self) -> aws.iam.Role:
        where = AwsAccount.of(self, self._config.region)
        log_group = where.arn("logs", "log-group:RDSOSMetrics")
        role = aws.iam.Role(
            f"{self._name}-rds-monitoring",
            assume_role_policy=service_trust_policy("monitoring.rds.amazonaws.com", where.account),
            description="Lets RDS enhanced monitoring publish OS metrics to CloudWatch Logs",
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The statements of AWS's AmazonRDSEnhancedMonitoringRole, narrowed to the one
        # log group RDS writes (RDSOSMetrics) in this account and region.
        aws.iam.RolePolicy(
            f"{self._name}-rds-monitoring",
            role=role.id,
            policy=policy_document(
                statement(
                    ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                    [log_group],
                    sid="RdsMetricsLogGroup",
                ),
                statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
                    [f"{log_group}:log-stream:*"],
                    sid="RdsMetricsLogStreams",
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return role

    # -- zero-scale ----------------------------------------------------------
    def _create_url_secret(self, url: pulumi.Output[str] | None) -> None:
        secret = aws.secretsmanager.Secret(
            f"{self._name}-database-url",
            description=f"{self._name}: connection URL of the external PostgreSQL database (postgresql scheme)",
            opts=pulumi.ResourceOptions(parent=self),
        )
        if url is None:
            pulumi.log.warn(
                "externalDatabaseUrl is not set: the database URL secret is created empty and tasks cannot "
                "start until it holds a value (see docs/database.md)",
                resource=self,
            )
        else:
            # Declared only when the config holds the URL: without this resource Pulumi never
            # writes the secret's value, so a value put by hand survives every `pulumi up`.
            aws.secretsmanager.SecretVersion(
                f"{self._name}-database-url",
                secret_id=secret.id,
                secret_string=url,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.secret_arn = secret.arn
        self.secret_kind = SECRET_KIND_URL
        self.endpoint = None
        self.port = None
        self.database_name = None
        self.instance_identifier = None
        self.allocated_storage_gb = None

    # -- clients -------------------------------------------------------------
    def _client_wiring(self) -> None:
        environment: dict[str, pulumi.Input[str]] = {
            "DB_SECRET_ARN": self.secret_arn,
            "DB_SECRET_KIND": self.secret_kind,
        }
        if self.secret_kind == SECRET_KIND_RDS_MASTER:
            environment.update(
                DB_HOST=self.endpoint,
                DB_PORT=self.port.apply(str),
                DB_NAME=self.database_name,
                DB_SSLMODE="require",
            )
            # ECS extracts one JSON key per variable: <secret-arn>:<json-key>::
            self.ecs_secrets = [
                {"name": variable, "valueFrom": self.secret_arn.apply(lambda arn, key=key: f"{arn}:{key}::")}
                for variable, key in (("DB_USERNAME", "username"), ("DB_PASSWORD", "password"))
            ]
        else:
            self.ecs_secrets = [{"name": "DATABASE_URL", "valueFrom": self.secret_arn}]
        self.connection_environment = environment
