"""A scratch copy of the repository's project and stack files under git, and a registry held in memory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from release.images import Images
from release.registry import Found, Location

ROOT = Path(__file__).resolve().parent.parent
STACKS = ("dev", "staging", "prod", "ultra")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def commit_sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


def build(seed: str) -> Images:
    """The images one build of application commit ``seed`` would push."""
    return Images.of(commit_sha(seed), {image: digest(f"{seed}/{image}") for image in ("api", "worker", "scheduler")})


class Checkout:
    """``Pulumi.yaml`` and the committed stack files in a fresh git repository."""

    def __init__(self, path: Path) -> None:
        self.root = path
        shutil.copy(ROOT / "Pulumi.yaml", path / "Pulumi.yaml")
        (path / "mesh").mkdir()
        shutil.copy(ROOT / "mesh" / "Pulumi.yaml", path / "mesh" / "Pulumi.yaml")
        for stack in STACKS:
            shutil.copy(ROOT / f"Pulumi.{stack}.yaml", path / f"Pulumi.{stack}.yaml")
        self.git("init", "--quiet", "--initial-branch=main")
        self.commit("the committed stack files")

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **GIT_ENV},
        )
        return result.stdout.strip()

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def file(self, stack: str) -> Path:
        return self.root / f"Pulumi.{stack}.yaml"

    def text(self, stack: str) -> str:
        return self.file(stack).read_text()


class MemoryRegistry:
    """Repositories as ``{(host, repository): {digest: Found}}``; implements ``release.registry.Registry``."""

    def __init__(self) -> None:
        self.images: dict[tuple[str, str], dict[str, Found]] = {}
        self.tokens = 0

    def push(self, location: Location, image: str, digest_: str, tag: str, status: str = "ACTIVE") -> None:
        self.images.setdefault((location.host, location.repository(image)), {})[digest_] = Found(
            digest_, (tag,), status
        )

    def holds(self, location: Location, image: str) -> Mapping[str, Found]:
        return self.images.get((location.host, location.repository(image)), {})

    def find(self, location: Location, image: str, *, digest: str | None = None, tag: str | None = None):
        held = self.holds(location, image)
        if digest:
            return held.get(digest)
        return next((found for found in held.values() if tag in found.tags), None)

    def tag(self, location: Location, image: str, digest_: str, tag: str) -> None:
        found = self.holds(location, image)[digest_]
        self.images[(location.host, location.repository(image))][digest_] = Found(
            digest_, (*found.tags, tag), found.status
        )

    def token(self) -> str:
        self.tokens += 1
        return "QVdTOnNlY3JldA=="


class MemoryCopier:
    """Copies between :class:`MemoryRegistry` repositories, recording each copy (optionally altering the digest)."""

    def __init__(self, registry: MemoryRegistry, *, rewrite: bool = False) -> None:
        self.registry = registry
        self.copies: list[tuple[str, str, dict]] = []
        self.rewrite = rewrite

    def copy(self, source: str, target: str, authfile: Path) -> None:
        self.copies.append((source, target, json.loads(authfile.read_text())))
        digest_ = source.split("@")[1]
        target_repo, tag = target.rsplit(":", 1)
        host, repository = target_repo.split("/", 1)
        copied = digest(digest_) if self.rewrite else digest_
        self.registry.images.setdefault((host, repository), {})[copied] = Found(copied, (tag,), "ACTIVE")
