"""The stack's security posture as a section of the preview: who uses the stack key, and which
named exceptions of the policy pack (policy/rules/exceptions.py) are in effect on this stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from policy.rules._support import StackFacts
from policy.rules.exceptions import in_effect
from simulation.harness import RecordedResource, StackRun

STACK_KEY = ("aws:kms/key:Key", "-stack")
ALIAS = "aws:kms/alias:Alias"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if value[:1] in "[{":
            try:
                yield from _strings(json.loads(value))
                return
            except ValueError:
                pass
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _referenced_fields(resource: RecordedResource, identifiers: set[str]) -> list[str]:
    """The top-level inputs of ``resource`` that name the key (policy documents included)."""
    return sorted(key for key, value in resource.inputs.items() if any(text in identifiers for text in _strings(value)))


def stack_key_users(run: StackRun) -> list[dict[str, Any]]:
    """Every resource whose inputs name the stack key, with the fields that do (the alias excluded)."""
    token, suffix = STACK_KEY
    keys = [key for key in run.of_type(token) if key.name.endswith(suffix)]
    if not keys:
        return []
    (key,) = keys
    identifiers = {str(key.state[field]) for field in ("arn", "keyId", "id") if key.state.get(field)}
    users = []
    for resource in run.resources:
        if not resource.custom or resource is key or resource.type == ALIAS:
            continue
        fields = _referenced_fields(resource, identifiers)
        if fields:
            users.append({"type": resource.type, "name": resource.name, "fields": fields})
    return users


def security_section(run: StackRun) -> dict[str, Any]:
    """The ``security`` section of the offline preview's report (plain data)."""
    config = run.config
    facts = StackFacts(
        stack=run.stack,
        environment=config.environment.value if config else None,
        topology=config.topology.value if config else None,
    )
    return {
        "stack_key_users": stack_key_users(run),
        "deviations": [
            {
                "name": deviation.name,
                "rule": deviation.rule,
                "controls": list(deviation.controls),
                "what": deviation.what,
                "why": deviation.why,
                "where": deviation.where,
            }
            for deviation in in_effect(facts)
        ],
    }
