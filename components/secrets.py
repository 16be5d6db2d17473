"""The one way the program declares a Secrets Manager secret: encrypted with the stack key."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .context import StackContext


def secret(
    name: str, context: StackContext, *, description: str, opts: pulumi.ResourceOptions
) -> aws.secretsmanager.Secret:
    """``<name>``: an empty secret under the stack key; its value is written by a ``SecretVersion`` or by hand.

    Whoever reads it needs ``kms:Decrypt`` on the stack key as well as ``secretsmanager:GetSecretValue``.
    """
    return aws.secretsmanager.Secret(name, description=description, kms_key_id=context.stack_key.arn, opts=opts)
