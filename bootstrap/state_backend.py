"""StateBackend: the S3 bucket of a self-managed Pulumi backend and the two KMS keys around it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from . import names
from .account import Account
from .policies import StateLocation, dumps, secrets_key_policy, state_bucket_policy, state_key_policy

KEY_DELETION_WINDOW_DAYS = 30
KEY_ROTATION_DAYS = 365
INCOMPLETE_UPLOAD_DAYS = 1
# The layout `pulumi login` writes into an empty bucket: version 1 keeps stacks per project
# (.pulumi/stacks/<project>/<stack>.json), which is what the roles' object patterns name.
META_YAML = "version: 1\n"


@dataclass
class StateBackendArgs:
    """Inputs of :class:`StateBackend`."""

    account: Account
    stacks: list[str]
    previewable: list[str]
    """Stacks whose secrets the preview role may decrypt."""
    noncurrent_version_days: int
    keep_versions: int
    key_users: list[str]
    """ARN patterns of people who may use the secrets key for any stack."""


class StateBackend(pulumi.ComponentResource):
    """Where ``pulumi login s3://…`` keeps state and ``awskms://…`` keeps each stack's data key.

    Creates (all protected: deleting any of them loses every stack's state or secrets):

    * ``<name>-state-key`` (alias ``alias/flowbuilder-pulumi-state``): the bucket's SSE-KMS key,
      rotated yearly, 30-day deletion window; administered through IAM, used only by S3 for this bucket;
    * ``<name>-state`` ``flowbuilder-pulumi-state-<account>-<region>``: versioned; SSE-KMS with an
      S3 Bucket Key, SSE-C uploads blocked; public access blocked; bucket-owner-enforced; overwritten
      versions expire after ``state.noncurrentVersionDays`` (default 90) except the newest
      ``state.keepVersions`` (default 10); incomplete uploads aborted after a day; a policy refusing
      plain HTTP, TLS below 1.2 and any other encryption or key; and ``.pulumi/meta.yaml``
      (project-scoped layout) so no CI role ever writes outside its stacks;
    * ``<name>-secrets-key`` (alias ``alias/flowbuilder-pulumi-secrets``): the ``awskms://`` secrets
      provider, rotated yearly; each stack's data key is bound to the encryption context
      ``stack=<stack>``: a deploy role decrypts only its stack's, the preview role only the stacks
      it may preview, ``secretsKeyUsers`` any.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    state_key_arn: pulumi.Output[str]
    secrets_key_arn: pulumi.Output[str]
    backend_url: pulumi.Output[str]
    location: pulumi.Output[StateLocation]
    """The bucket and both keys, resolved, for the roles' and the boundary's documents."""
    secrets_providers: dict[str, str]
    """Stack -> the ``--secrets-provider`` URL its stack is created with."""

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:StateBackend", name, None, opts)
        account = args.account
        scope = account.everywhere
        kept = pulumi.ResourceOptions(parent=self, protect=True)
        child = pulumi.ResourceOptions(parent=self)
        bucket_name = names.state_bucket(account.account, account.region)
        bucket_arn = f"arn:{account.partition}:s3:::{bucket_name}"

        state_key = aws.kms.Key(
            f"{name}-state-key",
            description="Pulumi state bucket objects (SSE-KMS)",
            enable_key_rotation=True,
            rotation_period_in_days=KEY_ROTATION_DAYS,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=dumps(state_key_policy(scope, bucket_arn=bucket_arn, region=account.region)),
            opts=kept,
        )
        aws.kms.Alias(f"{name}-state-key", name=names.STATE_KEY_ALIAS, target_key_id=state_key.key_id, opts=child)

        deploy_roles = {stack: account.iam_arn(f"role/{names.deploy_role(stack)}") for stack in args.stacks}
        secrets_key = aws.kms.Key(
            f"{name}-secrets-key",
            description="Pulumi secrets provider (awskms://), one encryption context per stack",
            enable_key_rotation=True,
            rotation_period_in_days=KEY_ROTATION_DAYS,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=dumps(
                secrets_key_policy(
                    scope,
                    deploy_roles=deploy_roles,
                    preview_role=account.iam_arn(f"role/{names.PREVIEW_ROLE}"),
                    previewable=args.previewable,
                    key_users=args.key_users,
                )
            ),
            opts=kept,
        )
        aws.kms.Alias(f"{name}-secrets-key", name=names.SECRETS_KEY_ALIAS, target_key_id=secrets_key.key_id, opts=child)

        bucket = aws.s3.Bucket(f"{name}-state", bucket=bucket_name, opts=kept)
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-state",
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-state",
            bucket=bucket.bucket,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-state",
            bucket=bucket.bucket,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-state",
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=state_key.arn
                    ),
                    # One KMS call per bucket key instead of one per object write.
                    bucket_key_enabled=True,
                    blocked_encryption_types=["SSE-C"],
                )
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-state",
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-state-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_version_days,
                        newer_noncurrent_versions=args.keep_versions or None,
                    ),
                    # Delete markers left alone once their last old version has expired.
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=INCOMPLETE_UPLOAD_DAYS
                    ),
                )
            ],
            # S3 needs versioning on before it accepts noncurrent-version rules.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-state",
            bucket=bucket.bucket,
            policy=state_key.arn.apply(
                lambda key: dumps(state_bucket_policy(bucket_arn=bucket_arn, state_key_arn=key))
            ),
            # S3 rejects a bucket policy while the public-access block is still being set.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        aws.s3.BucketObjectv2(
            f"{name}-state-layout",
            bucket=bucket.bucket,
            key=".pulumi/meta.yaml",
            content=META_YAML,
            content_type="text/yaml",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[encryption, ownership, policy]),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.state_key_arn = state_key.arn
        self.secrets_key_arn = secrets_key.arn
        self.location = pulumi.Output.all(state_key.arn, secrets_key.arn).apply(
            lambda keys: StateLocation(bucket_arn, account.region, keys[0], keys[1])
        )
        self.backend_url = pulumi.Output.concat("s3://", bucket.bucket, f"?region={account.region}")
        self.secrets_providers = {
            stack: f"awskms://{names.SECRETS_KEY_ALIAS}?region={account.region}"
            f"&context_{names.ENCRYPTION_CONTEXT_KEY}={stack}"
            for stack in args.stacks
        }
        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "stateKeyArn": self.state_key_arn,
                "secretsKeyArn": self.secrets_key_arn,
                "backendUrl": self.backend_url,
                "secretsProviders": self.secrets_providers,
            }
        )
