"""Shared fixtures: runs of the program under mocks (``run_stack`` makes each distinct run once)."""

from __future__ import annotations

import pytest

from simulation.harness import STACKS, StackRun, run_stack


def committed_run(stack: str) -> StackRun:
    """The whole program for a committed stack file."""
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
