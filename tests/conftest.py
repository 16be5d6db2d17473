"""Shared fixtures: runs of the program under mocks (``run_stack`` makes each distinct run once)."""

from __future__ import annotations

import pytest

from preview.docs import fake_digest, released_overrides
from preview.harness import STACKS, StackRun, run_stack

DIGESTS = {image: fake_digest(image) for image in ("api", "worker", "scheduler")}
"""The digests a released run records: ``sha256:`` and the SHA-256 of the image's name."""


def committed_run(stack: str) -> StackRun:
    """The whole program for a committed stack file."""
    return run_stack(stack)


def released_run(stack: str) -> StackRun:
    """The whole program for a committed stack after its first release: every image has a digest."""
    return run_stack(stack, released_overrides(stack))


@pytest.fixture(params=STACKS)
def any_stack(request) -> StackRun:
    return committed_run(request.param)


@pytest.fixture(params=STACKS)
def any_released(request) -> StackRun:
    return released_run(request.param)


@pytest.fixture
def dev() -> StackRun:
    return committed_run("dev")


@pytest.fixture
def staging() -> StackRun:
    return committed_run("staging")


@pytest.fixture
def prod() -> StackRun:
    return committed_run("prod")


@pytest.fixture
def ultra() -> StackRun:
    return committed_run("ultra")
