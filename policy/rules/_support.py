"""What every rule shares: reading the engine's props, the stack's facts, building policies.

The engine hands a policy a resource's props in camelCase, wrapped in
pulumi_policy's proxies (``Mapping`` / ``Sequence``, not ``dict`` / ``list``);
reading a value that is unknown during a preview raises ``UnknownValueError``,
which the analyzer turns into an advisory "can't run during preview" note. The
helpers here keep that behaviour for value checks and absorb it only where
presence is all a rule needs.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyProviderResource,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

PROJECT = "flowbuilder"
BOOTSTRAP_PROJECT = "flowbuilder-bootstrap"
"""The per-account bootstrap program (bootstrap/): its CI roles and boundary follow their own rules."""
AWS_PROVIDER = "pulumi:providers:aws"


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown during preview>"


UNKNOWN: Any = _Unknown()
"""A value the engine does not know yet (a preview of a resource still to be created)."""


# -- reading props ------------------------------------------------------------
def plain(value: Any) -> Any:
    """A proxy tree as plain dicts and lists; raises ``UnknownValueError`` on an unknown."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return {key: plain(value[key]) for key in value}
    if isinstance(value, Sequence):
        return [plain(value[index]) for index in range(len(value))]
    return value


def get(props: Any, *path: str | int, default: Any = None) -> Any:
    """The plain value at ``path``; ``default`` when any step is missing; raises on an unknown."""
    current = props
    for step in path:
        if isinstance(step, int):
            if not isinstance(current, Sequence) or isinstance(current, str) or step >= len(current):
                return default
        elif not isinstance(current, Mapping) or step not in current:
            return default
        current = current[step]
        if current is None:
            return default
    return plain(current)


def peek(props: Any, *path: str | int, default: Any = None) -> Any:
    """Like :func:`get`, but an unknown value comes back as :data:`UNKNOWN` instead of raising."""
    try:
        return get(props, *path, default=default)
    except UnknownValueError:
        return UNKNOWN


def document(value: Any) -> Any:
    """A JSON document given as text (policies, container definitions) or as structure."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def as_list(value: Any) -> list[Any]:
    """A scalar or a list, as a list (IAM's ``Action``/``Resource``, ``Principal.Service``)."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# -- the stack's facts ----------------------------------------------------------
def _runtime_config(key: str) -> str | None:
    # The Pulumi CLI hands the stack's configuration to policy packs; pulumi_policy
    # loads it into the runtime config before each analysis.
    try:
        import pulumi.runtime

        return pulumi.runtime.get_config(key)
    except Exception:  # noqa: BLE001 - no runtime: the fact stays unknown
        return None


STACK_CONFIG: contextvars.ContextVar[Callable[[str], str | None]] = contextvars.ContextVar(
    "flowbuilder_stack_config", default=_runtime_config
)
"""Where stack config keys are read; the offline adapter points it at the stack file."""


@dataclass(frozen=True)
class StackFacts:
    """What env-dependent rules need to know about the stack a resource belongs to.

    ``environment`` and ``topology`` are None when no source names them; rules then
    read the strictest way (prod, standard): a missing fact never relaxes a rule.
    """

    stack: str | None
    environment: str | None
    topology: str | None

    @property
    def is_dev(self) -> bool:
        return self.environment == "dev"

    @property
    def is_prod(self) -> bool:
        return self.environment not in ("dev", "staging")

    @property
    def zero_scale(self) -> bool:
        return self.topology == "zero-scale"

    @property
    def standard(self) -> bool:
        return not self.zero_scale

    def describe(self) -> str:
        return f"the {self.environment or 'unknown (read as prod)'} environment"


def provider_tags(provider: PolicyProviderResource | PolicyResource | None) -> dict[str, str]:
    """The default tags of an AWS provider; the program puts ``stack`` and ``environment`` there."""
    if provider is None or provider.resource_type != AWS_PROVIDER:
        return {}
    # Provider inputs travel as JSON text for anything that is not a string.
    tags = document(peek(provider.props, "defaultTags"))
    tags = tags.get("tags") if isinstance(tags, dict) else None
    return {k: v for k, v in tags.items() if isinstance(v, str)} if isinstance(tags, dict) else {}


def stack_facts(tags: Mapping[str, str], stack_tags: Mapping[str, str]) -> StackFacts:
    """Facts from, strongest first: provider default tags, the stack's config, the stack's tags.

    The provider's tags travel with every AWS resource; ``flowbuilder:topology``
    is not a tag, so it comes from the stack configuration the CLI passes to the
    pack, or from a ``topology`` stack tag.
    """
    config = STACK_CONFIG.get()

    def fact(tag: str) -> str | None:
        return tags.get(tag) or config(f"{PROJECT}:{tag}") or stack_tags.get(tag) or None

    return StackFacts(stack=fact("stack"), environment=fact("environment"), topology=fact("topology"))


# -- building policies ----------------------------------------------------------
@dataclass(frozen=True)
class Subject:
    """One resource as a resource rule sees it."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    facts: StackFacts
    protect: bool

    @property
    def project(self) -> str:
        """The Pulumi project the resource belongs to (a URN is ``urn:pulumi:<stack>::<project>::…``)."""
        return project_of(self.urn)

    def get(self, *path: str | int, default: Any = None) -> Any:
        return get(self.props, *path, default=default)

    def peek(self, *path: str | int, default: Any = None) -> Any:
        return peek(self.props, *path, default=default)


def project_of(urn: str) -> str:
    parts = urn.split("::")
    return parts[1] if len(parts) > 2 else ""


ResourceCheck = Callable[[Subject], Iterable[str]]


def _level(mandatory: bool) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if mandatory else EnforcementLevel.ADVISORY


def resource_rule(
    name: str,
    description: str,
    types: Iterable[str],
    check: ResourceCheck,
    *,
    mandatory: bool,
    remediation: str,
    tags: list[str],
    severity: Severity = Severity.HIGH,
) -> ResourceValidationPolicy:
    """A ResourceValidationPolicy running ``check`` on resources of ``types``; each message is a violation."""
    wanted = frozenset(types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in wanted:
            return
        subject = Subject(
            type=args.resource_type,
            name=args.name,
            urn=args.urn,
            props=args.props,
            facts=stack_facts(provider_tags(args.provider), args.stack_tags),
            protect=bool(args.opts.protect) if args.opts is not None else False,
        )
        for message in check(subject):
            report_violation(message, None)

    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=_level(mandatory),
        severity=severity,
        remediation_steps=remediation,
        tags=tags,
    )
    policy.resource_types = wanted  # type: ignore[attr-defined] - read by docs and tests
    return policy


class StackView:
    """The whole stack as a stack rule sees it: resources by type, facts, references."""

    def __init__(self, args: StackValidationArgs) -> None:
        self.resources: list[PolicyResource] = list(args.resources)
        tags: dict[str, str] = {}
        for resource in self.resources:
            tags = provider_tags(resource.provider) or provider_tags(resource)
            if tags:
                break
        self.facts = stack_facts(tags, args.stack_tags)

    def of_type(self, *types: str) -> list[PolicyResource]:
        return [r for r in self.resources if r.resource_type in types]

    def references(
        self, source: PolicyResource, path: str | tuple[str, ...], target: PolicyResource, *keys: str
    ) -> bool:
        """Whether the value at ``path`` in ``source`` names ``target`` by one of its ``keys`` (arn, id, name, url).

        When the value is unknown (a preview of new resources), the engine's
        dependency record for the top-level property decides.
        """
        steps = (path,) if isinstance(path, str) else path
        value = peek(source.props, *steps)
        if value is UNKNOWN:
            return target in source.property_dependencies.get(steps[0], [])
        return mentions(value, target, *keys)


def mentions(value: Any, target: PolicyResource, *keys: str) -> bool:
    """Whether a plain value (or a JSON document in text) carries one of ``target``'s identifiers."""
    identifiers = {peek(target.props, key) for key in keys} - {None, "", UNKNOWN}
    if not identifiers:
        return False
    found = document(value) if isinstance(value, str) and value[:1] in "[{" else value
    return any(identifier in _strings(found) for identifier in identifiers)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


StackCheck = Callable[[StackView], Iterable[tuple[str, str | None]]]


def stack_rule(
    name: str,
    description: str,
    check: StackCheck,
    *,
    mandatory: bool,
    remediation: str,
    tags: list[str],
    severity: Severity = Severity.HIGH,
) -> StackValidationPolicy:
    """A StackValidationPolicy; ``check`` yields (message, urn of the offending resource)."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for message, urn in check(StackView(args)):
            report_violation(message, urn)

    return StackValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=_level(mandatory),
        severity=severity,
        remediation_steps=remediation,
        tags=tags,
    )
