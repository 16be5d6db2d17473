"""The load balancer's access-log bucket: SSE-S3 (the only encryption ALB delivers to), private,
versioned, logs and non-current versions expiring after the stack's retention, incomplete uploads
aborted after a day, writable by Elastic Load Balancing alone."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from ..context import AwsAccount, StackContext

ALB_LOG_PREFIX = "alb"

# Regions opened before August 2022 deliver ALB access logs from a regional ELB
# account; regions opened since accept only the
# logdelivery.elasticloadbalancing.amazonaws.com service principal. The bucket
# policy grants both where the region has an ELB account, the principal alone
# elsewhere. Source: ELB user guide, "Enable access logs for your ALB", step 2.
ELB_LOG_DELIVERY_ACCOUNTS: dict[str, str] = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


def alb_log_bucket_policy(bucket_arn: pulumi.Input[str], account: AwsAccount) -> pulumi.Output[str]:
    """Bucket policy letting Elastic Load Balancing write this account's ALB logs, and nothing over plain HTTP."""
    objects = pulumi.Output.concat(bucket_arn, f"/{ALB_LOG_PREFIX}/AWSLogs/{account.account}/*")
    statements: list[dict[str, Any]] = [
        {
            "Sid": "LogDeliveryService",
            "Effect": "Allow",
            "Principal": {"Service": ELB_LOG_DELIVERY_SERVICE},
            "Action": "s3:PutObject",
            "Resource": objects,
        }
    ]
    if account.region in ELB_LOG_DELIVERY_ACCOUNTS:
        statements.append(
            {
                "Sid": "RegionalElbAccount",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{account.partition}:iam::{ELB_LOG_DELIVERY_ACCOUNTS[account.region]}:root"},
                "Action": "s3:PutObject",
                "Resource": objects,
            }
        )
    statements.append(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


def access_log_bucket(
    name: str, context: StackContext, opts: pulumi.ResourceOptions
) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
    """``<name>-alb-logs``: the bucket and its settings; returns the bucket name and what the load
    balancer must wait for (ELB test-writes to the bucket when logging is switched on)."""
    bucket = aws.s3.Bucket(
        f"{name}-alb-logs", bucket=context.name("s3-bucket", f"alb-logs-{context.account.account}"), opts=opts
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-alb-logs",
        bucket=bucket.bucket,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-alb-logs",
        bucket=bucket.bucket,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts,
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-alb-logs",
        bucket=bucket.bucket,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                )
            )
        ],
        opts=opts,
    )
    # Versioned, so a log overwritten or deleted (by mistake or to hide a trace) stays recoverable
    # as a non-current version for the stack's retention.
    versioning = aws.s3.BucketVersioning(
        f"{name}-alb-logs",
        bucket=bucket.bucket,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=opts,
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-alb-logs",
        bucket=bucket.bucket,
        rules=[
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-access-logs",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=f"{ALB_LOG_PREFIX}/"),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=context.log_retention_days),
            ),
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="versions-and-uploads",
                status="Enabled",
                # The whole bucket: whatever lands outside alb/ is cleaned up the same way.
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=context.log_retention_days
                ),
                # Expired logs leave delete markers behind; drop them once no version is left under them.
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=1
                ),
            ),
        ],
        # S3 reads the versioning state when it evaluates non-current rules.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[versioning])),
    )
    policy = aws.s3.BucketPolicy(
        f"{name}-alb-logs",
        bucket=bucket.bucket,
        policy=alb_log_bucket_policy(bucket.arn, context.account),
        # S3 rejects a policy naming a principal while the public-access block is being set.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[public_access])),
    )
    return bucket.bucket, [policy, ownership, encryption]
