"""Reading ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` as strictly as the Pulumi CLI does.

The offline preview cannot ask the Pulumi CLI for a stack's config, so it reads
the files itself, and must read them as the CLI would (Pulumi's Go YAML parser,
``gopkg.in/yaml.v3``, YAML 1.2 with a few compatibility rules) or refuse:

* structure: one document, a mapping at the top, ``config:`` a mapping, keys
  that are text and unique (yaml.v3 refuses duplicates; Pulumi also makes
  ``environment`` and ``<project>:environment`` the same key);
* scalars resolved by yaml.v3's rules: ``yes``/``on``/``5:00``/dates are text,
  ``true``/``True``/``TRUE`` booleans, ``0x1F``/``0o17``/``0b11`` numbers;
* refused, because yaml.v3 would read them differently from what they look
  like (or differently from YAML 1.2): leading-zero numbers (``010`` is octal
  8 to yaml.v3), underscores in numbers, ``.inf``/``.nan``, merge keys, tags
  other than ``!!str``, and empty values;
* every problem is reported with the file and line (and the key, once known),
  never a traceback and never the text of the line (it may hold a secret).

:func:`read_stack_file` returns what the CLI hands the program: top-level
values as text, structured values as JSON text, and the keys holding secrets.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from .problems import ConfigError, Problem, did_you_mean, dotted

STR_TAG = "tag:yaml.org,2002:str"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
SECRET_PLACEHOLDER = "[secret: not decrypted offline]"
"""What the offline preview passes for a ``secure:`` value: it has no key to decrypt it with."""

STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
"""The top-level keys of a stack file (Pulumi's ``workspace.ProjectStack``)."""


class StackFileError(ConfigError):
    """A file the CLI could not read, or would read differently from how it looks."""


@dataclass(frozen=True)
class StackFile:
    """What the Pulumi CLI would hand the program for one stack."""

    path: Path
    config: dict[str, str]
    """``namespace:key`` -> value; objects and lists as JSON text, like ``PULUMI_CONFIG``."""
    secret_keys: frozenset[str] = frozenset()
    """Keys whose value is (or holds) a ``secure:`` value; passed as a placeholder offline."""
    lines: dict[str, int] = field(default_factory=dict)
    """The line each top-level key is on, for messages."""


@dataclass(frozen=True)
class Project:
    """``Pulumi.yaml``: the project's name and where its stack files live."""

    name: str
    directory: Path
    stack_config_dir: Path

    @property
    def path(self) -> Path:
        return self.directory / "Pulumi.yaml"

    def stack_path(self, stack: str) -> Path:
        return self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> list[str]:
        """The stacks whose ``Pulumi.<stack>.yaml`` is present, sorted."""
        found = (
            p.name[len("Pulumi.") : -len(".yaml")] for p in self.stack_config_dir.glob("Pulumi.*.yaml") if p.is_file()
        )
        return sorted(stack for stack in found if stack)

    def read_stack(self, stack: str) -> StackFile:
        """The stack's file, strictly read; a missing file lists the stacks that are present."""
        path = self.stack_path(stack)
        if not path.is_file():
            present = ", ".join(self.stacks()) or "none"
            raise StackFileError.of(
                [Problem(path.name, "", f"no such stack file in {self.stack_config_dir}; stacks here: {present}")],
                {path.name: "missing"},
            )
        return read_stack_file(path, self.name)


# -- YAML as yaml.v3 reads it --------------------------------------------------------------------
class _Composer(Reader, Scanner, Parser, Composer, BaseResolver):
    """PyYAML's scanner and composer, with no implicit resolution (scalars are resolved below)."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        BaseResolver.__init__(self)

    def compose_scalar_node(self, anchor: str | None) -> ScalarNode:
        tag = self.peek_event().tag
        node = super().compose_scalar_node(anchor)
        node.explicit_tag = tag if tag not in (None, "!") else None
        return node


class _Problems:
    """Problems of one file, each at a line (and a key, once known)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.found: list[Problem] = []

    def add(self, node: Node | None, message: str, key: str = "") -> None:
        where = f"line {node.start_mark.line + 1}" if node is not None else ""
        if key:
            where = f"{where}, {key}" if where else key
        self.found.append(Problem(self.path.name, where, message))

    def raise_if_any(self, heading: str) -> None:
        if self.found:
            raise StackFileError.of(self.found, {self.path.name: heading})


def _compose(path: Path, heading: str) -> Node | None:
    problems = _Problems(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        problems.add(None, f"cannot be read: {error.strerror}")
        problems.raise_if_any(heading)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.found.append(Problem(path.name, f"line {line}", "is not UTF-8 text"))
        problems.raise_if_any(heading)
    try:
        return _Composer(text).get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.found.append(Problem(path.name, where, _yaml_message(error)))
        problems.raise_if_any(heading)
    return None


def _yaml_message(error: yaml.MarkedYAMLError) -> str:
    """The parser's own words, without the snippet of the line (it may hold a secret)."""
    problem = error.problem or ""
    if "'\\t'" in problem:
        return "a tab where YAML allows only spaces (indentation and after ':' or '-'); indent with spaces"
    if "single document" in (error.context or ""):
        return "holds more than one YAML document (a second '---'); Pulumi reads only the first, so remove the rest"
    context = f"{error.context}: " if error.context else ""
    return f"unreadable YAML: {context}{problem}"


_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_NULLS = ("", "~", "null", "Null", "NULL")
INT64 = (-(2**63), 2**63 - 1)


class _Surprise(ValueError):
    """A scalar yaml.v3 would read differently from how it reads."""


def resolve_plain(text: str) -> Any:
    """A plain (unquoted) scalar as yaml.v3 resolves it into an ``interface{}``."""
    if text in _NULLS:
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text.lower() in (".nan", ".inf", "+.inf", "-.inf"):
        raise _Surprise(f"{text} is not a finite number; quote it if it is text")
    if not text or text[0] not in "+-.0123456789":
        return text
    if "_" in text:
        if _number(text.replace("_", "")) is not None:
            raise _Surprise(
                f"{text}: yaml.v3 reads a number with underscores as {_number(text.replace('_', ''))}, "
                "YAML 1.2 as text; write the digits without '_' (or quote it if it is text)"
            )
        return text
    if re.fullmatch(r"[-+]?0[0-9]+", text):
        raise _Surprise(
            f"{text}: a number with a leading zero, which yaml.v3 reads as octal (010 is 8); "
            "write it without the leading zero, or quote it if it is text"
        )
    value = _number(text)
    return text if value is None else value


def _number(text: str) -> int | float | None:
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    for prefix, base in (("0x", 16), ("0X", 16), ("0o", 8), ("0O", 8), ("0b", 2), ("0B", 2)):
        if digits.startswith(prefix):
            try:
                return _in_range(sign * int(digits[2:], base), text)
            except ValueError:
                return None
    if re.fullmatch(r"[-+]?(0|[1-9][0-9]*)", text):
        return _in_range(int(text), text)
    if _FLOAT.match(text):
        value = float(text)
        if not math.isfinite(value):
            raise _Surprise(f"{text} is too large for a number")
        return value
    return None


def _in_range(value: int, text: str) -> int:
    if not INT64[0] <= value <= INT64[1]:
        raise _Surprise(f"{text} is beyond a 64-bit integer; quote it if it is text")
    return value


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,2002:") else tag


class _Reader:
    """Turns a composed node tree into plain values, collecting problems on the way."""

    def __init__(self, problems: _Problems) -> None:
        self.problems = problems
        self.secret = False

    def value(self, node: Node, path: tuple[str | int, ...]) -> Any:
        key = dotted(path)
        if isinstance(node, ScalarNode):
            return self.scalar(node, key)
        if node.tag not in (MAP_TAG, SEQ_TAG):
            self.problems.add(node, f"the tag {_short(node.tag)} is not supported; write plain YAML", key)
            return None
        if isinstance(node, SequenceNode):
            return [self.value(item, (*path, index)) for index, item in enumerate(node.value)]
        entries = self.mapping(node, path)
        if list(entries) == ["secure"] and isinstance(entries["secure"], str):
            self.secret = True
            return SECRET_PLACEHOLDER
        return entries

    def scalar(self, node: ScalarNode, key: str) -> Any:
        if node.explicit_tag not in (None, STR_TAG):
            self.problems.add(
                node, f"the tag {_short(node.explicit_tag)} is not supported; only !!str (or quotes)", key
            )
            return None
        if node.style is not None or node.explicit_tag == STR_TAG:
            return node.value
        try:
            return resolve_plain(node.value)
        except _Surprise as surprise:
            self.problems.add(node, str(surprise), key)
            return None

    def mapping(self, node: MappingNode, path: tuple[str | int, ...]) -> dict[str, Any]:
        entries: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            name = self.key(key_node, path)
            if name is None:
                continue
            if name in entries:
                self.problems.add(
                    key_node, f"duplicate key; it is already set on line {lines[name]}", dotted((*path, name))
                )
                continue
            lines[name] = key_node.start_mark.line + 1
            entries[name] = self.value(value_node, (*path, name))
        return entries

    def key(self, node: Node, path: tuple[str | int, ...]) -> str | None:
        if not isinstance(node, ScalarNode):
            self.problems.add(node, "a key must be text, not a list or mapping", dotted(path))
            return None
        if node.style is None and node.value == "<<" and node.explicit_tag is None:
            self.problems.add(node, "merge keys (<<) are not supported here; write the keys out", dotted(path))
            return None
        value = self.scalar(node, dotted(path))
        if not isinstance(value, str):
            self.problems.add(node, f"the key {node.value} is not text; quote it", dotted(path))
            return None
        return value


def _json_ready(value: Any) -> Any:
    """Floats as Go's encoding/json writes them: whole values without a fraction (1e3 -> 1000)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _go_text(value: Any) -> str:
    """A top-level scalar as the CLI passes it: yaml.v3 re-encodes the resolved value, then reads it as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # yaml.v3 writes floats with strconv.FormatFloat(f, 'g', -1, 64): the shortest digits, in
        # exponent form below 1e-4 and from 1e+06 up.
        decimal = Decimal(repr(value))
        exponent = decimal.adjusted() if value else 0
        if -4 <= exponent < 6:
            return str(int(value)) if value.is_integer() else repr(value)
        sign, digits, _ = decimal.normalize().as_tuple()
        mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
        return f"{'-' if sign else ''}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return str(value)


def read_stack_file(path: Path, project: str) -> StackFile:
    """``path`` read as the Pulumi CLI reads a stack file of ``project``; :class:`StackFileError` otherwise."""
    heading = "unreadable stack file"
    problems = _Problems(path)
    root = _compose(path, heading)
    if root is None:
        return StackFile(path, {})
    if not isinstance(root, MappingNode):
        problems.add(root, "must be a mapping with a config: key (the whole file is a list or a single value)")
        problems.raise_if_any(heading)
    reader = _Reader(problems)
    top: dict[str, Node] = {}
    top_lines: dict[str, int] = {}
    for key_node, value_node in root.value:
        name = reader.key(key_node, ())
        if name is None:
            continue
        if name in top_lines:
            problems.add(key_node, f"duplicate key {name!r}; it is already set on line {top_lines[name]}")
            continue
        top_lines[name] = key_node.start_mark.line + 1
        if name not in STACK_FILE_KEYS:
            hint = did_you_mean(name, STACK_FILE_KEYS)
            problems.add(key_node, f"unknown key {name!r};{hint} a stack file holds {', '.join(STACK_FILE_KEYS)}")
        elif name == "environment":
            problems.add(
                key_node,
                "Pulumi ESC environments are not read by this project's tooling (the offline preview cannot open "
                "them); keep the stack's values under config:",
            )
        else:
            top[name] = value_node
    for name in ("secretsprovider", "encryptedkey", "encryptionsalt"):
        if name in top and not isinstance(reader.value(top[name], (name,)), str):
            problems.add(top[name], "must be text", name)
    config, secret_keys, lines = _config(top.get("config"), project, reader)
    problems.raise_if_any(heading)
    return StackFile(path, config, frozenset(secret_keys), lines)


def _config(node: Node | None, project: str, reader: _Reader) -> tuple[dict[str, str], set[str], dict[str, int]]:
    problems = reader.problems
    config: dict[str, str] = {}
    secret_keys: set[str] = set()
    lines: dict[str, int] = {}
    if node is None or (isinstance(node, ScalarNode) and node.style is None and node.value in _NULLS):
        return config, secret_keys, lines
    if not isinstance(node, MappingNode):
        problems.add(node, "must be a mapping of keys to values (it is a list or a single value)", "config")
        return config, secret_keys, lines
    for key_node, value_node in node.value:
        name = reader.key(key_node, ("config",))
        if name is None:
            continue
        key = name if ":" in name else f"{project}:{name}"
        line = key_node.start_mark.line + 1
        if key in config or key in lines:
            same = "" if key == name else f" ({name} is {key})"
            problems.add(key_node, f"duplicate key{same}; it is already set on line {lines[key]}", key)
            continue
        lines[key] = line
        if name.count(":") > 1:
            problems.add(key_node, "a config key is <namespace>:<name> with one ':'", name)
            continue
        reader.secret = False
        value = reader.value(value_node, (key,))
        if value is None:
            if isinstance(value_node, ScalarNode) and value_node.style is None and value_node.value in _NULLS:
                problems.add(
                    value_node, "has no value (Pulumi would pass an empty string); give it one or remove the key", key
                )
            continue
        if reader.secret:
            secret_keys.add(key)
        if isinstance(value, dict | list):
            try:
                config[key] = json.dumps(_json_ready(value), separators=(",", ":"))
            except ValueError:
                problems.add(value_node, "holds a value JSON cannot carry", key)
        else:
            config[key] = _go_text(value)
    return config, secret_keys, lines


def read_project(directory: Path) -> Project:
    """``directory/Pulumi.yaml``: the project's name (as Pulumi validates it) and its stack files' folder."""
    path = directory / "Pulumi.yaml"
    heading = "unreadable project file"
    problems = _Problems(path)
    if not path.is_file():
        problems.add(None, f"no such file in {directory}: a Pulumi project directory holds Pulumi.yaml")
        problems.raise_if_any(heading)
    root = _compose(path, heading)
    if not isinstance(root, MappingNode):
        problems.add(root, "must be a mapping with at least name: and runtime:")
        problems.raise_if_any(heading)
    reader = _Reader(problems)
    document = reader.value(root, ())
    problems.raise_if_any(heading)
    name = document.get("name")
    if "name" not in document:
        problems.add(root, "missing; a project needs a name", "name")
    elif not isinstance(name, str) or not name:
        problems.add(root, "must be non-empty text", "name")
    elif len(name) > 100 or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        # Pulumi's tokens.ValidateProjectName.
        problems.add(root, "Pulumi allows at most 100 letters, digits, hyphens, underscores and periods", "name")
    runtime = document.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        problems.add(root, "must be python: the program is this repository's Python program", "runtime")
    if "config" in document and not isinstance(document["config"], str):
        problems.add(
            root,
            "project-level config is not used here: every stack's values live in its Pulumi.<stack>.yaml and the "
            "defaults in stackconfig/defaults.py",
            "config",
        )
    stack_dir = document.get(
        "stackConfigDir", document.get("config") if isinstance(document.get("config"), str) else ""
    )
    if not isinstance(stack_dir, str):
        problems.add(root, "must be a folder path", "stackConfigDir")
        stack_dir = ""
    problems.raise_if_any("invalid project file")
    return Project(name=name, directory=directory, stack_config_dir=(directory / stack_dir) if stack_dir else directory)
