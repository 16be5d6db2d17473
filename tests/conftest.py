"""Shared fixtures: runs of the program under mocks, cached per stack."""

from __future__ import annotations

import functools

import pytest

from preview.harness import STACKS, StackRun, run_stack


@functools.cache
def committed_run(stack: str) -> StackRun:
    """The whole program for a committed stack file (one run per stack per session)."""
    return run_stack(stack)


@pytest.fixture(params=STACKS)
def any_stack(request) -> StackRun:
    return committed_run(request.param)


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
