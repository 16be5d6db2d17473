"""The one model of a stack's configuration.

Every ``flowbuilder:*`` key of a ``Pulumi.<stack>.yaml`` file is validated
here, and nowhere else. Keys are camelCase as Pulumi writes them; unknown keys
are rejected. Defaults depend on the stack's ``environment`` and ``topology``
and are listed in :mod:`stackconfig.defaults`, which is the documentation of
every default.

Every value is bounded as AWS bounds it (the bound is in the field's type and
in its error message); values AWS checks against a list are checked against the
botocore model or a dated table (:mod:`stackconfig.checks`); rules that read
several keys are in :mod:`stackconfig.rules`. Scalars are strict
(:mod:`stackconfig.values`): ``true``/``false``, whole numbers for counts.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from . import arns, checks, cidrs, rules, windows
from .aws_limits import LAMBDA_MEMORY_MB, LAMBDA_TIMEOUT_SECONDS, fargate_pair_error, log_retention_days
from .problems import VOCABULARY, Invalid, Path, dotted
from .values import Bool, choice, matching, number, one_of_numbers, text, whole


class Topology(StrEnum):
    """How the platform is laid out on AWS."""

    STANDARD = "standard"
    """New VPC, RDS, ALB-fronted API, queue-scaled worker service (dev, staging, prod)."""
    ZERO_SCALE = "zero-scale"
    """Existing VPC's public subnets, external database, SQS -> Pipes -> RunTask (ultra)."""


class Environment(StrEnum):
    """The stage a stack plays in promotion; selects the default sizes."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class NatStrategy(StrEnum):
    """How private subnets reach the internet."""

    NONE = "none"
    SINGLE_GATEWAY = "single-gateway"
    GATEWAY_PER_AZ = "gateway-per-az"
    INSTANCE = "instance"


class CpuArchitecture(StrEnum):
    """CPU architecture of Fargate tasks (Graviton ARM64 costs about 20% less)."""

    ARM64 = "ARM64"
    X86_64 = "X86_64"


class FlowLogTraffic(StrEnum):
    """Which traffic VPC flow logs record (EC2 API reference, CreateFlowLogs ``TrafficType``)."""

    ALL = "ALL"
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"


class CacheMode(StrEnum):
    """How the ElastiCache Valkey cache runs (docs/cache.md compares their idle cost)."""

    SERVERLESS = "serverless"
    """ElastiCache Serverless: billed per GB stored (100 MB minimum) and per ECPU, spread over the AZs."""
    NODE = "node"
    """A replication group of ``nodeCount`` nodes of ``nodeType``, billed per node-hour."""


class Section(BaseModel):
    """Base for every section: camelCase keys, unknown keys rejected, values frozen, no lax coercion."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        use_enum_values=False,
        strict=True,
    )


def _check_all(*problems: tuple[Path, str] | None) -> None:
    found = [problem for problem in problems if problem]
    if found:
        raise Invalid(*found)


VpcCidr = text(checks.vpc_cidr, min_length=1, max_length=18)
SubnetCidr = text(checks.subnet_cidr, min_length=1, max_length=18)
AllowCidr = text(checks.any_cidr, min_length=1, max_length=18)
Port = whole(1, 65535)
InstanceType = text(checks.instance_type, min_length=1, max_length=32)
SUBNET_TIERS = ("public", "private", "database")
MAX_ZONES = 6


class ExistingVpcConfig(Section):
    """``flowbuilder:network`` of a zero-scale stack: the existing VPC whose public subnets run tasks."""

    existing_vpc_id: text(checks.vpc_id, min_length=1, max_length=21) | None = None
    """The VPC whose public subnets run tasks; the account's default VPC when unset."""


class NetworkConfig(Section):
    """``flowbuilder:network`` of a standard stack: the VPC it makes, its subnets, NAT and endpoints."""

    vpc_cidr: VpcCidr
    """/16 to /28 (VPC user guide), in private address space."""
    availability_zones: whole(1, MAX_ZONES, why="the subnet lists hold at most 6 CIDRs")
    """How many AZs to spread over: at least 2 (the ALB and RDS need them), and the region must have them."""
    availability_zone_ids: list[text(checks.zone_id, min_length=1, max_length=16)] | None = None
    """The zones to use, by zone ID (``use1-az1``), one per ``availabilityZones``; unset: the region's
    first zones by ID, less those in ``EXCLUDED_ZONE_IDS``."""
    public_subnet_cidrs: list[SubnetCidr]
    private_subnet_cidrs: list[SubnetCidr]
    database_subnet_cidrs: list[SubnetCidr]
    nat_strategy: choice(NatStrategy)
    nat_instance_type: text(checks.graviton_instance_type, min_length=1, max_length=32)
    """Graviton type for the NAT instance; only used with ``natStrategy: instance``."""
    interface_endpoints: Bool
    """Create interface endpoints (logs, sqs, secretsmanager, ecr.api, ecr.dkr) in every AZ."""
    flow_log_traffic: choice(FlowLogTraffic)

    @model_validator(mode="after")
    def _zones_pinned(self) -> NetworkConfig:
        """A pinned zone list names each zone once, one per ``availabilityZones``."""
        pinned = self.availability_zone_ids
        if pinned is None:
            return self
        key = ("availabilityZoneIds",)
        if len(pinned) != self.availability_zones:
            raise Invalid(
                (key, f"has {len(pinned)} zone IDs; allowed: exactly availabilityZones ({self.availability_zones})")
            )
        repeated = sorted({zone for zone in pinned if pinned.count(zone) > 1})
        if repeated:
            raise Invalid((key, f"names {', '.join(repeated)} more than once; each zone takes one subnet per tier"))
        return self

    @model_validator(mode="after")
    def _subnets_fit(self) -> NetworkConfig:
        """One CIDR per AZ in each tier (the first ``availabilityZones`` are used), all inside the VPC,
        none overlapping another, whichever tier it is in."""
        vpc = ipaddress.ip_network(self.vpc_cidr)
        seen: list[tuple[str, Path, ipaddress.IPv4Network]] = []
        found: list[tuple[Path, str]] = []
        for tier in SUBNET_TIERS:
            key = to_camel(f"{tier}_subnet_cidrs")
            listed = getattr(self, f"{tier}_subnet_cidrs")
            if len(listed) < self.availability_zones:
                found.append(
                    (
                        (key,),
                        f"has {len(listed)} CIDRs; need one per availability zone ({self.availability_zones})",
                    )
                )
            if len(listed) > MAX_ZONES:
                found.append(((key,), f"has {len(listed)} CIDRs; allowed: at most {MAX_ZONES}, one per AZ"))
            for index, cidr in enumerate(listed):
                net = ipaddress.ip_network(cidr)
                if not net.subnet_of(vpc):
                    found.append(((key, index), f"{cidr} is outside vpcCidr {self.vpc_cidr}"))
                    continue
                clash = next(((text_, path) for text_, path, other in seen if net.overlaps(other)), None)
                if clash:
                    found.append(((key, index), f"{cidr} overlaps {clash[0]} ({dotted(clash[1])})"))
                seen.append((cidr, (key, index), net))
        if found:
            raise Invalid(*found)
        return self


class DatabaseConfig(Section):
    """``flowbuilder:database`` — RDS PostgreSQL (standard topology only)."""

    engine_version: text(checks.engine_version, min_length=1, max_length=16)
    """A PostgreSQL major (RDS picks and upgrades the minor) or a minor RDS still creates
    (``dated_tables.RDS_POSTGRES``)."""
    instance_class: text(checks.rds_instance_class, min_length=1, max_length=32)
    allocated_storage_gb: whole(20, 65536, "GiB", why="gp3 storage for RDS for PostgreSQL")
    max_allocated_storage_gb: whole(20, 65536, "GiB", why="gp3 storage for RDS for PostgreSQL")
    """Storage autoscaling ceiling; RDS needs it at least 10% above ``allocatedStorageGb``."""
    backup_retention_days: whole(1, 35, "days", why="RDS automated backups")
    multi_az: Bool
    backup_window: text(checks.backup_window, min_length=1, max_length=11)
    """Daily, UTC, ``hh:mm-hh:mm``, at least 30 minutes, not overlapping ``maintenanceWindow``."""
    maintenance_window: text(checks.maintenance_window, min_length=1, max_length=19)
    """Weekly, UTC, ``ddd:hh:mm-ddd:hh:mm``, at least 30 minutes."""
    apply_immediately: Bool
    """Apply instance changes during ``pulumi up`` (a class change restarts the instance then)
    instead of in the next maintenance window. A major-version upgrade needs it on."""
    database_name: text(checks.database_name, min_length=1, max_length=63)
    master_username: text(checks.master_username, min_length=1, max_length=16)
    deletion_protection: Bool
    """RDS deletion protection and Pulumi ``protect`` on the primary instance."""
    final_snapshot: Bool
    """Take a snapshot named ``<identifier>-final`` when the primary is deleted, and keep its automated backups."""
    extended_support: Bool
    """Allow paid RDS Extended Support once the major version leaves standard support; when off,
    RDS upgrades the major version itself at the end of standard support."""
    performance_insights: Bool
    enhanced_monitoring_seconds: one_of_numbers((0, 1, 5, 10, 15, 30, 60), why="RDS MonitoringInterval; 0 is off")
    """0 turns enhanced monitoring off; otherwise one of 1, 5, 10, 15, 30, 60."""
    slow_statement_ms: whole(-1, 2147483647, "ms", why="log_min_duration_statement; -1 is off")
    """``log_min_duration_statement``; -1 turns slow-statement logging off."""

    @model_validator(mode="after")
    def _storage_windows_users(self) -> DatabaseConfig:
        least = -(-self.allocated_storage_gb * 11 // 10)
        _check_all(
            (
                ("maxAllocatedStorageGb",),
                f"{self.max_allocated_storage_gb} GiB is below {least}: RDS needs the autoscaling ceiling at least "
                f"10% above allocatedStorageGb ({self.allocated_storage_gb})",
            )
            if self.max_allocated_storage_gb < least
            else None,
            _windows_overlap(self.backup_window, self.maintenance_window),
            (
                ("masterUsername",),
                "flowbuilder_app is the applications' IAM-authenticated user, created by the migration; "
                "the master user needs another name",
            )
            if self.master_username == "flowbuilder_app"
            else None,
        )
        return self


def _windows_overlap(backup: str, maintenance: str) -> tuple[Path, str] | None:
    day = windows.overlap(windows.daily(backup), windows.weekly(maintenance))
    if day is None:
        return None
    return (
        ("backupWindow",),
        f"{backup} overlaps maintenanceWindow {maintenance} on {day}; RDS refuses windows that overlap",
    )


class FargateSize(Section):
    """A Fargate task size: CPU units and memory MiB that Fargate accepts together."""

    cpu: whole(256, 16384, why="Fargate task CPU units")
    memory: whole(512, 122880, "MiB", why="Fargate task memory")

    @model_validator(mode="after")
    def _valid_pair(self) -> FargateSize:
        problem = fargate_pair_error(self.cpu, self.memory)
        if problem:
            raise Invalid.at("cpu" if problem.startswith("cpu") else "memory", problem)
        return self


class ApiConfig(FargateSize):
    """``flowbuilder:api`` of a standard stack: the Fargate service behind the ALB."""

    container_port: Port
    desired_count: whole(0, 1000, why="an ALB takes at most 1,000 targets")
    min_count: whole(0, 1000, why="an ALB takes at most 1,000 targets")
    max_count: whole(1, 1000, why="an ALB takes at most 1,000 targets")
    health_check_path: text(checks.health_check_path, min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _counts(self) -> ApiConfig:
        if not self.min_count <= self.desired_count <= self.max_count:
            raise Invalid.at(
                "desiredCount",
                f"need minCount ({self.min_count}) <= desiredCount ({self.desired_count}) <= maxCount "
                f"({self.max_count})",
            )
        return self


class ServerlessApiConfig(Section):
    """``flowbuilder:api`` of a zero-scale stack: the api image as a container Lambda behind an API Gateway
    HTTP API."""

    container_port: Port
    """The port the application listens on inside the function (the Lambda Web Adapter forwards to it)."""
    health_check_path: text(checks.health_check_path, min_length=1, max_length=1024)
    """The adapter's readiness check before the function takes requests."""
    memory: whole(*LAMBDA_MEMORY_MB, "MB", why="Lambda memory")
    """The function's memory; Lambda gives it CPU in proportion."""
    lambda_reserved_concurrency: whole(
        0, 900, why="Lambda keeps 100 of an account's default 1,000 concurrent executions unreserved"
    )
    """Requests the API function serves at once (its reserved concurrency), so a spike cannot take the
    account's Lambda concurrency or the database's connections; 0 stops the API."""
    throttle_rate_per_second: number(0, 10000, "requests/s", why="API Gateway's account throttle", above_low=True)
    """Steady requests per second the HTTP API stage lets through; beyond it clients get 429."""
    throttle_burst: whole(1, 5000, why="API Gateway's account burst")
    """Requests the HTTP API stage accepts at once above the steady rate."""


MAX_RUN_MINUTES = 719
"""The work queue's visibility timeout is a job's longest run plus a minute, and SQS caps it at 12 hours."""


class WorkerTaskConfig(FargateSize):
    """``flowbuilder:worker`` of a zero-scale stack (one task per message): the task's size and how long a
    job may run. Standard stacks add the service's scaling keys (:class:`WorkerConfig`)."""

    max_run_minutes: whole(
        1, MAX_RUN_MINUTES, "minutes", why="the queue's visibility timeout is this plus a minute; SQS caps it at 12 h"
    )
    """Longest a job may run; the queue's visibility timeout is derived from it."""
    stop_timeout_seconds: whole(2, 120, "s", why="Fargate's stopTimeout is at most 120 s")


class WorkerConfig(WorkerTaskConfig):
    """``flowbuilder:worker`` of a standard stack: the worker service, scaled 0..N on the queue's backlog."""

    max_count: whole(1, 1000)
    backlog_per_task: whole(1, 120000, "messages", why="SQS keeps at most 120,000 messages in flight")
    """Target messages waiting per running task when scaling out."""
    scale_in_after_minutes: whole(1, 120, "minutes")
    """How long the queue must be empty (visible + in flight) before scaling to zero."""
    spot_weight: whole(0, 1000, why="an ECS capacity provider weight")
    on_demand_weight: whole(0, 1000, why="an ECS capacity provider weight")
    backlog_sample_seconds: one_of_numbers((10, 20, 30, 60), why="it is also a CloudWatch alarm period")
    """How often the backlog function samples the queue (10, 20, 30 or 60). It bounds
    the time from a message to the first task, and the function's cost (it waits between samples)."""

    @model_validator(mode="after")
    def _weights(self) -> WorkerConfig:
        if self.spot_weight + self.on_demand_weight == 0:
            raise Invalid.at("spotWeight", "spotWeight and onDemandWeight cannot both be 0")
        return self


RESERVED_VARIABLES = ("DATABASE_URL", "QUEUE_URL", "STACK", "PORT", "EXIT_AFTER_COMPLETION")
RESERVED_PREFIXES = ("DB_", "AWS_", "ECS_", "MESSAGE_", "UPLOADS_", "SES_")
"""Variables the program (or ECS, or the AWS SDKs) sets in the api and worker containers."""


def _application_variable(name: str) -> str | None:
    problem = checks.environment_variable(name)
    if problem:
        return problem
    if name in RESERVED_VARIABLES or name.startswith(RESERVED_PREFIXES):
        return (
            f"the program sets {name} itself (it owns {', '.join(RESERVED_VARIABLES)} and every "
            f"{'/'.join(p + '*' for p in RESERVED_PREFIXES)} variable); choose another name"
        )
    return None


class EcsCommonConfig(Section):
    """``flowbuilder:ecs`` of a zero-scale stack: the cluster, the images' architecture and the repositories.
    Standard stacks add the services' keys (:class:`EcsConfig`)."""

    architecture: choice(CpuArchitecture)
    """Of every task and image Lambda: the images are built for one architecture."""
    container_insights: Bool
    keep_tagged_images: whole(1, 1000, "images", why="an ECR lifecycle rule count")
    force_delete_repositories: Bool
    """Let Pulumi delete an ECR repository that still holds images (``pulumi destroy``, a replacement);
    off, the repository and its images stay until someone empties it."""


class EcsConfig(EcsCommonConfig):
    """``flowbuilder:ecs`` of a standard stack: also the API and worker services' keys."""

    exec_enabled: Bool
    """ECS Exec (shell into tasks) for debugging."""
    application_secrets: Annotated[
        dict[
            text(_application_variable, min_length=1, max_length=255),
            text(checks.secret_reference, min_length=1, max_length=2048),
        ],
        Field(max_length=100),
    ]
    """Variables the API and worker services receive from Secrets Manager, as
    ``NAME: <full secret ARN>[:<json-key>:<version-stage>:<version-id>]``. ECS reads the value
    when a task starts; it never passes through Pulumi or the task definition."""


Digest = matching(r"sha256:[0-9a-f]{64}", "an image digest: sha256: and 64 lowercase hexadecimal digits", max_length=71)
"""The digest of an image manifest as ECR reports it (OCI image spec, "Digests"): SHA-256 only."""


class ImagesConfig(Section):
    """``flowbuilder:images`` — the images the stack runs, pinned by digest.

    The release workflow records the digests it pushed in dev's stack file; promotion copies the
    images by digest into the next stack's repositories and records the same digests there. Every
    key is optional: what runs an image whose digest is absent waits for it (ECS services at 0
    tasks, image Lambdas not created, the zero-scale pipe STOPPED).
    """

    source_commit: (
        matching(r"[0-9a-f]{40}", "a full git commit SHA: 40 lowercase hexadecimal digits", max_length=40) | None
    ) = None
    """The application commit the images were built from: a record for people, nothing runs it."""
    api: Digest | None = None
    worker: Digest | None = None
    scheduler: Digest | None = None


class QueueConfig(Section):
    """``flowbuilder:queue`` — the work queue and its dead-letter queue."""

    max_receive_count: whole(1, 1000, why="SQS redrive maxReceiveCount")
    dlq_retention_days: whole(1, 14, "days", why="SQS keeps messages 60 s to 14 days")
    message_retention_days: whole(1, 14, "days", why="SQS keeps messages 60 s to 14 days")


class SchedulerConfig(Section):
    """``flowbuilder:scheduler`` — the container-image Lambda that feeds the queue."""

    memory_mb: whole(*LAMBDA_MEMORY_MB, "MB", why="Lambda memory")
    timeout_seconds: whole(*LAMBDA_TIMEOUT_SECONDS, "s", why="Lambda timeout")
    schedule_expression: text(checks.schedule_expression, min_length=1, max_length=256)
    """An EventBridge Scheduler ``rate()`` or ``cron()`` expression."""


MIGRATION_TIMEOUT_MINUTES = (1, 14)
"""A synchronous Lambda invocation lasts at most 15 minutes; one is left for starting the task."""
CommandArgument = text(min_length=1, max_length=4096)


class MigrationConfig(Section):
    """``flowbuilder:migration`` — the one-off task a release runs before anything rolls."""

    command: Annotated[list[CommandArgument], Field(min_length=1, max_length=64)]
    """The api image's command for the migration (exec form: one string per argument)."""
    timeout_minutes: whole(
        *MIGRATION_TIMEOUT_MINUTES, "minutes", why="the runner is a synchronous Lambda invocation, at most 15 minutes"
    )


Email = text(checks.email, min_length=3, max_length=254)


class MonitoringConfig(Section):
    """``flowbuilder:monitoring`` — alarms, dashboard, alert topic and budget."""

    alert_emails: Annotated[list[Email], Field(max_length=100)]
    dashboard: Bool
    monthly_budget_usd: number(1, 1_000_000_000, "USD")
    oldest_message_age_seconds: whole(60, 1209600, "s", why="at most SQS's longest retention, 14 days")
    """Alarm when the oldest queued message is older than this (below ``queue.messageRetentionDays``)."""

    @model_validator(mode="after")
    def _unique_subscribers(self) -> MonitoringConfig:
        # Subscriptions are named by address: a repeated address would be two resources with one URN.
        seen: dict[str, int] = {}
        found = []
        for index, address in enumerate(self.alert_emails):
            if address.lower() in seen:
                found.append((("alertEmails", index), f"repeats alertEmails[{seen[address.lower()]}]"))
            seen.setdefault(address.lower(), index)
        if found:
            raise Invalid(*found)
        return self


class HpaConfig(Section):
    """A service's HorizontalPodAutoscaler: replicas between ``min`` and ``max`` at ``cpuPercent`` of requests."""

    min: whole(1, 1000)
    max: whole(1, 1000)
    cpu_percent: whole(1, 100, "%")

    @model_validator(mode="after")
    def _bounds(self) -> HpaConfig:
        if self.max < self.min:
            raise Invalid.at("max", f"{self.max} must be at least hpa.min ({self.min})")
        return self


class PdbConfig(Section):
    """A service's PodDisruptionBudget."""

    min_available: whole(0, 1000)


ISTIO_PORTS = range(15000, 15091)
"""Ports Istio's sidecar listens on (Istio docs, "Ports used by Istio")."""


class MeshImage(StrEnum):
    """Which of the stack's images (``flowbuilder:images``) a mesh service runs."""

    API = "api"
    WORKER = "worker"


class CanaryHeader(Section):
    """Requests carrying this header with exactly this value always reach the canary (A/B testing)."""

    name: matching(
        r"[a-z0-9]([-a-z0-9]{0,62}[a-z0-9])?",
        "a lowercase HTTP header name: letters, digits, hyphens, at most 64",
        max_length=64,
    )
    value: text(checks.header_value, min_length=1, max_length=256)


class CanaryConfig(Section):
    """A second Deployment ``<service>-canary`` running another digest of the same image.

    ``weight`` percent of the requests without the header go to it; the stable Deployment keeps
    its HPA and PDB untouched. Promotion records the digest in ``flowbuilder:images`` and removes
    this section (docs/eks-mesh.md).
    """

    digest: Digest
    weight: whole(0, 100, "%", why="Istio route weights are whole percentages")
    replicas: whole(1, 100) = 1
    header: CanaryHeader | None = None


class ServiceConfig(Section):
    """One Kubernetes workload of the mesh.

    The optional keys default here rather than in :mod:`stackconfig.defaults`
    because they apply to each item of the ``services`` list.
    """

    name: matching(
        r"[a-z]([-a-z0-9]{0,43}[a-z0-9])?", "a DNS label: lowercase letters, digits, hyphens, at most 45", max_length=45
    )
    """At most 45 characters, so that ``<name>-canary`` stays a 52-character DNS label."""
    image: choice(MeshImage)
    """The image by name: its digest comes from ``flowbuilder:images``; a service whose image has
    no digest yet is not deployed (the preview says so)."""
    port: Port
    replicas: whole(1, 1000)
    """Replicas at creation; afterwards the HorizontalPodAutoscaler owns the count."""
    cpu: matching(r"[1-9][0-9]{0,5}m?", "a CPU quantity such as 250m or 2", max_length=7)
    memory: matching(r"[1-9][0-9]{0,5}(Mi|Gi)", "a memory quantity such as 512Mi or 2Gi", max_length=8)
    hpa: HpaConfig
    pdb: PdbConfig
    health_path: text(checks.http_path, min_length=1, max_length=1024) = "/health"
    """HTTP path of the liveness and readiness probes."""
    timeout_seconds: whole(1, 300, "s") = 15
    """Mesh timeout of one request to the service, retries included."""
    retries: whole(0, 10) = 2
    """Mesh retries on connection failures, resets and 503s."""
    gateway_path: text(checks.http_path, min_length=1, max_length=1024) | None = None
    """URL path prefix the ingress gateway routes to the service; unset keeps it inside the mesh."""
    spot: Bool = False
    """Stateless work allowed on the ``spot`` NodePool (on-demand when Spot has no capacity)."""
    database: Bool = False
    """Give the pods the database connection (an ExternalSecret of the database secret's host,
    port, name and the IAM-authenticated user; never the master password)."""
    canary: CanaryConfig | None = None

    @model_validator(mode="after")
    def _replicas(self) -> ServiceConfig:
        found: list[tuple[Path, str]] = []
        if self.port in ISTIO_PORTS:
            found.append((("port",), f"ports {ISTIO_PORTS.start}-{ISTIO_PORTS.stop - 1} belong to Istio's sidecar"))
        if not self.hpa.min <= self.replicas <= self.hpa.max:
            found.append(
                (
                    ("replicas",),
                    f"need hpa.min ({self.hpa.min}) <= replicas ({self.replicas}) <= hpa.max ({self.hpa.max})",
                )
            )
        # A budget that keeps every minimum replica blocks node drains, so Karpenter
        # could never consolidate or replace a node the service runs on.
        if self.pdb.min_available >= self.hpa.min:
            found.append(
                (
                    ("pdb", "minAvailable"),
                    f"{self.pdb.min_available} must be below hpa.min ({self.hpa.min}) or no pod can ever be "
                    "evicted to drain a node",
                )
            )
        if found:
            raise Invalid(*found)
        return self


class ControlPlaneLogType(StrEnum):
    """EKS control-plane log types (EKS API reference, ``LogSetup.types``)."""

    API = "api"
    AUDIT = "audit"
    AUTHENTICATOR = "authenticator"
    CONTROLLER_MANAGER = "controllerManager"
    SCHEDULER = "scheduler"


SYSTEM_NODE_INSTANCE_TYPES = ("t4g.medium", "t4g.large", "m7g.medium", "m7g.large", "c7g.large", "c7g.xlarge")
"""Graviton types the system node group may use: big enough for the controller and add-ons (at least
4 GiB, or 2 vCPU for the c7g), small enough that two of them idle cheaply."""


def _system_node_type(name: str) -> str | None:
    if name in SYSTEM_NODE_INSTANCE_TYPES:
        return None
    return (
        "not a system node type: the group runs Karpenter and the add-ons on Graviton (ARM64) nodes; "
        f"allowed: {', '.join(SYSTEM_NODE_INSTANCE_TYPES)}"
    )


class SystemNodesConfig(Section):
    """The fixed managed node group that runs Karpenter and the cluster add-ons (taint ``CriticalAddonsOnly``)."""

    instance_type: text(_system_node_type, min_length=1, max_length=32)
    count: whole(2, 10, "nodes", why="at least two so one AZ or node can fail; Karpenter adds the rest")


GITHUB_REPOSITORY = r"[A-Za-z0-9](-?[A-Za-z0-9]){0,38}/[A-Za-z0-9._-]{1,100}"
CODECONNECTIONS_ARN = (
    r"arn:aws(-[a-z]+)*:(codeconnections|codestar-connections):[a-z0-9-]+:[0-9]{12}:connection/[0-9a-f-]{36}"
)


class CiRunnerConfig(Section):
    """``eks.ciRunner`` — the in-VPC CodeBuild runner that reaches the private Kubernetes API.

    The runner exists once both keys are set: the connection must be authorised in the console
    before CodeBuild can create the project's webhook (docs/eks-mesh.md, "First deploy").
    """

    repository: matching(GITHUB_REPOSITORY, "<owner>/<repository> as GitHub spells it", max_length=140) | None = None
    """The GitHub repository whose workflow jobs the runner takes (this infrastructure repository)."""
    connection_arn: (
        matching(
            CODECONNECTIONS_ARN,
            "a CodeConnections connection ARN: arn:aws:codeconnections:<region>:<account>:connection/<uuid>",
            max_length=2048,
        )
        | None
    ) = None
    """The GitHub connection a person authorised once in the console (Developer Tools > Connections)."""

    @model_validator(mode="after")
    def _both_or_neither(self) -> CiRunnerConfig:
        if (self.repository is None) != (self.connection_arn is None):
            missing = "connectionArn" if self.connection_arn is None else "repository"
            raise Invalid.at(missing, "the runner needs both repository and connectionArn (or neither)")
        return self

    @property
    def enabled(self) -> bool:
        return self.connection_arn is not None


class NodePoolConfig(Section):
    """One Karpenter NodePool: which Graviton instances it may launch and how much in total."""

    instance_families: Annotated[
        list[matching(r"[a-z][a-z0-9]*g[a-z]*", "a Graviton instance family such as m7g or c6gn", max_length=16)],
        Field(min_length=1, max_length=20),
    ]
    """Graviton families only: the images are built for arm64."""
    instance_sizes: Annotated[
        list[matching(r"(medium|large|[1-9][0-9]?xlarge|xlarge)", "an instance size such as large or 2xlarge")],
        Field(min_length=1, max_length=12),
    ]
    cpu_limit: whole(1, 10000, "vCPU")
    """Karpenter launches no node past this many vCPUs in the pool (the runaway-cost stop)."""
    memory_limit_gib: whole(1, 100000, "GiB")
    consolidate_after_seconds: whole(0, 86400, "s")
    """How long a node stays empty or underutilized before Karpenter consolidates it."""
    disruption_budget_percent: whole(0, 100, "%")
    """At most this share of the pool's nodes is disrupted (consolidated, drifted) at once."""
    weight: whole(1, 100, why="Karpenter NodePool weight")
    """Karpenter tries pools with a higher weight first."""

    @model_validator(mode="after")
    def _unique(self) -> NodePoolConfig:
        found = []
        for key, values in (("instanceFamilies", self.instance_families), ("instanceSizes", self.instance_sizes)):
            for index, value in enumerate(values):
                if value in values[:index]:
                    found.append(((key, index), f"{value} is listed twice"))
        if found:
            raise Invalid(*found)
        return self


class NodePoolsConfig(Section):
    """``eks.nodePools`` — the two Karpenter NodePools the mesh's pods run on."""

    general: NodePoolConfig
    """On-demand: the platform (istiod, Prometheus ...) and every service not marked ``spot``."""
    spot: NodePoolConfig
    """Spot, tainted: only services marked ``spot`` tolerate it; they fall back to ``general``."""

    @model_validator(mode="after")
    def _weights(self) -> NodePoolsConfig:
        if self.spot.weight <= self.general.weight:
            raise Invalid.at(
                ("spot", "weight"),
                f"{self.spot.weight} must be above general.weight ({self.general.weight}): Karpenter tries the "
                "higher weight first, and Spot falls back to on-demand, not the other way round",
            )
        return self


class TracingConfig(Section):
    """``eks.tracing`` — mesh traces from the sidecars to Jaeger."""

    enabled: Bool
    sampling_percent: number(0, 100, "%", why="Istio's random sampling percentage")
    retention_hours: whole(1, 720, "hours", why="Jaeger's span TTL; at most 30 days")
    volume_gb: whole(1, 16384, "GiB", why="an EBS gp3 volume")
    """Jaeger's span store volume: with the TTL it bounds what tracing keeps."""


class KialiConfig(Section):
    """``eks.kiali`` — Kiali, reading the mesh's metrics from Prometheus and traces from Jaeger."""

    enabled: Bool
    view_only: Bool
    """Kiali only shows the mesh; it cannot change Istio objects."""


class EksConfig(Section):
    """``flowbuilder:eks`` — the optional EKS cluster and its Kubernetes layer (never in zero-scale).

    The base program owns the cluster's AWS side (control plane, system nodes, Karpenter's AWS
    resources, Pod Identity, the CI runner); the ``mesh/`` project reads the same section for
    what runs inside the cluster.
    """

    enabled: Bool
    kubernetes_version: text(checks.kubernetes_version, min_length=1, max_length=8)
    """Control-plane and node version; upgrade one minor at a time before standard support ends."""
    control_plane_log_types: Annotated[list[choice(ControlPlaneLogType)], Field(min_length=0, max_length=5)]
    """Control-plane logs sent to CloudWatch; prod always sends all five."""
    system_nodes: SystemNodesConfig
    ci_runner: CiRunnerConfig
    admin_role_arns: Annotated[list[text(checks.role_arn, min_length=1, max_length=2048)], Field(max_length=100)]
    """IAM roles granted cluster-admin through EKS access entries (the stack's deploy role is admin
    already, the preview role a viewer)."""
    public_access_cidrs: Annotated[list[AllowCidr], Field(max_length=40)]
    """Who may reach the public API endpoint (EKS takes at most 40); empty keeps the endpoint private."""
    prometheus_retention_days: whole(1, 365, "days")
    prometheus_volume_gb: whole(0, 16384, "GiB", why="an EBS gp3 volume; 0 is no volume")
    """0 keeps Prometheus data on the node (lost on reschedule)."""
    tracing: TracingConfig
    kiali: KialiConfig
    node_pools: NodePoolsConfig
    services: Annotated[list[ServiceConfig], Field(max_length=50)]

    @model_validator(mode="after")
    def _lists_and_services(self) -> EksConfig:
        found: list[tuple[Path, str]] = []
        for index, kind in enumerate(self.control_plane_log_types):
            if kind in self.control_plane_log_types[:index]:
                found.append((("controlPlaneLogTypes", index), f"{kind.value} is listed twice"))
        for index, role in enumerate(self.admin_role_arns):
            if role in self.admin_role_arns[:index]:
                found.append((("adminRoleArns", index), "is listed twice (EKS has one access entry per role)"))
        networks = [cidrs.parse(cidr) for cidr in self.public_access_cidrs]
        if networks and cidrs.covers_everything(networks):
            found.append(
                (
                    ("publicAccessCidrs",),
                    "together these cover the whole internet (0.0.0.0/0), which would open the Kubernetes API "
                    "to everyone; list the networks that need it",
                )
            )
        for key, values in (
            ("name", [s.name for s in self.services]),
            ("gatewayPath", [s.gateway_path for s in self.services]),
        ):
            for index, value in enumerate(values):
                if value is not None and value in values[:index]:
                    found.append(
                        (("services", index, key), f"{value!r} is already used by services[{values.index(value)}]")
                    )
        if found:
            raise Invalid(*found)
        return self


class TlsPolicy(StrEnum):
    """ALB security policies that offer TLS 1.3 and accept nothing below TLS 1.2 (ELB user guide,
    "Security policies for your Application Load Balancer"); PQ adds hybrid post-quantum key exchange."""

    TLS13_1_2 = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    TLS13_1_2_RES = "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"
    TLS13_1_2_EXT1 = "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06"
    TLS13_1_2_EXT2 = "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06"
    TLS13_1_3 = "ELBSecurityPolicy-TLS13-1-3-2021-06"
    TLS13_1_2_FIPS = "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04"
    TLS13_1_2_RES_FIPS = "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04"
    TLS13_1_3_FIPS = "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04"
    TLS13_1_2_PQ = "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09"
    TLS13_1_2_RES_PQ = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    TLS13_1_2_EXT1_PQ = "ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09"
    TLS13_1_2_EXT2_PQ = "ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09"
    TLS13_1_3_PQ = "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09"
    TLS13_1_2_FIPS_PQ = "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09"
    TLS13_1_2_RES_FIPS_PQ = "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09"
    TLS13_1_3_FIPS_PQ = "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09"


DnsName = text(checks.dns_name, min_length=1, max_length=253)
HostedZoneId = matching(
    r"Z[A-Z0-9]{1,32}", "a Route 53 hosted zone id: Z and up to 32 capital letters and digits", max_length=33
)
HSTS_MAX_AGE_SECONDS = 63_072_000
"""Two years: what the HSTS preload list asks for, and more than any browser keeps a policy."""


class DomainConfig(Section):
    """``flowbuilder:domain`` — the API's public name and its certificate.

    With ``name`` and a hosted zone (``hostedZoneId`` of an existing zone, or ``zoneName`` of one to
    create) the stack issues an ACM certificate validated through that zone and points the name at the
    API; with ``certificateArn`` it uses that certificate instead (and creates the alias records only
    when a zone is given too). Without ``name`` the standard API is plain HTTP, refused on staging/prod.
    """

    name: DnsName | None = None
    """The API's host name, e.g. ``api.example.com``."""
    hosted_zone_id: HostedZoneId | None = None
    """An existing public hosted zone holding ``name``."""
    zone_name: DnsName | None = None
    """Create a public hosted zone of this name (``name`` or a parent of it); delegate to its name servers."""
    certificate_arn: text(checks.certificate_arn, min_length=1, max_length=2048) | None = None
    """An existing ACM certificate for ``name`` in the stack's region, instead of issuing one."""
    hsts_max_age_seconds: whole(300, HSTS_MAX_AGE_SECONDS, "s", why="HSTS max-age, two years at most")
    """``Strict-Transport-Security: max-age=...; includeSubDomains`` on every HTTPS response of the ALB."""
    tls_policy: choice(TlsPolicy)
    """The HTTPS listener's security policy."""

    @model_validator(mode="after")
    def _one_zone_for_the_name(self) -> DomainConfig:
        found: list[tuple[Path, str]] = []
        if self.hosted_zone_id and self.zone_name:
            found.append(
                (("zoneName",), "set hostedZoneId (an existing zone) or zoneName (a zone to create), not both")
            )
        if self.name is None:
            for key, value in (
                ("hostedZoneId", self.hosted_zone_id),
                ("zoneName", self.zone_name),
                ("certificateArn", self.certificate_arn),
            ):
                if value:
                    found.append(((key,), "needs domain.name, the host name it serves"))
        elif not (self.hosted_zone_id or self.zone_name or self.certificate_arn):
            found.append(
                (
                    ("name",),
                    "needs a hosted zone to validate a certificate in (hostedZoneId or zoneName) or an existing "
                    "certificateArn",
                )
            )
        if (
            self.name
            and self.zone_name
            and not (self.name == self.zone_name or self.name.endswith("." + self.zone_name))
        ):
            found.append(
                (("zoneName",), f"{self.zone_name!r} does not hold {self.name!r}; use {self.name!r} or a parent")
            )
        if found:
            raise Invalid(*found)
        return self


class WafConfig(Section):
    """``flowbuilder:waf`` — the web application firewall in front of the standard API's load balancer."""

    enabled: Bool
    rate_limit_per_5_minutes: whole(10, 2_000_000_000, "requests", why="a WAF rate-based rule's limit")
    """Requests one client IP may send in 5 minutes before WAF blocks it (until it slows down)."""
    sql_injection: Bool
    """Add AWS's SQL-injection rule group (the API takes free text)."""


class StorageTier(StrEnum):
    """Where the uploads lifecycle moves objects (S3 lifecycle ``StorageClass``)."""

    INTELLIGENT_TIERING = "INTELLIGENT_TIERING"
    STANDARD_IA = "STANDARD_IA"


class CdnPriceClass(StrEnum):
    """Which CloudFront edge locations serve (CloudFront ``PriceClass``)."""

    PRICE_CLASS_100 = "PriceClass_100"
    """North America and Europe: the cheapest."""
    PRICE_CLASS_200 = "PriceClass_200"
    PRICE_CLASS_ALL = "PriceClass_All"


STANDARD_IA_MIN_DAYS = 30
"""S3 moves objects to STANDARD_IA no sooner than 30 days after creation (S3 user guide, "Transitioning objects")."""


class UploadsCdnConfig(Section):
    """``flowbuilder:uploads.cdn`` — the optional CloudFront distribution in front of the uploads prefix."""

    enabled: Bool
    price_class: choice(CdnPriceClass)
    alias: text(checks.mail_domain, min_length=4, max_length=253) | None = None
    """A host name of your own for the distribution (a DNS record pointing at it is yours to make)."""
    certificate_arn: text(checks.certificate_arn, min_length=1, max_length=2048) | None = None
    """ACM certificate in us-east-1 covering ``alias`` (CloudFront reads certificates only there)."""

    @model_validator(mode="after")
    def _alias_and_certificate(self) -> UploadsCdnConfig:
        if (self.alias is None) != (self.certificate_arn is None):
            missing = "certificateArn" if self.certificate_arn is None else "alias"
            raise Invalid.at(
                missing, "alias and certificateArn go together: CloudFront serves an alias only with its certificate"
            )
        if self.certificate_arn and arns.certificate(self.certificate_arn).region != "us-east-1":
            raise Invalid.at(
                "certificateArn", "CloudFront uses certificates from us-east-1 only; request or import it there"
            )
        return self


class UploadsConfig(Section):
    """``flowbuilder:uploads`` — the private bucket for user files, reached by presigned URLs."""

    enabled: Bool
    prefix: text(checks.key_prefix, min_length=2, max_length=512)
    """The key prefix the applications may write, read and delete under (and the CDN serves)."""
    cors_origins: Annotated[list[text(checks.https_origin, min_length=9, max_length=263)], Field(max_length=100)]
    """Web origins allowed to PUT/POST/GET with presigned URLs from the browser (S3 takes 100 CORS rules)."""
    versioning: Bool
    noncurrent_expiry_days: whole(1, 36500, "days", why="an S3 lifecycle NoncurrentDays")
    """With versioning: how long an overwritten or deleted version is kept."""
    transition_storage_class: choice(StorageTier)
    transition_after_days: whole(0, 36500, "days", why="an S3 lifecycle transition")
    cdn: UploadsCdnConfig

    @model_validator(mode="after")
    def _transition(self) -> UploadsConfig:
        tier, days = self.transition_storage_class, self.transition_after_days
        if tier is StorageTier.STANDARD_IA and days < STANDARD_IA_MIN_DAYS:
            raise Invalid.at(
                "transitionAfterDays",
                f"{self.transition_after_days} days is too soon for STANDARD_IA; allowed: {STANDARD_IA_MIN_DAYS} "
                "or more (S3 lifecycle rule)",
            )
        seen: set[str] = set()
        for index, origin in enumerate(self.cors_origins):
            if origin in seen:
                raise Invalid.at(("corsOrigins", index), "is listed twice")
            seen.add(origin)
        return self


class DmarcPolicy(StrEnum):
    """What receivers do with mail that fails DMARC (RFC 7489 ``p=``)."""

    NONE = "none"
    QUARANTINE = "quarantine"
    REJECT = "reject"


class EmailConfig(Section):
    """``flowbuilder:email`` — the SES domain identity, its DNS records and its events to the backend."""

    enabled: Bool
    domain: text(checks.mail_domain, min_length=4, max_length=253) | None = None
    """The domain mail is sent from; required when ``enabled``."""
    mail_from_subdomain: text(checks.dns_label, min_length=1, max_length=63)
    """Custom MAIL FROM: ``<mailFromSubdomain>.<domain>`` (bounces return there, SPF aligns)."""
    hosted_zone_id: text(checks.hosted_zone_id, min_length=2, max_length=32) | None = None
    """The Route 53 zone of ``domain``; when set the DKIM, MAIL FROM, SPF and DMARC records are made."""
    dmarc_policy: choice(DmarcPolicy)
    dmarc_report_email: Email | None = None
    """Where receivers send aggregate DMARC reports (``rua=mailto:``)."""
    webhook_url: text(checks.https_url, min_length=10, max_length=2048) | None = None
    """The API's HTTPS endpoint SNS delivers bounce, complaint, delivery and reject events to."""

    @model_validator(mode="after")
    def _domain(self) -> EmailConfig:
        if self.enabled and self.domain is None:
            raise Invalid.at("domain", "is required when email.enabled is true: SES verifies and sends from a domain")
        return self


ProjectName = text(checks.project_name, min_length=1, max_length=100)
StackName = text(checks.stack_name, min_length=1, max_length=100)
RegionName = text(checks.region, min_length=1, max_length=32)


SnapshotTime = matching(r"([01][0-9]|2[0-3]):[0-5][0-9]", "a UTC time HH:MM such as 05:00", max_length=5)


class CacheConfig(Section):
    """``flowbuilder:cache`` — the ElastiCache Valkey cache the API and worker use (rate limits, job state)."""

    enabled: Bool
    mode: choice(CacheMode)
    node_type: matching(
        r"cache\.[a-z0-9]+\.[a-z0-9]+", "an ElastiCache node type such as cache.t4g.micro", max_length=32
    )
    """Node mode only."""
    node_count: whole(1, 6, "nodes", why="a replication group has a primary and up to 5 replicas")
    """Node mode only; 2 or more fails over automatically across AZs."""
    max_data_storage_gb: whole(1, 5000, "GB", why="an ElastiCache Serverless cache stores at most 5,000 GB")
    """Serverless only: the ceiling AWS stops writes at, which also caps the bill."""
    max_ecpu_per_second: whole(1000, 15_000_000, "ECPU/s", why="ElastiCache Serverless ECPU limits")
    """Serverless only."""
    snapshot_retention_days: whole(0, 35, "days", why="ElastiCache keeps automatic snapshots at most 35 days")
    """0 takes no automatic snapshot."""
    snapshot_time: SnapshotTime
    """Daily snapshot start (UTC); node mode takes a one-hour window from it."""
    memory_alarm_percent: whole(1, 100, "%")
    """Alarm when the cache uses more than this share of its memory (node) or of maxDataStorageGb (serverless)."""


class VaultLockConfig(Section):
    """``flowbuilder:backups.vaultLock`` — AWS Backup Vault Lock on the primary vault."""

    enabled: Bool
    min_retention_days: whole(1, 36500, "days", why="AWS Backup vault lock")
    max_retention_days: whole(1, 36500, "days", why="AWS Backup vault lock")
    changeable_for_days: whole(3, 36500, "days", why="AWS Backup's grace time is at least 3 days")
    """Until then the lock can be removed; afterwards (compliance mode) nobody, root included, can."""

    @model_validator(mode="after")
    def _range(self) -> VaultLockConfig:
        if self.max_retention_days < self.min_retention_days:
            raise Invalid(
                (
                    ("maxRetentionDays",),
                    f"{self.max_retention_days} is below minRetentionDays ({self.min_retention_days})",
                )
            )
        return self


class BackupsConfig(Section):
    """``flowbuilder:backups`` — AWS Backup of the database (and what else carries the stack's backup tag)."""

    enabled: Bool
    copy_region: RegionName
    """Where every recovery point is copied; must not be the stack's region."""
    daily_retention_days: whole(1, 36500, "days", why="AWS Backup lifecycle")
    weekly_retention_days: whole(1, 36500, "days", why="AWS Backup lifecycle")
    vault_lock: VaultLockConfig


class StackConfig(Section):
    """What every stack has, whatever its topology; a stack is one of its two subclasses.

    A section or key that acts in only one topology is declared on that topology's class, so the
    other refuses it by name (see :data:`TOPOLOGY_MODELS`). Add a section to the class of the
    topology it acts in, or here when both use it.
    """

    project: ProjectName
    stack: StackName
    region: RegionName
    environment: choice(Environment)
    topology: choice(Topology)
    cost_center: text(checks.cost_center, min_length=1, max_length=256)
    images: ImagesConfig
    log_retention_days: one_of_numbers(log_retention_days(), why="CloudWatch Logs retention")
    worker: WorkerTaskConfig
    ecs: EcsCommonConfig
    queue: QueueConfig
    scheduler: SchedulerConfig
    migration: MigrationConfig
    monitoring: MonitoringConfig
    domain: DomainConfig
    uploads: UploadsConfig
    email: EmailConfig

    @model_validator(mode="after")
    def _cross_key_rules(self) -> StackConfig:
        found = rules.problems(self)
        if found:
            raise Invalid(*found)
        return self

    @property
    def name_prefix(self) -> str:
        """Physical-name prefix of every resource: ``<project>-<stack>``."""
        return f"{self.project}-{self.stack}"

    @property
    def is_standard(self) -> bool:
        return self.topology is Topology.STANDARD

    @property
    def default_tags(self) -> dict[str, str]:
        """Tags every taggable resource carries (through the provider's default tags)."""
        return {
            "project": self.project,
            "stack": self.stack,
            "environment": self.environment.value,
            "managed-by": "pulumi",
            "cost-center": self.cost_center,
        }


class StandardStackConfig(StackConfig):
    """``topology: standard`` (dev, staging, prod): a new VPC, RDS, the ALB-fronted API service, the
    queue-scaled worker service, the optional mesh."""

    network: NetworkConfig
    database: DatabaseConfig
    api: ApiConfig
    worker: WorkerConfig
    ecs: EcsConfig
    eks: EksConfig
    waf: WafConfig
    cache: CacheConfig
    backups: BackupsConfig


class ZeroScaleStackConfig(StackConfig):
    """``topology: zero-scale`` (ultra): an existing VPC's public subnets, an external database, the API
    as a Lambda behind an HTTP API, one worker task per message."""

    network: ExistingVpcConfig
    api: ServerlessApiConfig


TOPOLOGY_MODELS: dict[Topology, type[StackConfig]] = {
    Topology.STANDARD: StandardStackConfig,
    Topology.ZERO_SCALE: ZeroScaleStackConfig,
}
"""The model of each topology: the union a stack file is validated against, chosen by ``topology``."""


SECRET_KEYS: dict[str, str] = {
    "externalDatabaseUrl": "zero-scale: the external PostgreSQL URL, stored in Secrets Manager",
}
"""Config keys that must be set with ``pulumi config set --secret``; read as Pulumi secrets, never into the model."""

RETIRED_KEYS: dict[str, str] = {
    "imageTag": "it was replaced by flowbuilder:images, the digest (sha256:...) of each image, which the release "
    "workflow records",
    "api.certificateArn": "it moved to flowbuilder:domain.certificateArn, beside the domain name the certificate "
    "is for (docs/front-door.md)",
    **{
        f"eks.{key}": f"it was removed: {replacement}"
        for key, replacement in {
            "nodeInstanceType": "eks.systemNodes.instanceType sizes the fixed system nodes; Karpenter's NodePools "
            "(the mesh project) choose the rest",
            "nodeCount": "eks.systemNodes.count is the fixed system node count; Karpenter adds nodes for the pods",
            "nodeMaxCount": "Karpenter's NodePool limits (the mesh project) cap the nodes it adds",
            "spotNodeGroup": "Karpenter's NodePools (the mesh project) choose Spot or on-demand capacity",
            "spotInstanceTypes": "Karpenter's NodePools (the mesh project) list the instance types",
            "spotNodeCount": "Karpenter sizes Spot capacity to the pods (the mesh project's NodePools)",
        }.items()
    },
    "database.readReplicas": "it was removed: RDS does not create read replicas of an instance whose master "
    "password it manages (docs/database.md)",
}
"""Keys older stack files may still carry, and what took their place; refused like any unknown key."""


def _vocabulary() -> set[str]:
    """Every key name and enum value of the model: what error messages may always show."""
    words: set[str] = set()
    for section in (Section, *_subclasses(Section)):
        words.update(field.alias or name for name, field in section.model_fields.items())
    for enum in [value for value in globals().values() if isinstance(value, type) and issubclass(value, StrEnum)]:
        words.update(member.value for member in enum)
    return words


def _subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


VOCABULARY.update(_vocabulary())
