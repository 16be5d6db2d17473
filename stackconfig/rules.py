"""Cross-key rules: combinations of valid values that cannot work together.

This is the one place for rules that read more than one key (or a key and the
region); the model's sections check their own keys. Each rule yields
``(path, problem)`` with the path of the key to change, so the error names it
exactly. :class:`stackconfig.model.StackConfig` runs every rule after its
fields are valid. A key that only one topology has is not there in the other
(the model refuses it), so a rule reads it only under ``config.is_standard``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import arns, cidrs
from .aws_limits import AUTONAME_SUFFIX_LENGTH, NAME_LIMITS, partition_of
from .checks import zone_id_prefix
from .dated_tables import (
    EKS_ADDONS,
    EKS_ADDONS_AS_OF,
    RDS_POSTGRES,
    RDS_POSTGRES_AS_OF,
    REGION_ZONES,
    REGION_ZONES_AS_OF,
)
from .naming import RESERVED_SUFFIX, name_length_problems
from .problems import Path

if TYPE_CHECKING:
    from .model import StackConfig

Rule = Iterator[tuple[Path, str]]


def problems(config: StackConfig) -> list[tuple[Path, str]]:
    """Every cross-key problem of ``config``."""
    found: list[tuple[Path, str]] = []
    for rule in RULES:
        found.extend(rule(config))
    return found


def names_fit(config: StackConfig) -> Rule:
    return name_lengths(config.project, config.stack)


def name_lengths(project: str, stack: str) -> Rule:
    """``<project>-<stack>-<suffix>`` must fit every AWS name limit; blame the name that has to change.

    The loader also runs this on its own when other keys are invalid, so a long name is never hidden.
    """
    tightest_kind, room = min(
        (
            (kind, NAME_LIMITS[kind] - suffix - (AUTONAME_SUFFIX_LENGTH if autonamed else 0))
            for kind, (suffix, autonamed) in RESERVED_SUFFIX.items()
        ),
        key=lambda item: item[1],
    )
    over = name_length_problems(f"{project}-{stack}")
    if not over:
        return
    if len(project) + 2 > room:
        yield (
            ("project",),
            f"{project!r} is {len(project)} characters; project and stack name together start every AWS name, "
            f"so the project name may be at most {room - 2} ({'; '.join(over)})",
        )
    else:
        yield (
            ("stack",),
            f"is {len(stack)} characters; with project {project!r} it may be at most "
            f"{room - len(project) - 1} ({'; '.join(over)}; the tightest are {tightest_kind} names)",
        )


def topology_fits(config: StackConfig) -> Rule:
    """What the standard topology needs of the network it makes."""
    if not config.is_standard:
        return
    network = config.network
    if network.availability_zones < 2:
        yield ("network", "availabilityZones"), "the standard topology needs at least 2 AZs (the ALB and RDS do)"
    if network.nat_strategy.value == "none" and not network.interface_endpoints:
        yield (
            ("network", "natStrategy"),
            "'none' with interfaceEndpoints false leaves the private subnets no way to ECR, CloudWatch Logs, SQS "
            "or Secrets Manager, so no task could start; choose a NAT strategy or set interfaceEndpoints: true",
        )


def private_subnets_reach(config: StackConfig) -> Rule:
    """Without NAT the private subnets reach only the interface endpoints (logs, sqs, secretsmanager,
    ecr.api, ecr.dkr) and S3: what needs any other AWS API or the internet cannot work there."""
    if not config.is_standard or config.network.nat_strategy.value != "none":
        return
    if config.eks.enabled:
        yield (
            ("network", "natStrategy"),
            "'none' with eks.enabled: the mesh's nodes in the private subnets need the EKS, STS and EC2 APIs to "
            "join the cluster and public registries for the Istio and Prometheus images, which no endpoint here "
            "serves; choose a NAT strategy or set eks.enabled: false",
        )
    if config.ecs.exec_enabled:
        yield (
            ("ecs", "execEnabled"),
            "ECS Exec needs the Systems Manager (ssmmessages) API, and network.natStrategy 'none' leaves the "
            "private subnets only the logs, sqs, secretsmanager and ECR endpoints; set execEnabled: false or "
            "choose a NAT strategy",
        )


def zones_exist(config: StackConfig) -> Rule:
    """The region must have as many zones as the stack spreads over."""
    zones = REGION_ZONES[config.region]
    if config.is_standard and config.network.availability_zones > zones:
        yield (
            ("network", "availabilityZones"),
            f"{config.region} has {zones} Availability Zones an account can use ({REGION_ZONES_AS_OF}); "
            f"allowed: 2 to {zones}",
        )


def pinned_zones_in_region(config: StackConfig) -> Rule:
    """Pinned zone IDs must belong to the stack's region."""
    if not config.is_standard or not config.network.availability_zone_ids:
        return
    prefix = zone_id_prefix(config.region)
    if prefix is None:
        return
    for index, zone in enumerate(config.network.availability_zone_ids):
        if not zone.startswith(f"{prefix}-az"):
            yield (
                ("network", "availabilityZoneIds", index),
                f"{zone} is not a zone of {config.region}; allowed: {prefix}-az<N>",
            )


def load_balancer_subnets(config: StackConfig) -> Rule:
    """The ALB lives in the public subnets of standard stacks, which need at least a /27 each."""
    if not config.is_standard:
        return
    for index, cidr in enumerate(config.network.public_subnet_cidrs[: config.network.availability_zones]):
        if cidrs.parse(cidr).prefixlen > cidrs.ALB_SUBNET_MAX_PREFIX:
            yield (
                ("network", "publicSubnetCidrs", index),
                f"{cidr} is too small for the load balancer: ELB needs at least a /27 per subnet; "
                f"allowed: /16 to /{cidrs.ALB_SUBNET_MAX_PREFIX}",
            )


def arns_in_stack_region(config: StackConfig) -> Rule:
    """ARNs the stack uses must be in its partition, and regional ones in its region (the certificate on
    both topologies; only standard stacks take the others)."""
    partition, _ = partition_of(config.region)
    if config.domain.certificate_arn:
        arn = arns.certificate(config.domain.certificate_arn)
        if (arn.partition, arn.region) != (partition, config.region):
            yield (
                ("domain", "certificateArn"),
                f"the certificate is in {arn.region} ({arn.partition}); the load balancer and a regional API "
                f"domain can only use one in the stack's region {config.region} ({partition})",
            )
    if not config.is_standard:
        return
    for name, reference in config.ecs.application_secrets.items():
        arn = arns.secret_reference(reference)
        if (arn.partition, arn.region) != (partition, config.region):
            yield (
                ("ecs", "applicationSecrets", name),
                f"the secret is in {arn.region} ({arn.partition}); tasks read secrets in the stack's region "
                f"{config.region} ({partition})",
            )
    for index, role in enumerate(config.eks.admin_role_arns):
        if arns.role(role).partition != partition:
            yield (
                ("eks", "adminRoleArns", index),
                f"the role is in partition {arns.role(role).partition}; the stack's region {config.region} is in "
                f"{partition}",
            )


def queue_retention(config: StackConfig) -> Rule:
    """SQS keeps a dead-lettered message's original enqueue time (SQS developer guide, "Dead-letter queues"):
    a DLQ that keeps messages no longer than the queue drops them as they arrive."""
    queue = config.queue
    if queue.dlq_retention_days <= queue.message_retention_days:
        yield (
            ("queue", "dlqRetentionDays"),
            f"{queue.dlq_retention_days} days must be more than messageRetentionDays ({queue.message_retention_days}): "
            "SQS counts a dead-lettered message's age from its first enqueue, so it would expire on arrival",
        )
    if config.monitoring.oldest_message_age_seconds >= queue.message_retention_days * 86400:
        yield (
            ("monitoring", "oldestMessageAgeSeconds"),
            f"{config.monitoring.oldest_message_age_seconds} s is not below queue.messageRetentionDays "
            f"({queue.message_retention_days} days = {queue.message_retention_days * 86400} s): messages expire "
            "before the alarm could fire",
        )


def queue_attempts(config: StackConfig) -> Rule:
    """A standard worker's message is received up to ``maxReceiveCount`` times, each receive hiding it for
    the visibility timeout (``worker.maxRunMinutes`` + 1 minute); SQS deletes it at the end of its retention
    whatever attempt it is on. Zero-scale's runs retry in Step Functions, after the queue let the message go."""
    if not config.is_standard:
        return
    queue, worker = config.queue, config.worker
    attempts_minutes = queue.max_receive_count * (worker.max_run_minutes + 1)
    if attempts_minutes >= queue.message_retention_days * 1440:
        yield (
            ("queue", "messageRetentionDays"),
            f"{queue.message_retention_days} days ({queue.message_retention_days * 1440} minutes) is not more than "
            f"maxReceiveCount ({queue.max_receive_count}) x (worker.maxRunMinutes ({worker.max_run_minutes}) + 1) "
            f"= {attempts_minutes} minutes: SQS would delete a message before its last attempt; keep more days, "
            "fewer attempts or shorter runs",
        )


def api_burst_fits_concurrency(config: StackConfig) -> Rule:
    """Zero-scale's HTTP API stage lets a burst through at once; more than the function's reserved
    concurrency and Lambda throttles the rest, which clients see as a 5xx instead of the stage's 429."""
    if config.is_standard:
        return
    api = config.api
    if api.lambda_reserved_concurrency and api.throttle_burst > api.lambda_reserved_concurrency:
        yield (
            ("api", "throttleBurst"),
            f"{api.throttle_burst} is above lambdaReservedConcurrency ({api.lambda_reserved_concurrency}): the "
            "stage would pass requests the function then throttles, and clients would get a 5xx instead of 429; "
            f"allowed: 1 to {api.lambda_reserved_concurrency}",
        )


def database_support(config: StackConfig) -> Rule:
    """A major version past RDS standard support only runs with paid Extended Support."""
    if not config.is_standard:
        return
    database = config.database
    major = database.engine_version.partition(".")[0]
    standard_end, _ = RDS_POSTGRES[major]
    if standard_end <= RDS_POSTGRES_AS_OF and not database.extended_support:
        supported = [m for m, (end, _) in RDS_POSTGRES.items() if end > RDS_POSTGRES_AS_OF]
        yield (
            ("database", "engineVersion"),
            f"PostgreSQL {major} left RDS standard support on {standard_end}: RDS creates it only with paid "
            f"Extended Support (set extendedSupport: true) ; allowed without it: {', '.join(supported)}",
        )


def eks_cluster(config: StackConfig) -> Rule:
    """The cluster's add-ons are pinned per Kubernetes version, and prod keeps every control-plane log."""
    from .model import ControlPlaneLogType  # the model imports this module

    if not config.is_standard or not config.eks.enabled:
        return
    eks = config.eks
    if eks.kubernetes_version not in EKS_ADDONS:
        yield (
            ("eks", "kubernetesVersion"),
            f"{eks.kubernetes_version} has no pinned add-on versions ({EKS_ADDONS_AS_OF}); allowed: "
            f"{', '.join(EKS_ADDONS)} (add a row to stackconfig/dated_tables.py EKS_ADDONS to upgrade)",
        )
    if config.environment.value == "prod":
        missing = [kind.value for kind in ControlPlaneLogType if kind not in eks.control_plane_log_types]
        if missing:
            yield (
                ("eks", "controlPlaneLogTypes"),
                f"prod sends all five control-plane log types; missing: {', '.join(missing)}",
            )


def prod_api_spread(config: StackConfig) -> Rule:
    if config.is_standard and config.environment.value == "prod" and config.api.min_count < 2:
        yield ("api", "minCount"), "prod keeps at least 2 API tasks so one AZ can fail"


def https_only(config: StackConfig) -> Rule:
    """Staging and prod serve the standard API over HTTPS only, so they need a domain to hold a certificate."""
    if config.is_standard and config.environment.value in ("staging", "prod") and config.domain.name is None:
        yield (
            ("domain", "name"),
            f"{config.environment.value} serves HTTPS only and needs the API's domain name, with hostedZoneId or "
            "zoneName (a certificate is issued and validated there) or certificateArn; only dev may stay on plain HTTP",
        )


def backups_fit(config: StackConfig) -> Rule:
    """AWS Backup copies to another region of the same partition, and a vault lock refuses recovery
    points whose retention lies outside its range."""
    if not config.is_standard or not config.backups.enabled:
        return
    backups = config.backups
    if backups.copy_region == config.region:
        yield (
            ("backups", "copyRegion"),
            f"{backups.copy_region} is the stack's own region; a copy there survives no regional outage; "
            "name another region",
        )
    elif partition_of(backups.copy_region)[0] != partition_of(config.region)[0]:
        yield (
            ("backups", "copyRegion"),
            f"{backups.copy_region} is in another partition than {config.region}; AWS Backup copies only "
            "within one partition",
        )
    lock = backups.vault_lock
    if lock.enabled:
        for key, days in (
            ("dailyRetentionDays", backups.daily_retention_days),
            ("weeklyRetentionDays", backups.weekly_retention_days),
        ):
            if not lock.min_retention_days <= days <= lock.max_retention_days:
                yield (
                    ("backups", key),
                    f"{days} days is outside vaultLock's {lock.min_retention_days} to {lock.max_retention_days} "
                    "days; the locked vault would refuse these recovery points",
                )


RULES = (
    names_fit,
    topology_fits,
    private_subnets_reach,
    zones_exist,
    pinned_zones_in_region,
    load_balancer_subnets,
    arns_in_stack_region,
    queue_retention,
    queue_attempts,
    api_burst_fits_concurrency,
    database_support,
    prod_api_spread,
    https_only,
    backups_fit,
    eks_cluster,
)
