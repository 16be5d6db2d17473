"""Uploads: the private bucket for user files, reached through presigned URLs, and its optional CDN."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig.model import UploadsConfig

from .context import StackContext
from .iam import statement

OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
"""All the applications do with files: presigned PUT/POST, GET and DELETE under the prefix."""
ABORT_MULTIPART_DAYS = 7
# Browsers send these on a presigned PUT; x-amz-* covers checksums, metadata and the SDKs' own.
CORS_HEADERS = ["Content-Type", "Content-MD5", "Content-Disposition", "x-amz-*"]
# Multipart uploads from the browser read each part's ETag to complete the upload.
CORS_EXPOSE = ["ETag"]
CORS_MAX_AGE_SECONDS = 3000
# AWS-managed CloudFront policies (CloudFront developer guide, "Use managed cache policies" and
# "Use managed response headers policies"): CachingOptimized and SecurityHeadersPolicy.
CACHING_OPTIMIZED_POLICY = "658327ea-f89d-4fab-a63d-7e88639e58f6"
SECURITY_HEADERS_POLICY = "67f7725c-6f97-4210-82d7-5512b31e9d03"
CDN_MINIMUM_TLS = "TLSv1.2_2021"
CLOUDFRONT_SERVICE = "cloudfront.amazonaws.com"


@dataclass
class UploadsArgs:
    """Inputs of :class:`Uploads`."""

    context: StackContext
    uploads: UploadsConfig
    protect: bool = False
    """Pulumi ``protect`` on the bucket (prod): deleting it takes an explicit unprotect."""


def object_grant(bucket_arn: pulumi.Input[str], prefix: str) -> dict[str, Any]:
    """What the API and worker roles may do: ``OBJECT_ACTIONS`` on ``<bucket>/<prefix>*`` and nothing else."""
    return statement(OBJECT_ACTIONS, [pulumi.Output.concat(bucket_arn, "/", prefix, "*")], sid="UploadsObjects")


def bucket_policy(
    bucket_arn: pulumi.Input[str], prefix: str, distribution_arn: pulumi.Input[str] | None
) -> pulumi.Output[str]:
    """Nothing over plain HTTP; with a CDN, reads of the prefix by that one distribution alone."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if distribution_arn is not None:
        statements.append(
            {
                "Sid": "CloudFrontReadsUploads",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDFRONT_SERVICE},
                "Action": "s3:GetObject",
                "Resource": pulumi.Output.concat(bucket_arn, "/", prefix, "*"),
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            }
        )
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": statements})


class Uploads(pulumi.ComponentResource):
    """The bucket the applications keep user files in; browsers reach it through presigned URLs.

    Creates:

    * ``<name>-uploads``: bucket ``<prefix>-uploads-<account>``, all four public-access blocks,
      ``BucketOwnerEnforced`` (no ACLs), SSE-S3 by default, and a bucket policy denying any
      request not made over TLS;
    * CORS for ``uploads.corsOrigins`` (none by default, then no CORS configuration):
      PUT, POST, GET and HEAD with the headers a presigned upload sends, ``ETag`` exposed;
    * lifecycle: objects under ``uploads.prefix`` (``uploads/``) move to
      ``uploads.transitionStorageClass`` (Intelligent-Tiering) after ``uploads.transitionAfterDays``
      (30); incomplete multipart uploads are aborted after 7 days; with versioning, noncurrent
      versions expire after ``uploads.noncurrentExpiryDays`` (30) and lone delete markers go;
    * where ``uploads.versioning`` (prod): versioning, and the tag ``backup-plan: <prefix>`` that
      the stack's AWS Backup plan selects resources by;
    * where ``uploads.cdn.enabled`` (off): a CloudFront distribution serving the prefix (the
      viewer path ``/a.png`` is the key ``uploads/a.png``) through origin access control,
      viewers redirected to HTTPS, TLS 1.2 at least, price class ``uploads.cdn.priceClass``
      (``PriceClass_100``), optional ``alias`` with its us-east-1 certificate; the bucket policy
      then lets that distribution alone read the prefix.

    ``grants`` is what the application roles get (``s3:PutObject``, ``s3:GetObject``,
    ``s3:DeleteObject`` on ``<bucket>/<prefix>*``), attached by an ``ApplicationGrant``;
    ``environment`` is what their containers are told.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    prefix: str
    cdn_domain: pulumi.Output[str] | None
    """The host name viewers use: the alias when set, else the distribution's own."""
    distribution_id: pulumi.Output[str] | None
    grants: list[dict[str, Any]]
    environment: dict[str, pulumi.Input[str]]

    def __init__(self, name: str, args: UploadsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Uploads", name, None, opts)
        context, settings = args.context, args.uploads
        child = pulumi.ResourceOptions(parent=self)
        resource = f"{name}-uploads"
        self.prefix = settings.prefix

        bucket = aws.s3.Bucket(
            resource,
            bucket=context.name("s3-bucket", f"uploads-{context.account.account}"),
            tags={"backup-plan": context.prefix} if settings.versioning else None,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            resource,
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            resource,
            bucket=bucket.bucket,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        # SSE-S3: CloudFront's origin access control reads it without a key policy, and it bills
        # nothing; the AWS-managed aws/s3 key could not be granted to CloudFront at all.
        aws.s3.BucketServerSideEncryptionConfiguration(
            resource,
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        versioning = None
        if settings.versioning:
            versioning = aws.s3.BucketVersioning(
                resource,
                bucket=bucket.bucket,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
                opts=child,
            )
        aws.s3.BucketLifecycleConfiguration(
            resource,
            bucket=bucket.bucket,
            rules=lifecycle_rules(settings),
            # S3 refuses noncurrent-version rules on a bucket whose versioning is still being set.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning] if versioning else []),
        )
        if settings.cors_origins:
            aws.s3.BucketCorsConfiguration(
                resource,
                bucket=bucket.bucket,
                cors_rules=[
                    aws.s3.BucketCorsConfigurationCorsRuleArgs(
                        id="browser-uploads",
                        allowed_origins=list(settings.cors_origins),
                        allowed_methods=["PUT", "POST", "GET", "HEAD"],
                        allowed_headers=CORS_HEADERS,
                        expose_headers=CORS_EXPOSE,
                        max_age_seconds=CORS_MAX_AGE_SECONDS,
                    )
                ],
                opts=child,
            )

        distribution = self._distribution(resource, context, settings, bucket) if settings.cdn.enabled else None
        aws.s3.BucketPolicy(
            resource,
            bucket=bucket.bucket,
            policy=bucket_policy(bucket.arn, settings.prefix, distribution.arn if distribution else None),
            # S3 rejects a policy naming a principal while the public-access block is being set.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )

        self.bucket_name, self.bucket_arn = bucket.bucket, bucket.arn
        self.distribution_id = distribution.id if distribution else None
        self.cdn_domain = None
        if distribution is not None:
            alias = settings.cdn.alias
            self.cdn_domain = pulumi.Output.from_input(alias) if alias else distribution.domain_name
        self.grants = [object_grant(bucket.arn, settings.prefix)]
        self.environment = {"UPLOADS_BUCKET": bucket.bucket, "UPLOADS_PREFIX": settings.prefix}
        if self.cdn_domain is not None:
            self.environment["UPLOADS_CDN_DOMAIN"] = self.cdn_domain
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "cdn_domain": self.cdn_domain,
                "distribution_id": self.distribution_id,
            }
        )

    def _distribution(
        self, resource: str, context: StackContext, settings: UploadsConfig, bucket: aws.s3.Bucket
    ) -> aws.cloudfront.Distribution:
        child = pulumi.ResourceOptions(parent=self)
        cdn = settings.cdn
        access_control = aws.cloudfront.OriginAccessControl(
            resource,
            name=context.name("cloudfront-oac", "uploads"),
            description=f"{context.prefix}: CloudFront reads the uploads bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )
        origin = "uploads-bucket"
        certificate = (
            aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=cdn.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version=CDN_MINIMUM_TLS,
            )
            if cdn.certificate_arn
            else aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)
        )
        return aws.cloudfront.Distribution(
            resource,
            comment=f"{context.prefix} uploads",
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class=cdn.price_class.value,
            aliases=[cdn.alias] if cdn.alias else None,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=origin,
                    domain_name=bucket.bucket_regional_domain_name,
                    origin_access_control_id=access_control.id,
                    # Viewers reach only the uploads prefix, never another key of the bucket.
                    origin_path="/" + settings.prefix.rstrip("/"),
                )
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=origin,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD"],
                cached_methods=["GET", "HEAD"],
                compress=True,
                cache_policy_id=CACHING_OPTIMIZED_POLICY,
                response_headers_policy_id=SECURITY_HEADERS_POLICY,
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            viewer_certificate=certificate,
            opts=child,
        )


def lifecycle_rules(settings: UploadsConfig) -> list[aws.s3.BucketLifecycleConfigurationRuleArgs]:
    """Tier the prefix down, abort stale multipart uploads everywhere, expire old versions."""
    rules = [
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="tier-down-uploads",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=settings.prefix),
            transitions=[
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=settings.transition_after_days, storage_class=settings.transition_storage_class.value
                )
            ],
        ),
        aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="abort-incomplete-multipart-uploads",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=ABORT_MULTIPART_DAYS
            ),
        ),
    ]
    if settings.versioning:
        rules.append(
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=settings.noncurrent_expiry_days
                ),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
            )
        )
    return rules
