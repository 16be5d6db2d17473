"""S3, CloudFront and SES: buckets closed to the public, without ACLs, encrypted and TLS-only;
distributions that serve HTTPS only and reach S3 through origin access control; e-mail identities
whose sending is observed through a configuration set."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import PolicyResource

from ._support import UNKNOWN, StackView, Subject, as_list, document, peek, resource_rule, stack_rule

BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
HTTPS_VIEWER_POLICIES = ("redirect-to-https", "https-only")
EMAIL_IDENTITY = "aws:sesv2/emailIdentity:EmailIdentity"
CONFIGURATION_SET = "aws:sesv2/configurationSet:ConfigurationSet"
EVENT_DESTINATION = "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination"
BLOCKS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _settings_of(stack: StackView, bucket: PolicyResource, token: str) -> list[PolicyResource]:
    """The sub-resources of ``token`` that configure ``bucket`` (they name it by its name)."""
    return [r for r in stack.of_type(token) if stack.references(r, "bucket", bucket, "bucket", "id")]


def _public_access_blocked(stack: StackView) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(BUCKET):
        blocks = _settings_of(stack, bucket, PUBLIC_ACCESS_BLOCK)
        if not blocks:
            yield "has no public access block; a policy or ACL could make its objects public", bucket.urn
            continue
        off = [key for key in BLOCKS if peek(blocks[0].props, key) not in (True, UNKNOWN)]
        if off:
            yield f"public access block leaves {', '.join(off)} off; all four must be true", bucket.urn


def _owner_enforced(stack: StackView) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(BUCKET):
        controls = _settings_of(stack, bucket, OWNERSHIP)
        found = peek(controls[0].props, "rule", "objectOwnership") if controls else None
        if found not in ("BucketOwnerEnforced", UNKNOWN):
            yield (
                f"object ownership is {found or 'not set'}; BucketOwnerEnforced turns ACLs off so the account "
                "owns every object and only policies grant access",
                bucket.urn,
            )


def _encrypted(stack: StackView) -> Iterator[tuple[str, str | None]]:
    # S3's SSE algorithms (PutBucketEncryption); kept here, not as a module constant that reads
    # like a type token.
    algorithms_allowed = ("AES256", "aws:kms", "aws:kms:dsse")
    for bucket in stack.of_type(BUCKET):
        configurations = _settings_of(stack, bucket, ENCRYPTION)
        if not configurations:
            yield "has no default encryption configuration", bucket.urn
            continue
        rules = as_list(peek(configurations[0].props, "rules"))
        algorithms = [peek(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm") for rule in rules]
        if not any(algorithm in (*algorithms_allowed, UNKNOWN) for algorithm in algorithms):
            yield f"default encryption names no algorithm of {', '.join(algorithms_allowed)}", bucket.urn


def _denies_plain_http(policy: PolicyResource, bucket: PolicyResource) -> bool:
    text = peek(policy.props, "policy")
    if text is UNKNOWN:
        return True
    parsed = document(text)
    for entry in as_list(parsed.get("Statement") if isinstance(parsed, dict) else None):
        condition = peek(entry, "Condition", "Bool", "aws:SecureTransport")
        if peek(entry, "Effect") != "Deny" or str(condition).lower() != "false":
            continue
        actions = as_list(peek(entry, "Action"))
        resources = [str(resource) for resource in as_list(peek(entry, "Resource"))]
        arn = peek(bucket.props, "arn")
        objects = arn is UNKNOWN or any(resource in (f"{arn}/*", "*") for resource in resources)
        if ("s3:*" in actions or "*" in actions) and objects:
            return True
    return False


def _tls_only(stack: StackView) -> Iterator[tuple[str, str | None]]:
    for bucket in stack.of_type(BUCKET):
        policies = _settings_of(stack, bucket, BUCKET_POLICY)
        if not any(_denies_plain_http(policy, bucket) for policy in policies):
            yield (
                "no bucket policy denies s3:* on its objects when aws:SecureTransport is false; "
                "requests over plain HTTP would be served",
                bucket.urn,
            )


def _cloudfront_https(distribution: Subject) -> Iterator[str]:
    behaviors = [distribution.peek("defaultCacheBehavior"), *as_list(distribution.peek("orderedCacheBehaviors"))]
    for index, behavior in enumerate(behaviors):
        policy = peek(behavior, "viewerProtocolPolicy")
        if policy not in (*HTTPS_VIEWER_POLICIES, UNKNOWN):
            where = "the default cache behavior" if index == 0 else f"cache behavior {peek(behavior, 'pathPattern')}"
            yield f"{where} lets viewers use plain HTTP (viewerProtocolPolicy {policy})"
    for origin in as_list(distribution.peek("origins")):
        domain = str(peek(origin, "domainName") or "")
        if ".s3." in domain and not peek(origin, "originAccessControlId"):
            yield (
                f"origin {peek(origin, 'originId')} reads S3 without origin access control; the bucket would have "
                "to be public or use a legacy origin access identity"
            )


def _identity_has_configuration_set(stack: StackView) -> Iterator[tuple[str, str | None]]:
    sets = stack.of_type(CONFIGURATION_SET)
    destinations = stack.of_type(EVENT_DESTINATION)
    for identity in stack.of_type(EMAIL_IDENTITY):
        chosen = [s for s in sets if stack.references(identity, "configurationSetName", s, "configurationSetName")]
        if not chosen:
            yield (
                "has no default configuration set of this stack: mail sent without one publishes no bounce, "
                "complaint or delivery event and no reputation metric",
                identity.urn,
            )
            continue
        if not any(
            stack.references(d, "configurationSetName", chosen[0], "configurationSetName") for d in destinations
        ):
            yield "its configuration set has no event destination; bounces and complaints reach nobody", identity.urn


POLICIES = [
    stack_rule(
        "s3-public-access-blocked",
        "Every S3 bucket has a public access block with all four settings on.",
        _public_access_blocked,
        mandatory=True,
        remediation="Add aws.s3.BucketPublicAccessBlock with block_public_acls, block_public_policy, "
        "ignore_public_acls and restrict_public_buckets true.",
        tags=["s3", "public-access"],
    ),
    stack_rule(
        "s3-owner-enforced",
        "Every S3 bucket turns ACLs off (object ownership BucketOwnerEnforced).",
        _owner_enforced,
        mandatory=True,
        remediation="Add aws.s3.BucketOwnershipControls with rule object_ownership='BucketOwnerEnforced'.",
        tags=["s3", "public-access"],
    ),
    stack_rule(
        "s3-encrypted",
        "Every S3 bucket has default encryption (SSE-S3 or SSE-KMS).",
        _encrypted,
        mandatory=True,
        remediation="Add aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm AES256 or aws:kms.",
        tags=["s3", "encryption"],
    ),
    stack_rule(
        "s3-tls-only",
        "Every S3 bucket's policy denies requests not made over TLS.",
        _tls_only,
        mandatory=True,
        remediation="Add a bucket policy statement: Deny s3:* on the bucket and bucket/* when aws:SecureTransport "
        "is false.",
        tags=["s3", "encryption"],
    ),
    resource_rule(
        "cloudfront-https-only",
        "CloudFront distributions redirect viewers to HTTPS and read S3 origins through origin access control.",
        (DISTRIBUTION,),
        _cloudfront_https,
        mandatory=True,
        remediation="Set viewer_protocol_policy='redirect-to-https' on every cache behavior and "
        "origin_access_control_id on S3 origins.",
        tags=["cloudfront", "encryption"],
    ),
    stack_rule(
        "ses-configuration-set",
        "Every SES identity sends through a configuration set of the stack that publishes its events.",
        _identity_has_configuration_set,
        mandatory=True,
        remediation="Set configuration_set_name on the aws.sesv2.EmailIdentity to a ConfigurationSet with a "
        "ConfigurationSetEventDestination.",
        tags=["ses", "reliability"],
    ),
]
