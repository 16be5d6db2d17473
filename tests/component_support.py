"""One component on its own, under the same mocks as the program, built from its own settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pulumi
from pydantic import BaseModel

from components.context import AwsAccount, KeyRef, StackContext
from components.database import ContainerSecret, DatabaseConnection
from components.iam import statement
from components.images import Image
from components.queues import QueueRef
from simulation.harness import StackRun, run_program
from simulation.mocks import ACCOUNT_ID
from stackconfig import Environment, Topology
from stackconfig.defaults import defaults_for, merge

Section = TypeVar("Section", bound=BaseModel)
REGION = "us-east-1"
STACK_KEY_ID = "0b1e0a7e-5a3c-4f6e-9d2b-6f0c1a2b3c4d"
STACK_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{STACK_KEY_ID}"


def context(stack: str = "dev", log_retention_days: int = 7) -> StackContext:
    """The context the program would pass in a stack called ``stack``."""
    return StackContext(
        prefix=f"flowbuilder-{stack}",
        stack=stack,
        account=AwsAccount("aws", REGION, ACCOUNT_ID),
        log_retention_days=log_retention_days,
        stack_key=stack_key(),
    )


def stack_key() -> KeyRef:
    """The stack key as the mocks would name it."""
    return KeyRef(arn=STACK_KEY_ARN, id=STACK_KEY_ID)


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


def queue_ref(name: str) -> QueueRef:
    """A queue in the account, by name."""
    return QueueRef(
        url=pulumi.Output.from_input(f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"),
        arn=pulumi.Output.from_input(f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"),
        name=pulumi.Output.from_input(name),
    )


def url_database(
    secret_arn: str = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:db-url-AbCdEf",
) -> DatabaseConnection:
    """An external database known by its URL secret, as zero-scale's clients receive it."""
    secret = pulumi.Output.from_input(secret_arn)
    return DatabaseConnection(
        secret_arn=secret,
        secret_kind="url",
        environment={"DB_SECRET_ARN": secret, "DB_SECRET_KIND": "url"},
        container_secrets=(ContainerSecret("DATABASE_URL", secret),),
        grants=(statement(["secretsmanager:GetSecretValue"], [secret], sid="ReadDatabaseSecret"),),
    )


def run_component(build: Callable[[StackContext], Any], stack: str = "dev") -> StackRun:
    """Run ``build(context)`` as the whole program, so only what it declares is recorded."""
    return run_program(lambda: build(context(stack)), stack=stack, config={"aws:region": REGION})
