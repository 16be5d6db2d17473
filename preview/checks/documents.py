"""The JSON documents AWS parses on the way in: IAM policies and ECS container definitions.

``policy_problems`` applies IAM's policy grammar (keys, effects, principals,
action and resource shapes) for the kind of document: identity policies,
trust policies, resource policies. ``container_definition_problems`` checks
``containerDefinitions`` against RegisterTaskDefinition's ``ContainerDefinition``
shape in the botocore service model (member names, types, enums, required
members), so the rules are AWS's own, not a copy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from simulation.refs import as_document
from stackconfig.aws_limits import service_model

IDENTITY, TRUST, RESOURCE = "identity", "trust", "resource"
TOP_KEYS = {"Version", "Id", "Statement"}
STATEMENT_KEYS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
PRINCIPAL_KEYS = {"AWS", "Service", "Federated", "CanonicalUser"}
VERSIONS = {"2012-10-17", "2008-10-17"}
ACTION = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")
IAM_SID = re.compile(r"^[A-Za-z0-9]*$")


def policy_problems(raw: Any, kind: str) -> Iterator[str]:
    """What IAM's policy grammar rejects in one document (``kind``: identity, trust or resource)."""
    try:
        document = as_document(raw)
    except ValueError as error:
        yield f"is not JSON ({error})"
        return
    if not isinstance(document, dict):
        yield "must be a JSON object"
        return
    for key in sorted(set(document) - TOP_KEYS):
        yield f"unknown top-level key {key!r} (allowed: Version, Id, Statement)"
    if "Version" in document and document["Version"] not in VERSIONS:
        yield f"Version {document['Version']!r} is not 2012-10-17"
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        yield "Statement must be a statement or a non-empty list of statements"
        return
    for index, statement in enumerate(statements):
        for problem in _statement_problems(statement, kind):
            yield f"Statement[{index}]: {problem}"


def _statement_problems(statement: Any, kind: str) -> Iterator[str]:
    if not isinstance(statement, dict):
        yield "must be an object"
        return
    for key in sorted(set(statement) - STATEMENT_KEYS):
        yield f"unknown key {key!r}"
    if statement.get("Effect") not in ("Allow", "Deny"):
        yield f"Effect must be Allow or Deny (got {statement.get('Effect')!r})"
    if kind != RESOURCE and "Sid" in statement and not IAM_SID.match(str(statement["Sid"])):
        yield f"Sid {statement['Sid']!r} may hold only letters and digits"
    has_action, has_not_action = "Action" in statement, "NotAction" in statement
    if has_action == has_not_action:
        yield "needs exactly one of Action or NotAction"
    for key in ("Action", "NotAction"):
        if key in statement:
            yield from _list_problems(key, statement[key], lambda a: bool(ACTION.match(a)), "service:Action")
    resources = [key for key in ("Resource", "NotResource") if key in statement]
    if kind == TRUST and resources:
        yield f"a trust policy must not have {resources[0]}"
    if kind == IDENTITY and len(resources) != 1:
        yield "needs exactly one of Resource or NotResource"
    for key in resources:
        yield from _list_problems(key, statement[key], lambda r: r == "*" or r.startswith("arn:"), "an ARN or *")
    principals = [key for key in ("Principal", "NotPrincipal") if key in statement]
    if kind == IDENTITY and principals:
        yield f"an identity policy must not have {principals[0]}"
    if kind in (TRUST, RESOURCE) and not principals:
        yield "needs a Principal"
    for key in principals:
        yield from _principal_problems(key, statement[key])
    if "Condition" in statement:
        yield from _condition_problems(statement["Condition"])


def _list_problems(key: str, value: Any, valid: Callable[[str], bool], shape: str) -> Iterator[str]:
    items = value if isinstance(value, list) else [value]
    if not items:
        yield f"{key} is empty"
    for item in items:
        if not isinstance(item, str) or not valid(item):
            yield f"{key} {item!r} is not {shape}"


def _principal_problems(key: str, value: Any) -> Iterator[str]:
    if value == "*":
        return
    if not isinstance(value, dict) or not value:
        yield f'{key} must be "*" or an object of AWS/Service/Federated/CanonicalUser'
        return
    for name in sorted(set(value) - PRINCIPAL_KEYS):
        yield f"{key} has unknown principal type {name!r}"
    for name, principals in value.items():
        items = principals if isinstance(principals, list) else [principals]
        if not items or not all(isinstance(item, str) and item for item in items):
            yield f"{key}.{name} must be a string or a non-empty list of strings"


def _condition_problems(value: Any) -> Iterator[str]:
    if not isinstance(value, dict):
        yield "Condition must be an object of operator -> {key: value}"
        return
    for operator, block in value.items():
        if not isinstance(block, dict) or not block:
            yield f"Condition {operator!r} must map condition keys to values"


def container_definition_problems(raw: Any) -> Iterator[str]:
    """What ECS RegisterTaskDefinition rejects in a ``containerDefinitions`` input."""
    try:
        containers = as_document(raw)
    except ValueError as error:
        yield f"containerDefinitions is not JSON ({error})"
        return
    if not isinstance(containers, list) or not containers:
        yield "containerDefinitions must be a non-empty JSON list"
        return
    model = service_model("ecs")
    for index, container in enumerate(containers):
        path = f"containerDefinitions[{index}]"
        if isinstance(container, dict):
            # The shape leaves them optional; RegisterTaskDefinition refuses a container without either.
            for required in ("name", "image"):
                if not container.get(required):
                    yield f"{path}.{required} is required"
        yield from shape_problems(container, "ContainerDefinition", path, model["shapes"])


def shape_problems(value: Any, shape_name: str, path: str, shapes: dict[str, Any]) -> Iterator[str]:
    """Check ``value`` against a botocore shape: member names, types, enums, required members, ranges."""
    shape = shapes[shape_name]
    kind = shape["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            yield f"{path} must be an object ({shape_name})"
            return
        members = shape["members"]
        for key in value:
            if key not in members:
                yield f"{path}: unknown key {key!r} (not in ECS {shape_name})"
        for key in shape.get("required", []):
            if key not in value:
                yield f"{path}.{key} is required"
        for key, item in value.items():
            if key in members:
                yield from shape_problems(item, members[key]["shape"], f"{path}.{key}", shapes)
    elif kind == "list":
        if not isinstance(value, list):
            yield f"{path} must be a list"
            return
        for index, item in enumerate(value):
            yield from shape_problems(item, shape["member"]["shape"], f"{path}[{index}]", shapes)
    elif kind == "map":
        if not isinstance(value, dict):
            yield f"{path} must be an object"
            return
        for key, item in value.items():
            yield from shape_problems(key, shape["key"]["shape"], f"{path} key", shapes)
            yield from shape_problems(item, shape["value"]["shape"], f"{path}.{key}", shapes)
    elif kind == "string":
        if not isinstance(value, str):
            yield f"{path} must be a string (got {value!r})"
        elif "enum" in shape and value not in shape["enum"]:
            yield f"{path} {value!r} is not one of {', '.join(shape['enum'])}"
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            yield f"{path} must be an integer (got {value!r})"
        elif ("min" in shape and value < shape["min"]) or ("max" in shape and value > shape["max"]):
            yield f"{path} {value} is outside {shape.get('min', '')}..{shape.get('max', '')}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{path} must be true or false (got {value!r})"
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            yield f"{path} must be a number (got {value!r})"
