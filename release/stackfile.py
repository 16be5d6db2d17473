"""Read a stack file's images and rewrite only its ``flowbuilder:images`` block.

The edit is textual, so every other byte of the file (comments, key order, flow
mappings, blank lines, the ``secretsprovider``/``encryptedkey`` lines of a
self-managed backend) stays as it was. The block itself is machine-owned: it is
rewritten whole, in block style, with every value quoted; a comment meant to
stay belongs above the ``flowbuilder:images:`` line. Each edit is checked by
parsing the file before and after: anything but the block changing is an error,
and the file is not written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .images import Images, ReleaseError

IMAGES_KEY = "flowbuilder:images"
_CONFIG_LINE = re.compile(r"config:[ \t]*(#.*)?")
_IMAGES_LINE = re.compile(r"""(?:flowbuilder:images|"flowbuilder:images"|'flowbuilder:images')[ \t]*:(?:[ \t].*)?""")
_INSERTED_COMMENT = "# The images this stack runs, by digest; written by `python3 tasks.py release` (docs/delivery.md)."


def stack_path(root: Path, stack: str) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def parse_document(text: str, where: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ReleaseError(f"{where}: not valid YAML: {error}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise ReleaseError(f"{where}: expected a mapping with a `config:` mapping")
    return document


@dataclass(frozen=True)
class StackFile:
    """One ``Pulumi.<stack>.yaml`` as committed."""

    name: str
    text: str
    document: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> StackFile:
        if not path.exists():
            raise ReleaseError(f"{path.name} does not exist")
        return cls.parse(path.read_text(encoding="utf-8"), path.name)

    @classmethod
    def parse(cls, text: str, name: str) -> StackFile:
        return cls(name, text, parse_document(text, name))

    @property
    def config(self) -> dict[str, Any]:
        return self.document.get("config") or {}

    @property
    def images(self) -> Images:
        return Images.parse(self.config.get(IMAGES_KEY), f"{self.name}: {IMAGES_KEY}")

    @property
    def region(self) -> str:
        region = self.config.get("aws:region")
        if not isinstance(region, str) or not region:
            raise ReleaseError(f"{self.name}: aws:region is not set")
        return region

    @property
    def secrets_provider(self) -> str | None:
        provider = self.document.get("secretsprovider")
        return provider if isinstance(provider, str) and provider else None

    def with_images(self, images: Images) -> str:
        """The file's text with its images block set to ``images``; nothing else changes."""
        if images.empty:
            raise ReleaseError(f"{self.name}: refusing to write an empty {IMAGES_KEY} block")
        text = replace_images_block(self.text, images, self.name)
        after = StackFile.parse(text, self.name)
        if after.images != images or _without_images(after.document) != _without_images(self.document):
            raise ReleaseError(f"{self.name}: the edit would change more than {IMAGES_KEY}; edit this file by hand")
        return text


def _without_images(document: dict[str, Any]) -> dict[str, Any]:
    config = {key: value for key, value in (document.get("config") or {}).items() if key != IMAGES_KEY}
    return {**document, "config": config}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_blank(line: str) -> bool:
    return not line.strip()


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def replace_images_block(text: str, images: Images, where: str) -> str:
    """Replace (or add, at the end of ``config:``) the block; see the module docstring."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _CONFIG_LINE.fullmatch(line)]
    if len(starts) != 1:
        raise ReleaseError(f"{where}: expected one top-level `config:` line starting a block mapping")
    start = starts[0]
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "#") and not _is_blank(lines[i])),
        len(lines),
    )
    entries = [i for i in range(start + 1, end) if not _is_blank(lines[i]) and not _is_comment(lines[i])]
    indent = _indent(lines[entries[0]]) if entries else 2
    if indent == 0:
        raise ReleaseError(f"{where}: the keys under `config:` must be indented")
    keys = [i for i in entries if _indent(lines[i]) == indent and _IMAGES_LINE.fullmatch(lines[i][indent:])]
    if len(keys) > 1:
        raise ReleaseError(f"{where}: {IMAGES_KEY} appears {len(keys)} times")
    pad = " " * indent
    block = [f"{pad}{IMAGES_KEY}:"] + [f'{pad}{pad}{key}: "{value}"' for key, value in images.mapping().items()]
    if keys:
        first = keys[0]
        last = first
        for i in range(first + 1, end):
            if _is_blank(lines[i]):
                continue
            if _indent(lines[i]) <= indent:
                break
            last = i
        lines[first : last + 1] = block
    else:
        at = end
        while at > start + 1 and (
            _is_blank(lines[at - 1]) or (_is_comment(lines[at - 1]) and not _indent(lines[at - 1]))
        ):
            at -= 1
        lines[at:at] = [f"{pad}{_INSERTED_COMMENT}", *block]
    return newline.join(lines) + newline
