"""The nodes Karpenter will run for the mesh at idle, and the mesh's other idle costs.

Karpenter launches nodes for pending pods, so the cluster's size is not declared anywhere: it
follows from the pods. This estimate rebuilds it from what the mesh project declares:

* the pods: each Deployment of the ``flowbuilder`` namespace at its HPA's ``minReplicas`` (else
  its ``replicas``), its containers' requests plus the Istio sidecar's (istiod's
  ``global.proxy.resources.requests``); the platform's pods at the replicas and requests their
  Helm values set (:data:`PLATFORM_PODS`); the Karpenter controller runs on the base stack's
  system nodes and is not counted here;
* the pools: a Deployment tolerating the ``spot`` taint lands on ``spot`` (Karpenter tries the
  higher weight first), everything else on ``general``;
* each node loses what the kubelet reserves (:func:`reserved`) and what the daemonsets request
  (:data:`DAEMONSETS` and the node exporter's values);
* per pool, every instance type its requirements allow is tried: the pods are packed first-fit
  by decreasing CPU onto nodes of that type, at least as many nodes as zones when a Deployment
  spreads strictly over zones, and the cheapest total wins;
* Spot nodes are priced ``ec2-spot-discount`` below on-demand (prices.yaml).

It is an estimate of the idle floor, not of what Karpenter will pick on a given day.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from simulation.harness import RecordedResource, StackRun
from simulation.refs import dig

from .cost.prices import Price
from .cost.rules import CostLine, Pricing

NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
RELEASE = "kubernetes:helm.sh/v3:Release"
CLAIM = "kubernetes:core/v1:PersistentVolumeClaim"
SPOT_TAINT = "flowbuilder.io/capacity"
APP_NAMESPACE = "flowbuilder"

PLATFORM_PODS: dict[str, tuple[tuple[str, str | int, str], ...]] = {
    "istiod": (("istiod", "autoscaleMin", "resources.requests"),),
    "istio-ingressgateway": (("gateway", "autoscaling.minReplicas", "resources.requests"),),
    "kube-prometheus-stack": (
        ("prometheus", 1, "prometheus.prometheusSpec.resources.requests"),
        ("grafana", 1, "grafana.resources.requests"),
        ("operator", 1, "prometheusOperator.resources.requests"),
        ("kube-state-metrics", 1, "kube-state-metrics.resources.requests"),
    ),
    "jaeger": (("jaeger", 1, "allInOne.resources.requests"),),
    "kiali": (("kiali", 1, "deployment.resources.requests"),),
    "external-secrets": (
        ("controller", 1, "resources.requests"),
        ("webhook", 1, "webhook.resources.requests"),
        ("cert-controller", 1, "certController.resources.requests"),
    ),
}
"""Release name -> (pod, replicas or the values path holding them, values path of its requests)."""
NODE_EXPORTER = ("kube-prometheus-stack", "prometheus-node-exporter.resources.requests")
DAEMONSETS = {"aws-node": (25, 0), "kube-proxy": (100, 0), "ebs-csi-node": (30, 60), "eks-pod-identity-agent": (25, 32)}
"""EKS add-on daemonsets on every node: (CPU millicores, memory MiB) requested."""
SIZES = {"medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8}
GIB_PER_VCPU = {"m": 4, "c": 2, "r": 8}
MAX_PODS = {"medium": 8, "large": 29, "xlarge": 58, "2xlarge": 58}
"""Pods per node with the VPC CNI's secondary IPs (t4g.medium: 17), from the ENI limits."""


@dataclass(frozen=True)
class Shape:
    instance_type: str
    cpu_m: int
    memory_mi: int
    max_pods: int


def shape(instance_type: str) -> Shape | None:
    """vCPU, memory and pod capacity of a Graviton type (t4g: burstable, 2 vCPU from medium up)."""
    family, _, size = instance_type.partition(".")
    if size not in SIZES:
        return None
    if family == "t4g":
        vcpu = max(2, SIZES[size])
        memory = {"medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}[size]
        return Shape(instance_type, vcpu * 1000, memory * 1024, 17 if size == "medium" else MAX_PODS[size])
    per_vcpu = GIB_PER_VCPU.get(family[0])
    if per_vcpu is None:
        return None
    vcpu = SIZES[size]
    return Shape(instance_type, vcpu * 1000, vcpu * per_vcpu * 1024, MAX_PODS[size])


def reserved(node: Shape) -> tuple[int, int]:
    """What the EKS AMI's kubelet keeps back: CPU 6% of the first core, 1% of the second, 0.5% of
    the next two, 0.25% beyond; memory 255 MiB + 11 MiB per pod, plus the 100 MiB eviction threshold."""
    cores = node.cpu_m / 1000
    cpu = 60 + 10 * min(max(cores - 1, 0), 1) + 5 * min(max(cores - 2, 0), 2) + 2.5 * max(cores - 4, 0)
    return math.ceil(cpu), 255 + 11 * node.max_pods + 100


def cpu_millicores(value: Any) -> int:
    text = str(value or "0")
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def memory_mib(value: Any) -> int:
    match = re.fullmatch(r"([0-9.]+)(Mi|Gi|M|G)?", str(value or "0"))
    if not match:
        return 0
    amount, unit = float(match.group(1)), match.group(2) or ""
    # Kubernetes quantities: Gi/Mi are powers of two, G/M powers of ten, a bare number is bytes.
    return math.ceil(amount * {"Gi": 1024, "Mi": 1, "G": 1e9 / 2**20, "M": 1e6 / 2**20, "": 1 / 2**20}[unit])


@dataclass(frozen=True)
class Pod:
    name: str
    cpu_m: int
    memory_mi: int


@dataclass
class PoolEstimate:
    pool: RecordedResource
    pods: list[Pod]
    spread_zones: int
    """Nodes the pool needs at least: Deployments spread strictly over this many zones."""
    instance_type: str = ""
    nodes: int = 0
    spot: bool = False


def _values(release: RecordedResource) -> dict[str, Any]:
    return release.inputs.get("values") or {}


def _releases(run: StackRun) -> dict[str, RecordedResource]:
    return {str(r.inputs.get("name")): r for r in run.of_type(RELEASE)}


def platform_pods(run: StackRun) -> list[Pod]:
    pods = []
    for label, release in sorted(_releases(run).items()):
        for pod, replicas, path in PLATFORM_PODS.get(label, ()):
            values = _values(release)
            count = replicas if isinstance(replicas, int) else int(dig(values, replicas) or 1)
            requests = dig(values, path) or {}
            pods += [
                Pod(f"{label}/{pod}", cpu_millicores(requests.get("cpu")), memory_mib(requests.get("memory")))
            ] * count
    return pods


def _sidecar(run: StackRun) -> tuple[int, int]:
    istiod = _releases(run).get("istiod")
    requests = dig(_values(istiod), "global.proxy.resources.requests") if istiod else None
    return (cpu_millicores(requests.get("cpu")), memory_mib(requests.get("memory"))) if requests else (0, 0)


def _replicas(run: StackRun, deployment: RecordedResource) -> int:
    name = dig(deployment.inputs, "metadata.name")
    for hpa in run.of_type(HPA):
        if dig(hpa.inputs, "spec.scaleTargetRef.name") == name:
            return int(dig(hpa.inputs, "spec.minReplicas") or 1)
    return int(dig(deployment.inputs, "spec.replicas") or 1)


def _tolerates_spot(deployment: RecordedResource) -> bool:
    tolerations = dig(deployment.inputs, "spec.template.spec.tolerations") or []
    return any(t.get("key") == SPOT_TAINT for t in tolerations)


def _zones(run: StackRun) -> int:
    zones = {r.inputs.get("availabilityZone") for r in run.of_type("aws:ec2/subnet:Subnet")} - {None}
    return len(zones) or 2


def pools(run: StackRun) -> dict[str, PoolEstimate]:
    """Which pods each NodePool carries at idle."""
    found = {str(dig(p.inputs, "metadata.name")): p for p in run.of_type(NODE_POOL)}
    if not found:
        return {}
    estimates = {
        name: PoolEstimate(pool, [], 0, spot="spot" in _requirement(pool, "karpenter.sh/capacity-type"))
        for name, pool in found.items()
    }
    general = estimates.get("general") or next(iter(estimates.values()))
    general.pods += platform_pods(run)
    sidecar_cpu, sidecar_memory = _sidecar(run)
    zones = _zones(run)
    for deployment in run.of_type(DEPLOYMENT):
        if dig(deployment.inputs, "metadata.namespace") != APP_NAMESPACE:
            continue
        pool = estimates.get("spot", general) if _tolerates_spot(deployment) else general
        replicas = _replicas(run, deployment)
        for container in dig(deployment.inputs, "spec.template.spec.containers") or []:
            requests = dig(container, "resources.requests") or {}
            pod = Pod(
                str(dig(deployment.inputs, "metadata.name")),
                cpu_millicores(requests.get("cpu")) + sidecar_cpu,
                memory_mib(requests.get("memory")) + sidecar_memory,
            )
            pool.pods += [pod] * replicas
        constraints = dig(deployment.inputs, "spec.template.spec.topologySpreadConstraints") or []
        if any(
            c.get("topologyKey") == "topology.kubernetes.io/zone" and c.get("whenUnsatisfiable") == "DoNotSchedule"
            for c in constraints
        ):
            pool.spread_zones = max(pool.spread_zones, min(zones, replicas))
    return estimates


def _requirement(pool: RecordedResource, key: str) -> list[str]:
    for requirement in dig(pool.inputs, "spec.template.spec.requirements") or []:
        if requirement.get("key") == key:
            return list(requirement.get("values") or [])
    return []


def _per_node_overhead(run: StackRun) -> tuple[int, int]:
    cpu = sum(c for c, _ in DAEMONSETS.values())
    memory = sum(m for _, m in DAEMONSETS.values())
    release = _releases(run).get(NODE_EXPORTER[0])
    requests = dig(_values(release), NODE_EXPORTER[1]) if release else None
    if requests:
        cpu += cpu_millicores(requests.get("cpu"))
        memory += memory_mib(requests.get("memory"))
    return cpu, memory


def pack(pods: list[Pod], node: Shape, overhead: tuple[int, int], daemonsets: int) -> int | None:
    """Nodes of ``node``'s type the pods need (first fit, decreasing CPU); None when one cannot fit."""
    keep_cpu, keep_memory = reserved(node)
    capacity = (
        node.cpu_m - keep_cpu - overhead[0],
        node.memory_mi - keep_memory - overhead[1],
        node.max_pods - daemonsets,
    )
    if min(capacity) <= 0:
        return None
    free: list[list[int]] = []
    for pod in sorted(pods, key=lambda p: (-p.cpu_m, -p.memory_mi, p.name)):
        if pod.cpu_m > capacity[0] or pod.memory_mi > capacity[1]:
            return None
        for room in free:
            if room[0] >= pod.cpu_m and room[1] >= pod.memory_mi and room[2] >= 1:
                room[0] -= pod.cpu_m
                room[1] -= pod.memory_mi
                room[2] -= 1
                break
        else:
            free.append([capacity[0] - pod.cpu_m, capacity[1] - pod.memory_mi, capacity[2] - 1])
    return len(free)


def choose(estimate: PoolEstimate, pricing: Pricing, overhead: tuple[int, int]) -> None:
    """The cheapest instance type of the pool and how many nodes of it the pods need."""
    if not estimate.pods:
        return
    families = _requirement(estimate.pool, "karpenter.k8s.aws/instance-family")
    sizes = _requirement(estimate.pool, "karpenter.k8s.aws/instance-size")
    best: tuple[float, str, int] | None = None
    for family in families:
        for size in sizes:
            node = shape(f"{family}.{size}")
            price = pricing.price(f"ec2:{family}.{size}")
            if node is None or price is None:
                continue
            count = pack(estimate.pods, node, overhead, len(DAEMONSETS) + 1)
            if count is None:
                continue
            count = max(count, estimate.spread_zones)
            candidate = (count * price.usd, node.instance_type, count)
            if best is None or candidate < best:
                best = candidate
    if best is not None:
        _, estimate.instance_type, estimate.nodes = best


def _node_volume_gib(run: StackRun) -> float:
    for node_class in run.of_type(NODE_CLASS):
        for mapping in dig(node_class.inputs, "spec.blockDeviceMappings") or []:
            size = str(dig(mapping, "ebs.volumeSize") or "")
            if size.endswith("Gi"):
                return float(size[:-2])
    return 0.0


def mesh_lines(run: StackRun, pricing: Pricing) -> Iterator[CostLine]:
    """The Karpenter nodes, their root volumes, the mesh's persistent volumes and its NLB."""
    overhead = _per_node_overhead(run)
    volume = _node_volume_gib(run)
    for name, estimate in sorted(pools(run).items()):
        choose(estimate, pricing, overhead)
        if not estimate.nodes:
            if estimate.pods:
                pricing.unpriced.append(f"{estimate.pool.name}: no priced instance type of the pool fits its pods")
            continue
        keys = [f"ec2:{estimate.instance_type}"] + (["ec2-spot-discount"] if estimate.spot else [])

        def hourly(found: list[Price], spot: bool = estimate.spot) -> float:
            return found[0].usd * (1 - found[1].usd) if spot else found[0].usd

        capacity = "Spot" if estimate.spot else "on-demand"
        yield pricing.line(
            estimate.pool,
            f"Karpenter {name} nodes {estimate.instance_type} x {estimate.nodes} {capacity} (estimate)",
            keys,
            pricing.hours * estimate.nodes,
            "instance-h",
            combine=hourly,
            note=f"{len(estimate.pods)} pods at idle"
            + (f", spread over {estimate.spread_zones} zones" if estimate.spread_zones else ""),
        )
        if volume:
            yield pricing.line(
                estimate.pool,
                f"Karpenter {name} node volumes {volume:g} GB x {estimate.nodes}",
                "ebs-gp3-gb-month",
                volume * estimate.nodes,
                "GB-month",
            )
    for claim in run.of_type(CLAIM):
        size = memory_mib(dig(claim.inputs, "spec.resources.requests.storage")) / 1024
        yield pricing.line(claim, f"persistent volume {size:g} GB (gp3)", "ebs-gp3-gb-month", size, "GB-month")
    for label, release in sorted(_releases(run).items()):
        values = _values(release)
        storage = dig(
            values, "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage"
        )
        if storage:
            size = memory_mib(storage) / 1024
            yield pricing.line(release, f"Prometheus volume {size:g} GB (gp3)", "ebs-gp3-gb-month", size, "GB-month")
        if dig(values, "service.type") == "LoadBalancer":
            yield pricing.line(release, f"{label} network load balancer", "nlb-hour", pricing.hours, "h")
