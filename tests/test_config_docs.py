"""docs/configuration.md lists every key of both topologies with its default in each stack."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from simulation.harness import ROOT
from stackconfig import Environment, StandardStackConfig, Topology, ZeroScaleStackConfig
from stackconfig.defaults import defaults_for
from stackconfig.namespaces import PROJECT_OWNED

COLUMNS = ("dev", "staging", "prod", "zero-scale")
ABSENT = "—"
"""The key does not exist in that topology: setting it is refused."""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((found for arg in get_args(annotation) if (found := _model_in(arg)) is not None), None)


def _keys(model: type[BaseModel], prefix: str = "") -> dict[str, Any]:
    """Dotted key -> the field, for every leaf key (list items as ``key[]``)."""
    keys: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if not prefix and name in PROJECT_OWNED:
            continue
        key = f"{prefix}{field.alias}"
        section = _model_in(field.annotation)
        if section is None or section.__name__ == "str":
            keys[key] = field
        elif "list" in str(field.annotation):
            keys[key] = field
            keys.update(_keys(section, f"{key}[]."))
        else:
            keys.update(_keys(section, f"{key}."))
    return keys


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "))


def _default(table: dict[str, Any], key: str, field: Any) -> str:
    value: Any = table
    for part in key.split("."):
        # A list item's keys default in the model, never in the tables.
        if part.endswith("[]") or not isinstance(value, dict) or part not in value:
            value = PydanticUndefined
            break
        value = value[part]
    if value is not PydanticUndefined:
        return _cell(value)
    if field.default is not PydanticUndefined:
        return "unset" if field.default is None else _cell(field.default)
    return "required"


def expected_rows() -> dict[str, tuple[str, ...]]:
    standard, zero_scale = _keys(StandardStackConfig), _keys(ZeroScaleStackConfig)
    tables = [defaults_for(environment, Topology.STANDARD) for environment in Environment]
    zero_table = defaults_for(Environment.STAGING, Topology.ZERO_SCALE)
    rows = {}
    for key in sorted({*standard, *zero_scale}, key=lambda k: (k.split(".")[0], k)):
        cells = [_default(table, key, standard[key]) if key in standard else ABSENT for table in tables]
        cells.append(_default(zero_table, key, zero_scale[key]) if key in zero_scale else ABSENT)
        rows[key] = tuple(cells)
    return rows


def documented_rows() -> dict[str, tuple[str, ...]]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^\| `([A-Za-z0-9\[\].]+)` \|(.*)\|$", line)
        if match:
            cells = tuple(cell.strip().strip("`") for cell in match.group(2).split(" | "))
            rows[match.group(1)] = cells[: len(COLUMNS)]
    return rows


def test_every_key_and_its_default_in_each_stack_is_documented():
    documented = documented_rows()
    expected = expected_rows()
    assert sorted(set(expected) - set(documented)) == [], "keys missing from docs/configuration.md"
    assert sorted(set(documented) - set(expected)) == [], "docs/configuration.md lists keys the model has not"
    wrong = {key: (documented[key], cells) for key, cells in expected.items() if documented[key] != cells}
    assert wrong == {}
