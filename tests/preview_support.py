"""Small programs and hand-made resources for the preview's own tests (cost, preflight, diagram, compare)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from simulation.harness import RecordedResource, StackRun, run_program
from stackconfig import StackConfig


def program(build: Callable[[], Any], *, stack: str = "dev", region: str = "us-east-1") -> StackRun:
    """Run ``build`` (which declares resources) under the preview's mocks."""
    return run_program(build, stack=stack, config={"aws:region": region})


def resource(token: str, name: str, inputs: dict[str, Any] | None = None, **state: Any) -> RecordedResource:
    """A recorded resource made by hand, for types a program cannot declare under mocks."""
    return RecordedResource(
        urn=f"urn:pulumi:dev::flowbuilder::{token}::{name}",
        type=token,
        name=name,
        parent=None,
        custom=True,
        inputs=inputs or {},
        state={"id": state.pop("id", name), **state},
    )


def runs_of(*resources: RecordedResource, stack: str = "dev", config: StackConfig | None = None) -> StackRun:
    return StackRun(stack, list(resources), {}, set(), config)


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
