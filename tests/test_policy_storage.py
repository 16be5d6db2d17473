"""The S3 and SES rules of the policy pack: each fires on a bucket or identity built to break it and
stays quiet on its fixed twin."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.test_policy import Res, Scenario, findings_of

NAME = "flowbuilder-test-uploads-123456789012"
ARN = f"arn:aws:s3:::{NAME}"
TLS_DENY = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": [ARN, f"{ARN}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def bucket_resources(**changes: Any) -> list[Res]:
    """A bucket with every setting the rules ask for; ``changes`` replaces one (None drops it)."""
    settings = {
        "block": Res(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "block",
            {
                "bucket": NAME,
                "blockPublicAcls": True,
                "blockPublicPolicy": True,
                "ignorePublicAcls": True,
                "restrictPublicBuckets": True,
            },
        ),
        "ownership": Res(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "ownership",
            {"bucket": NAME, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
        ),
        "encryption": Res(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "encryption",
            {"bucket": NAME, "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
        ),
        "policy": Res(
            "aws:s3/bucketPolicy:BucketPolicy",
            "policy",
            {"bucket": NAME, "policy": json.dumps({"Version": "2012-10-17", "Statement": [TLS_DENY]})},
        ),
    }
    for key, value in changes.items():
        settings[key] = value
    bucket = Res("aws:s3/bucket:Bucket", "uploads", {"bucket": NAME}, {"arn": ARN, "id": NAME})
    return [bucket, *(res for res in settings.values() if res is not None)]


def fired(rule: str, resources: list[Res]) -> list[str]:
    return [finding.message for finding in findings_of(rule, Scenario(resources))]


@pytest.mark.parametrize("rule", ["s3-public-access-blocked", "s3-owner-enforced", "s3-encrypted", "s3-tls-only"])
def test_a_fully_configured_bucket_passes(rule: str) -> None:
    assert fired(rule, bucket_resources()) == []


def test_public_access_block_missing_or_partial() -> None:
    assert "no public access block" in fired("s3-public-access-blocked", bucket_resources(block=None))[0]
    partial = Res(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "block",
        {
            "bucket": NAME,
            "blockPublicAcls": True,
            "blockPublicPolicy": False,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
    )
    (message,) = fired("s3-public-access-blocked", bucket_resources(block=partial))
    assert "blockPublicPolicy" in message


def test_a_block_for_another_bucket_does_not_count() -> None:
    elsewhere = Res(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "block",
        {
            "bucket": "someone-else",
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
    )
    assert fired("s3-public-access-blocked", bucket_resources(block=elsewhere))


def test_acls_left_on_fire() -> None:
    preferred = Res(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "ownership",
        {"bucket": NAME, "rule": {"objectOwnership": "BucketOwnerPreferred"}},
    )
    (message,) = fired("s3-owner-enforced", bucket_resources(ownership=preferred))
    assert "BucketOwnerPreferred" in message
    assert "not set" in fired("s3-owner-enforced", bucket_resources(ownership=None))[0]


def test_missing_default_encryption_fires() -> None:
    assert "no default encryption" in fired("s3-encrypted", bucket_resources(encryption=None))[0]


def test_a_policy_without_the_tls_deny_fires() -> None:
    allow_only = Res(
        "aws:s3/bucketPolicy:BucketPolicy",
        "policy",
        {
            "bucket": NAME,
            "policy": json.dumps(
                {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": ARN}]}
            ),
        },
    )
    assert fired("s3-tls-only", bucket_resources(policy=allow_only))
    assert fired("s3-tls-only", bucket_resources(policy=None))
    bucket_only = Res(
        "aws:s3/bucketPolicy:BucketPolicy",
        "policy",
        {"bucket": NAME, "policy": json.dumps({"Statement": [{**TLS_DENY, "Resource": ARN}]})},
    )
    assert fired("s3-tls-only", bucket_resources(policy=bucket_only)), "objects are what presigned URLs reach"


def identity(configuration_set: str | None) -> Res:
    props: dict[str, Any] = {"emailIdentity": "example.com"}
    if configuration_set:
        props["configurationSetName"] = configuration_set
    return Res("aws:sesv2/emailIdentity:EmailIdentity", "email", props)


CONFIGURATION_SET = Res(
    "aws:sesv2/configurationSet:ConfigurationSet", "email", {"configurationSetName": "flowbuilder-test-email"}
)
DESTINATION = Res(
    "aws:sesv2/configurationSetEventDestination:ConfigurationSetEventDestination",
    "email",
    {"configurationSetName": "flowbuilder-test-email", "eventDestinationName": "backend-events"},
)


def test_identity_with_set_and_destination_passes() -> None:
    resources = [identity("flowbuilder-test-email"), CONFIGURATION_SET, DESTINATION]
    assert fired("ses-configuration-set", resources) == []


def test_identity_without_configuration_set_fires() -> None:
    (message,) = fired("ses-configuration-set", [identity(None), CONFIGURATION_SET, DESTINATION])
    assert "no default configuration set" in message


def test_configuration_set_without_event_destination_fires() -> None:
    (message,) = fired("ses-configuration-set", [identity("flowbuilder-test-email"), CONFIGURATION_SET])
    assert "no event destination" in message
