"""Kubernetes objects declared with pulumi-kubernetes, checked against the cluster version's schema.

The schemas come from the ``kubernetes-validate`` package (the Kubernetes
OpenAPI schemas per minor version, strict variant: unknown fields rejected).
The object is the resource's inputs, with ``apiVersion``/``kind`` from the type
token (``kubernetes:apps/v1:Deployment``). Custom resources (Istio, the
Prometheus operator) have no schema there and are listed as not validated.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from simulation.harness import RecordedResource, StackRun

# Packages whose resources are not Kubernetes objects (charts, manifests, providers).
NOT_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml", "kubernetes:kustomize", "kubernetes:index:")


@dataclass
class KubernetesCheck:
    checked: int = 0
    problems: list[tuple[RecordedResource, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def kubernetes_object(resource: RecordedResource) -> dict[str, Any] | None:
    """The object the Kubernetes API would receive, or None for non-object resources."""
    if not resource.custom or not resource.type.startswith("kubernetes:") or resource.type.startswith(NOT_OBJECTS):
        return None
    _, group_version, kind = resource.type.split(":")
    if kind.endswith(("Patch", "List")):
        return None
    api_version = group_version.removeprefix("core/")
    return {"apiVersion": api_version, "kind": kind, **resource.inputs}


def _builtin(api_version: str) -> bool:
    """Groups Kubernetes itself serves: core (``v1``), ``apps``, ``*.k8s.io`` ..."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


@functools.cache
def _validator():
    import kubernetes_validate
    from kubernetes_validate import utils

    # validate() re-reads the 1.4 MB definitions file on every call; the files never change.
    utils.schema_contents = functools.cache(utils.schema_contents)
    return kubernetes_validate


def kubernetes_findings(run: StackRun, version: str | None) -> KubernetesCheck:
    """Validate every Kubernetes object of ``run`` against the schema of ``version`` (e.g. ``1.33``)."""
    result = KubernetesCheck()
    objects = [(resource, obj) for resource in run.resources if (obj := kubernetes_object(resource)) is not None]
    if not objects:
        return result
    validator = _validator()
    if version is None:
        version = validator.latest_version()
        result.notes.append(f"no cluster version found; Kubernetes objects checked against {version}")
    custom: list[str] = []
    for resource, obj in objects:
        result.checked += 1
        try:
            validator.validate(obj, version, strict=True)
        except validator.ValidationError as error:
            where = ".".join(str(part) for part in error.path) or "(object)"
            result.problems.append((resource, f"{where}: {error.message} (Kubernetes {error.version} schema)"))
        except validator.SchemaNotFoundError:
            if _builtin(obj["apiVersion"]):
                result.problems.append((resource, f"Kubernetes {version} has no {obj['kind']} in {obj['apiVersion']}"))
            else:
                custom.append(f"{obj['kind']} ({obj['apiVersion']})")
        except validator.utils.VersionNotSupportedError:
            result.problems.append(
                (resource, f"kubernetes-validate {validator.__version__} has no schema for Kubernetes {version}")
            )
    if custom:
        result.checked -= len(custom)
        kinds = sorted(set(custom))
        result.notes.append(
            f"{len(custom)} custom resources ({len(kinds)} kinds) have no published schema, "
            f"not validated: {', '.join(kinds)}"
        )
    return result
