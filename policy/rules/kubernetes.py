"""Kubernetes workloads: resources and probes, non-root, no privilege escalation, an HPA and a PDB each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import PolicyResource, Severity

from ._support import UNKNOWN, StackView, Subject, peek, resource_rule, stack_rule

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
WORKLOADS = (DEPLOYMENT,)
HPAS = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler",)
PDB = "kubernetes:policy/v1:PodDisruptionBudget"


def _pod(workload: Subject) -> dict[str, Any]:
    return workload.get("spec", "template", "spec", default={})


def containers(workload: Subject) -> list[dict[str, Any]]:
    return [c for c in _pod(workload).get("containers") or [] if isinstance(c, dict)]


TRACK = "flowbuilder.io/track"
"""A canary Deployment (track ``canary``) takes a share of its service's traffic at a fixed size;
the service's HPA and PDB belong to the stable track."""


def _is_canary(deployment: PolicyResource) -> bool:
    return peek(deployment.props, "metadata", "labels", TRACK) == "canary"


def _resources(workload: Subject) -> Iterator[str]:
    for container in containers(workload):
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        missing = [f"requests.{k}" for k in ("cpu", "memory") if not requests.get(k)]
        missing += ["limits.memory"] if not limits.get("memory") else []
        if missing:
            yield f"container {container.get('name')} lacks {', '.join(missing)}"


def _probes(workload: Subject) -> Iterator[str]:
    for container in containers(workload):
        missing = [probe for probe in ("readinessProbe", "livenessProbe") if not container.get(probe)]
        if missing:
            yield f"container {container.get('name')} has no {' or '.join(missing)}"


def _effective(pod: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    """A securityContext field as Kubernetes applies it: the container's, else the pod's."""
    own = (container.get("securityContext") or {}).get(key)
    return own if own is not None else (pod.get("securityContext") or {}).get(key)


def _non_root(workload: Subject) -> Iterator[str]:
    pod = _pod(workload)
    for container in containers(workload):
        if _effective(pod, container, "runAsNonRoot") is not True:
            yield f"container {container.get('name')} may run as root (runAsNonRoot is not true)"
        elif str(_effective(pod, container, "runAsUser")) == "0":
            yield f"container {container.get('name')} sets runAsUser 0"


def _no_escalation(workload: Subject) -> Iterator[str]:
    for container in containers(workload):
        context = container.get("securityContext") or {}
        if context.get("privileged") is True:
            yield f"container {container.get('name')} is privileged"
        if context.get("allowPrivilegeEscalation") is not False:
            yield f"container {container.get('name')} needs allowPrivilegeEscalation: false"


def _namespace(resource: PolicyResource) -> Any:
    return peek(resource.props, "metadata", "namespace", default="default")


def _same_namespace(a: PolicyResource, b: PolicyResource) -> bool:
    first, second = _namespace(a), _namespace(b)
    return UNKNOWN in (first, second) or first == second


def _targets(hpa: PolicyResource, deployment: PolicyResource) -> bool:
    if peek(hpa.props, "spec", "scaleTargetRef", "kind") != "Deployment" or not _same_namespace(hpa, deployment):
        return False
    target, name = peek(hpa.props, "spec", "scaleTargetRef", "name"), peek(deployment.props, "metadata", "name")
    if UNKNOWN in (target, name):
        return deployment in hpa.property_dependencies.get("spec", [])
    return target == name


def _covers(pdb: PolicyResource, deployment: PolicyResource) -> bool:
    if not _same_namespace(pdb, deployment):
        return False
    selector = peek(pdb.props, "spec", "selector", "matchLabels")
    labels = peek(deployment.props, "spec", "template", "metadata", "labels")
    if UNKNOWN in (selector, labels):
        return deployment in pdb.property_dependencies.get("spec", [])
    return bool(selector) and all((labels or {}).get(k) == v for k, v in selector.items())


def _has_hpa(stack: StackView) -> Iterator[tuple[str, str | None]]:
    hpas = stack.of_type(*HPAS)
    for deployment in stack.of_type(DEPLOYMENT):
        if not _is_canary(deployment) and not any(_targets(hpa, deployment) for hpa in hpas):
            yield "no HorizontalPodAutoscaler targets this Deployment", deployment.urn


def _has_pdb(stack: StackView) -> Iterator[tuple[str, str | None]]:
    pdbs = stack.of_type(PDB)
    for deployment in stack.of_type(DEPLOYMENT):
        if not _is_canary(deployment) and not any(_covers(pdb, deployment) for pdb in pdbs):
            yield "no PodDisruptionBudget selects this Deployment's pods", deployment.urn


def _pinned_images(workload: Subject) -> Iterator[str]:
    for container in containers(workload):
        image = str(container.get("image", ""))
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" not in image and (":" not in last or last.endswith(":latest")):
            yield f"container {container.get('name')} image {image!r} is not pinned to a tag or digest"


POLICIES = [
    resource_rule(
        "k8s-resources",
        "Workload containers must request CPU and memory and limit memory.",
        WORKLOADS,
        _resources,
        mandatory=True,
        remediation="Set resources.requests.cpu/memory and resources.limits.memory (eks.services[].cpu/memory).",
        tags=["kubernetes"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "k8s-probes",
        "Workload containers must have readiness and liveness probes.",
        WORKLOADS,
        _probes,
        mandatory=True,
        remediation="Add readinessProbe and livenessProbe (an HTTP GET on the service's health path).",
        tags=["kubernetes", "reliability"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "k8s-non-root",
        "Workload containers must run as non-root.",
        WORKLOADS,
        _non_root,
        mandatory=True,
        remediation="Set securityContext.runAsNonRoot: true (pod or container) and a non-zero runAsUser.",
        tags=["kubernetes"],
    ),
    resource_rule(
        "k8s-no-privilege-escalation",
        "Workload containers must set allowPrivilegeEscalation: false and not be privileged.",
        WORKLOADS,
        _no_escalation,
        mandatory=True,
        remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
        tags=["kubernetes"],
    ),
    stack_rule(
        "k8s-deployment-has-hpa",
        "Every Deployment must have a HorizontalPodAutoscaler targeting it.",
        _has_hpa,
        mandatory=True,
        remediation="Give each eks.services[] entry its hpa (MeshService creates it; a canary Deployment has none).",
        tags=["kubernetes", "reliability"],
        severity=Severity.MEDIUM,
    ),
    stack_rule(
        "k8s-deployment-has-pdb",
        "Every Deployment must have a PodDisruptionBudget selecting its pods.",
        _has_pdb,
        mandatory=True,
        remediation="Give each eks.services[] entry its pdb (MeshService creates it; a canary Deployment has none).",
        tags=["kubernetes", "reliability"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "k8s-pinned-images",
        "Workload images should be pinned to a version tag or digest, never :latest.",
        WORKLOADS,
        _pinned_images,
        mandatory=False,
        remediation="Use image: repo:1.2.3 or repo@sha256:...",
        tags=["kubernetes", "delivery"],
        severity=Severity.LOW,
    ),
]
