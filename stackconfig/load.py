"""Reading a stack's configuration from the Pulumi runtime into the model.

This is the only code that touches raw config. It runs before any resource is
declared; every problem (an unknown namespace or key, a bad value, a rule two
keys break together) is collected into one :class:`ConfigError` that names the
file to edit, the key down to its list index, what is wrong and what is
allowed, and never echoes a secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, get_args

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, TypeAdapter, ValidationError

from . import rules
from .defaults import defaults_for, merge
from .model import (
    RETIRED_KEYS,
    SECRET_KEYS,
    TOPOLOGY_MODELS,
    Environment,
    ProjectName,
    RegionName,
    StackConfig,
    StackName,
    Topology,
)
from .namespaces import AWS, PROJECT_OWNED, key_problems, unknown_key_hint
from .problems import ConfigError, Invalid, Path, Problem, dotted, got, kind_of, shown
from .values import choice

__all__ = ["ConfigError", "StackSecrets", "load_stack_config"]


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, kept as Pulumi secrets and never in the model."""

    external_database_url: pulumi.Output[str] | None


def _all_raw_config() -> dict[str, Any]:
    # The language host hands config over either through PULUMI_CONFIG or
    # set_all_config (mocks); the union is what the CLI resolved for the stack.
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def _parse_value(raw: Any) -> Any:
    # Pulumi passes structured values (objects, lists) as JSON text and scalars as text; the
    # model's strict types read numbers and booleans from either.
    if isinstance(raw, str) and raw[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


class _Report:
    """Problems of one stack, each attributed to the file a person would edit."""

    def __init__(self, project: str, stack: str) -> None:
        self.project = project
        self.stack = stack
        self.stack_file = f"Pulumi.{stack}.yaml"
        self.problems: list[Problem] = []
        self.region_missing = False
        """Set once "aws:region: missing" is reported; the model's own complaints about it add nothing."""

    def add(self, path: Path, message: str) -> None:
        """A problem at a model path: project -> Pulumi.yaml, stack -> the stack name, region -> aws:region."""
        root = path[0] if path else ""
        if root == "region" and self.region_missing:
            return
        if root == "project":
            self.problems.append(Problem("Pulumi.yaml", "name", message))
        elif root == "stack":
            self.problems.append(Problem(self.stack_file, f"stack name {self.stack!r}", message))
        elif root == "region":
            self.problems.append(Problem(self.stack_file, "aws:region", message))
        else:
            self.problems.append(Problem(self.stack_file, f"{self.project}:{dotted(path)}", message))

    def add_key(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.stack_file, key, message))

    def add_errors(self, error: ValidationError, prefix: Path = (), topology: Topology | None = None) -> None:
        for detail in error.errors():
            for path, message in _describe(detail, topology):
                self.add((*prefix, *path), message)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError.of(self.problems, {"Pulumi.yaml": "invalid project"})


def _describe(error: dict[str, Any], topology: Topology | None = None) -> list[tuple[Path, str]]:
    """One pydantic error as (path, message) pairs, in the program's own words.

    ``topology`` is the stack's, when the error comes from its model: a key only the other
    topology has is then said to belong there.
    """
    location = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, Invalid):
        return [((*location, *path), message) for path, message in cause.problems]
    as_name = "[key]" in location
    if as_name:
        location = tuple(part for part in location if part != "[key]")
    if kind == "extra_forbidden":
        retired = RETIRED_KEYS.get(dotted(location))
        if retired:
            return [(location, f"unknown key; {retired}")]
        model = TOPOLOGY_MODELS[topology] if topology is not None else StackConfig
        elsewhere = _belongs_elsewhere(location, topology) if topology is not None else None
        if elsewhere:
            return [(location, elsewhere)]
        return [(location, unknown_key_hint(str(location[-1]), _allowed_keys(model, location)))]
    if kind == "missing":
        return [(location, "missing; this key is required here")]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"must be a mapping of keys to values, not {kind_of(value)}"
    elif kind == "list_type":
        message = f"must be a list, not {kind_of(value)}"
    elif kind == "too_long":
        message = f"has {len(value)} entries; allowed: at most {error['ctx']['max_length']}"
    elif kind == "too_short":
        message = f"has {len(value)} entries; needs at least {error['ctx']['min_length']}"
    elif cause is not None:
        message = str(cause)
    else:
        message = error["msg"]
    if as_name:
        message = f"variable name: {message}"
    elif not isinstance(value, dict | list):
        echo = shown(value, location)
        if echo is not None and message.startswith("not allowed"):
            message = f"{echo} is {message}"
        elif echo is not None and str(value) not in message:
            message += got(value, location)
    return [(location, message)]


def _section_of(root: type[BaseModel], location: Path) -> type[BaseModel] | None:
    """The model of the section that holds ``location``, walking from ``root``."""
    model: type[BaseModel] | None = root
    for part in location[:-1]:
        if isinstance(part, int):
            continue
        fields = {f.alias: f for f in model.model_fields.values()}
        model = _model_in(fields[part].annotation) if part in fields else None
        if model is None:
            return None
    return model


def _allowed_keys(root: type[BaseModel], location: Path) -> list[str]:
    """The keys the model accepts in the section that holds ``location``."""
    model = _section_of(root, location)
    if model is None:
        return []
    top = model is root
    keys = {f.alias for name, f in model.model_fields.items() if not top or name not in PROJECT_OWNED}
    return sorted(keys | set(SECRET_KEYS) if top else keys)


def _belongs_elsewhere(location: Path, topology: Topology) -> str | None:
    """Why a key the stack's topology refuses has no effect, when another topology is where it acts."""
    for other, model in TOPOLOGY_MODELS.items():
        if other is topology:
            continue
        section = _section_of(model, location)
        if section is None or location[-1] not in {f.alias for f in section.model_fields.values()}:
            continue
        message = f"has no effect in the {topology.value} topology; it belongs to {other.value} stacks"
        if len(location) > 1:
            here = _allowed_keys(TOPOLOGY_MODELS[topology], location)
            message += f" (a {topology.value} stack takes here: {', '.join(here) or 'nothing'})"
        return message
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _check(report: _Report, path: Path, annotation: Any, value: Any) -> Any:
    """Validate one value with a model type outside the model (before defaults can be chosen)."""
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError as error:
        report.add_errors(error, path)
        return None


def load_stack_config(project: str, stack: str) -> tuple[StackConfig, StackSecrets]:
    """Validate the current stack's configuration; raise :class:`ConfigError` on any problem."""
    raw = _all_raw_config()
    report = _Report(project, stack)
    for key, problem in key_problems(raw, project):
        report.add_key(key, problem)

    namespace = f"{project}:"
    own = {key[len(namespace) :]: _parse_value(value) for key, value in raw.items() if key.startswith(namespace)}
    for key in list(own):
        if key in PROJECT_OWNED:
            own.pop(key)
        elif key in SECRET_KEYS:
            own.pop(key)
            if not runtime_config.is_config_secret(f"{namespace}{key}"):
                report.add_key(f"{project}:{key}", f"must be set with `pulumi config set --secret {key}`")

    modes = {}
    for key, enum in (("environment", Environment), ("topology", Topology)):
        if key not in own:
            report.add((key,), f"missing; allowed: {', '.join(m.value for m in enum)}")
        else:
            modes[key] = _check(report, (key,), choice(enum), own[key])
    region = raw.get(f"{AWS}:region")
    if region is None:
        report.add(("region",), "missing; set the stack's region, e.g. `pulumi config set aws:region us-east-1`")
        report.region_missing = True

    config = None
    if None not in (modes.get("environment"), modes.get("topology")):
        document = merge(defaults_for(modes["environment"], modes["topology"]), own)
        document.update(project=project, stack=stack, region=region if region is not None else "")
        try:
            config = TOPOLOGY_MODELS[modes["topology"]].model_validate(document)
        except ValidationError as error:
            report.add_errors(error, topology=modes["topology"])
            # The model checks name lengths only once every field is valid; never hide them.
            if not any(p.key == "name" or p.key.startswith("stack name") for p in report.problems):
                for path, problem in rules.name_lengths(project, stack):
                    report.add(path, problem)
    else:
        # Without both modes there are no defaults to validate the rest against; still check the names.
        for key, annotation, value in (
            ("project", ProjectName, project),
            ("stack", StackName, stack),
            ("region", RegionName, region),
        ):
            if value is not None:
                _check(report, (key,), annotation, value)
        for path, problem in rules.name_lengths(project, stack):
            report.add(path, problem)
    report.raise_if_any()

    secrets = pulumi.Config(project)
    return config, StackSecrets(external_database_url=secrets.get_secret("externalDatabaseUrl"))
