"""Pieces every Lambda function of the program needs, whatever it does: its log group, its
role, and (for container-image functions) the image and the permission to pull it.

Plain functions, each declaring its resources under the ``name`` and ``opts`` it is given, so
the calling component keeps its own logical names.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig import CpuArchitecture

from .iam import policy_document, service_trust_policy, statement

LAMBDA_ARCHITECTURES = {CpuArchitecture.ARM64: "arm64", CpuArchitecture.X86_64: "x86_64"}


def image_uri(repository_url: pulumi.Input[str], image_tag: str) -> pulumi.Output[str]:
    """``<repository url>:<image tag>``: the image a function runs."""
    return pulumi.Output.from_input(repository_url).apply(lambda url: f"{url}:{image_tag}")


def function_log_group(
    name: str, function_name: str, retention_days: int, opts: pulumi.ResourceOptions
) -> aws.cloudwatch.LogGroup:
    """``<name>-logs``: the function's ``/aws/lambda/<function>`` log group, declared so it has a retention."""
    return aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=f"/aws/lambda/{function_name}",
        retention_in_days=retention_days,
        opts=opts,
    )


def function_role(
    name: str, account: pulumi.Input[str], description: str, opts: pulumi.ResourceOptions
) -> aws.iam.Role:
    """``<name>``: a role only Lambda, in this account, may assume."""
    return aws.iam.Role(
        name,
        assume_role_policy=service_trust_policy("lambda.amazonaws.com", account),
        description=description,
        opts=opts,
    )


def logs_and_traces(log_group: aws.cloudwatch.LogGroup) -> list[dict[str, Any]]:
    """The statements letting a function write to its own log group and send traces."""
    return [
        statement(
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [log_group.arn.apply(lambda arn: f"{arn}:*")],
            sid="WriteLogs",
        ),
        # X-Ray has no resource-level permissions: "*" is the only form AWS accepts.
        statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*", sid="WriteTraces"),
    ]


def image_pull_policy(
    name: str, repository_arn: pulumi.Input[str], function_arn: str, sid: str, opts: pulumi.ResourceOptions
) -> aws.ecr.RepositoryPolicy:
    """``<name>-image-pull``: the repository policy letting Lambda pull the image for one function."""
    # Lambda pulls the image with its service principal, not the function's role.
    repository_name = pulumi.Output.from_input(repository_arn).apply(lambda arn: arn.split(":repository/", 1)[1])
    return aws.ecr.RepositoryPolicy(
        f"{name}-image-pull",
        repository=repository_name,
        policy=policy_document(
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Condition": {"StringLike": {"aws:sourceArn": function_arn}},
            }
        ),
        opts=opts,
    )
