"""The one way the program declares a CloudWatch log group: with the stack's retention, under the stack key.

A service that writes to a log group that does not exist creates it with no expiry, so every
log group a resource writes to is declared here first, and is the one place to change how the
stack's logs are kept (retention, encryption).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .context import StackContext


def log_group(name: str, log_name: str, context: StackContext, opts: pulumi.ResourceOptions) -> aws.cloudwatch.LogGroup:
    """``<name>``: the log group ``log_name``, kept ``logRetentionDays``, encrypted with the stack key."""
    return aws.cloudwatch.LogGroup(
        name,
        name=log_name,
        retention_in_days=context.log_retention_days,
        kms_key_id=context.stack_key.arn,
        opts=opts,
    )


def log_stream_arn(group: aws.cloudwatch.LogGroup) -> pulumi.Output[str]:
    """``<log group ARN>:*``: the resource of ``logs:CreateLogStream`` and ``logs:PutLogEvents``."""
    return group.arn.apply(lambda arn: f"{arn}:*")
