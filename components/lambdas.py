"""Pieces every Lambda function of the program needs, whatever it does: its log group, its
role, and (for container-image functions) the image, the permission to pull it, and the wait
for its first release.

Plain functions, each declaring its resources under the ``name`` and ``opts`` it is given, so
the calling component keeps its own logical names.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig import CpuArchitecture

from .context import StackContext
from .iam import policy_document, service_role, statement
from .images import Image
from .logs import log_group, log_stream_arn

LAMBDA_ARCHITECTURES = {CpuArchitecture.ARM64: "arm64", CpuArchitecture.X86_64: "x86_64"}


def function_log_group(
    name: str, function_name: str, context: StackContext, opts: pulumi.ResourceOptions
) -> aws.cloudwatch.LogGroup:
    """``<name>-logs``: the function's ``/aws/lambda/<function>`` log group, declared so it has a retention."""
    return log_group(f"{name}-logs", f"/aws/lambda/{function_name}", context, opts)


def function_role(name: str, context: StackContext, description: str, opts: pulumi.ResourceOptions) -> aws.iam.Role:
    """``<name>``: a role only Lambda, in this account, may assume."""
    return service_role(name, context, "lambda.amazonaws.com", description, opts)


def stack_key_decrypt(context: StackContext, sid: str) -> dict[str, Any]:
    """``kms:Decrypt`` on the stack key alone: what a function's role needs to read its own
    environment at start, and the secrets it reads (both encrypted with the key)."""
    return statement(["kms:Decrypt"], [context.stack_key.arn], sid=sid)


def logs_and_traces(group: aws.cloudwatch.LogGroup) -> list[dict[str, Any]]:
    """The statements letting a function write to its own log group and send traces."""
    return [
        statement(["logs:CreateLogStream", "logs:PutLogEvents"], [log_stream_arn(group)], sid="WriteLogs"),
        # X-Ray has no resource-level permissions: "*" is the only form AWS accepts.
        statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*", sid="WriteTraces"),
    ]


def image_pull_policy(
    name: str, image: Image, function_arn: str, sid: str, opts: pulumi.ResourceOptions
) -> aws.ecr.RepositoryPolicy:
    """``<name>-image-pull``: the repository policy letting Lambda pull ``image`` for one function."""
    # Lambda pulls the image with its service principal, not the function's role.
    repository_name = image.repository_arn.apply(lambda arn: arn.split(":repository/", 1)[1])
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


def image_function(
    name: str,
    image: Image,
    /,
    *,
    function_name: str,
    waiting: str,
    prerequisites: list[pulumi.Resource],
    opts: pulumi.ResourceOptions,
    **settings: Any,
) -> aws.lambda_.Function | None:
    """``<name>``: the container-image function ``function_name`` running ``image`` by digest (its environment
    encrypted with the stack key, ``kms_key_arn`` in ``settings``), or None while the image
    has no digest: Lambda refuses to create an image function before its image exists, so the first
    ``pulumi up`` on an empty account declares everything else and warns that ``waiting``.

    The function is created after ``prerequisites``: its log group (which must exist first to keep
    its retention), and its role's policy and the repository's pull permission (which Lambda checks).
    """
    if not image.released:
        image.warn_unreleased(waiting, opts.parent)
        return None
    return aws.lambda_.Function(
        name,
        name=function_name,
        package_type="Image",
        image_uri=image.uri,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=prerequisites)),
        **settings,
    )
