"""Two stacks side by side: what promoting one stack's shape to the other changes.

Resources are matched by type and logical name with the stack's name prefix
taken out (``flowbuilder-dev-postgres`` and ``flowbuilder-prod-postgres`` are
the same resource). Inputs are compared after the same normalisation, and
references to other resources (ids, ARNs, auto-names) are replaced by the name
of the resource they point at, so only real setting differences remain.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from simulation.harness import PROJECT, RecordedResource, StackRun

from ..checks.preflight import PreflightResult
from ..cost import CostEstimate

IGNORED_INPUTS = {"tags", "tagsAll"}


@dataclass
class SettingChange:
    path: str
    before: Any
    after: Any


@dataclass
class ResourceChange:
    type: str
    name: str
    settings: list[SettingChange]


@dataclass
class CostChange:
    component: str
    resource: str
    before_usd: float
    after_usd: float


@dataclass
class Comparison:
    before: str
    after: str
    added: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    changed: list[ResourceChange]
    unchanged: int
    before_total_usd: float
    after_total_usd: float
    cost_changes: list[CostChange]
    before_preflight_ok: bool
    after_preflight_ok: bool
    regions: tuple[str, str] = ("", "")
    notes: list[str] = field(default_factory=list)

    @property
    def cost_delta_usd(self) -> float:
        return round(self.after_total_usd - self.before_total_usd, 2)


class _Normaliser:
    """Rewrites one stack's values so that the same thing reads the same in every stack."""

    def __init__(self, run: StackRun) -> None:
        self.stack_prefix = f"{PROJECT}-{run.stack}"
        # Names embed the stack as "<project>-<stack>" and log groups as "/<project>/<stack>/".
        self.spellings = ((self.stack_prefix, "<stack>"), (f"/{PROJECT}/{run.stack}/", f"/{PROJECT}/<stack>/"))
        references: dict[str, str] = {}
        for resource in run.resources:
            if not resource.custom:
                continue
            marker = f"<{resource.type.split(':')[-1]} {self.name(resource.name)}>"
            for value in (resource.id, resource.state.get("arn")):
                if isinstance(value, str) and len(value) >= 8:
                    references[value] = marker
            for path, value in _computed(resource.state, resource.inputs, ""):
                references.setdefault(value, f"{marker[:-1]} {path}>")
            auto = resource.state.get("name")
            if isinstance(auto, str) and auto != resource.inputs.get("name") and auto.startswith(resource.name):
                references[auto] = f"{self.name(resource.name)}-<auto>"
        self.references = references
        ordered = sorted(references, key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def name(self, logical: str) -> str:
        return logical.replace(self.stack_prefix, "<stack>")

    def text(self, value: str) -> str:
        if value in self.references:
            return self.references[value]
        if self.pattern is not None:
            value = self.pattern.sub(lambda match: self.references[match.group(0)], value)
        for spelling, generic in self.spellings:
            value = value.replace(spelling, generic)
        return value


COMPUTED = re.compile(r"^(arn:|[a-z]+-[0-9a-f]{8,}$)")


def _computed(state: Any, inputs: Any, path: str) -> Any:
    """(path, value) of ids and ARNs AWS returns inside a resource's state (not echoed inputs)."""
    if isinstance(state, dict):
        for key, value in state.items():
            if key not in ("id", "arn"):
                yield from _computed(
                    value, inputs.get(key) if isinstance(inputs, dict) else None, f"{path}.{key}" if path else key
                )
    elif isinstance(state, list):
        for index, value in enumerate(state):
            yield from _computed(
                value, inputs[index] if isinstance(inputs, list) and index < len(inputs) else None, f"{path}[{index}]"
            )
    elif isinstance(state, str) and state != inputs and len(state) >= 12 and COMPUTED.match(state):
        yield path, state


def _plain(value: Any) -> Any:
    """Assets and archives as what they hold, so two stacks' copies of one file compare equal."""
    if hasattr(value, "assets"):
        return {name: _plain(item) for name, item in value.assets.items()}
    for attribute in ("text", "path", "uri"):
        if isinstance(getattr(value, attribute, None), str):
            return f"{type(value).__name__}({getattr(value, attribute)})"
    return value


def _flatten(value: Any, normaliser: _Normaliser, path: str, out: dict[str, Any]) -> None:
    value = _plain(value)
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, normaliser, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, normaliser, f"{path}[{index}]", out)
        if not value:
            out[path] = []
    else:
        out[path] = normaliser.text(value) if isinstance(value, str) else value


def _settings(resource: RecordedResource, normaliser: _Normaliser) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in resource.inputs.items():
        if key not in IGNORED_INPUTS:
            _flatten(value, normaliser, key, flat)
    return flat


def _index(run: StackRun, normaliser: _Normaliser) -> dict[tuple[str, str], RecordedResource]:
    return {(r.type, normaliser.name(r.name)): r for r in run.resources if r.custom}


def _cost_by_resource(estimate: CostEstimate, normaliser: _Normaliser) -> dict[tuple[str, str], float]:
    totals: dict[tuple[str, str], float] = {}
    for line in estimate.lines + estimate.credits:
        key = (line.component, normaliser.name(line.resource) if line.resource else line.item)
        totals[key] = totals.get(key, 0.0) + (line.monthly_usd or 0.0)
    return totals


def compare(
    before: StackRun,
    after: StackRun,
    before_cost: CostEstimate,
    after_cost: CostEstimate,
    before_preflight: PreflightResult,
    after_preflight: PreflightResult,
) -> Comparison:
    """What changes going from stack ``before`` to stack ``after``: resources, settings, cost."""
    norm_before, norm_after = _Normaliser(before), _Normaliser(after)
    index_before, index_after = _index(before, norm_before), _index(after, norm_after)
    added = sorted(set(index_after) - set(index_before))
    removed = sorted(set(index_before) - set(index_after))
    changed, unchanged = [], 0
    for key in sorted(set(index_before) & set(index_after)):
        a, b = _settings(index_before[key], norm_before), _settings(index_after[key], norm_after)
        settings = [
            SettingChange(path, a.get(path), b.get(path))
            for path in sorted(set(a) | set(b))
            if a.get(path) != b.get(path)
        ]
        if settings:
            changed.append(ResourceChange(key[0], key[1], settings))
        else:
            unchanged += 1
    cost_a, cost_b = _cost_by_resource(before_cost, norm_before), _cost_by_resource(after_cost, norm_after)
    cost_changes = [
        CostChange(key[0], key[1], round(cost_a.get(key, 0.0), 2), round(cost_b.get(key, 0.0), 2))
        for key in set(cost_a) | set(cost_b)
        if round(cost_a.get(key, 0.0), 2) != round(cost_b.get(key, 0.0), 2)
    ]
    cost_changes.sort(key=lambda c: (-abs(c.after_usd - c.before_usd), c.component, c.resource))
    notes = []
    if before_cost.region != after_cost.region:
        notes.append(
            f"the stacks are in different regions ({before_cost.region}, {after_cost.region}); prices differ by region"
        )
    return Comparison(
        before=before.stack,
        after=after.stack,
        added=added,
        removed=removed,
        changed=changed,
        unchanged=unchanged,
        before_total_usd=before_cost.total_usd,
        after_total_usd=after_cost.total_usd,
        cost_changes=cost_changes,
        before_preflight_ok=before_preflight.ok,
        after_preflight_ok=after_preflight.ok,
        regions=(before_cost.region, after_cost.region),
        notes=notes,
    )
