"""One component on its own, under the same mocks as the program, built from its own settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel

from components.context import AwsAccount, StackContext
from components.images import Image
from preview.harness import StackRun, run_program
from preview.mocks import ACCOUNT_ID
from stackconfig import Environment, Topology
from stackconfig.defaults import defaults_for, merge

Section = TypeVar("Section", bound=BaseModel)
REGION = "us-east-1"


def context(stack: str = "dev", log_retention_days: int = 7) -> StackContext:
    """The context the program would pass in a stack called ``stack``."""
    return StackContext(
        prefix=f"flowbuilder-{stack}",
        stack=stack,
        account=AwsAccount("aws", REGION, ACCOUNT_ID),
        log_retention_days=log_retention_days,
    )


def section(
    model: type[Section],
    key: str,
    environment: Environment = Environment.DEV,
    topology: Topology = Topology.STANDARD,
    **overrides: Any,
) -> Section:
    """A config section as the loader would build it: the defaults with ``overrides`` (camelCase) on top."""
    return model.model_validate(merge(defaults_for(environment, topology)[key], overrides))


def image(name: str, digest: str | None) -> Image:
    """An image in the account's registry, released when ``digest`` is given."""
    return Image(
        name,
        pulumi.Output.from_input(f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/flowbuilder-dev/{name}"),
        pulumi.Output.from_input(f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/flowbuilder-dev/{name}"),
        digest,
    )


def run_component(build: Callable[[StackContext], Any], stack: str = "dev") -> StackRun:
    """Run ``build(context)`` as the whole program, so only what it declares is recorded."""
    return run_program(lambda: build(context(stack)), stack=stack, config={"aws:region": REGION})
