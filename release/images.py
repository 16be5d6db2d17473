"""The ``flowbuilder:images`` block of a stack file: which digest each image runs.

The block names the application commit the images were built from and, per
image, the digest of the manifest pushed for it::

    flowbuilder:images:
      sourceCommit: "4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"
      api: "sha256:<64 lowercase hex>"
      worker: "sha256:<64 lowercase hex>"
      scheduler: "sha256:<64 lowercase hex>"

The program accepts any subset of these keys. The release tooling is stricter
for its own use: a block that names a digest also names ``sourceCommit``,
because the copies a promotion makes are tagged with it (an untagged image is
expired by the repositories' lifecycle policy within a day).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

IMAGE_NAMES = ("api", "worker", "scheduler")
SOURCE_COMMIT = "sourceCommit"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
COMMIT = re.compile(r"[0-9a-f]{40}")


class ReleaseError(Exception):
    """A release, promotion or deploy check that cannot go on; the message says why and what to do."""


def check_digest(value: object, where: str) -> str:
    if not isinstance(value, str) or not DIGEST.fullmatch(value):
        raise ReleaseError(f"{where}: {value!r} is not an image digest (sha256: and 64 lowercase hex characters)")
    return value


def check_commit(value: object, where: str) -> str:
    if not isinstance(value, str) or not COMMIT.fullmatch(value):
        hint = " (quote it: YAML reads an all-digit SHA as a number)" if isinstance(value, int | float) else ""
        raise ReleaseError(f"{where}: {value!r} is not a full git commit SHA (40 lowercase hex characters){hint}")
    return value


@dataclass(frozen=True)
class Images:
    """The images a stack runs: ``digests`` maps an image name to its digest, in ``IMAGE_NAMES`` order."""

    source_commit: str | None = None
    digests: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, where: str) -> Images:
        """Read the block as YAML loaded it (None when the stack file has no block)."""
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise ReleaseError(f"{where}: expected a mapping of {SOURCE_COMMIT} and image digests, got {value!r}")
        unknown = sorted(set(value) - {SOURCE_COMMIT, *IMAGE_NAMES}, key=str)
        if unknown:
            allowed = ", ".join((SOURCE_COMMIT, *IMAGE_NAMES))
            raise ReleaseError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; allowed: {allowed}")
        digests = {name: check_digest(value[name], f"{where}.{name}") for name in IMAGE_NAMES if name in value}
        commit = value.get(SOURCE_COMMIT)
        if commit is not None or digests:
            commit = check_commit(commit, f"{where}.{SOURCE_COMMIT}")
        return cls(commit, digests)

    @classmethod
    def of(cls, source_commit: str, digests: Mapping[str, str], where: str = "images") -> Images:
        """A complete release: one commit and a digest for every image."""
        missing = [name for name in IMAGE_NAMES if not digests.get(name)]
        if missing:
            raise ReleaseError(f"{where}: no digest for {', '.join(missing)}; a release names all of {IMAGE_NAMES}")
        return cls.parse({SOURCE_COMMIT: source_commit, **digests}, where)

    @property
    def empty(self) -> bool:
        return not self.digests

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(self.digests.items())

    def mapping(self) -> dict[str, str]:
        """The block as it is written: ``sourceCommit`` first, then the images in ``IMAGE_NAMES`` order."""
        if self.empty:
            return {}
        return {SOURCE_COMMIT: self.source_commit or "", **self.digests}

    def changes(self, before: Images) -> list[tuple[str, str | None, str | None]]:
        """``(image, digest before, digest after)`` for each image whose digest differs."""
        return [
            (name, before.digests.get(name), self.digests.get(name))
            for name in IMAGE_NAMES
            if before.digests.get(name) != self.digests.get(name)
        ]
