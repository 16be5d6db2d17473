"""Cache: the ElastiCache Valkey cache the API and worker keep rate limits and job state in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig.model import CacheConfig, CacheMode

from .constants import VALKEY_PORT
from .context import ApplicationAccess, StackContext
from .iam import policy_document, statement
from .watch import Alarm, Graph, Metric, MissingData, Severity, Watch

ENGINE = "valkey"
SERVERLESS_MAJOR_VERSION = "8"
NODE_ENGINE_VERSION = "8.0"
ACCESS_STRING = "on ~* &* +@all -@dangerous"
"""Every key and channel, every command except the ``@dangerous`` ones (FLUSHALL, KEYS, CONFIG,
DEBUG, ...): rate limits and job state need no administration of the cache."""
SNAPSHOT_WINDOW_HOURS = 1
EVICTIONS_THRESHOLD = 0
GB = 1000**3
"""ElastiCache Serverless counts its storage limit in decimal gigabytes."""


@dataclass
class CacheArgs:
    """Inputs of :class:`Cache`."""

    context: StackContext
    cache: CacheConfig
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """The database subnets: no route out, reachable only from inside the VPC."""
    access: ApplicationAccess
    """The roles granted ``elasticache:Connect`` and the groups admitted on 6379 (API and worker)."""


class Cache(pulumi.ComponentResource):
    """An ElastiCache Valkey cache only the applications can reach, with IAM authentication.

    Creates:

    * the security group ``<prefix>-cache`` admitting TCP 6379 from each application group, and an
      egress rule on each of those groups to it (their other egress stays HTTPS and PostgreSQL);
    * the ElastiCache user ``<prefix>-cache-app`` (``authentication_mode: iam``, user id = user name
      as IAM authentication requires; access string ``on ~* &* +@all -@dangerous``) in the user group
      ``<prefix>-cache-users``. A Valkey user group needs no ``default`` user and admits only users
      that authenticate, so no connection is ever unauthenticated and no password exists anywhere;
    * ``cache.mode: serverless`` (default): the serverless cache ``<prefix>-cache``, Valkey 8, in
      the database subnets, limited to ``maxDataStorageGb`` (1 GB) and ``maxEcpuPerSecond`` (5,000),
      TLS always, encrypted at rest with the AWS-owned key;
    * ``cache.mode: node``: the subnet group and the replication group ``<prefix>-valkey`` of
      ``nodeCount`` (1) ``nodeType`` (cache.t4g.micro) nodes, Multi-AZ with automatic failover from 2
      nodes, TLS required, encrypted at rest;
    * snapshots kept ``snapshotRetentionDays`` (prod 7, else 0) from ``snapshotTime`` (05:00 UTC);
    * an inline policy on each application role: ``elasticache:Connect`` on the cache and the user only.

    Switching ``mode`` creates a new, empty cache under another name and deletes the old one.

    ``watch``: memory above ``memoryAlarmPercent`` (80 %) of the node's memory or of
    ``maxDataStorageGb``, and any eviction; memory, evictions and (serverless) ECPU graphs.
    :func:`cache_environment` is what the API and worker receive: ``CACHE_ENDPOINT``, ``CACHE_PORT``,
    ``CACHE_USER``, ``CACHE_NAME``, ``CACHE_SERVERLESS`` and ``CACHE_IAM_AUTH=true``, no credential
    (each task signs a short-lived IAM token with its own role).
    """

    endpoint: pulumi.Output[str]
    port: int
    user_name: str
    cache_name: str
    watch: Watch

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Cache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context, cache = args.context, args.cache
        serverless = cache.mode is CacheMode.SERVERLESS

        group = aws.ec2.SecurityGroup(
            f"{name}-cache-sg",
            # Description and VPC are replace-only; a prefix lets the replacement exist beside the old group.
            name_prefix=context.name("cache", "cache") + "-",
            description="Valkey cache: 6379 from the application tasks only",
            vpc_id=args.vpc_id,
            tags={"Name": context.name("cache", "cache")},
            opts=child,
        )
        for index, client in enumerate(args.access.security_group_ids):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-cache-from-app-{index}",
                security_group_id=group.id,
                description="Valkey from an application group",
                ip_protocol="tcp",
                from_port=VALKEY_PORT,
                to_port=VALKEY_PORT,
                referenced_security_group_id=client,
                opts=child,
            )
            aws.vpc.SecurityGroupEgressRule(
                f"{name}-app-{index}-cache-out",
                security_group_id=client,
                description="Valkey to the cache",
                ip_protocol="tcp",
                from_port=VALKEY_PORT,
                to_port=VALKEY_PORT,
                referenced_security_group_id=group.id,
                opts=child,
            )

        self.user_name = cache_user_name(context)
        user = aws.elasticache.User(
            f"{name}-cache-app",
            user_id=self.user_name,
            user_name=self.user_name,
            engine=ENGINE,
            access_string=ACCESS_STRING,
            authentication_mode=aws.elasticache.UserAuthenticationModeArgs(type="iam"),
            opts=child,
        )
        users = aws.elasticache.UserGroup(
            f"{name}-cache-users",
            user_group_id=context.name("cache", "cache-users"),
            engine=ENGINE,
            user_ids=[user.user_id],
            opts=child,
        )
        retention = cache.snapshot_retention_days
        if serverless:
            self.cache_name = cache_name(context, cache.mode)
            server = aws.elasticache.ServerlessCache(
                f"{name}-cache",
                name=self.cache_name,
                engine=ENGINE,
                major_engine_version=SERVERLESS_MAJOR_VERSION,
                description=f"{context.prefix}: rate limits and job state",
                subnet_ids=args.subnet_ids,
                security_group_ids=[group.id],
                user_group_id=users.user_group_id,
                cache_usage_limits=aws.elasticache.ServerlessCacheCacheUsageLimitsArgs(
                    data_storage=aws.elasticache.ServerlessCacheCacheUsageLimitsDataStorageArgs(
                        maximum=cache.max_data_storage_gb, unit="GB"
                    ),
                    ecpu_per_seconds=[
                        aws.elasticache.ServerlessCacheCacheUsageLimitsEcpuPerSecondArgs(
                            maximum=cache.max_ecpu_per_second
                        )
                    ],
                ),
                daily_snapshot_time=cache.snapshot_time if retention else None,
                snapshot_retention_limit=retention,
                # Engine, key and subnets are replace-only and the name is fixed; the cache holds only
                # rebuildable state (its snapshots are kept), so the old one goes first.
                opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=True)),
            )
            arn = server.arn
            self.endpoint = server.endpoints.apply(lambda endpoints: str(endpoints[0].address))
            self.watch = serverless_watch(self.cache_name, cache)
        else:
            self.cache_name = cache_name(context, cache.mode)
            subnets = aws.elasticache.SubnetGroup(
                f"{name}-cache",
                name=context.name("cache", "cache"),
                description=f"{context.prefix} cache: the database subnets",
                subnet_ids=args.subnet_ids,
                opts=child,
            )
            failover = cache.node_count > 1
            replication = aws.elasticache.ReplicationGroup(
                f"{name}-valkey",
                replication_group_id=self.cache_name,
                description=f"{context.prefix}: rate limits and job state",
                engine=ENGINE,
                engine_version=NODE_ENGINE_VERSION,
                node_type=cache.node_type,
                num_cache_clusters=cache.node_count,
                port=VALKEY_PORT,
                subnet_group_name=subnets.name,
                security_group_ids=[group.id],
                user_group_ids=[users.user_group_id],
                at_rest_encryption_enabled=True,
                transit_encryption_enabled=True,
                transit_encryption_mode="required",
                automatic_failover_enabled=failover,
                multi_az_enabled=failover,
                snapshot_retention_limit=retention,
                snapshot_window=snapshot_window(cache.snapshot_time) if retention else None,
                # Set, so AWS cannot pick a window that overlaps the snapshot's.
                maintenance_window=maintenance_window(cache.snapshot_time),
                auto_minor_version_upgrade=True,
                apply_immediately=True,
                opts=child,
            )
            arn = replication.arn
            self.endpoint = replication.primary_endpoint_address
            self.watch = node_watch(self.cache_name, cache)
        self.port = VALKEY_PORT

        for index, role in enumerate(args.access.role_names):
            connect_policy(f"{name}-cache-connect-{index}", role, [arn, user.arn], child)

        self.register_outputs({"endpoint": self.endpoint, "user_name": self.user_name, "cache_name": self.cache_name})


def cache_name(context: StackContext, mode: CacheMode) -> str:
    """``<prefix>-cache`` (serverless) or ``<prefix>-valkey`` (node): another mode is another cache, so
    a switch creates the new one before deleting the old without a name clash."""
    return context.name("cache", "cache" if mode is CacheMode.SERVERLESS else "valkey")


def cache_user_name(context: StackContext) -> str:
    """``<prefix>-cache-app``: user id and user name alike, as IAM authentication requires."""
    return context.name("cache", "cache-app")


def cache_environment(
    context: StackContext, cache: CacheConfig, endpoint: pulumi.Input[str]
) -> dict[str, pulumi.Input[str]]:
    """The ``CACHE_*`` settings of the API and worker; all but the endpoint follow from config."""
    return {
        "CACHE_ENDPOINT": endpoint,
        "CACHE_PORT": str(VALKEY_PORT),
        "CACHE_USER": cache_user_name(context),
        # The IAM token is a SigV4-presigned "connect" request naming the cache (and, serverless,
        # ResourceType=ServerlessCache).
        "CACHE_NAME": cache_name(context, cache.mode),
        "CACHE_SERVERLESS": "true" if cache.mode is CacheMode.SERVERLESS else "false",
        "CACHE_IAM_AUTH": "true",
    }


def connect_policy(
    name: str, role_name: pulumi.Input[str], resources: list[pulumi.Input[str]], opts: pulumi.ResourceOptions
) -> aws.iam.RolePolicy:
    """``elasticache:Connect`` on exactly the cache and its user, on a role another component owns."""
    grant = statement(["elasticache:Connect"], resources, sid="ConnectToCache")
    return aws.iam.RolePolicy(name, role=role_name, policy=policy_document(grant), opts=opts)


def snapshot_window(start: str) -> str:
    """``HH:MM-HH:MM``: one hour from ``start`` (UTC), across midnight where it falls."""
    hours, minutes = (int(part) for part in start.split(":"))
    return f"{start}-{(hours + SNAPSHOT_WINDOW_HOURS) % 24:02d}:{minutes:02d}"


def maintenance_window(snapshot_start: str) -> str:
    """Sundays, the hour after the snapshot window (``ddd:HH:MM-ddd:HH:MM``, UTC)."""
    hours, minutes = (int(part) for part in snapshot_start.split(":"))
    start = hours + SNAPSHOT_WINDOW_HOURS

    def at(hour: int) -> str:
        return f"{'sun' if hour < 24 else 'mon'}:{hour % 24:02d}:{minutes:02d}"

    return f"{at(start)}-{at(start + 1)}"


def evictions_alarm(dimensions: dict[str, Any]) -> Alarm:
    return Alarm(
        "cache-evictions",
        severity=Severity.WARNING,
        summary="The cache evicted keys: it is full, so rate limits and job state are being dropped.",
        runbook=(
            "Raise cache.maxDataStorageGb (serverless) or cache.nodeType (node), or find the keys "
            "written without a TTL."
        ),
        metric=Metric("AWS/ElastiCache", "Evictions", dimensions),
        statistic="Sum",
        comparison="GreaterThanThreshold",
        threshold=EVICTIONS_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=MissingData.NOT_BREACHING,
    )


def serverless_watch(cache_name: str, cache: CacheConfig) -> Watch:
    dimensions = {"clusterId": cache_name}
    limit = cache.max_data_storage_gb * GB
    threshold = limit * cache.memory_alarm_percent / 100
    memory = Metric("AWS/ElastiCache", "BytesUsedForCache", dimensions)
    return Watch(
        alarms=(
            Alarm(
                "cache-memory",
                severity=Severity.WARNING,
                summary=(
                    f"The cache holds more than {cache.memory_alarm_percent} % of its "
                    f"{cache.max_data_storage_gb} GB limit; at the limit it evicts."
                ),
                runbook="Raise cache.maxDataStorageGb, or find the keys written without a TTL.",
                metric=memory,
                statistic="Maximum",
                comparison="GreaterThanThreshold",
                threshold=threshold,
                evaluation_periods=3,
                treat_missing_data=MissingData.MISSING,
            ),
            evictions_alarm(dimensions),
        ),
        graphs=(
            Graph("Cache bytes used", (memory.line(),), stat="Maximum", threshold=threshold),
            Graph(
                "Cache ECPU and evictions",
                (
                    Metric("AWS/ElastiCache", "ElastiCacheProcessingUnits", dimensions).line(),
                    Metric("AWS/ElastiCache", "Evictions", dimensions).line(),
                ),
                stat="Sum",
            ),
        ),
    )


def node_watch(replication_group_id: str, cache: CacheConfig) -> Watch:
    # Node metrics are per member cluster; -001 is the first node (the primary until a failover),
    # and replicas hold the same data.
    dimensions = {"CacheClusterId": f"{replication_group_id}-001"}
    memory = Metric("AWS/ElastiCache", "DatabaseMemoryUsagePercentage", dimensions)
    return Watch(
        alarms=(
            Alarm(
                "cache-memory",
                severity=Severity.WARNING,
                summary=f"The cache uses more than {cache.memory_alarm_percent} % of its memory; when full it evicts.",
                runbook="Move cache.nodeType up a size, or find the keys written without a TTL.",
                metric=memory,
                statistic="Maximum",
                comparison="GreaterThanThreshold",
                threshold=cache.memory_alarm_percent,
                evaluation_periods=3,
                treat_missing_data=MissingData.MISSING,
            ),
            evictions_alarm(dimensions),
        ),
        graphs=(
            Graph("Cache memory %", (memory.line(),), stat="Maximum", threshold=cache.memory_alarm_percent),
            Graph("Cache evictions", (Metric("AWS/ElastiCache", "Evictions", dimensions).line(),), stat="Sum"),
        ),
    )
