"""Shared fixtures: runs of the program under mocks, each distinct run made once per test session.

``run_stack`` keeps each distinct run for the process; with xdist, the workers
also share them through a directory the controller creates for the session
(``simulation.harness.share_runs``), so a run one worker made is read, not
remade, by the others.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from preview.report.docs import fake_digest, released_overrides
from simulation.harness import STACKS, StackRun, run_stack, share_runs

RUNS_KEY = "flowbuilder_runs"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist's controller, once per worker: the session's run directory, made on first use."""
    config = node.config
    if not hasattr(config, RUNS_KEY):
        setattr(config, RUNS_KEY, tempfile.mkdtemp(prefix="flowbuilder-runs-"))
    node.workerinput[RUNS_KEY] = getattr(config, RUNS_KEY)


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", {})
    if RUNS_KEY in workerinput:
        share_runs(Path(workerinput[RUNS_KEY]))


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, RUNS_KEY):
        shutil.rmtree(getattr(config, RUNS_KEY), ignore_errors=True)


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
