"""Migration: the one-off task a release runs, and the function ``pulumi up`` waits on, before
anything that runs the new code rolls.

The migration is the api image with ``migration.command`` (``alembic upgrade head``) as a Fargate
task in the worker's subnets and security group. ``pulumi up`` runs it through an
``aws.lambda_.Invocation`` of a small zip function (:mod:`components.migration.run_migration`)
that starts the task, waits for it, and fails unless its container exited 0. The invocation's
triggers are the api digest and the command, so it runs once per release (and again when the
command changes), and the ECS services, the image functions and the worker's state machine and
pipe depend on it: a failed migration fails ``pulumi up`` while the old version keeps serving.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from stackconfig import CpuArchitecture
from stackconfig.model import MigrationConfig

from ..context import StackContext
from ..database import DatabaseConnection
from ..ecs import ClusterRef, TaskSpec, fargate_task, task_role
from ..ecs.task_definition import ECS_TASKS
from ..iam import role_policy, statement
from ..images import Image
from ..lambdas import function_log_group, function_role, logs_and_traces, stack_key_decrypt
from ..network import Placement

MIGRATION_CONTAINER = "migrate"
RUNNER_SOURCE = Path(__file__).parent / "run_migration.py"
RUNNER_TIMEOUT_MARGIN_SECONDS = 60
"""The runner's timeout beyond ``migration.timeoutMinutes``: RunTask, placement and image pull."""


@dataclass
class MigrationArgs:
    """Inputs of :class:`Migration`."""

    context: StackContext
    migration: MigrationConfig
    cluster: ClusterRef
    image: Image
    """The api image: the migration ships with the code that needs it."""
    cpu: int
    memory: int
    """The API task's size (``api.cpu``/``api.memory``)."""
    architecture: CpuArchitecture
    placement: Placement
    """The worker's subnets and security group (allowed to PostgreSQL; a public IP on zero-scale)."""
    database: DatabaseConnection
    """The master connection (standard) or the URL secret (zero-scale): migrations own the schema."""


class Migration(pulumi.ComponentResource):
    """The release's database migration (module docstring).

    Creates, once ``flowbuilder:images`` records an api digest (before that: nothing, and nothing
    waits):

    * the task definition ``<prefix>-migrate`` (see :mod:`components.ecs.task_definition`): the api
      image by digest, command ``migration.command`` (``["alembic", "upgrade", "head"]``), the API's
      cpu/memory, logs in ``/flowbuilder/<stack>/ecs/migrate``, the database's admin settings
      (standard: ``DB_APP_USER=flowbuilder_app`` and ``DB_APP_ROLE_SQL``, the SQL that creates it),
      the master credentials (standard) or ``DATABASE_URL`` (zero-scale) as ECS secrets; its task
      role reads exactly that secret, nothing else;
    * the function ``<prefix>-migrate-runner`` (python3.13, arm64, 128 MB, timeout
      ``migration.timeoutMinutes`` (10) + 1 minute, reserved concurrency 1, X-Ray, no VPC: it only
      calls the ECS API), whose role may run that family on the stack's cluster only, describe and
      stop tasks there, tag the task it starts, pass exactly the task's two roles to ECS, and write
      its own log group and traces;
    * the invocation ``<name>-migrate``: runs the task in ``placement`` and waits for exit 0;
      re-run when the api digest or the command changes.

    ``gate``: what a resource that runs the new code depends on (empty while there is no api digest);
    ``summary``: the ``migration`` stack output (family, image, command, runner, log group), or None.
    """

    gate: list[pulumi.Resource]
    summary: pulumi.Output[dict[str, object]] | None

    def __init__(self, name: str, args: MigrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Migration", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context, image = args.context, args.image
        self.gate, self.summary = [], None
        if not image.released:
            image.warn_unreleased("the migration runs with the first release that records one", self)
            self.register_outputs({})
            return

        family = context.name("ecs-family", "migrate")
        role = task_role(
            f"{name}-migrate",
            context,
            "Migration task: read the database's admin secret",
            [*args.database.grants, stack_key_decrypt(context, "DecryptDatabaseSecret")],
            child,
        )
        task = fargate_task(
            f"{name}-migrate",
            context=context,
            family=family,
            log_name=f"/flowbuilder/{context.stack}/ecs/migrate",
            spec=TaskSpec(
                container_name=MIGRATION_CONTAINER,
                image=image,
                cpu=args.cpu,
                memory=args.memory,
                architecture=args.architecture,
                environment={
                    **args.database.environment,
                    "AWS_REGION": context.region,
                    "STACK": context.stack,
                },
                secrets=list(args.database.container_secrets),
                container={"command": list(args.migration.command)},
            ),
            role=role,
            opts=child,
        )

        function_name = context.name("lambda", "migrate-runner")
        logs = function_log_group(f"{name}-migrate-runner", function_name, context, child)
        runner_role = function_role(
            f"{name}-migrate-runner",
            context,
            f"Migration runner: run {family} on the stack's cluster and wait for it",
            child,
        )
        cluster_tasks = context.account.arn("ecs", f"task/{args.cluster.name}/*")
        on_cluster = {"ArnEquals": {"ecs:cluster": args.cluster.arn}}
        policy = role_policy(
            f"{name}-migrate-runner",
            runner_role,
            [
                statement(
                    ["ecs:RunTask"],
                    [task.definition.arn_without_revision.apply(lambda arn: f"{arn}:*")],
                    sid="RunMigrationTask",
                    condition=on_cluster,
                ),
                statement(
                    ["ecs:DescribeTasks", "ecs:StopTask"],
                    [cluster_tasks],
                    sid="WatchMigrationTask",
                    condition=on_cluster,
                ),
                # RunTask with propagateTags tags the task it creates, so its cost carries the stack's tags.
                statement(
                    ["ecs:TagResource"],
                    [cluster_tasks],
                    sid="TagMigrationTask",
                    condition={"StringEquals": {"ecs:CreateAction": "RunTask"}},
                ),
                statement(
                    ["iam:PassRole"],
                    [task.execution_role.arn, role.arn],
                    sid="PassMigrationRoles",
                    condition={"StringEquals": {"iam:PassedToService": ECS_TASKS}},
                ),
                # The function's (empty) environment is under the stack key like every function's.
                stack_key_decrypt(context, "DecryptEnvironment"),
                *logs_and_traces(logs),
            ],
            child,
        )
        timeout_seconds = args.migration.timeout_minutes * 60 + RUNNER_TIMEOUT_MARGIN_SECONDS
        function = aws.lambda_.Function(
            f"{name}-migrate-runner",
            name=function_name,
            description=f"Runs {family} and fails unless it exits 0 (invoked by pulumi up)",
            runtime="python3.13",
            architectures=["arm64"],
            handler="run_migration.handler",
            code=pulumi.AssetArchive({"run_migration.py": pulumi.StringAsset(RUNNER_SOURCE.read_text())}),
            role=runner_role.arn,
            memory_size=128,
            kms_key_arn=context.stack_key.arn,
            # One migration at a time, whoever invokes it.
            reserved_concurrent_executions=1,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            timeout=timeout_seconds,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs, policy]),
        )
        placement = args.placement
        event = pulumi.Output.all(args.cluster.arn, placement.subnet_ids, placement.security_group_id).apply(
            lambda values: json.dumps(
                {
                    "cluster": values[0],
                    # The family: RunTask picks its newest revision, the one this update registered.
                    "taskDefinition": family,
                    "container": MIGRATION_CONTAINER,
                    "subnets": list(values[1]),
                    "securityGroups": [values[2]],
                    "assignPublicIp": "ENABLED" if placement.public_ip else "DISABLED",
                },
                sort_keys=True,
            )
        )
        invocation = aws.lambda_.Invocation(
            f"{name}-migrate",
            function_name=function.name,
            input=event,
            triggers={"apiDigest": str(image.digest), "command": json.dumps(list(args.migration.command))},
            # The new revision and what ECS needs to start it exist before the task is run.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[task.definition, task.execution_policy]),
        )
        self.gate = [invocation]
        self.summary = pulumi.Output.all(image.uri, task.log_group.name).apply(
            lambda values: {
                "taskDefinitionFamily": family,
                "image": values[0],
                "command": list(args.migration.command),
                "runnerFunctionName": function_name,
                "logGroupName": values[1],
            }
        )
        self.register_outputs({"summary": self.summary})
