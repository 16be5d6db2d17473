"""The mesh project's Kubernetes layer: application images by digest, Karpenter pools with limits."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from ._support import Subject, resource_rule
from .kubernetes import DEPLOYMENT, containers

APP_NAMESPACE = "flowbuilder"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
CUSTOM_RESOURCES = frozenset({NODE_POOL})
"""Types of CRDs (declared as CustomResource): no SDK module carries their token."""


def _digest_pinned(workload: Subject) -> Iterator[str]:
    if workload.get("metadata", "namespace") != APP_NAMESPACE:
        return
    for container in containers(workload):
        image = str(container.get("image", ""))
        if "@sha256:" not in image:
            yield f"container {container.get('name')} image {image!r} is not pinned by digest"


def _pool_limits(pool: Subject) -> Iterator[str]:
    limits = pool.get("spec", "limits", default={}) or {}
    missing = [key for key in ("cpu", "memory") if not limits.get(key)]
    if missing:
        yield f"NodePool has no {' or '.join(missing)} limit: Karpenter would launch nodes without bound"


POLICIES = [
    resource_rule(
        "mesh-images-by-digest",
        "Application workloads (namespace flowbuilder) must run images pinned by digest.",
        (DEPLOYMENT,),
        _digest_pinned,
        mandatory=True,
        remediation="Services take their image by name (eks.services[].image: api|worker) and its digest from "
        "flowbuilder:images; a canary names its own digest.",
        tags=["kubernetes", "delivery"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "karpenter-pool-limits",
        "Every Karpenter NodePool must limit the CPU and memory it may launch.",
        (NODE_POOL,),
        _pool_limits,
        mandatory=True,
        remediation="Set eks.nodePools.<pool>.cpuLimit and memoryLimitGib.",
        tags=["kubernetes", "cost"],
        severity=Severity.HIGH,
    ),
]
