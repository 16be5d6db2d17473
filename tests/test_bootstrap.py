"""The bootstrap program (bootstrap/) under mocks: trust, the roles' policies, the state bucket and keys,
the permissions boundary, its config, and the deploy roles measured against what the main program declares."""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest

import preview.__main__ as preview_main
from bootstrap import names
from bootstrap.catalog import SERVICES, service_prefix_for
from bootstrap.config import BootstrapConfigError
from bootstrap.policies import BOUNDARY_SERVICES, MANAGED_POLICY_LIMIT, PROMOTION_READS
from policy.offline import evaluate
from preview.bootstrap import bootstrap_config, run_bootstrap
from simulation.harness import STACKS, RecordedResource, StackRun, run_stack
from simulation.mocks import ACCOUNT_ID
from tests.conftest import DIGESTS

REPOSITORY = "example-org/flowbuilder-infra"
HOST = names.GITHUB_OIDC_HOST
GITHUB_PROVIDER = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{HOST}"
BOUNDARY = f"arn:aws:iam::{ACCOUNT_ID}:policy/{names.BOUNDARY_POLICY}"
BUCKET = f"flowbuilder-pulumi-state-{ACCOUNT_ID}-us-east-1"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
EXAMPLE_STACKS = ("dev", "staging", "prod", "ultra")
RELEASED = {"flowbuilder:images": DIGESTS}
"""Config overrides running a stack as after its first release (every image-backed resource declared)."""


@pytest.fixture(scope="module")
def boot() -> StackRun:
    return run_bootstrap("example")


# -- reading the run --------------------------------------------------------------------------
def policy(run: StackRun, name: str) -> dict[str, Any]:
    """The document of the managed policy named ``name``."""
    (found,) = [r for r in run.of_type("aws:iam/policy:Policy") if r.inputs["name"] == name]
    return json.loads(found.inputs["policy"])


def role(run: StackRun, name: str) -> RecordedResource:
    (found,) = [r for r in run.of_type("aws:iam/role:Role") if r.inputs["name"] == name]
    return found


def attached(run: StackRun, role_name: str) -> list[dict[str, Any]]:
    """The documents of every managed policy attached to a role."""
    arns = [a.inputs["policyArn"] for a in run.of_type(ATTACHMENT) if a.inputs["role"] == role_name]
    return [policy(run, arn.rsplit("/", 1)[1]) for arn in arns]


ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def statements(*documents: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for document in documents for s in document["Statement"]]


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def by_sid(documents: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    (found,) = [s for s in statements(*documents) if s["Sid"] == sid]
    return found


def matches(pattern: str, value: str) -> bool:
    """IAM's wildcard match: * is any run of characters, ? one character, case-sensitive."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), value) is not None


def action_matches(pattern: str, action: str) -> bool:
    # Action names are case-insensitive in IAM.
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def deploy_documents(run: StackRun, stack: str) -> list[dict[str, Any]]:
    return attached(run, names.deploy_role(stack))


def allows(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statements(*documents) if s["Effect"] == "Allow"]


# -- trust --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "role_name, subject",
    [
        *[(names.deploy_role(stack), f"repo:{REPOSITORY}:environment:{stack}") for stack in EXAMPLE_STACKS],
        (names.PREVIEW_ROLE, f"repo:{REPOSITORY}:pull_request"),
        (names.PUBLISH_ROLE, "repo:example-org/flowbuilder-app:ref:refs/heads/main"),
    ],
)
def test_each_role_trusts_exactly_one_github_subject_for_sts(boot, role_name, subject):
    (trust,) = json.loads(role(boot, role_name).inputs["assumeRolePolicy"])["Statement"]
    assert trust["Effect"] == "Allow"
    assert trust["Principal"] == {"Federated": GITHUB_PROVIDER}
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    # Exact matches only: no StringLike, no other operator, no wildcard in the subject.
    assert trust["Condition"] == {"StringEquals": {f"{HOST}:aud": "sts.amazonaws.com", f"{HOST}:sub": subject}}


def test_the_deploy_roles_sessions_outlast_a_first_deploy_and_the_previews_do_not(boot):
    assert {role(boot, names.deploy_role(s)).inputs["maxSessionDuration"] for s in EXAMPLE_STACKS} == {10800}
    assert role(boot, names.PREVIEW_ROLE).inputs["maxSessionDuration"] == 3600


def test_the_github_provider_is_created_with_the_sts_audience_and_no_thumbprint(boot):
    provider = boot.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == f"https://{HOST}"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert "thumbprintLists" not in provider.inputs


def test_an_existing_github_provider_is_trusted_instead_of_creating_one():
    github = {"owner": "example-org", "repository": "flowbuilder-infra", "createOidcProvider": False}
    run = run_bootstrap(overrides={"flowbuilder-bootstrap:github": github})
    assert run.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    (trust,) = json.loads(role(run, names.PREVIEW_ROLE).inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Federated": GITHUB_PROVIDER}
    # Without publishers there is no publish role.
    assert [r.inputs["name"] for r in run.of_type("aws:iam/role:Role") if r.inputs["name"] == names.PUBLISH_ROLE] == []


# -- no wildcards where IAM offers something narrower -----------------------------------------------
# Calls that change something and that IAM scopes to no resource (service authorization reference).
ACCOUNT_WIDE_WRITES = {
    "ecs:RegisterTaskDefinition",
    "ecs:DeregisterTaskDefinition",
    "kms:CreateKey",
    "acm:RequestCertificate",
    "route53:CreateHostedZone",
    "backup-storage:MountCapsule",
    "logs:CreateLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:PutResourcePolicy",
    "logs:DeleteResourcePolicy",
    "ecr:GetAuthorizationToken",
}
READ_VERBS = re.compile(r"^[a-z0-9-]+:(Describe|List|Get|BatchGet|Check|View)[A-Za-z*]*$")


def ci_documents(run: StackRun) -> Iterator[tuple[str, dict[str, Any]]]:
    for found in run.of_type("aws:iam/policy:Policy"):
        if found.inputs["name"] != names.BOUNDARY_POLICY:
            yield found.inputs["name"], json.loads(found.inputs["policy"])


def test_no_ci_policy_allows_every_action_or_a_whole_service(boot):
    wide = [
        (name, action)
        for name, document in ci_documents(boot)
        for s in allows([document])
        for action in listed(s.get("Action", []))
        if action == "*" or action.endswith(":*")
    ]
    assert wide == []
    assert [
        name
        for name, document in ci_documents(boot)
        for s in statements(document)
        if "NotAction" in s and s["Effect"] == "Allow"
    ] == []


def test_what_a_ci_policy_allows_on_every_resource_only_reads_or_is_account_wide_by_nature(boot):
    unscoped = {
        (name, action)
        for name, document in ci_documents(boot)
        for s in allows([document])
        if "*" in listed(s["Resource"])
        for action in listed(s["Action"])
        if not READ_VERBS.match(action) and action not in ACCOUNT_WIDE_WRITES
    }
    assert unscoped == set()


def test_the_preview_role_never_gets_a_write_or_a_secrets_value(boot):
    documents = attached(boot, names.PREVIEW_ROLE)
    writes = {
        action
        for s in allows(documents)
        for action in listed(s["Action"])
        if not READ_VERBS.match(action)
        and action not in {"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "apigateway:GET"}
    }
    # Its only writes: taking and releasing the preview lock; its only key use: decrypting.
    assert writes == {"s3:PutObject", "s3:DeleteObject", "kms:Decrypt", "kms:GenerateDataKey"}
    put = [s for s in allows(documents) if "s3:PutObject" in listed(s["Action"])]
    assert {r for s in put for r in s["Resource"]} == {
        f"{BUCKET_ARN}/.pulumi/locks/organization/{project}/{stack}/*"
        for project in names.PROGRAM_PROJECTS
        for stack in ("dev", "staging", "prod")
    }
    gets = [r for s in allows(documents) if "s3:GetObject" in listed(s["Action"]) for r in s["Resource"]]
    assert any(matches(p, f"{BUCKET_ARN}/.pulumi/stacks/flowbuilder/ultra.json") for p in gets)
    assert any(matches(p, f"{BUCKET_ARN}/.pulumi/stacks/flowbuilder-mesh/prod.json") for p in gets)
    assert not any(matches(p, f"{BUCKET_ARN}/.pulumi/stacks/flowbuilder-bootstrap/main.json") for p in gets)
    readable = {a for s in allows(documents) for a in listed(s["Action"])}
    assert not {a for a in readable if action_matches(a, "secretsmanager:GetSecretValue")}
    denied = by_sid(documents, "NoDataReads")
    assert denied["Effect"] == "Deny" and denied["Resource"] == "*"
    assert {"secretsmanager:GetSecretValue", "logs:GetLogEvents", "sqs:ReceiveMessage"} <= set(denied["Action"])
    # Lambda returns a function's environment only to a reader that may decrypt it with the stack key.
    environments = by_sid(documents, "ReadLambdaEnvironments")
    assert (environments["Action"], environments["Resource"]) == (["kms:Decrypt"], ["arn:aws:kms:*:123456789012:key/*"])
    assert environments["Condition"] == {"StringLike": {"kms:ViaService": "lambda.*.amazonaws.com"}}
    outside = by_sid(documents, "NoObjectReadsOutsideTheState")
    assert outside["Action"] == ["s3:GetObject*"] and outside["NotResource"] == [f"{BUCKET_ARN}/.pulumi/*"]


# -- every named action exists --------------------------------------------------------------------
BOTOCORE_SERVICE = {
    "elasticloadbalancing": "elbv2",
    "states": "stepfunctions",
    "ses": "sesv2",
    "access-analyzer": "accessanalyzer",
}
# Actions that are IAM permissions rather than API operations (service authorization reference).
IAM_ONLY = {
    "iam:PassRole",
    "lambda:InvokeFunction",
    "s3:ListBucket",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketNotification",
    "budgets:ModifyBudget",
    "budgets:ViewBudget",
    "logs:CreateLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "elasticloadbalancing:SetWebAcl",
    "codeconnections:PassConnection",
    "codeconnections:UseConnection",
    "codestar-connections:PassConnection",
    "codestar-connections:UseConnection",
    "backup-storage:MountCapsule",
    "apigateway:GET",
    "apigateway:POST",
    "apigateway:PUT",
    "apigateway:PATCH",
    "apigateway:DELETE",
    "apigateway:SetWebACL",
}


@functools.cache
def _operations(prefix: str) -> tuple[str, ...]:
    model = _botocore().get_service_model(BOTOCORE_SERVICE.get(prefix, prefix))
    return tuple(name.lower() for name in model.operation_names)


@functools.cache
def _botocore() -> botocore.session.Session:
    return botocore.session.get_session()


def all_actions(run: StackRun) -> set[str]:
    found = set()
    for found_policy in run.of_type("aws:iam/policy:Policy"):
        for s in json.loads(found_policy.inputs["policy"])["Statement"]:
            found.update(a for a in listed(s.get("Action", s.get("NotAction"))) if a != "*" and not a.endswith(":*"))
    return found


def test_every_action_the_bootstrap_names_is_an_api_call_or_a_documented_iam_permission(boot):
    unknown = []
    for action in sorted(all_actions(boot) - IAM_ONLY):
        prefix, name = action.split(":")
        operations = _operations(prefix)
        if not any(fnmatch.fnmatchcase(op, name.lower()) for op in operations):
            unknown.append(action)
    assert unknown == []


# -- sizes ----------------------------------------------------------------------------------------
def test_every_managed_policy_fits_and_no_role_holds_more_than_iam_allows(boot):
    sizes = {
        r.inputs["name"]: len(re.sub(r"\s", "", r.inputs["policy"])) for r in boot.of_type("aws:iam/policy:Policy")
    }
    assert {name: size for name, size in sizes.items() if size > MANAGED_POLICY_LIMIT} == {}
    per_role: dict[str, int] = {}
    for attachment in boot.of_type(ATTACHMENT):
        per_role[attachment.inputs["role"]] = per_role.get(attachment.inputs["role"], 0) + 1
    # IAM's default quota is 10 managed policies per role.
    assert per_role[names.deploy_role("prod")] == 8
    assert max(per_role.values()) <= 10


# -- the deploy roles' IAM: bounded roles only ---------------------------------------------------------
def test_a_deploy_role_creates_and_changes_roles_only_under_its_prefix_and_with_the_boundary(boot):
    documents = deploy_documents(boot, "dev")
    create = by_sid(documents, "CreateRolesWithTheBoundary")
    assert create["Action"] == ["iam:CreateRole"]
    assert create["Resource"] == [f"arn:aws:iam::{ACCOUNT_ID}:role/flowbuilder-dev-*"]
    assert create["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY, "aws:RequestTag/stack": "dev"}}
    change = by_sid(documents, "ChangeRolesWithTheBoundary")
    assert set(change["Action"]) == {
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePermissionsBoundary",
    }
    assert change["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}}
    # No other statement lets the role create or re-policy a role.
    policy_writes = {
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:CreatePolicy",
        "iam:CreatePolicyVersion",
        "iam:CreateUser",
        "iam:CreateAccessKey",
    }
    loose = [
        (s["Sid"], a)
        for s in allows(documents)
        if s["Sid"] not in ("CreateRolesWithTheBoundary", "ChangeRolesWithTheBoundary")
        for a in listed(s["Action"])
        if any(action_matches(a, write) for write in policy_writes)
    ]
    assert loose == []
    assert by_sid(documents, "KeepTheBoundary") == {
        "Sid": "KeepTheBoundary",
        "Effect": "Deny",
        "Action": ["iam:DeleteRolePermissionsBoundary"],
        "Resource": "*",
    }


def test_a_deploy_role_cannot_touch_the_boundary_the_bootstrap_roles_or_assume_a_role(boot):
    documents = deploy_documents(boot, "staging")
    guard = by_sid(documents, "LeaveTheBootstrapAlone")
    assert guard["Effect"] == "Deny" and guard["Action"] == ["iam:*"]
    assert set(guard["Resource"]) == {
        BOUNDARY,
        GITHUB_PROVIDER,
        f"arn:aws:iam::{ACCOUNT_ID}:role/flowbuilder-deploy-*",
        f"arn:aws:iam::{ACCOUNT_ID}:role/flowbuilder-preview",
        f"arn:aws:iam::{ACCOUNT_ID}:role/flowbuilder-publish",
        f"arn:aws:iam::{ACCOUNT_ID}:policy/flowbuilder-deploy-*",
        f"arn:aws:iam::{ACCOUNT_ID}:policy/flowbuilder-preview-*",
        f"arn:aws:iam::{ACCOUNT_ID}:policy/flowbuilder-publish-*",
    }
    own_role = f"arn:aws:iam::{ACCOUNT_ID}:role/{names.deploy_role('staging')}"
    assert any(matches(pattern, own_role) for pattern in guard["Resource"])
    assert by_sid(documents, "NoRoleChaining")["Action"] == ["sts:AssumeRole"]


def test_a_deploy_role_reads_secret_values_only_of_its_own_stack(boot):
    documents = deploy_documents(boot, "ultra")
    readers = [
        s
        for s in allows(documents)
        if any(action_matches(a, "secretsmanager:GetSecretValue") for a in listed(s["Action"]))
    ]
    assert [r for s in readers for r in s["Resource"]] == [
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:flowbuilder-ultra-*",
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:flowbuilder/ultra/*",
    ]
    # RDS makes the master password's secret with the caller's rights; the caller never reads it.
    managed = by_sid(documents, "RdsManagedMasterSecrets")
    assert managed["Resource"] == [f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:rds!*"]
    assert "secretsmanager:GetSecretValue" not in managed["Action"]


def test_a_deploy_role_is_kept_off_anything_tagged_with_another_stack(boot):
    documents = deploy_documents(boot, "prod")
    other = by_sid(documents, "NotOtherStacksResources")
    assert other["Effect"] == "Deny" and other["Resource"] == "*"
    assert other["NotAction"] == sorted(PROMOTION_READS)
    assert other["Condition"] == {
        "StringNotEquals": {"aws:ResourceTag/stack": "prod"},
        "Null": {"aws:ResourceTag/stack": "false"},
    }
    tagging = by_sid(documents, "NoTagsOfOtherStacks")
    assert tagging["Action"] == "*" and tagging["Condition"]["StringNotEquals"] == {"aws:RequestTag/stack": "prod"}
    assert by_sid(documents, "KeepRolesStackTag")["Condition"] == {
        "ForAnyValue:StringEquals": {"aws:TagKeys": ["stack"]}
    }


# -- state and secrets ---------------------------------------------------------------------------
def test_a_deploy_role_reads_and_writes_only_its_own_stacks_state(boot):
    documents = deploy_documents(boot, "staging")
    own = by_sid(documents, "OwnStacksState")
    assert own["Action"] == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert set(own["Resource"]) == {
        f"{BUCKET_ARN}/.pulumi/{path}"
        for project in ("flowbuilder", "flowbuilder-mesh")
        for path in (
            f"stacks/{project}/staging.json*",
            f"history/{project}/staging/*",
            f"backups/{project}/staging/*",
            f"locks/organization/{project}/staging/*",
        )
    }
    state_objects = {r for s in allows(documents) if "s3:GetObject" in listed(s["Action"]) for r in s["Resource"]}
    prod_state = f"{BUCKET_ARN}/.pulumi/stacks/flowbuilder/prod.json"
    assert not any(matches(pattern, prod_state) for pattern in state_objects)
    secrets = by_sid(documents, "OwnStacksSecrets")
    assert secrets["Condition"] == {"StringEquals": {"kms:EncryptionContext:stack": "staging"}}
    keep = by_sid(documents, "KeepTheStateBucket")
    assert keep["Effect"] == "Deny" and keep["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    assert "s3:PutBucketPolicy" not in keep["NotAction"] and "s3:GetObject" in keep["NotAction"]


def test_the_state_bucket_is_versioned_kms_encrypted_private_and_expires_old_versions(boot):
    bucket = boot.one("aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == BUCKET and bucket.protect
    versioning = boot.one("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    state_key = boot.one("aws:kms/key:Key", "state-key")
    (rule,) = boot.one("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs[
        "rules"
    ]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": state_key.state["arn"],
    }
    assert rule["bucketKeyEnabled"] is True and rule["blockedEncryptionTypes"] == ["SSE-C"]
    block = boot.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = boot.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (lifecycle,) = boot.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert lifecycle["status"] == "Enabled" and lifecycle["filter"] == {"prefix": ""}
    assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": 90, "newerNoncurrentVersions": 10}
    assert lifecycle["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}
    assert lifecycle["expiration"] == {"expiredObjectDeleteMarker": True}
    layout = boot.one("aws:s3/bucketObjectv2:BucketObjectv2")
    assert (layout.inputs["key"], layout.inputs["content"]) == (".pulumi/meta.yaml", "version: 1\n")


def test_state_retention_follows_the_config():
    run = run_bootstrap(overrides={"flowbuilder-bootstrap:state": {"noncurrentVersionDays": 30, "keepVersions": 0}})
    (lifecycle,) = run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    assert lifecycle["noncurrentVersionExpiration"] == {"noncurrentDays": 30}


def test_the_bucket_refuses_plain_http_old_tls_and_other_keys(boot):
    document = json.loads(boot.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    state_key = boot.one("aws:kms/key:Key", "state-key").state["arn"]
    by = {s["Sid"]: s for s in document["Statement"]}
    assert all(s["Effect"] == "Deny" and s["Principal"] == "*" for s in by.values())
    assert by["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert by["DenyInsecureTransport"]["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    assert by["DenyOldTls"]["Condition"] == {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
    assert by["DenyOtherKeys"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": state_key}
    }
    assert by["DenyOtherEncryption"]["Condition"] == {
        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
    }


@pytest.mark.parametrize("key", ["state-key", "secrets-key"])
def test_both_keys_rotate_yearly_wait_thirty_days_before_deletion_and_are_protected(boot, key):
    found = boot.one("aws:kms/key:Key", key)
    assert found.inputs["enableKeyRotation"] is True and found.inputs["rotationPeriodInDays"] == 365
    assert found.inputs["deletionWindowInDays"] == 30 and found.protect
    alias = boot.one("aws:kms/alias:Alias", key)
    assert alias.inputs["name"] in (names.STATE_KEY_ALIAS, names.SECRETS_KEY_ALIAS)
    assert alias.inputs["targetKeyId"] == found.state["keyId"]


def _key_policy(run: StackRun, key: str) -> dict[str, dict[str, Any]]:
    document = json.loads(run.one("aws:kms/key:Key", key).inputs["policy"])
    return {s["Sid"]: s for s in document["Statement"]}


def test_the_keys_are_administered_through_iam_but_used_only_as_their_policies_say(boot):
    for key in ("state-key", "secrets-key"):
        by = _key_policy(boot, key)
        admin = by["AdministerThroughIam"]
        assert admin["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
        assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant", "kms:ReEncryptFrom"} & set(
            admin["Action"]
        )
        assert "kms:PutKeyPolicy" in admin["Action"]
    state = _key_policy(boot, "state-key")["StateBucketObjects"]
    assert state["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [BUCKET_ARN, f"{BUCKET_ARN}/*"]},
    }


def test_each_stacks_data_key_opens_only_for_its_deploy_role_the_preview_role_where_allowed_and_admins(boot):
    by = _key_policy(boot, "secrets-key")
    for stack in EXAMPLE_STACKS:
        statement = by[f"Deploy{stack.capitalize()}Secrets"]
        assert statement["Condition"] == {
            "StringEquals": {
                "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:role/flowbuilder-deploy-{stack}",
                "kms:EncryptionContext:stack": stack,
            }
        }
    preview = by["PreviewableStacksSecrets"]
    assert preview["Action"] == "kms:Decrypt"
    assert preview["Condition"]["StringEquals"] == {
        "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT_ID}:role/flowbuilder-preview",
        # ultra's external database URL never opens for pull-request code.
        "kms:EncryptionContext:stack": ["dev", "prod", "staging"],
    }
    users = by["SecretsKeyUsers"]
    assert users["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{ACCOUNT_ID}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_AdministratorAccess_*"
    ]
    assert users["Condition"]["Null"] == {"kms:EncryptionContext:stack": "false"}
    preview_iam = by_sid(attached(boot, names.PREVIEW_ROLE), "PreviewableStacksSecrets")
    assert preview_iam["Condition"] == {"StringEquals": {"kms:EncryptionContext:stack": ["dev", "prod", "staging"]}}


def test_the_secrets_providers_carry_each_stacks_encryption_context(boot):
    providers = boot.outputs["secretsProviders"]
    assert providers == {
        stack: f"awskms://alias/flowbuilder-pulumi-secrets?region=us-east-1&context_stack={stack}"
        for stack in EXAMPLE_STACKS
    }
    assert boot.outputs["backendUrl"] == f"s3://{BUCKET}?region=us-east-1"
    assert boot.outputs["githubSettings"] == {
        "repositoryVariables": {"AWS_ACCOUNTS": ACCOUNT_ID, "PULUMI_BACKEND_URL": boot.outputs["backendUrl"]},
        "environments": list(EXAMPLE_STACKS),
    }


def test_on_pulumi_cloud_there_is_no_bucket_no_key_and_no_state_permission():
    run = run_bootstrap(overrides={"flowbuilder-bootstrap:selfManagedBackend": False})
    assert run.of_type("aws:s3/bucket:Bucket") == [] and run.of_type("aws:kms/key:Key") == []
    names_ = {r.inputs["name"] for r in run.of_type("aws:iam/policy:Policy")}
    assert names.deploy_policy("dev", "state") not in names_ and names.preview_policy("guards") in names_
    everything = json.dumps([json.loads(r.inputs["policy"]) for r in run.of_type("aws:iam/policy:Policy")])
    assert "pulumi-state" not in everything and "kms:EncryptionContext" not in everything
    assert "PULUMI_BACKEND_URL" not in run.outputs["githubSettings"]["repositoryVariables"]


# -- the permissions boundary --------------------------------------------------------------------
def test_the_boundary_allows_the_programs_services_and_denies_escalation_and_tampering(boot):
    found = boot.one("aws:iam/policy:Policy", "boundary")
    assert (found.inputs["name"], found.inputs["path"]) == (names.BOUNDARY_POLICY, "/")
    by = {s["Sid"]: s for s in json.loads(found.inputs["policy"])["Statement"]}
    assert by["ProgramServices"]["Action"] == sorted(f"{service}:*" for service in BOUNDARY_SERVICES)
    assert not {"iam:*", "sts:*", "organizations:*", "cloudtrail:*"} & set(by["ProgramServices"]["Action"])
    assert {"iam:PassRole", "iam:CreateInstanceProfile"} <= set(by["PassRolesAndInstanceProfiles"]["Action"])
    escalation = set(by["NoIdentityEscalation"]["Action"])
    assert {
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "iam:DeleteRolePermissionsBoundary",
        "iam:PutRolePermissionsBoundary",
        "iam:CreateUser",
        "iam:CreateAccessKey",
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
    } <= escalation
    assert BOUNDARY in by["KeepTheBoundaryAndTheBootstrap"]["Resource"]
    assert by["StayInTheOrganization"]["Action"] == ["organizations:LeaveOrganization"]
    assert {"cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "config:StopConfigurationRecorder"} <= set(
        by["KeepTheAuditTrail"]["Action"]
    )
    assert by["NotTheState"]["Resource"] == [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    assert len(by["NotTheStateKeys"]["Resource"]) == 2
    assert by["OnlyOwnStacksResources"]["Condition"] == {
        "StringNotEquals": {"aws:ResourceTag/stack": "${aws:PrincipalTag/stack}"},
        "Null": {"aws:ResourceTag/stack": "false", "aws:PrincipalTag/stack": "false"},
    }
    assert all(
        by[sid]["Effect"] == "Deny" for sid in by if sid not in ("ProgramServices", "PassRolesAndInstanceProfiles")
    )


def _boundary(run: StackRun) -> list[dict[str, Any]]:
    return json.loads(run.one("aws:iam/policy:Policy", "boundary").inputs["policy"])["Statement"]


def _allowed_by_boundary(boundary: list[dict[str, Any]], action: str) -> bool:
    allowed = any(s["Effect"] == "Allow" and any(action_matches(p, action) for p in s["Action"]) for s in boundary)
    denied = any(
        s["Effect"] == "Deny"
        and s["Resource"] == "*"
        and "Condition" not in s
        and any(action_matches(p, action) for p in listed(s["Action"]))
        for s in boundary
    )
    return allowed and not denied


# The services behind the AWS-managed policies the program attaches (their documents are AWS's).
MANAGED_POLICY_SERVICES = {
    "AmazonEKSClusterPolicy": {"autoscaling", "ec2", "elasticloadbalancing", "kms"},
    "AmazonEKSWorkerNodePolicy": {"ec2", "eks", "eks-auth"},
    "AmazonEC2ContainerRegistryPullOnly": {"ecr"},
    "AmazonSSMManagedInstanceCore": {"ssm", "ssmmessages", "ec2messages"},
    "AmazonEKS_CNI_Policy": {"ec2"},
    "AmazonEBSCSIDriverPolicy": {"ec2"},
    "AWSLambdaVPCAccessExecutionRole": {"ec2", "logs"},
    "AWSLambdaBasicExecutionRole": {"logs"},
    # The AWS Backup policies cover every service Backup supports; the boundary caps them to what this
    # program backs up (RDS, S3) and what a backup of those calls.
    "AWSBackupServiceRolePolicyForBackup": {"backup", "rds", "kms", "tag", "ec2"},
    "AWSBackupServiceRolePolicyForRestores": {"backup", "rds", "kms", "tag", "ec2"},
    "AWSBackupServiceRolePolicyForS3Backup": {"s3", "kms", "cloudwatch", "events"},
    "AWSBackupServiceRolePolicyForS3Restore": {"s3", "kms"},
}


@pytest.mark.parametrize("stack", STACKS)
def test_the_boundary_leaves_every_role_of_the_program_what_it_is_granted(boot, stack):
    boundary = _boundary(boot)
    run = run_stack(stack, overrides=RELEASED)
    granted: set[str] = set()
    for found in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        for s in json.loads(found.inputs["policy"])["Statement"]:
            if s.get("Effect", "Allow") == "Allow":
                granted.update(listed(s["Action"]))
    assert granted
    assert sorted(a for a in granted if not _allowed_by_boundary(boundary, a)) == []
    managed = {a.inputs["policyArn"].rsplit("/", 1)[1] for a in run.of_type(ATTACHMENT)}
    unknown = managed - set(MANAGED_POLICY_SERVICES)
    assert unknown == set(), f"add the services of {unknown} to MANAGED_POLICY_SERVICES"
    capped = {s for name in managed for s in MANAGED_POLICY_SERVICES[name]} - set(BOUNDARY_SERVICES)
    assert capped == set()


# -- the deploy roles against what the program declares -----------------------------------------------
# How IAM names each resource type the program declares (the ARN its calls authorize on), from the
# resource's physical name; types named by an AWS-made id are scoped by account and region instead.
ID_NAMED = (
    # AWS Backup names a plan (and authorizes its selections) by the plan id it makes.
    "aws:backup/plan:",
    "aws:backup/selection:",
    "aws:ec2/",
    "aws:vpc/",
    "aws:appautoscaling/",
    "aws:apigatewayv2/",
    "aws:kms/key:",
    # An EKS cluster's OIDC provider is named by the issuer id EKS makes.
    "aws:iam/openIdConnectProvider:",
    "aws:acm/",
    "aws:cloudfront/",
)
NON_AWS = ("kubernetes:", "pulumi:", "random:")


def _name(r: RecordedResource) -> str:
    return r.inputs.get("name") or r.state["name"]


def named_arns(r: RecordedResource, region: str) -> list[str]:
    """The ARNs IAM authorizes the deploy role's calls on for this resource (empty for id-named types)."""
    a = ACCOUNT_ID

    def arn(service: str, resource: str, where: str = region) -> str:
        return f"arn:aws:{service}:{where}:{a}:{resource}"

    def queue_of(url: str) -> str:
        return arn("sqs", url.rsplit("/", 1)[1])

    def function(value: str) -> str:
        return value if value.startswith("arn:") else arn("lambda", f"function:{value}")

    def bucket(value: str) -> str:
        return f"arn:aws:s3:::{value}"

    i = r.inputs
    r_region = "us-west-2" if r.name.endswith("-copy") else region
    rules = {
        "aws:sqs/queue:Queue": lambda: [arn("sqs", i["name"])],
        "aws:sqs/queuePolicy:QueuePolicy": lambda: [queue_of(i["queueUrl"])],
        "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": lambda: [queue_of(i["queueUrl"])],
        "aws:sns/topic:Topic": lambda: [arn("sns", i["name"])],
        "aws:sns/topicPolicy:TopicPolicy": lambda: [i["arn"]],
        "aws:sns/topicSubscription:TopicSubscription": lambda: [i["topic"]],
        "aws:cloudwatch/logGroup:LogGroup": lambda: [
            arn("logs", f"log-group:{i['name']}"),
            arn("logs", f"log-group:{i['name']}:*"),
        ],
        "aws:cloudwatch/metricAlarm:MetricAlarm": lambda: [arn("cloudwatch", f"alarm:{i['name']}")],
        "aws:cloudwatch/dashboard:Dashboard": lambda: [arn("cloudwatch", f"dashboard/{i['dashboardName']}", "")],
        "aws:cloudwatch/eventRule:EventRule": lambda: [arn("events", f"rule/{i['name']}")],
        "aws:cloudwatch/eventTarget:EventTarget": lambda: [arn("events", f"rule/{i['rule']}")],
        "aws:lambda/function:Function": lambda: [arn("lambda", f"function:{i['name']}")],
        "aws:lambda/permission:Permission": lambda: [function(i["function"])],
        "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": lambda: [function(i["functionName"])],
        "aws:lambda/invocation:Invocation": lambda: [function(i["functionName"])],
        "aws:ecr/repository:Repository": lambda: [arn("ecr", f"repository/{i['name']}")],
        "aws:ecr/lifecyclePolicy:LifecyclePolicy": lambda: [arn("ecr", f"repository/{i['repository']}")],
        "aws:ecr/repositoryPolicy:RepositoryPolicy": lambda: [arn("ecr", f"repository/{i['repository']}")],
        "aws:ecs/cluster:Cluster": lambda: [arn("ecs", f"cluster/{i['name']}")],
        "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders": lambda: [
            arn("ecs", f"cluster/{i['clusterName']}")
        ],
        "aws:ecs/service:Service": lambda: [r.state["arn"]],
        "aws:ecs/taskDefinition:TaskDefinition": lambda: [arn("ecs", f"task-definition/{i['family']}:1")],
        "aws:lb/loadBalancer:LoadBalancer": lambda: [r.state["arn"]],
        "aws:lb/targetGroup:TargetGroup": lambda: [r.state["arn"]],
        "aws:lb/listener:Listener": lambda: [
            i["loadBalancerArn"].replace(":loadbalancer/app/", ":listener/app/") + "/0123456789abcdef"
        ],
        "aws:iam/role:Role": lambda: [f"arn:aws:iam::{a}:role/{_name(r)}"],
        "aws:iam/rolePolicy:RolePolicy": lambda: [f"arn:aws:iam::{a}:role/{i['role']}"],
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": lambda: [f"arn:aws:iam::{a}:role/{i['role']}"],
        "aws:iam/instanceProfile:InstanceProfile": lambda: [f"arn:aws:iam::{a}:instance-profile/{_name(r)}"],
        "aws:kms/alias:Alias": lambda: [arn("kms", i["name"])],
        "aws:rds/instance:Instance": lambda: [arn("rds", f"db:{i['identifier']}")],
        "aws:rds/parameterGroup:ParameterGroup": lambda: [arn("rds", f"pg:{_name(r)}")],
        "aws:rds/subnetGroup:SubnetGroup": lambda: [arn("rds", f"subgrp:{i['name']}")],
        "aws:s3/bucket:Bucket": lambda: [bucket(i["bucket"])],
        "aws:secretsmanager/secret:Secret": lambda: [r.state["arn"]],
        "aws:secretsmanager/secretVersion:SecretVersion": lambda: [i["secretId"]],
        "aws:sfn/stateMachine:StateMachine": lambda: [arn("states", f"stateMachine:{i['name']}")],
        "aws:pipes/pipe:Pipe": lambda: [arn("pipes", f"pipe/{i['name']}")],
        "aws:scheduler/schedule:Schedule": lambda: [
            arn("scheduler", f"schedule/{i.get('groupName', 'default')}/{i['name']}")
        ],
        "aws:budgets/budget:Budget": lambda: [f"arn:aws:budgets::{a}:budget/{i['name']}"],
        "aws:eks/cluster:Cluster": lambda: [arn("eks", f"cluster/{i['name']}")],
        "aws:eks/nodeGroup:NodeGroup": lambda: [arn("eks", f"nodegroup/{i['clusterName']}/{i['nodeGroupName']}/uuid")],
        "aws:eks/addon:Addon": lambda: [arn("eks", f"addon/{i['clusterName']}/{i['addonName']}/uuid")],
        "aws:eks/accessEntry:AccessEntry": lambda: [arn("eks", f"access-entry/{i['clusterName']}/role/uuid")],
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": lambda: [
            arn("eks", f"access-entry/{i['clusterName']}/role/uuid")
        ],
        "aws:eks/podIdentityAssociation:PodIdentityAssociation": lambda: [
            arn("eks", f"podidentityassociation/{i['clusterName']}/uuid")
        ],
        "aws:codebuild/project:Project": lambda: [arn("codebuild", f"project/{i['name']}")],
        "aws:codebuild/webhook:Webhook": lambda: [arn("codebuild", f"project/{i['projectName']}")],
        "aws:route53/zone:Zone": lambda: [f"arn:aws:route53:::hostedzone/{r.state['zoneId']}"],
        "aws:route53/record:Record": lambda: [f"arn:aws:route53:::hostedzone/{i['zoneId']}"],
        "aws:wafv2/webAcl:WebAcl": lambda: [r.state["arn"]],
        "aws:wafv2/webAclAssociation:WebAclAssociation": lambda: [i["webAclArn"], i["resourceArn"]],
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": lambda: [i["resourceArn"]],
        "aws:elasticache/serverlessCache:ServerlessCache": lambda: [arn("elasticache", f"serverlesscache:{i['name']}")],
        "aws:elasticache/replicationGroup:ReplicationGroup": lambda: [
            arn("elasticache", f"replicationgroup:{i['replicationGroupId']}")
        ],
        "aws:elasticache/subnetGroup:SubnetGroup": lambda: [arn("elasticache", f"subnetgroup:{i['name']}")],
        "aws:elasticache/user:User": lambda: [arn("elasticache", f"user:{i['userId']}")],
        "aws:elasticache/userGroup:UserGroup": lambda: [arn("elasticache", f"usergroup:{i['userGroupId']}")],
        # The copy vault lives in backups.copyRegion; its ARN carries that region.
        "aws:backup/vault:Vault": lambda: [arn("backup", f"backup-vault:{i['name']}", r_region)],
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration": lambda: [
            arn("backup", f"backup-vault:{i['backupVaultName']}")
        ],
    }
    if r.type.startswith("aws:s3/") and r.type != "aws:s3/bucket:Bucket":
        return [bucket(i["bucket"])]
    if r.type not in rules:
        raise KeyError(r.type)
    return rules[r.type]()


def scoped_patterns(documents: list[dict[str, Any]], prefix: str, *, writes_only: bool = False) -> list[str]:
    """The resource patterns (not '*') of the Allow statements that name actions of ``prefix``."""
    found = []
    for s in allows(documents):
        actions = [a for a in listed(s["Action"]) if a.split(":")[0] == prefix]
        if writes_only:
            actions = [a for a in actions if a not in PROMOTION_READS]
        if actions:
            found += [p for p in listed(s["Resource"]) if p != "*"]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_role_may_manage_every_service_and_name_the_program_declares(boot, stack):
    documents = deploy_documents(boot, stack)
    services = {a.split(":")[0] for s in allows(documents) for a in listed(s["Action"])}
    region = run_stack(stack).one("pulumi:providers:aws", f"{stack}-aws").inputs["region"]
    escaped, unmanaged, unknown = [], [], []
    for run in (run_stack(stack), run_stack(stack, RELEASED)):
        for r in run.resources:
            if not r.custom or r.type.startswith(NON_AWS):
                continue
            prefix = service_prefix_for(r.type)
            if prefix is None or prefix not in services:
                unmanaged.append(f"{r.type} ({r.name}): service {prefix} is not in the deploy role")
                continue
            if r.type.startswith(ID_NAMED):
                continue
            try:
                arns = named_arns(r, region)
            except KeyError:
                unknown.append(r.type)
                continue
            patterns = scoped_patterns(documents, prefix)
            escaped += [f"{r.type} {r.name}: {arn}" for arn in arns if not any(matches(p, arn) for p in patterns)]
    assert unmanaged == []
    assert sorted(set(unknown)) == [], "add to named_arns how IAM names these types, or to ID_NAMED"
    assert escaped == []


@pytest.mark.parametrize("owner, other", [("dev", "prod"), ("prod", "dev"), ("staging", "ultra")])
def test_a_deploy_role_cannot_name_another_stacks_resources(boot, owner, other):
    documents = deploy_documents(boot, owner)
    run = run_stack(other, RELEASED)
    reachable = []
    for r in run.resources:
        if not r.custom or r.type.startswith(NON_AWS) or r.type.startswith(ID_NAMED):
            continue
        prefix = service_prefix_for(r.type)
        patterns = scoped_patterns(documents, prefix, writes_only=True)
        reachable += [
            f"{r.type} {r.name}: {arn}" for arn in named_arns(r, "us-east-1") if any(matches(p, arn) for p in patterns)
        ]
    assert reachable == []


def test_every_catalog_service_names_a_real_resource_type_prefix():
    modules = {path.name for path in Path(importlib.util.find_spec("pulumi_aws").origin).parent.iterdir()}
    for service in SERVICES:
        for token in service.types:
            module = token.split(":")[1].split("/")[0]
            assert ("lambda_" if module == "lambda" else module) in modules, (service.prefix, token)


# -- the policy pack and the offline preview ------------------------------------------------------
def test_the_bootstrap_passes_the_policy_pack(boot):
    findings = evaluate(boot, bootstrap_config("example"))
    assert [f"{f.rule}: {f.name}: {f.message}" for f in findings if f.mandatory] == []


def test_the_offline_preview_shows_the_bootstrap_and_its_cost(capsys):
    assert preview_main.main(["bootstrap", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["topology"] == "bootstrap"
    assert report["counts"]["aws:kms/key:Key"] == 2 and report["counts"]["aws:iam/role:Role"] == 6
    cost = report["sections"]["cost"]
    assert cost["total_usd"] == 2.0
    assert [line["item"] for line in cost["lines"]] == ["KMS customer managed key"] * 2
    assert any(note.startswith("S3 Standard storage $0.023/GB-month") for note in cost["left_out"])
    assert report["sections"]["policy"]["violations"] == 0


def test_the_offline_preview_reads_stack_files_from_another_directory_and_refuses_bad_config(tmp_path, capsys):
    (tmp_path / "Pulumi.broken.yaml").write_text(
        "config:\n  aws:region: us-east-1\n"
        "  flowbuilder-bootstrap:github: {owner: o, repository: r}\n"
        "  flowbuilder-bootstrap:stacks:\n    - name: deploy\n"
    )
    assert preview_main.main(["bootstrap", "-C", str(tmp_path), "broken"]) == 2
    err = capsys.readouterr().err
    assert "Pulumi.broken.yaml (flowbuilder-bootstrap): invalid configuration" in err
    assert "stacks: 'deploy' would own the bootstrap's deploy roles" in err


# -- config -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"flowbuilder-bootstrap:stacks": [{"name": "pulumi"}]}, "'pulumi' would own the bootstrap's state bucket"),
        ({"flowbuilder-bootstrap:stacks": [{"name": "preview"}]}, "'preview' would own the bootstrap's preview role's"),
        (
            {"flowbuilder-bootstrap:stacks": [{"name": "dev"}, {"name": "dev-eu"}]},
            "'dev-eu''s names start with flowbuilder-dev-",
        ),
        ({"flowbuilder-bootstrap:stacks": [{"name": "dev"}, {"name": "dev"}]}, "every stack is listed once"),
        ({"flowbuilder-bootstrap:stacks": []}, "flowbuilder-bootstrap:stacks: List should have at least 1 item"),
        (
            {"flowbuilder-bootstrap:stacks": [{"name": "Dev"}]},
            "flowbuilder-bootstrap:stacks.0.name: String should match",
        ),
        ({"flowbuilder-bootstrap:stacks": [{"name": "dev", "region": "moon-1"}]}, "stacks.0.region: not an AWS region"),
        ({"aws:region": None}, "aws:region: required key is missing"),
        ({"flowbuilder-bootstrap:colour": "blue"}, "flowbuilder-bootstrap:colour: unknown key"),
        (
            {"flowbuilder-bootstrap:github": {"owner": "o", "repository": "r", "publishers": ["repo:o/app:*"]}},
            "github.publishers.0: String should match",
        ),
        ({"flowbuilder-bootstrap:secretsKeyUsers": ["arn:aws:iam::1:root"]}, "secretsKeyUsers.0: String should match"),
        ({"flowbuilder-bootstrap:state": {"noncurrentVersionDays": 0}}, "state.noncurrentVersionDays: Input should be"),
    ],
)
def test_bad_config_stops_the_bootstrap_with_one_clear_error(overrides, expected):
    with pytest.raises(BootstrapConfigError) as error:
        run_bootstrap(overrides=overrides)
    assert expected in str(error.value)
    assert str(error.value).startswith("Pulumi.example.yaml (flowbuilder-bootstrap): invalid configuration")


def test_a_stack_in_another_region_gets_that_regions_patterns_and_hosted_zones_only_where_listed():
    stacks = [{"name": "dev"}, {"name": "prod", "region": "ap-south-1", "hostedZoneIds": ["Z0123456789EXAMPLE"]}]
    run = run_bootstrap(overrides={"flowbuilder-bootstrap:stacks": stacks})
    prod = deploy_documents(run, "prod")
    assert by_sid(prod, "SqsStack")["Resource"] == [f"arn:aws:sqs:ap-south-1:{ACCOUNT_ID}:flowbuilder-prod-*"]
    assert by_sid(prod, "Route53Stack")["Resource"] == ["arn:aws:route53:::hostedzone/Z0123456789EXAMPLE"]
    assert "Route53Stack" not in {s["Sid"] for s in statements(*deploy_documents(run, "dev"))}


def test_a_stack_that_creates_its_zone_may_change_records_under_that_name_only():
    stacks = [{"name": "dev"}, {"name": "staging", "zoneNames": ["staging.flowbuilder.example.com"]}]
    run = run_bootstrap(overrides={"flowbuilder-bootstrap:stacks": stacks})
    staging = deploy_documents(run, "staging")
    assert by_sid(staging, "Route53CreateZone")["Action"] == ["route53:CreateHostedZone"]
    records = by_sid(staging, "Route53CreatedZoneRecords")
    assert records["Action"] == ["route53:ChangeResourceRecordSets"]
    assert records["Resource"] == "arn:aws:route53:::hostedzone/*"
    assert records["Condition"] == {
        "ForAllValues:StringLike": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                "*.staging.flowbuilder.example.com",
                "staging.flowbuilder.example.com",
            ]
        }
    }
    assert "route53:ChangeResourceRecordSets" not in by_sid(staging, "Route53CreatedZones")["Action"]
    dev = {s["Sid"] for s in statements(*deploy_documents(run, "dev"))}
    assert not dev & {"Route53CreateZone", "Route53CreatedZones", "Route53CreatedZoneRecords"}
