"""The S3 and SES rules of the policy pack: each fires on a bucket or identity built to break it and
stays quiet on its fixed twin."""

from __future__ import annotations

import json

import pytest

from tests.test_policy import (
    ARN,
    CONFIGURATION_SET,
    DESTINATION,
    NAME,
    TLS_DENY,
    Res,
    Scenario,
    bucket_resources,
    distribution,
    findings_of,
    identity,
)


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


def test_identity_with_set_and_destination_passes() -> None:
    resources = [identity("flowbuilder-test-email"), CONFIGURATION_SET, DESTINATION]
    assert fired("ses-configuration-set", resources) == []


def test_identity_without_configuration_set_fires() -> None:
    (message,) = fired("ses-configuration-set", [identity(None), CONFIGURATION_SET, DESTINATION])
    assert "no default configuration set" in message


def test_configuration_set_without_event_destination_fires() -> None:
    (message,) = fired("ses-configuration-set", [identity("flowbuilder-test-email"), CONFIGURATION_SET])
    assert "no event destination" in message


def test_an_s3_origin_without_origin_access_control_fires_even_over_https() -> None:
    (message,) = fired("cloudfront-https-only", [distribution("https-only", access_control=None)])
    assert "without origin access control" in message
