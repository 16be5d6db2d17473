"""The idle cost lines of each billed resource type, priced from its inputs.

``RULES`` maps a type token to a function yielding that resource's
:class:`CostLine` s; a type not listed bills only on use (or not at all).
:class:`Pricing` resolves references between resources and looks prices up in
the region of the resource's provider.

Long because it is a table: one small pricing function per billed resource type, keyed by type
token in ``RULES``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from simulation.harness import RecordedResource, StackRun
from simulation.refs import Refs, dig, number, physical_name

from .prices import Price, PriceTable

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SCALING_TARGET = "aws:appautoscaling/target:Target"
CLUSTER_PROVIDERS = "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"


@dataclass
class CostLine:
    """One thing that bills at idle: ``quantity`` units a month at ``unit_usd`` each."""

    component: str
    resource: str
    type: str
    item: str
    quantity: float
    unit: str
    unit_usd: float | None
    monthly_usd: float | None
    price_keys: list[str]
    sources: list[str]
    approximate: bool = False
    note: str = ""


class Pricing:
    """The estimate being built: resolves references, prices lines, notes what it cannot price."""

    def __init__(self, run: StackRun, prices: PriceTable, default_region: str) -> None:
        self.run = run
        self.refs = Refs(run)
        self.prices = prices
        self.region = self.refs.stack_region(default_region)
        self.hours = prices.hours_per_month
        self.unpriced: list[str] = []
        self.scales_to_zero: list[str] = []

    def line(
        self,
        resource: RecordedResource,
        item: str,
        keys: str | list[str],
        quantity: float,
        unit: str,
        *,
        combine: Callable[[list[Price]], float] = lambda found: sum(price.usd for price in found),
        note: str = "",
    ) -> CostLine:
        """A line of ``quantity`` units priced from ``keys`` (by default the sum of their prices)."""
        keys = [keys] if isinstance(keys, str) else keys
        region = self.refs.region(resource, self.region)
        found = [self.prices.get(key, region) for key in keys]
        missing = [key for key, price in zip(keys, found, strict=True) if price is None]
        if missing:
            self.unpriced.append(
                f"{resource.name}: {item} - no price for {', '.join(missing)} in {region} (preview/cost/prices.yaml)"
            )
        unit_usd = None if missing else combine(found)
        return CostLine(
            component=self.refs.component(resource),
            resource=resource.name,
            type=resource.type,
            item=item,
            quantity=quantity,
            unit=unit,
            unit_usd=unit_usd,
            monthly_usd=None if unit_usd is None else quantity * unit_usd,
            price_keys=keys,
            sources=sorted({price.source for price in found if price}),
            approximate=any(price.approximate for price in found if price),
            note=note,
        )

    def fargate_line(
        self, resource: RecordedResource, size: tuple[float, float, str], tasks: float, hours: float, *, spot: bool
    ) -> CostLine:
        """``tasks`` Fargate tasks of ``size`` (vCPU, GB, architecture) for ``hours`` each."""
        vcpu, gb, architecture = size
        family = "arm" if architecture == "ARM64" else "x86"
        keys = [f"fargate-{family}-vcpu-hour", f"fargate-{family}-gb-hour"] + (
            ["fargate-spot-discount"] if spot else []
        )

        def per_task_hour(found: list[Price]) -> float:
            discount = found[2].usd if spot else 0.0
            return (vcpu * found[0].usd + gb * found[1].usd) * (1 - discount)

        label = f"Fargate {architecture} {vcpu:g} vCPU / {gb:g} GB x {tasks:g} {'Spot' if spot else 'on-demand'}"
        return self.line(resource, label, keys, hours * tasks, "task-h", combine=per_task_hour)

    def price(self, key: str) -> Price | None:
        return self.prices.get(key, self.region)

    # -- ECS -------------------------------------------------------------------
    def task_size(
        self, task_definition: RecordedResource | None, overrides: dict | None = None
    ) -> tuple[float, float, str] | None:
        """(vCPU, GB, architecture) of a Fargate task, with task-level overrides applied."""
        if task_definition is None:
            return None
        inputs = task_definition.inputs
        cpu = cpu_units((overrides or {}).get("cpu") or inputs.get("cpu"))
        memory = memory_mib((overrides or {}).get("memory") or inputs.get("memory"))
        if not cpu or not memory:
            return None
        architecture = dig(inputs, "runtimePlatform.cpuArchitecture") or "X86_64"
        return cpu / 1024, memory / 1024, architecture

    def minimum_count(self, service: RecordedResource) -> float:
        """The task count a service settles at when idle: its scaling minimum, else desiredCount."""
        name = physical_name(service)
        minimums = [
            number(target.inputs.get("minCapacity"))
            for target in self.run.of_type(SCALING_TARGET)
            if target.inputs.get("serviceNamespace") == "ecs"
            and str(target.inputs.get("resourceId", "")).rsplit("/", 1)[-1] == name
        ]
        return min(minimums) if minimums else number(service.inputs.get("desiredCount"))

    def strategy(self, inputs: dict[str, Any], cluster: Any) -> list[dict[str, Any]]:
        """The capacity-provider strategy a task launches with (own, else the cluster's default)."""
        own = inputs.get("capacityProviderStrategies") or inputs.get("capacityProviderStrategy")
        if own:
            return own
        if inputs.get("launchType"):
            return [{"capacityProvider": inputs["launchType"], "weight": 1}]
        cluster_name = str(cluster or "").rsplit("/", 1)[-1]
        for providers in self.run.of_type(CLUSTER_PROVIDERS):
            if providers.inputs.get("clusterName") == cluster_name:
                return providers.inputs.get("defaultCapacityProviderStrategies") or []
        return []


def cpu_units(value: Any) -> int:
    """ECS CPU as units: ``"1024"`` or ``"1 vCPU"`` -> 1024; 0 when unset or unreadable."""
    text = str(value or "").strip()
    if text.lower().endswith("vcpu"):
        return int(number(text[:-4]) * 1024)
    return int(number(text))


def memory_mib(value: Any) -> int:
    """ECS memory as MiB: ``"2048"`` or ``"2 GB"`` -> 2048; 0 when unset or unreadable."""
    text = str(value or "").strip()
    if text.lower().endswith("gb"):
        return int(number(text[:-2]) * 1024)
    return int(number(text))


def spot_share(strategy: list[dict[str, Any]], tasks: float) -> float:
    """How many of ``tasks`` ECS places on FARGATE_SPOT: ``base`` first, the rest by ``weight``."""
    if not strategy or tasks <= 0:
        return 0.0
    placed: dict[str, float] = defaultdict(float)
    remaining = tasks
    for item in strategy:
        base = min(number(item.get("base")), remaining)
        placed[item.get("capacityProvider", "")] += base
        remaining -= base
    weights = {item.get("capacityProvider", ""): number(item.get("weight")) for item in strategy}
    total = sum(weights.values())
    if remaining > 0 and total > 0:
        for provider, weight in weights.items():
            placed[provider] += remaining * weight / total
    return placed["FARGATE_SPOT"]


# -- one function per billed type -------------------------------------------------
Rule = Callable[[RecordedResource, Pricing], Iterator[CostLine]]


def _nat_gateway(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    yield pricing.line(resource, "NAT gateway", "nat-gateway-hour", pricing.hours, "h")


def _elastic_ip(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    yield pricing.line(resource, "public IPv4 address (Elastic IP)", "public-ipv4-hour", pricing.hours, "h")


def _instance(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    inputs = resource.inputs
    instance_type = inputs.get("instanceType", "")
    yield pricing.line(resource, f"EC2 {instance_type}", f"ec2:{instance_type}", pricing.hours, "h")
    root = inputs.get("rootBlockDevice") or {}
    size = number(root.get("volumeSize"), pricing.prices.defaults["ec2_root_volume_gb"])
    volume_type = root.get("volumeType") or "gp3"
    yield pricing.line(resource, f"EBS {volume_type} root volume", f"ebs-{volume_type}-gb-month", size, "GB-month")
    # An Elastic IP replaces the auto-assigned address; it is priced as its own line.
    elastic = {eip.inputs.get("instance") for eip in pricing.run.of_type("aws:ec2/eip:Eip")}
    if inputs.get("associatePublicIpAddress") and resource.id not in elastic:
        yield pricing.line(resource, "public IPv4 address (instance)", "public-ipv4-hour", pricing.hours, "h")


def _load_balancer(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    inputs = resource.inputs
    kind = inputs.get("loadBalancerType") or "application"
    label, key = {
        "application": ("Application Load Balancer", "alb-hour"),
        "network": ("Network Load Balancer", "nlb-hour"),
    }.get(kind, (f"{kind} load balancer", f"{kind}-lb-hour"))
    yield pricing.line(
        resource, label, key, pricing.hours, "h", note="idle: 0 LCU assumed" if kind == "application" else ""
    )
    if not inputs.get("internal"):
        zones = len(inputs.get("subnets") or inputs.get("subnetMappings") or [])
        yield pricing.line(
            resource,
            f"public IPv4 addresses, one per AZ ({zones})",
            "public-ipv4-hour",
            pricing.hours * zones,
            "address-h",
        )


def _vpc_endpoint(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    inputs = resource.inputs
    if (inputs.get("vpcEndpointType") or "Gateway") != "Interface":
        return
    service = ".".join(str(inputs.get("serviceName", "")).split(".")[3:])
    zones = len(inputs.get("subnetIds") or inputs.get("subnetConfigurations") or []) or 1
    yield pricing.line(
        resource,
        f"interface endpoint {service} in {zones} AZs",
        "interface-endpoint-az-hour",
        pricing.hours * zones,
        "AZ-h",
    )


def _rds_instance(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    inputs = resource.inputs
    source = pricing.refs.find(inputs.get("replicateSourceDb"), resource.type) or next(
        (r for r in pricing.run.of_type(resource.type) if r.state.get("identifier") == inputs.get("replicateSourceDb")),
        None,
    )
    source_inputs = source.inputs if source else {}
    engine = inputs.get("engine") or source_inputs.get("engine") or "postgres"
    engine_key = "postgres" if engine == "postgres" else engine
    copies = 2 if inputs.get("multiAz") else 1
    multi = " Multi-AZ (x2)" if copies == 2 else ""
    instance_class = inputs.get("instanceClass", "")
    yield pricing.line(
        resource,
        f"RDS {engine} {instance_class}{multi}",
        f"rds-{engine_key}:{instance_class}",
        pricing.hours * copies,
        "instance-h",
    )
    size = number(inputs.get("allocatedStorage") or source_inputs.get("allocatedStorage"))
    storage_type = inputs.get("storageType") or ("io1" if inputs.get("iops") else "gp2")
    yield pricing.line(
        resource,
        f"RDS {storage_type} storage {size:g} GB{multi}",
        f"rds-storage-{storage_type}-gb-month",
        size * copies,
        "GB-month",
    )
    if inputs.get("manageMasterUserPassword"):
        yield pricing.line(
            resource, "Secrets Manager secret (RDS-managed master password)", "secret-month", 1, "secret-month"
        )
    if inputs.get("performanceInsightsEnabled") and number(inputs.get("performanceInsightsRetentionPeriod"), 7) > 7:
        pricing.unpriced.append(f"{resource.name}: Performance Insights retention beyond the free 7 days")


def _ecs_service(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    inputs = resource.inputs
    task_definition = pricing.refs.find(inputs.get("taskDefinition"), TASK_DEFINITION)
    strategy = pricing.strategy(inputs, inputs.get("cluster"))
    providers = {item.get("capacityProvider") for item in strategy}
    if providers and not providers <= {"FARGATE", "FARGATE_SPOT"}:
        return  # EC2 capacity: the instances are priced where they are declared
    tasks = pricing.minimum_count(resource)
    if tasks <= 0:
        pricing.scales_to_zero.append(resource.name)
        return
    size = pricing.task_size(task_definition)
    if size is None:
        pricing.unpriced.append(f"{resource.name}: {tasks:g} Fargate tasks of unknown size (task definition not found)")
        return
    spot_tasks = spot_share(strategy, tasks)
    if tasks - spot_tasks > 0:
        yield pricing.fargate_line(resource, size, tasks - spot_tasks, pricing.hours, spot=False)
    if spot_tasks > 0:
        yield pricing.fargate_line(resource, size, spot_tasks, pricing.hours, spot=True)
    if dig(inputs, "networkConfiguration.assignPublicIp"):
        yield pricing.line(
            resource,
            f"public IPv4 address per task ({tasks:g})",
            "public-ipv4-hour",
            pricing.hours * tasks,
            "address-h",
        )


def _eks_cluster(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    inputs = resource.inputs
    support = dig(inputs, "upgradePolicy.supportType") or "EXTENDED"
    note = "" if support == "STANDARD" else "$0.60/h once the version leaves standard support (upgradePolicy EXTENDED)"
    yield pricing.line(resource, "EKS control plane", "eks-cluster-hour", pricing.hours, "h", note=note)


def _node_group(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    inputs = resource.inputs
    count = number(dig(inputs, "scalingConfig.desiredSize"))
    instance_type = (inputs.get("instanceTypes") or [pricing.prices.defaults["eks_node_instance_type"]])[0]
    disk = (
        _launch_template_volume_gb(pricing, inputs["launchTemplate"])
        if inputs.get("launchTemplate")
        else number(inputs.get("diskSize"), pricing.prices.defaults["eks_node_disk_gb"])
    )
    spot = inputs.get("capacityType") == "SPOT"
    yield from _nodes(resource, pricing, instance_type, count, disk, spot=spot)


def _launch_template_volume_gb(pricing: Pricing, reference: dict[str, Any]) -> float:
    """The EBS volumes a node group's launch template gives each node (0 when it is not in the run)."""
    for template in pricing.run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        if template.id == reference.get("id"):
            return sum(
                number(dig(mapping, "ebs.volumeSize"))
                for mapping in template.inputs.get("blockDeviceMappings") or []
                if dig(mapping, "ebs.volumeSize")
            )
    return 0.0


def _nodes(
    resource: RecordedResource, pricing: Pricing, instance_type: str, count: float, disk_gb: float, spot: bool = False
) -> Iterator[CostLine]:
    if count <= 0:
        return
    note = "Spot node group: on-demand price shown as the ceiling" if spot else ""
    yield pricing.line(
        resource,
        f"EKS nodes {instance_type} x {count:g}",
        f"ec2:{instance_type}",
        pricing.hours * count,
        "instance-h",
        note=note,
    )
    if disk_gb:
        yield pricing.line(
            resource, f"EKS node volumes {disk_gb:g} GB x {count:g}", "ebs-gp3-gb-month", disk_gb * count, "GB-month"
        )


def _secret(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    yield pricing.line(resource, "Secrets Manager secret", "secret-month", 1, "secret-month")


def _dashboard(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    yield pricing.line(resource, "CloudWatch dashboard", "dashboard-month", 1, "dashboard-month")


def _metric_alarm(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    inputs = resource.inputs
    queries = inputs.get("metricQueries") or []
    metrics = sum(1 for query in queries if query.get("metric")) or 1
    periods = [number(inputs.get("period"), 60)] + [
        number(dig(q, "metric.period"), 60) for q in queries if q.get("metric")
    ]
    if min(periods) < 60:
        yield pricing.line(
            resource,
            f"CloudWatch high-resolution alarm ({metrics} metric{'s' if metrics > 1 else ''})",
            "alarm-high-resolution-metric-month",
            metrics,
            "alarm-metric-month",
        )
    else:
        yield pricing.line(
            resource,
            f"CloudWatch alarm ({metrics} metric{'s' if metrics > 1 else ''})",
            "alarm-metric-month",
            metrics,
            "alarm-metric-month",
        )


def _kms_key(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    yield pricing.line(resource, "KMS customer managed key", "kms-key-month", 1, "key-month")


def _hosted_zone(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    yield pricing.line(resource, "Route 53 hosted zone", "route53-hosted-zone-month", 1, "zone-month")


def _certificate(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    yield pricing.line(resource, "ACM public certificate", "acm-public-certificate-month", 1, "certificate-month")


def _web_acl(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    yield pricing.line(resource, "WAF web ACL", "waf-web-acl-month", 1, "web-ACL-month")
    rules = len(resource.inputs.get("rules") or [])
    if rules:
        yield pricing.line(
            resource, f"WAF rules and managed rule groups ({rules})", "waf-rule-month", rules, "rule-month"
        )


GB_PER_MB = 1 / 1000
SERVERLESS_VALKEY_MINIMUM_GB = 100 * GB_PER_MB
"""ElastiCache Serverless for Valkey bills at least 100 MB of data storage per cache."""
RDS_INSTANCE = "aws:rds/instance:Instance"
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_VAULT = "aws:backup/vault:Vault"


def _serverless_cache(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    if resource.inputs.get("engine") != "valkey":
        pricing.unpriced.append(f"{resource.name}: serverless {resource.inputs.get('engine')} cache")
        return
    yield pricing.line(
        resource,
        f"ElastiCache Serverless Valkey minimum storage {SERVERLESS_VALKEY_MINIMUM_GB * 1000:g} MB",
        "elasticache-valkey-serverless-gb-hour",
        SERVERLESS_VALKEY_MINIMUM_GB * pricing.hours,
        "GB-h",
        note="ECPUs bill per request (left out)",
    )


def _replication_group(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    inputs = resource.inputs
    nodes = number(inputs.get("numCacheClusters"), 1)
    node_type = inputs.get("nodeType", "")
    engine = inputs.get("engine") or "redis"
    yield pricing.line(
        resource,
        f"ElastiCache {engine} {node_type} x {nodes:g}",
        f"elasticache-{engine}:{node_type}",
        pricing.hours * nodes,
        "node-h",
    )


def _backup_selection(resource: RecordedResource, pricing: Pricing) -> Iterator[CostLine]:
    """One full copy of each selected database in the vault and in every copy vault, and the
    transfer of that copy: RDS snapshots after the first are incremental, so this is the floor."""
    wanted = {(tag.get("key"), tag.get("value")) for tag in resource.inputs.get("selectionTags") or []}
    size = sum(
        number(instance.inputs.get("allocatedStorage"))
        for instance in pricing.run.of_type(RDS_INSTANCE)
        if wanted & set((instance.inputs.get("tags") or {}).items())
    )
    if not size:
        return
    plan = pricing.refs.find(resource.inputs.get("planId"), BACKUP_PLAN)
    rules = (plan.inputs.get("rules") or []) if plan else []
    copies = {action.get("destinationVaultArn") for rule in rules for action in rule.get("copyActions") or []}
    yield pricing.line(
        resource, f"AWS Backup RDS snapshots {size:g} GB (one full copy)", "backup-rds-gb-month", size, "GB-month"
    )
    for arn in sorted(copies):
        vault = pricing.refs.find(arn, BACKUP_VAULT)
        region = pricing.refs.region(vault, pricing.region) if vault else pricing.region
        copy_line = pricing.line(
            vault or resource,
            f"AWS Backup RDS snapshot copies {size:g} GB in {region}",
            "backup-rds-gb-month",
            size,
            "GB-month",
        )
        yield copy_line
        yield pricing.line(
            resource,
            f"cross-region copy transfer {size:g} GB a month (about one full copy)",
            "cross-region-transfer-gb",
            size,
            "GB",
        )


RULES: dict[str, Rule] = {
    "aws:ec2/natGateway:NatGateway": _nat_gateway,
    "aws:ec2/eip:Eip": _elastic_ip,
    "aws:ec2/instance:Instance": _instance,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:ecs/service:Service": _ecs_service,
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _metric_alarm,
    "aws:kms/key:Key": _kms_key,
    "aws:route53/zone:Zone": _hosted_zone,
    "aws:acm/certificate:Certificate": _certificate,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:elasticache/serverlessCache:ServerlessCache": _serverless_cache,
    "aws:elasticache/replicationGroup:ReplicationGroup": _replication_group,
    "aws:backup/selection:Selection": _backup_selection,
}
"""Type token -> the lines it bills at idle. Types not listed bill only on use (or nothing)."""
