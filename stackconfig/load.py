"""Reading a stack's configuration from the Pulumi runtime into the model.

This is the only code that touches raw config. It runs before any resource is
declared; any problem becomes one :class:`ConfigError` that names the stack
file, each offending key and what is allowed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, get_args

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ValidationError

from .defaults import defaults_for, merge
from .model import SECRET_KEYS, Environment, StackConfig, Topology
from .naming import name_length_problems


class ConfigError(pulumi.RunError):
    """Invalid stack configuration; raised before any resource is declared."""


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, kept as Pulumi secrets and never in the model."""

    external_database_url: pulumi.Output[str] | None


def _all_raw_config() -> dict[str, Any]:
    # The language host hands config over either through PULUMI_CONFIG or
    # set_all_config (mocks); the union is what the CLI resolved for the stack.
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def _parse_value(raw: Any) -> Any:
    # Pulumi passes structured values (objects, lists) as JSON text; scalars
    # stay strings and pydantic's lax mode converts them.
    if isinstance(raw, str) and raw[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _allowed_keys(location: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts in the section that holds ``location``."""
    model: type[BaseModel] = StackConfig
    for part in location[:-1]:
        if isinstance(part, int):
            continue
        field = next(f for f in model.model_fields.values() if f.alias == part)
        annotation = field.annotation
        nested = get_args(annotation)[0] if get_args(annotation) else annotation
        model = nested
    hidden = {"project", "stack", "region"}
    return sorted(f.alias for name, f in model.model_fields.items() if name not in hidden)


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key; allowed keys here: {', '.join(_allowed_keys(error['loc']))}"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    return f"{key}: {message}{shown}" if key else message


def _fail(stack: str, problems: list[str]) -> ConfigError:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return ConfigError(f"Pulumi.{stack}.yaml: invalid configuration\n{lines}")


def load_stack_config(project: str, stack: str) -> tuple[StackConfig, StackSecrets]:
    """Validate the current stack's configuration; raise :class:`ConfigError` on any problem."""
    raw = _all_raw_config()
    namespace = f"{project}:"
    own = {key[len(namespace) :]: _parse_value(value) for key, value in raw.items() if key.startswith(namespace)}

    secret_values = {key: own.pop(key) for key in list(own) if key in SECRET_KEYS}
    problems = [
        f"{project}:{key}: must be set with `pulumi config set --secret {key}`"
        for key in secret_values
        if not runtime_config.is_config_secret(f"{namespace}{key}")
    ]

    unknown_modes = [
        f"{project}:{key}: {own.get(key)!r} is not allowed; allowed: {', '.join(m.value for m in enum)}"
        for key, enum in (("environment", Environment), ("topology", Topology))
        if own.get(key) not in {m.value for m in enum}
    ]
    problems += unknown_modes
    # Without a valid environment and topology there are no defaults to validate against.
    if not unknown_modes:
        layered = defaults_for(Environment(own["environment"]), Topology(own["topology"]))
        document = merge(layered, own)
        document.update(project=project, stack=stack, region=raw.get("aws:region"))
        try:
            config = StackConfig.model_validate(document)
        except ValidationError as error:
            problems += [_describe_key(project, e) for e in error.errors()]
        else:
            problems += [f"stack name {stack!r}: {p}" for p in name_length_problems(config.name_prefix)]
    if problems:
        raise _fail(stack, problems)

    secrets = pulumi.Config(project)
    return config, StackSecrets(external_database_url=secrets.get_secret("externalDatabaseUrl"))


def _describe_key(project: str, error: dict[str, Any]) -> str:
    text = _describe(error)
    if text.startswith("region:"):
        return "aws:" + text
    if text.startswith(("project:", "stack:")):
        return text
    return f"{project}:{text}"
