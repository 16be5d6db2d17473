"""StackKey: the one customer-managed KMS key that encrypts what the stack keeps at rest.

It is declared before every other component: :class:`~components.context.StackContext` carries
it as ``context.stack_key`` (a :class:`~components.context.KeyRef`), and every log group, repository, secret, topic,
Lambda environment, schedule and database encrypts with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from .context import AwsAccount, KeyRef
from .iam import policy_document

DELETION_WINDOW_DAYS = 30
"""The longest window KMS offers: a key scheduled for deletion by mistake can be recovered for a
month, and everything it encrypted (log groups, the database, its backups) with it."""

VIA_SERVICES = ("ecr", "lambda", "rds", "secretsmanager", "scheduler")
"""Services that use the key with the caller's own rights (``kms:ViaService``): ECR repositories,
Lambda environments, RDS storage, Performance Insights and the managed master secret, Secrets
Manager secrets and EventBridge Scheduler payloads."""

PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com", "ses.amazonaws.com")
"""Service principals that publish to the stack's encrypted topics: alarms and budgets to the alert
topic, SES to the e-mail event topic (no EventBridge rule publishes to either). Each topic's own
policy decides which of their resources may."""

ADMINISTRATION = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]
"""What the account's IAM principals may do to the key itself; cryptographic use goes through the
services above only."""

USE_VIA_SERVICES = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:CreateGrant",
    "kms:DescribeKey",
]


@dataclass
class StackKeyArgs:
    """Inputs of :class:`StackKey`; it comes before :class:`StackContext`, which carries it."""

    prefix: str
    """``<project>-<stack>``: the alias is ``alias/<prefix>``."""
    account: AwsAccount


def key_policy(account: AwsAccount) -> dict[str, Any]:
    """The key policy (plain data, so tests and the preview read it statement by statement).

    In a key policy ``"Resource": "*"`` means this key and nothing else.
    """
    partition, region, account_id = account.partition, account.region, account.account
    root = account.root
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": ADMINISTRATION,
                "Resource": "*",
            },
            {
                # Root as principal delegates to IAM: a role still needs kms:* on this key in its own
                # policy (the deploy role, the roles reading secrets), and only through these services.
                "Sid": "AccountUsesKeyThroughStackServices",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": USE_VIA_SERVICES,
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account_id,
                        "kms:ViaService": [f"{service}.{region}.{account.dns_suffix}" for service in VIA_SERVICES],
                    }
                },
            },
            {
                # Lambda reads its environment at start with the function's role, outside any service
                # call that would set kms:ViaService; the role's own policy names this key.
                "Sid": "AccountDecryptsLambdaEnvironments",
                "Effect": "Allow",
                "Principal": {"AWS": root},
                "Action": ["kms:Decrypt"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account_id},
                    "StringLike": {
                        "kms:EncryptionContext:aws:lambda:FunctionArn": (
                            f"arn:{partition}:lambda:{region}:{account_id}:function:*"
                        )
                    },
                },
            },
            {
                "Sid": "CloudWatchLogsEncryptsThisAccountsLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.{account.dns_suffix}"},
                "Action": [
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account_id}:log-group:*"
                    }
                },
            },
            {
                # Unconditioned on purpose: CloudWatch and Budgets send no source condition on their
                # KMS call, so one would drop every notification without an error. The topic policy
                # admits only this account's alarms and budgets.
                "Sid": "AlertPublishersEncryptToTopic",
                "Effect": "Allow",
                "Principal": {"Service": list(PUBLISHERS)},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
            },
        ],
    }


class StackKey(pulumi.ComponentResource):
    """The stack's customer-managed key (``$1/month``).

    Creates the symmetric KMS key ``<prefix>-stack`` with yearly automatic rotation and a 30-day
    deletion window, and the alias ``alias/<prefix>``. Its policy (:func:`key_policy`) lets the
    account administer the key; lets the account's principals use it only through ECR, Lambda,
    RDS, Secrets Manager and EventBridge Scheduler (``kms:ViaService``) and decrypt Lambda
    environments of this account's functions; lets CloudWatch Logs use it for this account's log
    groups only (``kms:EncryptionContext:aws:logs:arn``); and lets CloudWatch alarms and Budgets
    publish to the encrypted alert topic.

    EKS secrets keep a key of their own (docs/security.md): a cluster's envelope-encryption key
    cannot be changed after the cluster is created.
    """

    ref: KeyRef
    alias_name: pulumi.Output[str]

    def __init__(self, name: str, args: StackKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:StackKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{name}-stack",
            description=f"{args.prefix}: encrypts the stack's logs, images, secrets, topics and database",
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            enable_key_rotation=True,
            deletion_window_in_days=DELETION_WINDOW_DAYS,
            policy=policy_document(*key_policy(args.account)["Statement"]),
            opts=child,
        )
        alias = aws.kms.Alias(f"{name}-stack", name=f"alias/{args.prefix}", target_key_id=key.key_id, opts=child)
        self.ref = KeyRef(arn=key.arn, id=key.key_id)
        self.alias_name = alias.name
        self.register_outputs({"arn": key.arn, "id": key.key_id, "alias_name": alias.name})
