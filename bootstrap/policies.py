"""The bootstrap's IAM documents as plain data: trust, deploy, preview, publish and the permissions boundary.

Built from plain strings (the components resolve ARNs first), so tests read
exactly what IAM will. Shapes:

* deploy role ``flowbuilder-deploy-<stack>``: one managed policy per group of
  services (``network``, ``edge``, ``compute``, ``platform``, ``integration``,
  ``data``), each statement on the stack's own ARN patterns; an
  ``identity`` policy (roles only under the stack's prefix and only with the
  boundary, no change to the bootstrap's identities, no role assumption, and
  the tag guard: nothing tagged with another stack's name); and, on a
  self-managed backend, a ``state`` policy (its own stacks' state files and
  locks, the secrets key only under its own encryption context);
* preview role ``flowbuilder-preview``: the same services' describe/get/list
  calls that return no secret values (``read-network``, ``read-compute``,
  ``read-data``), every stack's state read-only, locks of
  the stacks it may preview, the secrets key only for those stacks' contexts,
  and denies of everything that reads data (secret values, objects outside the
  state, log lines, messages);
* boundary ``flowbuilder-permissions-boundary``: the services the program's
  roles use, IAM reduced to passing roles and instance profiles, and denies
  of escalation, boundary removal, leaving the organization, audit tampering,
  the bootstrap's bucket and keys, and anything tagged with another stack.

Most of its length is the action tables, one action per line.

Long because IAM documents are: each statement is spelled out as IAM will read it, so tests and
reviewers compare exactly what is granted; the builders share the catalogue and stay together.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from . import names
from .catalog import SERVICES, Scope

MANAGED_POLICY_LIMIT = 6144
"""IAM's limit on a managed policy document, whitespace excluded."""
DEPLOY_GROUPS = ("network", "edge", "compute", "platform", "integration", "data")
PREVIEW_READS = {
    "read-network": ("network", "edge"),
    "read-compute": ("compute", "platform"),
    "read-data": ("integration", "data"),
}
"""The preview role's read policies: each holds the reads of these deploy groups."""

# Calls another stack's repositories must still answer: promotion copies an image from the
# previous stack's repository into the next one's, under the next stack's deploy role.
PROMOTION_READS = (
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
    "ecr:DescribeImages",
)
ROLE_CHANGES_WITH_BOUNDARY = (
    # Each carries iam:PermissionsBoundary in its request context (service authorization reference).
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
)
ROLE_UPKEEP = (
    # No iam:PermissionsBoundary in their context; every role under the prefix was created with the
    # boundary and DeleteRolePermissionsBoundary is denied, so they only ever touch bounded roles.
    "iam:DeleteRole",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:PassRole",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:ListRoleTags",
)
INSTANCE_PROFILE_ACTIONS = (
    # Karpenter's node instance profile and any other profile the program declares.
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:GetInstanceProfile",
    "iam:AddRoleToInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagInstanceProfile",
    "iam:UntagInstanceProfile",
    "iam:ListInstanceProfileTags",
)
EKS_OIDC_PROVIDER_ACTIONS = (
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:GetOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
    "iam:ListOpenIDConnectProviderTags",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
)
SERVICE_LINKED_ROLES = (
    # Created by the first resource of their kind in an account, with the caller's rights.
    "ecs.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "rds.amazonaws.com",
    "eks.amazonaws.com",
    "eks-nodegroup.amazonaws.com",
    "autoscaling.amazonaws.com",
    "spot.amazonaws.com",
    "elasticache.amazonaws.com",
    "wafv2.amazonaws.com",
    "ops.apigateway.amazonaws.com",
    "backup.amazonaws.com",
)
DATA_READS = (
    # What reads data rather than describing infrastructure; the preview role never needs it.
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameterHistory",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
    "logs:StartQuery",
    "logs:StartLiveTail",
    "sqs:ReceiveMessage",
    "states:DescribeExecution",
    "states:GetExecutionHistory",
    "lambda:InvokeFunction",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
STATE_DATA_PLANE = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetBucketLocation")
KEY_USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")

BOUNDARY_SERVICES = (
    # What the program's roles call: tasks and functions, the worker pipe and state machine, the
    # scheduler, RDS monitoring, flow logs, EKS (cluster, nodes, add-ons, Karpenter, External
    # Secrets), the CI runner, backups, uploads and e-mail.
    # Karpenter reads the cluster's zonal-shift status (read-only, scoped to the cluster).
    "arc-zonal-shift",
    "autoscaling",
    "backup",
    "backup-storage",
    "cloudwatch",
    "codebuild",
    "codeconnections",
    "codestar-connections",
    "ec2",
    "ec2messages",
    "ecr",
    "ecs",
    "eks",
    "eks-auth",
    "elasticache",
    "elasticloadbalancing",
    "events",
    "kms",
    "lambda",
    "logs",
    "pricing",
    "rds",
    "rds-db",
    "s3",
    "secretsmanager",
    "ses",
    "sns",
    "sqs",
    "ssm",
    "ssmmessages",
    "states",
    "tag",
    "xray",
)
BOUNDARY_IAM = (
    # Passing the program's roles to services, Karpenter's node instance profiles, and the
    # service-linked roles EKS creates; nothing that writes a policy or a trust.
    "iam:PassRole",
    "iam:GetRole",
    "iam:GetInstanceProfile",
    "iam:ListInstanceProfiles",
    "iam:ListInstanceProfilesForRole",
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:AddRoleToInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagInstanceProfile",
    "iam:UntagInstanceProfile",
    "iam:CreateServiceLinkedRole",
)
IAM_ESCALATION = (
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:AttachUserPolicy",
    "iam:PutUserPolicy",
    "iam:AddUserToGroup",
    "iam:AttachGroupPolicy",
    "iam:PutGroupPolicy",
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:PutUserPermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:CreateOpenIDConnectProvider",
    "iam:CreateSAMLProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
    "iam:AddClientIDToOpenIDConnectProvider",
)
AUDIT_TAMPERING = (
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:DeleteEventDataStore",
    "cloudtrail:UpdateEventDataStore",
    "config:StopConfigurationRecorder",
    "config:DeleteConfigurationRecorder",
    "config:DeleteDeliveryChannel",
    "guardduty:DeleteDetector",
    "guardduty:UpdateDetector",
    "guardduty:DisassociateFromAdministratorAccount",
    "securityhub:DisableSecurityHub",
    "access-analyzer:DeleteAnalyzer",
)
LEAVE_ORGANIZATION = ("organizations:LeaveOrganization",)


def sid(*parts: str) -> str:
    """A statement id from words (IAM allows only letters and digits)."""
    return "".join(word.capitalize() for part in parts for word in re.split(r"[^A-Za-z0-9]+", part) if word)


def statement(
    sid_: str,
    actions: list[str] | tuple[str, ...] | str,
    resources: list[str] | str,
    *,
    effect: str = "Allow",
    condition: dict[str, Any] | None = None,
    not_action: bool = False,
    not_resource: bool = False,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"Sid": sid_, "Effect": effect}
    entry["NotAction" if not_action else "Action"] = sorted(actions) if not isinstance(actions, str) else actions
    entry["NotResource" if not_resource else "Resource"] = resources
    if condition:
        entry["Condition"] = condition
    return entry


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def dumps(policy: dict[str, Any]) -> str:
    """Compact JSON: IAM counts every character but whitespace against a managed policy's limit."""
    return json.dumps(policy, separators=(",", ":"))


def iam_size(policy: dict[str, Any]) -> int:
    return len(re.sub(r"\s", "", dumps(policy)))


def iam_arn(scope: Scope, resource: str, *, account: str | None = None) -> str:
    return f"arn:{scope.partition}:iam::{scope.account if account is None else account}:{resource}"


@dataclass(frozen=True)
class StateLocation:
    """Where a self-managed backend keeps state, resolved: the bucket and the two keys."""

    bucket_arn: str
    region: str
    state_key_arn: str
    secrets_key_arn: str

    def objects(self, path: str) -> str:
        return f"{self.bucket_arn}/{path}"


# -- trust ---------------------------------------------------------------------------------------
def github_subject(repository: str, what: str) -> str:
    """The OIDC ``sub`` of a workflow job: ``environment:<name>`` or ``pull_request``."""
    return f"repo:{repository}:{what}"


def github_trust(provider_arn: str, subjects: list[str]) -> dict[str, Any]:
    """Only GitHub's tokens for these exact subjects, minted for STS (StringEquals: no wildcard)."""
    host = names.GITHUB_OIDC_HOST
    return document(
        {
            "Sid": "GitHubActions",
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{host}:aud": names.STS_AUDIENCE,
                    f"{host}:sub": subjects[0] if len(subjects) == 1 else sorted(subjects),
                }
            },
        }
    )


# -- deploy --------------------------------------------------------------------------------------
def _service_statements(scope: Scope, group: str, *, deploy: bool) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    listing: set[str] = set()
    create: set[str] = set()
    for service in (s for s in SERVICES if s.group == group):
        actions = [*service.manage, *service.read] if deploy else list(service.read)
        resources = service.resources(scope)
        if actions and resources:
            found.append(statement(sid(service.prefix, "stack" if deploy else "read"), actions, resources))
        listing.update(service.listing)
        if deploy:
            create.update(service.create)
    if listing:
        found.append(statement(sid(group, "list"), sorted(listing), "*"))
    if create:
        found.append(statement(sid(group, "account", "wide"), sorted(create), "*"))
    return found


def _created_zones(scope: Scope) -> list[dict[str, Any]]:
    """A stack that creates its hosted zone (``flowbuilder:domain.zoneName``) cannot name it by id in advance,
    and Route 53 knows no resource tags in IAM: record changes are bound to the zone's names instead."""
    if not scope.zone_names:
        return []
    zones = f"arn:{scope.partition}:route53:::hostedzone/*"
    names = sorted({name for zone in scope.zone_names for name in (zone, f"*.{zone}")})
    return [
        statement("Route53CreateZone", ["route53:CreateHostedZone"], "*"),
        statement(
            "Route53CreatedZones",
            [
                "route53:GetHostedZone",
                "route53:ListResourceRecordSets",
                "route53:ListTagsForResource",
                "route53:ChangeTagsForResource",
                "route53:UpdateHostedZoneComment",
                # Route 53 deletes only a zone holding nothing but its SOA and NS records, and
                # this role can empty no zone but its own.
                "route53:DeleteHostedZone",
            ],
            zones,
        ),
        statement(
            "Route53CreatedZoneRecords",
            ["route53:ChangeResourceRecordSets"],
            zones,
            condition={"ForAllValues:StringLike": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": names}},
        ),
    ]


def _promotion_source(scope: Scope) -> dict[str, Any]:
    return statement("PullFromEveryStack", PROMOTION_READS, [scope.arn("ecr", f"repository/{names.PROJECT}-*/*")])


def _rds_managed_secrets(scope: Scope) -> dict[str, Any]:
    # RDS creates the master password's secret (rds!db-<id>) with the caller's rights; the caller
    # never reads it, and Secrets Manager refuses direct changes to a secret RDS manages.
    return statement(
        "RdsManagedMasterSecrets",
        ["secretsmanager:CreateSecret", "secretsmanager:TagResource", "secretsmanager:DescribeSecret"],
        [scope.arn("secretsmanager", "secret:rds!*")],
    )


def _identity_statements(scope: Scope, boundary_arn: str, github_provider_arn: str) -> list[dict[str, Any]]:
    roles = iam_arn(scope, f"role/{scope.prefix}-*")
    return [
        statement(
            "CreateRolesWithTheBoundary",
            ["iam:CreateRole"],
            [roles],
            condition={
                "StringEquals": {
                    "iam:PermissionsBoundary": boundary_arn,
                    f"aws:RequestTag/{names.ENCRYPTION_CONTEXT_KEY}": scope.stack,
                }
            },
        ),
        statement(
            "ChangeRolesWithTheBoundary",
            ROLE_CHANGES_WITH_BOUNDARY,
            [roles],
            condition={"StringEquals": {"iam:PermissionsBoundary": boundary_arn}},
        ),
        statement("KeepUpStackRoles", ROLE_UPKEEP, [roles]),
        statement(
            "StackInstanceProfiles", INSTANCE_PROFILE_ACTIONS, [iam_arn(scope, f"instance-profile/{scope.prefix}-*")]
        ),
        statement(
            "EksIdentityProviders",
            EKS_OIDC_PROVIDER_ACTIONS,
            [iam_arn(scope, f"oidc-provider/oidc.eks.{scope.region}.*")],
        ),
        statement(
            "ServiceLinkedRoles",
            ["iam:CreateServiceLinkedRole"],
            [iam_arn(scope, "role/aws-service-role/*")],
            condition={"StringEquals": {"iam:AWSServiceName": sorted(SERVICE_LINKED_ROLES)}},
        ),
        statement(
            "ReadAwsManagedPolicies",
            ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions"],
            [iam_arn(scope, "policy/*", account="aws")],
        ),
        statement("KeepTheBoundary", ["iam:DeleteRolePermissionsBoundary"], "*", effect="Deny"),
        statement(
            "LeaveTheBootstrapAlone",
            ["iam:*"],
            sorted(
                {
                    iam_arn(scope, f"role/{names.deploy_role('*')}"),
                    iam_arn(scope, f"role/{names.PREVIEW_ROLE}"),
                    iam_arn(scope, f"role/{names.PUBLISH_ROLE}"),
                    iam_arn(scope, f"policy/{names.deploy_role('*')}"),
                    iam_arn(scope, f"policy/{names.PREVIEW_ROLE}-*"),
                    iam_arn(scope, f"policy/{names.PUBLISH_ROLE}-*"),
                    boundary_arn,
                    github_provider_arn,
                }
            ),
            effect="Deny",
        ),
        # A role under the prefix whose trust names this role could otherwise be assumed without an
        # identity-policy grant (same account); the explicit deny closes that path.
        statement("NoRoleChaining", ["sts:AssumeRole"], "*", effect="Deny"),
        *tag_guard(scope),
    ]


def tag_guard(scope: Scope) -> list[dict[str, Any]]:
    """Denies keeping one stack's deploy role off every resource tagged as another stack's."""
    key = names.ENCRYPTION_CONTEXT_KEY
    return [
        statement(
            "NotOtherStacksResources",
            PROMOTION_READS,
            "*",
            effect="Deny",
            not_action=True,
            condition={
                "StringNotEquals": {f"aws:ResourceTag/{key}": scope.stack},
                "Null": {f"aws:ResourceTag/{key}": "false"},
            },
        ),
        statement(
            "NoTagsOfOtherStacks",
            "*",
            "*",
            effect="Deny",
            condition={
                "StringNotEquals": {f"aws:RequestTag/{key}": scope.stack},
                "Null": {f"aws:RequestTag/{key}": "false"},
            },
        ),
        # Roles keep the stack tag the boundary's cross-stack deny reads from the principal.
        statement(
            "KeepRolesStackTag",
            ["iam:UntagRole"],
            "*",
            effect="Deny",
            condition={"ForAnyValue:StringEquals": {"aws:TagKeys": [key]}},
        ),
    ]


def _state_statements(scope: Scope, state: StateLocation) -> list[dict[str, Any]]:
    own = []
    for project in names.PROGRAM_PROJECTS:
        own += [
            state.objects(f".pulumi/stacks/{project}/{scope.stack}.json*"),
            state.objects(f".pulumi/history/{project}/{scope.stack}/*"),
            state.objects(f".pulumi/backups/{project}/{scope.stack}/*"),
            state.objects(f".pulumi/locks/organization/{project}/{scope.stack}/*"),
        ]
    return [
        statement("OwnStacksState", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], own),
        statement("StateLayout", ["s3:GetObject"], [state.objects(".pulumi/meta.yaml")]),
        *_state_bucket_and_keys(state),
        statement(
            "OwnStacksSecrets",
            ["kms:Encrypt", "kms:Decrypt"],
            [state.secrets_key_arn],
            condition={"StringEquals": {f"kms:EncryptionContext:{names.ENCRYPTION_CONTEXT_KEY}": scope.stack}},
        ),
        statement(
            "KeepTheStateBucket",
            STATE_DATA_PLANE,
            [state.bucket_arn, state.objects("*")],
            effect="Deny",
            not_action=True,
        ),
        statement(
            "KeepTheStateKeys",
            KEY_USE,
            sorted([state.state_key_arn, state.secrets_key_arn]),
            effect="Deny",
            not_action=True,
        ),
    ]


def _state_bucket_and_keys(state: StateLocation) -> list[dict[str, Any]]:
    # HEAD of a missing state file answers 404 only with ListBucket; without it, 403, which the backend
    # reads as an error rather than "no such stack".
    return [
        statement("StateBucket", ["s3:ListBucket", "s3:GetBucketLocation"], [state.bucket_arn]),
        statement(
            "StateObjectsKey",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            [state.state_key_arn],
            condition={"StringEquals": {"kms:ViaService": f"s3.{state.region}.amazonaws.com"}},
        ),
    ]


def deploy_parts(*, self_managed: bool) -> list[str]:
    """The managed policies of a deploy role, in :func:`deploy_policies`' order."""
    return [*DEPLOY_GROUPS, "identity", *(["state"] if self_managed else [])]


def preview_parts(*, self_managed: bool) -> list[str]:
    """The managed policies of the preview role, in :func:`preview_policies`' order."""
    return [*PREVIEW_READS, "state" if self_managed else "guards"]


def deploy_policies(
    scope: Scope, *, boundary_arn: str, github_provider_arn: str, state: StateLocation | None
) -> dict[str, dict[str, Any]]:
    """Part name -> policy document of one stack's deploy role."""
    policies = {group: document(*_service_statements(scope, group, deploy=True)) for group in DEPLOY_GROUPS}
    policies["compute"]["Statement"].append(_promotion_source(scope))
    policies["data"]["Statement"].append(_rds_managed_secrets(scope))
    policies["edge"]["Statement"].extend(_created_zones(scope))
    policies["identity"] = document(*_identity_statements(scope, boundary_arn, github_provider_arn))
    if state is not None:
        policies["state"] = document(*_state_statements(scope, state))
    return policies


# -- preview -------------------------------------------------------------------------------------
def preview_policies(scope: Scope, *, previewable: list[str], state: StateLocation | None) -> dict[str, dict[str, Any]]:
    """Part name -> policy document of the preview role (``scope`` names every stack: stack and region ``*``)."""
    policies = {
        part: document(*(st for group in groups for st in _service_statements(scope, group, deploy=False)))
        for part, groups in PREVIEW_READS.items()
    }
    policies["read-compute"]["Statement"] += [
        statement(
            "IdentityRead",
            [
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListRoleTags",
                "iam:ListInstanceProfilesForRole",
                "iam:GetOpenIDConnectProvider",
                "iam:ListOpenIDConnectProviderTags",
                "iam:GetInstanceProfile",
                "iam:ListInstanceProfileTags",
            ],
            [
                iam_arn(scope, f"role/{names.PROJECT}-*"),
                iam_arn(scope, f"instance-profile/{names.PROJECT}-*"),
                iam_arn(scope, "oidc-provider/oidc.eks.*"),
            ],
        ),
        statement(
            "ReadAwsManagedPolicies",
            ["iam:GetPolicy", "iam:GetPolicyVersion"],
            [iam_arn(scope, "policy/*", account="aws")],
        ),
        # A function's environment is under its stack's key: Lambda returns it to a reader that may
        # decrypt it, and an error in its place to any other (which the provider reads as a change).
        statement(
            "ReadLambdaEnvironments",
            ["kms:Decrypt"],
            [scope.arn("kms", "key/*")],
            condition={"StringLike": {"kms:ViaService": "lambda.*.amazonaws.com"}},
        ),
    ]
    guards = [
        statement("NoDataReads", DATA_READS, "*", effect="Deny"),
        statement(
            "NoObjectReadsOutsideTheState",
            ["s3:GetObject*"],
            [state.objects(".pulumi/*")] if state else "*",
            effect="Deny",
            not_resource=state is not None,
        ),
        statement("NoRoleChaining", ["sts:AssumeRole"], "*", effect="Deny"),
    ]
    if state is None:
        policies["guards"] = document(*guards)
        return policies
    locks = [
        state.objects(f".pulumi/locks/organization/{project}/{stack}/*")
        for project in names.PROGRAM_PROJECTS
        for stack in previewable
    ]
    state_statements = [
        # Every stack of the program (a mesh preview reads its base stack), not the bootstrap's own.
        statement(
            "EveryStacksState",
            ["s3:GetObject"],
            [
                state.objects(".pulumi/meta.yaml"),
                *(state.objects(f".pulumi/stacks/{project}/*") for project in names.PROGRAM_PROJECTS),
                *(state.objects(f".pulumi/locks/organization/{project}/*") for project in names.PROGRAM_PROJECTS),
            ],
        ),
        *_state_bucket_and_keys(state),
    ]
    if previewable:
        # `pulumi preview` on the S3 backend takes the stack's lock like an update: it writes
        # .pulumi/locks/organization/<project>/<stack>/<id>.json, lists the directory, and deletes it.
        state_statements += [
            statement("PreviewLocks", ["s3:PutObject", "s3:DeleteObject"], locks),
            statement(
                "PreviewableStacksSecrets",
                ["kms:Decrypt"],
                [state.secrets_key_arn],
                condition={
                    "StringEquals": {f"kms:EncryptionContext:{names.ENCRYPTION_CONTEXT_KEY}": sorted(previewable)}
                },
            ),
        ]
    policies["state"] = document(*state_statements, *guards)
    return policies


# -- publish -------------------------------------------------------------------------------------
def publish_policy(scope: Scope) -> dict[str, Any]:
    """Push (and read back) images into the first stack's repositories, nothing else."""
    return document(
        statement(
            "PushImages",
            [
                "ecr:BatchCheckLayerAvailability",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
                "ecr:BatchGetImage",
                "ecr:DescribeImages",
            ],
            [scope.arn("ecr", f"repository/{scope.prefix}/*")],
        ),
        statement("RegistryLogin", ["ecr:GetAuthorizationToken"], "*"),
        statement("NoRoleChaining", ["sts:AssumeRole"], "*", effect="Deny"),
    )


# -- the permissions boundary ------------------------------------------------------------------
def boundary_policy(
    scope: Scope, *, boundary_arn: str, state: StateLocation | None, github_provider_arn: str
) -> dict[str, Any]:
    """The ceiling of every role the main program creates (``scope``: the account, any stack)."""
    key = names.ENCRYPTION_CONTEXT_KEY
    statements = [
        statement("ProgramServices", [f"{service}:*" for service in BOUNDARY_SERVICES], "*"),
        statement("PassRolesAndInstanceProfiles", BOUNDARY_IAM, "*"),
        statement("NoIdentityEscalation", IAM_ESCALATION, "*", effect="Deny"),
        statement(
            "KeepTheBoundaryAndTheBootstrap",
            ["iam:*"],
            sorted(
                {
                    boundary_arn,
                    github_provider_arn,
                    iam_arn(scope, f"role/{names.deploy_role('*')}"),
                    iam_arn(scope, f"role/{names.PREVIEW_ROLE}"),
                    iam_arn(scope, f"role/{names.PUBLISH_ROLE}"),
                }
            ),
            effect="Deny",
        ),
        statement("StayInTheOrganization", LEAVE_ORGANIZATION, "*", effect="Deny"),
        statement("KeepTheAuditTrail", AUDIT_TAMPERING, "*", effect="Deny"),
        statement("NoRoleChaining", ["sts:AssumeRole"], "*", effect="Deny"),
        statement(
            "OnlyOwnStacksResources",
            "*",
            "*",
            effect="Deny",
            condition={
                "StringNotEquals": {f"aws:ResourceTag/{key}": f"${{aws:PrincipalTag/{key}}}"},
                "Null": {f"aws:ResourceTag/{key}": "false", f"aws:PrincipalTag/{key}": "false"},
            },
        ),
    ]
    if state is not None:
        statements += [
            statement("NotTheState", ["s3:*"], [state.bucket_arn, state.objects("*")], effect="Deny"),
            statement(
                "NotTheStateKeys", ["kms:*"], sorted([state.state_key_arn, state.secrets_key_arn]), effect="Deny"
            ),
        ]
    return document(*statements)


# -- the keys' own policies ------------------------------------------------------------------------
KEY_ADMINISTRATION = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:ListGrants",
    "kms:PutKeyPolicy",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:RotateKeyOnDemand",
    "kms:UpdateKeyDescription",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)


def _root(scope: Scope) -> dict[str, str]:
    return {"AWS": iam_arn(scope, "root")}


def state_key_policy(scope: Scope, *, bucket_arn: str, region: str) -> dict[str, Any]:
    """Administered through IAM; used only by S3 for the state bucket's objects."""
    return document(
        {
            "Sid": "AdministerThroughIam",
            "Effect": "Allow",
            "Principal": _root(scope),
            "Action": sorted(KEY_ADMINISTRATION),
            "Resource": "*",
        },
        {
            "Sid": "StateBucketObjects",
            "Effect": "Allow",
            "Principal": _root(scope),
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                # With an S3 Bucket Key the context is the bucket's ARN; per object otherwise.
                "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/*"]},
            },
        },
    )


def secrets_key_policy(
    scope: Scope, *, deploy_roles: dict[str, str], preview_role: str, previewable: list[str], key_users: list[str]
) -> dict[str, Any]:
    """Each stack's data key under its own encryption context: a deploy role only for its stack, the
    preview role only for the stacks it may preview, the listed people for any stack."""
    context = f"kms:EncryptionContext:{names.ENCRYPTION_CONTEXT_KEY}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AdministerThroughIam",
            "Effect": "Allow",
            "Principal": _root(scope),
            "Action": sorted(KEY_ADMINISTRATION),
            "Resource": "*",
        }
    ]
    # The account as principal with aws:PrincipalArn: KMS does not need the role to exist yet, and the
    # role's own IAM policy must grant the use too.
    for stack, role_arn in sorted(deploy_roles.items()):
        statements.append(
            {
                "Sid": sid("deploy", stack, "secrets"),
                "Effect": "Allow",
                "Principal": _root(scope),
                "Action": ["kms:Decrypt", "kms:Encrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalArn": role_arn, context: stack}},
            }
        )
    if previewable:
        statements.append(
            {
                "Sid": "PreviewableStacksSecrets",
                "Effect": "Allow",
                "Principal": _root(scope),
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalArn": preview_role, context: sorted(previewable)}},
            }
        )
    if key_users:
        statements.append(
            {
                "Sid": "SecretsKeyUsers",
                "Effect": "Allow",
                "Principal": _root(scope),
                "Action": ["kms:Decrypt", "kms:Encrypt"],
                "Resource": "*",
                "Condition": {"ArnLike": {"aws:PrincipalArn": sorted(key_users)}, "Null": {context: "false"}},
            }
        )
    return document(*statements)


def state_bucket_policy(*, bucket_arn: str, state_key_arn: str) -> dict[str, Any]:
    """TLS 1.2+ only, and every object under the state key."""
    objects = f"{bucket_arn}/*"
    return document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, objects],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOldTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, objects],
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
        {
            "Sid": "DenyOtherEncryption",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        },
        {
            "Sid": "DenyOtherKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": objects,
            "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": state_key_arn}},
        },
    )
