"""The one model of a stack's configuration.

Every ``flowbuilder:*`` key of a ``Pulumi.<stack>.yaml`` file is validated
here, and nowhere else. Keys are camelCase as Pulumi writes them; unknown keys
are rejected. Defaults depend on the stack's ``environment`` and ``topology``
and are listed in :mod:`stackconfig.defaults`, which is the documentation of
every default.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .aws_limits import (
    LAMBDA_MEMORY_MB,
    LAMBDA_TIMEOUT_SECONDS,
    fargate_pair_error,
    is_graviton,
    known_regions,
)


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


class Section(BaseModel):
    """Base for every section: camelCase keys, unknown keys rejected, values frozen."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        use_enum_values=False,
    )


Cidr = Annotated[str, Field(pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")]
Port = Annotated[int, Field(ge=1, le=65535)]


class NetworkConfig(Section):
    """``flowbuilder:network`` — the VPC, or the existing VPC for zero-scale."""

    vpc_cidr: Cidr
    availability_zones: int = Field(ge=1, le=6)
    """How many AZs to spread over; standard needs at least 2."""
    public_subnet_cidrs: list[Cidr]
    private_subnet_cidrs: list[Cidr]
    database_subnet_cidrs: list[Cidr]
    nat_strategy: NatStrategy
    nat_instance_type: str = Field(pattern=r"^t4g\.|^c[67]gn?\.|^m[67]g\.")
    """Graviton type for the NAT instance; only used with ``natStrategy: instance``."""
    interface_endpoints: bool
    """Create interface endpoints (logs, sqs, secretsmanager, ecr.api, ecr.dkr) in every AZ."""
    flow_log_traffic: str = Field(pattern=r"^(ALL|ACCEPT|REJECT)$")
    existing_vpc_id: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    """zero-scale only: the VPC whose public subnets run tasks; the default VPC when unset."""

    @model_validator(mode="after")
    def _subnets_fit(self) -> NetworkConfig:
        vpc = ipaddress.ip_network(self.vpc_cidr, strict=True)
        seen: list[tuple[str, ipaddress.IPv4Network]] = []
        for tier in ("public", "private", "database"):
            cidrs = getattr(self, f"{tier}_subnet_cidrs")
            if len(cidrs) < self.availability_zones:
                raise ValueError(
                    f"{to_camel(tier + '_subnet_cidrs')} has {len(cidrs)} CIDRs; "
                    f"need one per availability zone ({self.availability_zones})"
                )
            for cidr in cidrs[: self.availability_zones]:
                net = ipaddress.ip_network(cidr, strict=True)
                if not net.subnet_of(vpc):
                    raise ValueError(f"subnet {cidr} ({tier}) is outside vpcCidr {self.vpc_cidr}")
                for other_cidr, other in seen:
                    if net.overlaps(other):
                        raise ValueError(f"subnet {cidr} ({tier}) overlaps subnet {other_cidr}")
                seen.append((cidr, net))
        return self


class DatabaseConfig(Section):
    """``flowbuilder:database`` — RDS PostgreSQL (standard topology only)."""

    engine_version: str = Field(pattern=r"^(13|14|15|16|17)(\.\d+)?$")
    """A supported PostgreSQL major version (minor upgrades are automatic)."""
    instance_class: str = Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    allocated_storage_gb: int = Field(ge=20, le=65536)
    max_allocated_storage_gb: int = Field(ge=20, le=65536)
    """Storage autoscaling ceiling."""
    backup_retention_days: int = Field(ge=1, le=35)
    multi_az: bool
    backup_window: str = Field(pattern=r"^\d\d:\d\d-\d\d:\d\d$")
    maintenance_window: str = Field(pattern=r"^[a-z]{3}:\d\d:\d\d-[a-z]{3}:\d\d:\d\d$")
    apply_immediately: bool
    """Apply instance changes during ``pulumi up`` (a class change restarts the instance then)
    instead of in the next maintenance window. A major-version upgrade needs it on."""
    database_name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    master_username: str = Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")
    deletion_protection: bool
    """RDS deletion protection and Pulumi ``protect`` on the primary instance."""
    final_snapshot: bool
    """Take a snapshot named ``<identifier>-final`` when the primary is deleted, and keep its automated backups."""
    extended_support: bool
    """Allow paid RDS Extended Support once the major version leaves standard support; when off,
    RDS upgrades the major version itself at the end of standard support."""
    performance_insights: bool
    enhanced_monitoring_seconds: int = Field(ge=0, le=60)
    """0 turns enhanced monitoring off; otherwise one of 1, 5, 10, 15, 30, 60."""
    slow_statement_ms: int = Field(ge=-1)
    """``log_min_duration_statement``; -1 turns slow-statement logging off."""

    @model_validator(mode="after")
    def _storage(self) -> DatabaseConfig:
        if self.max_allocated_storage_gb < self.allocated_storage_gb:
            raise ValueError("maxAllocatedStorageGb must be at least allocatedStorageGb")
        if self.enhanced_monitoring_seconds not in (0, 1, 5, 10, 15, 30, 60):
            raise ValueError("enhancedMonitoringSeconds must be one of 0, 1, 5, 10, 15, 30, 60")
        return self


class FargateSize(Section):
    """A Fargate task size: CPU units and memory MiB that Fargate accepts together."""

    cpu: int
    memory: int

    @model_validator(mode="after")
    def _valid_pair(self) -> FargateSize:
        problem = fargate_pair_error(self.cpu, self.memory)
        if problem:
            raise ValueError(problem)
        return self


class ApiConfig(FargateSize):
    """``flowbuilder:api`` — the HTTP API: a Fargate service behind the ALB in standard; in zero-scale a
    container-image Lambda behind an API Gateway HTTP API, which uses ``containerPort``,
    ``healthCheckPath``, ``memory`` (capped to Lambda's range) and the ``lambda*``/``throttle*`` keys."""

    container_port: Port
    desired_count: int = Field(ge=0)
    min_count: int = Field(ge=0)
    max_count: int = Field(ge=1)
    health_check_path: str = Field(pattern=r"^/")
    certificate_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:acm:")
    """ACM certificate for HTTPS; without one the ALB serves plain HTTP."""
    lambda_reserved_concurrency: int = Field(ge=0, le=1000)
    """zero-scale only: requests the API function serves at once (its reserved concurrency), so a
    spike cannot take the account's Lambda concurrency or the database's connections; 0 stops the API."""
    throttle_rate_per_second: float = Field(gt=0, le=10000)
    """zero-scale only: steady requests per second the HTTP API stage lets through; beyond it clients get 429."""
    throttle_burst: int = Field(ge=1, le=5000)
    """zero-scale only: requests the HTTP API stage accepts at once above the steady rate."""

    @model_validator(mode="after")
    def _counts(self) -> ApiConfig:
        if not self.min_count <= self.desired_count <= self.max_count:
            raise ValueError("need minCount <= desiredCount <= maxCount")
        return self


class WorkerConfig(FargateSize):
    """``flowbuilder:worker`` — the queue worker (service in standard, one task per message in zero-scale)."""

    max_count: int = Field(ge=1, le=1000)
    backlog_per_task: int = Field(ge=1)
    """Target messages waiting per running task when scaling out."""
    max_run_minutes: int = Field(ge=1, le=720)
    """Longest a job may run; the queue's visibility timeout is derived from it."""
    scale_in_after_minutes: int = Field(ge=1, le=120)
    """How long the queue must be empty (visible + in flight) before scaling to zero."""
    stop_timeout_seconds: int = Field(ge=2, le=120)
    spot_weight: int = Field(ge=0, le=1000)
    on_demand_weight: int = Field(ge=0, le=1000)
    backlog_sample_seconds: int
    """Standard only: how often the backlog function samples the queue (10, 20, 30 or 60). It bounds
    the time from a message to the first task, and the function's cost (it waits between samples)."""

    @model_validator(mode="after")
    def _weights(self) -> WorkerConfig:
        if self.spot_weight + self.on_demand_weight == 0:
            raise ValueError("spotWeight and onDemandWeight cannot both be 0")
        return self

    @field_validator("backlog_sample_seconds")
    @classmethod
    def _alarm_period(cls, seconds: int) -> int:
        if seconds not in (10, 20, 30, 60):
            raise ValueError("must be one of 10, 20, 30, 60 (it is also a CloudWatch alarm period)")
        return seconds


SECRET_REFERENCE = (
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}"
    r"(:[A-Za-z0-9_.-]*:[A-Za-z0-9_.-]*:[A-Za-z0-9_.-]*)?$"
)
"""An ECS ``valueFrom`` into Secrets Manager: the complete secret ARN (with its 6-character suffix, so
IAM can name exactly that secret), optionally followed by a JSON key, version stage and version id."""


class EcsConfig(Section):
    """``flowbuilder:ecs`` — settings shared by every ECS task of the stack."""

    architecture: CpuArchitecture
    container_insights: bool
    exec_enabled: bool
    """ECS Exec (shell into tasks) for debugging."""
    keep_tagged_images: int = Field(ge=1, le=1000)
    application_secrets: dict[
        Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")],
        Annotated[str, Field(pattern=SECRET_REFERENCE)],
    ]
    """Standard only: variables the API and worker receive from Secrets Manager, as
    ``NAME: <full secret ARN>[:<json-key>:<version-stage>:<version-id>]``. ECS reads the value
    when a task starts; it never passes through Pulumi or the task definition."""


Digest = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]


class ImagesConfig(Section):
    """``flowbuilder:images`` — the images the stack runs, pinned by digest.

    The release workflow records the digests it pushed in dev's stack file; promotion copies the
    images by digest into the next stack's repositories and records the same digests there. Every
    key is optional: what runs an image whose digest is absent waits for it (ECS services at 0
    tasks, image Lambdas not created, the zero-scale pipe STOPPED).
    """

    source_commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")
    """The application commit the images were built from: a record for people, nothing runs it."""
    api: Digest | None = None
    worker: Digest | None = None
    scheduler: Digest | None = None


class QueueConfig(Section):
    """``flowbuilder:queue`` — the work queue and its dead-letter queue."""

    max_receive_count: int = Field(ge=1, le=1000)
    dlq_retention_days: int = Field(ge=1, le=14)
    message_retention_days: int = Field(ge=1, le=14)


class SchedulerConfig(Section):
    """``flowbuilder:scheduler`` — the container-image Lambda that feeds the queue."""

    memory_mb: int = Field(ge=LAMBDA_MEMORY_MB[0], le=LAMBDA_MEMORY_MB[1])
    timeout_seconds: int = Field(ge=LAMBDA_TIMEOUT_SECONDS[0], le=LAMBDA_TIMEOUT_SECONDS[1])
    schedule_expression: str = Field(pattern=r"^(rate|cron)\(.+\)$")


class MonitoringConfig(Section):
    """``flowbuilder:monitoring`` — alarms, dashboard, alert topic and budget."""

    alert_emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]]
    dashboard: bool
    monthly_budget_usd: float = Field(gt=0)
    oldest_message_age_seconds: int = Field(ge=60)
    """Alarm when the oldest queued message is older than this."""


class HpaConfig(Section):
    """A service's HorizontalPodAutoscaler: replicas between ``min`` and ``max`` at ``cpuPercent`` of requests."""

    min: int = Field(ge=1)
    max: int = Field(ge=1)
    cpu_percent: int = Field(ge=1, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> HpaConfig:
        if self.max < self.min:
            raise ValueError("hpa.max must be at least hpa.min")
        return self


class PdbConfig(Section):
    """A service's PodDisruptionBudget."""

    min_available: int = Field(ge=0)


class ServiceConfig(Section):
    """One Kubernetes workload of the mesh.

    The optional keys default here rather than in :mod:`stackconfig.defaults`
    because they apply to each item of the ``services`` list.
    """

    name: str = Field(pattern=r"^[a-z]([-a-z0-9]{0,50}[a-z0-9])?$")
    image: str = Field(pattern=r"^[^:@\s]+(:[A-Za-z0-9_.-]+|@sha256:[0-9a-f]{64})$")
    """A pinned image: a tag or a digest, never a bare name. Without a registry host
    (``flowbuilder-prod/api:<sha>``) it is pulled from the stack account's ECR."""
    port: Port
    replicas: int = Field(ge=1)
    """Replicas at creation; afterwards the HorizontalPodAutoscaler owns the count."""
    cpu: str = Field(pattern=r"^\d+m?$")
    memory: str = Field(pattern=r"^\d+(Mi|Gi)$")
    hpa: HpaConfig
    pdb: PdbConfig
    health_path: str = Field(default="/health", pattern=r"^/")
    """HTTP path of the liveness and readiness probes."""
    timeout_seconds: int = Field(default=15, ge=1, le=300)
    """Mesh timeout of one request to the service, retries included."""
    retries: int = Field(default=2, ge=0, le=10)
    """Mesh retries on connection failures, resets and 503s."""
    gateway_path: str | None = Field(default=None, pattern=r"^/")
    """URL path prefix the ingress gateway routes to the service; unset keeps it inside the mesh."""
    spot: bool = False
    """Stateless work allowed on the Spot node group (only when ``spotNodeGroup`` is on)."""

    @field_validator("image")
    @classmethod
    def _not_latest(cls, image: str) -> str:
        if image.endswith(":latest"):
            raise ValueError("image must be pinned to a version or digest, not :latest")
        return image

    @model_validator(mode="after")
    def _replicas(self) -> ServiceConfig:
        if not self.hpa.min <= self.replicas <= self.hpa.max:
            raise ValueError(f"service {self.name}: need hpa.min <= replicas <= hpa.max")
        # A budget that keeps every minimum replica blocks node drains, so a
        # node-group update would stall until EKS gives up after 15 minutes.
        if self.pdb.min_available >= self.hpa.min:
            raise ValueError(
                f"service {self.name}: pdb.minAvailable ({self.pdb.min_available}) must be below hpa.min "
                f"({self.hpa.min}) or no pod can ever be evicted to drain a node"
            )
        return self


InstanceType = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]


class EksConfig(Section):
    """``flowbuilder:eks`` — the optional EKS + Istio mesh (never in zero-scale)."""

    enabled: bool
    kubernetes_version: str = Field(pattern=r"^1\.\d{2}$")
    """Control-plane and node version; upgrade one minor at a time before standard support ends."""
    node_instance_type: InstanceType
    """Instance type of the on-demand node group; Graviton types run the ARM64 AMI."""
    node_count: int = Field(ge=1)
    node_max_count: int = Field(ge=1)
    spot_node_group: bool
    """Add a tainted Spot node group that only services marked ``spot: true`` tolerate."""
    spot_instance_types: list[InstanceType] = Field(min_length=1)
    """Types the Spot group may use (several, so one Spot pool running dry does not empty it)."""
    spot_node_count: int = Field(ge=1)
    admin_role_arns: list[Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")]]
    """IAM roles granted cluster-admin through EKS access entries (the identity running
    ``pulumi up`` is admin already)."""
    public_access_cidrs: list[Cidr]
    """Who may reach the public API endpoint; empty keeps the endpoint private."""
    prometheus_retention_days: int = Field(ge=1)
    prometheus_volume_gb: int = Field(ge=0)
    """0 keeps Prometheus data on the node (lost on reschedule)."""
    tracing: bool
    """Send mesh traces through an OpenTelemetry collector to AWS X-Ray."""
    services: list[ServiceConfig]

    @field_validator("public_access_cidrs")
    @classmethod
    def _no_open_endpoint(cls, cidrs: list[str]) -> list[str]:
        if "0.0.0.0/0" in cidrs:
            raise ValueError("0.0.0.0/0 would open the Kubernetes API to the internet; list your CIDRs")
        return cidrs

    @model_validator(mode="after")
    def _nodes_and_services(self) -> EksConfig:
        if self.node_max_count < self.node_count:
            raise ValueError("nodeMaxCount must be at least nodeCount")
        architecture = is_graviton(self.node_instance_type)
        mismatched = [t for t in self.spot_instance_types if is_graviton(t) != architecture]
        if mismatched:
            raise ValueError(
                f"spotInstanceTypes {mismatched} are not the same CPU architecture as nodeInstanceType "
                f"{self.node_instance_type}; images are built for one architecture"
            )
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError("services: every service needs a unique name")
        paths = [s.gateway_path for s in self.services if s.gateway_path]
        if len(set(paths)) != len(paths):
            raise ValueError("services: two services cannot share a gatewayPath")
        return self


class StackConfig(Section):
    """The whole validated configuration of one stack."""

    project: str
    stack: str
    region: str
    environment: Environment
    topology: Topology
    cost_center: str = Field(min_length=1, max_length=256)
    images: ImagesConfig
    log_retention_days: int
    network: NetworkConfig
    database: DatabaseConfig
    api: ApiConfig
    worker: WorkerConfig
    ecs: EcsConfig
    queue: QueueConfig
    scheduler: SchedulerConfig
    monitoring: MonitoringConfig
    eks: EksConfig

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        if region not in known_regions():
            raise ValueError(f"{region!r} is not an AWS region (e.g. us-east-1, ap-south-1)")
        return region

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, days: int) -> int:
        allowed = (
            1,
            3,
            5,
            7,
            14,
            30,
            60,
            90,
            120,
            150,
            180,
            365,
            400,
            545,
            731,
            1096,
            1827,
            2192,
            2557,
            2922,
            3288,
            3653,
        )
        if days not in allowed:
            raise ValueError(f"CloudWatch accepts only {', '.join(map(str, allowed))} days")
        return days

    @model_validator(mode="after")
    def _topology_rules(self) -> StackConfig:
        if self.topology is Topology.STANDARD and self.network.availability_zones < 2:
            raise ValueError("network.availabilityZones: standard topology needs at least 2 AZs")
        if self.topology is Topology.ZERO_SCALE:
            if self.network.nat_strategy is not NatStrategy.NONE:
                raise ValueError("network.natStrategy: zero-scale runs in public subnets; only 'none' is allowed")
            if self.network.interface_endpoints:
                raise ValueError("network.interfaceEndpoints: zero-scale creates no VPC endpoints")
            if self.eks.enabled:
                raise ValueError("eks.enabled: the mesh is never part of the zero-scale topology")
        elif self.network.existing_vpc_id:
            raise ValueError("network.existingVpcId: only zero-scale adopts an existing VPC")
        if self.worker.max_run_minutes * 60 > 43200:
            raise ValueError("worker.maxRunMinutes: SQS visibility timeout is capped at 12 hours")
        if self.topology is Topology.STANDARD and self.environment is Environment.PROD and self.api.min_count < 2:
            raise ValueError("api.minCount: prod keeps at least 2 API tasks so one AZ can fail")
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


SECRET_KEYS: dict[str, str] = {
    "externalDatabaseUrl": "zero-scale: the external PostgreSQL URL, stored in Secrets Manager",
}
"""Config keys that must be set with ``pulumi config set --secret``; read as Pulumi secrets, never into the model."""
