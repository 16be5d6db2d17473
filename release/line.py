"""Where each stack's images come from, and which images a promotion moves.

A release records new digests for ``dev`` only. Every other stack takes the
digests of the stack before it in its line, never digests of its own:

    dev ──► staging ──► prod
                 └────► ultra

``ultra`` (zero-scale) follows staging on its own line: it runs production
traffic, so it takes only what staging has run, but it does not wait for prod.
A promotion takes the source stack's current block, or, to roll back, a block
the source stack's file held at some earlier commit (found by its
``sourceCommit`` in the file's git history), so a stack can only ever run
digests its source stack ran first.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .images import Images, ReleaseError
from .stackfile import StackFile, stack_path

RELEASE_STACK = "dev"
SOURCES = {"staging": "dev", "prod": "staging", "ultra": "staging"}


def source_of(stack: str) -> str | None:
    """The stack whose digests ``stack`` is promoted from; None for the release stack."""
    if stack == RELEASE_STACK:
        return None
    if stack not in SOURCES:
        known = ", ".join([RELEASE_STACK, *SOURCES])
        raise ReleaseError(f"{stack!r} is not in the promotion line ({known}); add it to SOURCES in release/line.py")
    return SOURCES[stack]


@dataclass(frozen=True)
class Choice:
    """What a promotion writes: ``images`` as the ``source`` stack held them at ``revision`` (None: now)."""

    source: str
    images: Images
    revision: str | None


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def history(root: Path, stack: str) -> list[tuple[str, Images]]:
    """Each distinct images block the stack file held, newest first, with the commit that wrote it."""
    name = stack_path(root, stack).name
    seen: list[tuple[str, Images]] = []
    for revision in _git(root, "log", "--format=%H", "--", name).split():
        try:
            images = StackFile.parse(_git(root, "show", f"{revision}:{name}"), f"{name}@{revision[:12]}").images
        except ReleaseError:
            continue  # a revision whose file did not parse or held a malformed block never deployed anything
        if not images.empty and (not seen or seen[-1][1] != images):
            seen.append((revision, images))
    return seen


def choose(root: Path, target: str, source_commit: str | None = None) -> Choice:
    """The images to promote into ``target``: its source's current ones, or those built from ``source_commit``."""
    source = source_of(target)
    if source is None:
        raise ReleaseError(f"{target} takes new releases, not promotions: run the release workflow")
    if source_commit is None:
        images = StackFile.read(stack_path(root, source)).images
        if images.empty:
            raise ReleaseError(f"{source} has no released images yet: nothing to promote to {target}")
        return Choice(source, images, None)
    commit = source_commit.strip().lower()
    if len(commit) < 7:
        raise ReleaseError(f"--source-commit {source_commit!r}: give at least 7 characters of the commit SHA")
    past = history(root, source)
    matches = {images.source_commit: (revision, images) for revision, images in reversed(past)}
    found = [key for key in matches if key and key.startswith(commit)]
    if len(found) != 1:
        recent = ", ".join(f"{images.source_commit[:12]}" for _, images in past[:10] if images.source_commit)
        reason = "matches several" if found else "is not among the"
        raise ReleaseError(
            f"{source_commit} {reason} application commits {source} has run"
            f" (most recent first: {recent or 'none'}); a stack can only take images its source ran first"
        )
    revision, images = matches[found[0]]
    return Choice(source, images, revision)
