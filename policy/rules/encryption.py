"""Encryption at rest under the stack's own customer-managed key (components/stack_key.py)."""

from __future__ import annotations

from collections.abc import Iterator

from ._support import PROJECT, UNKNOWN, StackView, peek, project_of, stack_rule

KEY = "aws:kms/key:Key"

# What must be encrypted with a key the stack declares: (type, path to the key reference, what it protects).
KEYED = (
    ("aws:cloudwatch/logGroup:LogGroup", ("kmsKeyId",), "log events"),
    ("aws:ecr/repository:Repository", ("encryptionConfigurations", 0, "kmsKey"), "images"),
    ("aws:secretsmanager/secret:Secret", ("kmsKeyId",), "the secret value"),
    ("aws:sns/topic:Topic", ("kmsMasterKeyId",), "messages"),
    ("aws:rds/instance:Instance", ("masterUserSecretKmsKeyId",), "the managed master password"),
)


def _uses_stack_key(stack: StackView) -> Iterator[tuple[str, str | None]]:
    keys = [key for key in stack.of_type(KEY) if project_of(key.urn) == PROJECT]
    for token, path, protects in KEYED:
        for resource in stack.of_type(token):
            if project_of(resource.urn) != PROJECT:
                continue
            if token == "aws:rds/instance:Instance" and peek(resource.props, "manageMasterUserPassword") is not True:
                continue
            value = peek(resource.props, *path)
            if value is None or value == "":
                yield (
                    f"{protects}: encrypted with an AWS-managed or AWS-owned key; set {path[0]} to the stack key",
                    (resource.urn),
                )
            elif not any(stack.references(resource, path, key, "arn", "keyId", "id") for key in keys):
                shown = "a value unknown before deployment" if value is UNKNOWN else value
                yield f"{path[0]} is {shown}, not a customer-managed key this stack declares", resource.urn


POLICIES = [
    stack_rule(
        "stack-key-encryption",
        "Log groups, ECR repositories, Secrets Manager secrets (the RDS-managed master secret too) and SNS topics "
        "must be encrypted with the stack's customer-managed KMS key.",
        _uses_stack_key,
        mandatory=True,
        remediation="Declare log groups with components/logs.py log_group(...) and secrets with components/secrets.py "
        "secret(...); pass context.stack_key.arn to ECR (encryption_type KMS), SNS and RDS.",
        tags=["kms", "encryption"],
    ),
]
