"""Run the policy pack's rules offline, on what the program declared under mocks.

``pulumi preview --policy-pack policy`` runs the rules inside the Pulumi engine.
Here the same rule objects run on a :class:`simulation.harness.StackRun`: each
recorded resource becomes the ``ResourceValidationArgs`` the engine would build
(type token, inputs as ``props`` behind pulumi_policy's own proxy, URN, name,
options, the AWS provider with its default tags), and the whole run becomes the
``StackValidationArgs`` of the stack rules (props are the mocks' outputs, as the
engine passes outputs there). The stack's configuration, which the CLI hands to
the pack, is the stack file's.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from simulation.harness import RecordedResource, StackRun

from .rules import POLICIES
from .rules._support import STACK_CONFIG


@dataclass(frozen=True)
class Finding:
    """One violation: which rule, how it is enforced, on which resource, and why."""

    rule: str
    enforcement: str
    """``mandatory`` or ``advisory``."""
    urn: str
    name: str
    message: str

    @property
    def mandatory(self) -> bool:
        return self.enforcement == EnforcementLevel.MANDATORY.value


def _options(resource: RecordedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=list(resource.ignore_changes),
        delete_before_replace=resource.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent,
    )


def _props(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return unknown_checking_proxy(copy.deepcopy(dict(values)))


class _Adapter:
    """The engine's view of one run: args per resource, the stack's resource list, the facts."""

    def __init__(self, run: StackRun, stack_config: Mapping[str, str]) -> None:
        self.run = run
        self.stack_config = dict(stack_config)
        self.by_urn = {r.urn: r for r in run.resources}
        self.providers: dict[str, PolicyProviderResource] = {}
        for resource in run.resources:
            if resource.type.startswith("pulumi:providers:"):
                self.providers[resource.urn] = PolicyProviderResource(
                    resource.type, _props(resource.inputs), resource.urn, resource.name
                )

    def provider(self, resource: RecordedResource) -> PolicyProviderResource | None:
        # A provider reference is "<provider urn>::<provider id>".
        urn = resource.provider.rsplit("::", 1)[0] if resource.provider else ""
        return self.providers.get(urn)

    @functools.cached_property
    def resource_args(self) -> dict[str, ResourceValidationArgs]:
        """Each resource's args, built once and shared by every rule (rules only read them)."""
        return {resource.urn: self._resource_args(resource) for resource in self.run.resources}

    def _resource_args(self, resource: RecordedResource) -> ResourceValidationArgs:
        return ResourceValidationArgs(
            resource.type,
            _props(resource.inputs),
            resource.urn,
            resource.name,
            _options(resource),
            self.provider(resource),
            None,
            {},
        )

    @functools.cached_property
    def stack_args(self) -> StackValidationArgs:
        resources = {
            r.urn: PolicyResource(
                r.type,
                # Components have no id; custom resources carry theirs among their outputs.
                _props({k: v for k, v in r.state.items() if k != "id" or v}),
                r.urn,
                r.name,
                _options(r),
                self.provider(r),
                None,
                [],
                {},
            )
            for r in self.run.resources
        }
        for recorded in self.run.resources:
            resource = resources[recorded.urn]
            resource.parent = resources.get(recorded.parent or "")
            resource.dependencies = [resources[urn] for urn in recorded.depends_on if urn in resources]
        return StackValidationArgs(list(resources.values()), None, {})


def evaluate(
    run: StackRun,
    stack_config: Mapping[str, str] | None = None,
    policies: Iterable[Policy] = POLICIES,
) -> list[Finding]:
    """Every violation of ``policies`` in ``run``; ``stack_config`` is the stack file's config block."""
    adapter = _Adapter(run, stack_config or {})
    findings: list[Finding] = []
    token = STACK_CONFIG.set(adapter.stack_config.get)
    try:
        for policy in policies:
            findings.extend(_violations(policy, adapter))
    finally:
        STACK_CONFIG.reset(token)
    return findings


def _violations(policy: Policy, adapter: _Adapter) -> list[Finding]:
    level = policy.enforcement_level or EnforcementLevel.MANDATORY
    if level is EnforcementLevel.DISABLED:
        return []
    found: list[Finding] = []

    def finding(message: str, urn: str) -> None:
        owner = adapter.by_urn.get(urn)
        found.append(Finding(policy.name, level.value, urn, owner.name if owner else "(stack)", message))

    if isinstance(policy, ResourceValidationPolicy):
        for resource in adapter.run.resources:
            # As in the engine, a resource rule's violation always belongs to the resource validated.
            policy.validate(
                adapter.resource_args[resource.urn], lambda message, _=None, urn=resource.urn: finding(message, urn)
            )
    elif isinstance(policy, StackValidationPolicy):
        policy.validate(adapter.stack_args, lambda message, urn=None: finding(message, urn or ""))
    return found
