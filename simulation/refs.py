"""Following references between recorded resources, the way AWS would resolve them.

A service names its task definition by ARN, a listener its load balancer, a
subnet its VPC by id: the cost estimate, the preflight checks and the diagram
all need to go from such a value back to the resource that produced it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .harness import MESH_PROJECT, PROJECT, RecordedResource, StackRun, project_of


class Refs:
    """Look recorded resources up by the ids, ARNs and names other resources hold."""

    def __init__(self, run: StackRun) -> None:
        self.run = run
        self._by_urn = {r.urn: r for r in run.resources}
        self._by_value: dict[str, RecordedResource] = {}
        for resource in run.resources:
            if not resource.custom:
                continue
            # An "arn" input (an event target's) names another resource; only a computed ARN is this one's.
            own_arn = resource.state.get("arn") if resource.state.get("arn") != resource.inputs.get("arn") else None
            for value in (own_arn, resource.id):
                if isinstance(value, str) and value:
                    self._by_value.setdefault(value, resource)

    def find(self, value: Any, token: str | None = None) -> RecordedResource | None:
        """The resource whose ARN or id is ``value`` (of type ``token`` if given)."""
        if not isinstance(value, str):
            return None
        found = self._by_value.get(value)
        if found is None or (token and found.type != token):
            found = next((r for r in self.run.of_type(token) if physical_name(r) == value), None) if token else None
        return found

    def component(self, resource: RecordedResource) -> str:
        """``<Component type>`` of the nearest enclosing component, ``Stack`` at top level;
        ``mesh/<Component type>`` for the mesh project's."""
        owner = self._by_urn.get(resource.parent) if resource.parent else None
        while owner is not None and not owner.type.startswith(f"{PROJECT}:"):
            owner = self._by_urn.get(owner.parent) if owner.parent else None
        group = owner.type.split(":")[-1] if owner else "Stack"
        return f"mesh/{group}" if project_of(resource.urn) == MESH_PROJECT else group

    def region(self, resource: RecordedResource, default: str) -> str:
        """The region of the provider the resource was registered with."""
        provider = self._by_urn.get(resource.provider.rsplit("::", 1)[0]) if resource.provider else None
        region = provider.inputs.get("region") if provider else None
        return region if isinstance(region, str) and region else default

    def stack_region(self, default: str) -> str:
        """The region of the stack's own AWS provider (the first by name, when there are several)."""
        provider = next((r for r in self.run.resources if r.type == "pulumi:providers:aws"), None)
        region = provider.inputs.get("region") if provider else None
        return region if isinstance(region, str) and region else default


def physical_name(resource: RecordedResource) -> str:
    """The name AWS sees: the explicit ``name`` input, else the mocked auto-name."""
    explicit = resource.inputs.get("name")
    return explicit if isinstance(explicit, str) and explicit else str(resource.state.get("name", resource.name))


def as_document(value: Any) -> Any:
    """A JSON input (policy, container definitions) as data; raises ``ValueError`` when it does not parse."""
    if isinstance(value, str):
        return json.loads(value)
    return value


def dig(value: Any, path: str) -> Any:
    """``dig(inputs, "targetParameters.ecsTaskParameters")``; None when any step is missing."""
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def number(value: Any, default: float = 0.0) -> float:
    """A numeric input as a float (Pulumi sends numbers as floats; ECS sizes are strings)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def strings(value: Any) -> Iterator[str]:
    """Every string of a scalar-or-list input (IAM ``Action``, ``Resource`` ...)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))
