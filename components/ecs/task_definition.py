"""The one way the program defines a Fargate task: the API, the queue worker and the zero-scale
worker run, each with its own log group, execution role and task role.

:func:`fargate_task` declares, under the name it is given:

* ``<name>-logs``: the container's log group, kept ``logRetentionDays``;
* ``<name>-execution``: the role ECS starts the task with: pull this one image, write this one
  log group, read exactly the secrets injected into the container (and decrypt them with the
  stack key);
* ``<name>``: the task definition on the stack's architecture, one essential container with a
  read-only root filesystem, a writable scratch volume at /tmp, not privileged, an init process,
  awslogs, credentials only as ECS ``secrets``; old revisions kept ACTIVE on replacement so the
  circuit breaker (or an operator) can roll back, and a RunTask already started on one still works.

:func:`task_role` declares the role the application code runs as.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig import CpuArchitecture

from ..context import StackContext
from ..database import ContainerSecret
from ..iam import role_policy, service_role, statement
from ..images import Image
from ..logs import log_group, log_stream_arn

SCRATCH_VOLUME = ("scratch", "/tmp")
# ECS Exec's agent writes its state and logs under these paths and crashes on a
# read-only root filesystem unless they are writable volumes (containers-roadmap#1359).
EXEC_AGENT_VOLUMES = (("exec-agent-state", "/var/lib/amazon"), ("exec-agent-logs", "/var/log/amazon"))
ECS_EXEC_ACTIONS = [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
]
ECS_TASKS = "ecs-tasks.amazonaws.com"


def secret_resource(value_from: str) -> str:
    """The secret ARN an ECS ``valueFrom`` reads: ``arn:...:secret:name-AbCdEf`` without ``:key:stage:id``."""
    return ":".join(value_from.split(":")[:7])


@dataclass(frozen=True)
class TaskSpec:
    """What runs in a task: one container and its size."""

    container_name: str
    image: Image
    cpu: int
    memory: int
    architecture: CpuArchitecture
    environment: Mapping[str, pulumi.Input[str]]
    """Plain settings; never a credential."""
    secrets: Sequence[ContainerSecret]
    """Injected by ECS from Secrets Manager when the task starts."""
    exec_enabled: bool = False
    """ECS Exec: adds the writable paths its agent needs."""
    container: Mapping[str, Any] = field(default_factory=dict)
    """Further container-definition keys (``portMappings``, ``stopTimeout``)."""


@dataclass(frozen=True)
class FargateTask:
    """What :func:`fargate_task` declared."""

    definition: aws.ecs.TaskDefinition
    execution_role: aws.iam.Role
    execution_policy: aws.iam.RolePolicy
    """A service must wait for it: ECS checks the image pull when it starts the first task."""
    log_group: aws.cloudwatch.LogGroup


def task_role(
    name: str,
    context: StackContext,
    description: str,
    grants: list[dict[str, Any]],
    opts: pulumi.ResourceOptions,
    *,
    exec_log_group: str | None = None,
) -> aws.iam.Role:
    """``<name>-task``: the role a task's code runs as, with the ``grants`` it needs (policy
    ``<name>-task``) and, while ECS Exec is on (``exec_log_group``, the cluster's session log), its
    Session Manager channels and the writes of the session log (``<name>-exec``)."""
    role = service_role(f"{name}-task", context, ECS_TASKS, description, opts)
    role_policy(f"{name}-task", role, grants, opts)
    if exec_log_group is not None:
        role_policy(f"{name}-exec", role, exec_statements(context, exec_log_group), opts)
    return role


def exec_statements(context: StackContext, exec_log_group: str) -> list[dict[str, Any]]:
    """What the ECS Exec agent in a task does with the task's role: open the session channels and
    write the session to ``exec_log_group`` after checking that the group is encrypted."""
    return [
        # ssmmessages has no resource types, so "*" is the only resource AWS accepts.
        statement(ECS_EXEC_ACTIONS, "*", sid="EcsExecSessions"),
        # DescribeLogGroups is authorised on "*" only; the agent reads the group's kmsKeyId with it.
        statement(["logs:DescribeLogGroups"], "*", sid="FindSessionLogGroup"),
        statement(
            ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            [context.account.arn("logs", f"log-group:{exec_log_group}:*")],
            sid="WriteSessionLog",
        ),
    ]


def fargate_task(
    name: str,
    *,
    context: StackContext,
    family: str,
    log_name: str,
    spec: TaskSpec,
    role: aws.iam.Role,
    opts: pulumi.ResourceOptions,
) -> FargateTask:
    """The log group, execution role and task definition ``family`` of one Fargate task (module docstring)."""
    names = [*spec.environment, *(secret.name for secret in spec.secrets)]
    clashes = sorted({variable for variable in names if names.count(variable) > 1})
    if clashes:
        raise ValueError(
            f"{', '.join(clashes)}: set twice in the {spec.container_name} task; rename the entry in "
            "ecs.applicationSecrets"
        )
    logs = log_group(f"{name}-logs", log_name, context, opts)
    execution_role = service_role(
        f"{name}-execution",
        context,
        ECS_TASKS,
        f"ECS task execution of {family}: pull its image, write its logs, read its secrets",
        opts,
    )
    statements = [
        # GetAuthorizationToken has no resource-level permissions; it only issues a
        # registry login, the pulls themselves are limited to the one repository.
        statement(["ecr:GetAuthorizationToken"], "*", sid="RegistryLogin"),
        statement(
            ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            [spec.image.repository_arn],
            sid="PullImage",
        ),
        statement(["logs:CreateLogStream", "logs:PutLogEvents"], [log_stream_arn(logs)], sid="WriteLogs"),
    ]
    if spec.secrets:
        readable = pulumi.Output.all(*(secret.value_from for secret in spec.secrets)).apply(
            lambda references: sorted({secret_resource(reference) for reference in references})
        )
        statements.append(statement(["secretsmanager:GetSecretValue"], readable, sid="ReadInjectedSecrets"))
        # Every secret of the stack is under the stack key; ECS decrypts it with this role.
        statements.append(statement(["kms:Decrypt"], [context.stack_key.arn], sid="DecryptInjectedSecrets"))
    execution_policy = role_policy(f"{name}-execution", execution_role, statements, opts)

    volumes = [SCRATCH_VOLUME, *(EXEC_AGENT_VOLUMES if spec.exec_enabled else ())]
    container = {
        "name": spec.container_name,
        "image": spec.image.uri,
        "essential": True,
        "readonlyRootFilesystem": True,
        "privileged": False,
        # An init process reaps zombies and forwards SIGTERM; ECS Exec relies on it too.
        "linuxParameters": {"initProcessEnabled": True},
        "environment": [{"name": key, "value": value} for key, value in sorted(spec.environment.items())],
        "secrets": [secret.entry() for secret in sorted(spec.secrets, key=lambda secret: secret.name)],
        "mountPoints": [{"sourceVolume": volume, "containerPath": path, "readOnly": False} for volume, path in volumes],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": logs.name,
                "awslogs-region": context.region,
                "awslogs-stream-prefix": spec.container_name,
            },
        },
        **spec.container,
    }
    definition = aws.ecs.TaskDefinition(
        name,
        family=family,
        cpu=str(spec.cpu),
        memory=str(spec.memory),
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
            operating_system_family="LINUX", cpu_architecture=spec.architecture.value
        ),
        execution_role_arn=execution_role.arn,
        task_role_arn=role.arn,
        volumes=[aws.ecs.TaskDefinitionVolumeArgs(name=volume) for volume, _ in volumes],
        container_definitions=pulumi.Output.json_dumps([container]),
        # A new image replaces the revision; keeping the old one ACTIVE lets the circuit breaker
        # (or an operator) roll back to it, and a task being started on it still starts.
        skip_destroy=True,
        opts=opts,
    )
    return FargateTask(definition, execution_role, execution_policy, logs)
