"""IAM: no wildcard actions, no wildcard resources beyond what AWS requires, trust scoped to one service."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import Severity

from ._support import BOOTSTRAP_PROJECT, Subject, as_list, document, resource_rule

ROLE = "aws:iam/role:Role"
MANAGED_POLICY = "aws:iam/policy:Policy"
BOUNDARY_POLICY = "flowbuilder-permissions-boundary"
# arn:<partition>:iam::<account>:policy/flowbuilder-permissions-boundary: path "/", the bootstrap's policy.
BOUNDARY_ARN = re.compile(rf"^arn:aws[a-z-]*:iam::\d{{12}}:policy/{BOUNDARY_POLICY}$")
# Identity policies: (type, property holding the JSON document).
IDENTITY_POLICIES = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
}
# Resource policies: who else may act on a resource.
RESOURCE_POLICIES = {
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:sqs/queue:Queue": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:sns/topic:Topic": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:kms/key:Key": "policy",
}
ATTACHMENTS = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",)

# Actions that take no resource narrower than "*" (the service authorization reference lists no
# resource type for them), so a statement of only these may say Resource "*".
WILDCARD_RESOURCE_ACTIONS = frozenset(
    {
        # Registry login token: account-wide by design; the image pull itself is scoped per repository.
        "ecr:GetAuthorizationToken",
        # X-Ray tracing (Lambda active tracing, ADOT sidecars).
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
        # CloudWatch metrics: narrowed with the cloudwatch:namespace condition instead.
        "cloudwatch:PutMetricData",
        "cloudwatch:GetMetricData",
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:ListMetrics",
        # ENI management for Lambda in a VPC and awsvpc tasks (what AWSLambdaVPCAccessExecutionRole grants).
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeVpcs",
        "ec2:DescribeInstances",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeLaunchTemplateVersions",
        # ECS Exec's SSM session channels.
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
        # Task definitions are registered and described by family, which has no ARN form in IAM.
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:ListTaskDefinitions",
        "ecs:ListClusters",
        # Karpenter's discovery: EC2 Describe calls and the Price List API take no resource (its
        # reference policy narrows them to the region with aws:RequestedRegion).
        "ec2:DescribeCapacityReservations",
        "ec2:DescribeImages",
        "ec2:DescribeInstanceStatus",
        "ec2:DescribeInstanceTypeOfferings",
        "ec2:DescribeLaunchTemplates",
        "ec2:DescribePlacementGroups",
        "ec2:DescribeSpotPriceHistory",
        "pricing:GetProducts",
        # Karpenter reads the cluster's zonal-shift status; the cluster is named in the condition
        # (arc-zonal-shift:ResourceIdentifier), as Karpenter's reference policy does.
        "arc-zonal-shift:GetManagedResource",
        # EKS cluster autoscaler's discovery calls.
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeLaunchConfigurations",
        "autoscaling:DescribeScalingActivities",
        "autoscaling:DescribeTags",
        # CloudWatch Logs vended delivery (Pipes, Step Functions and Lambda logging configs).
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "sqs:ListQueues",
        "secretsmanager:GetRandomPassword",
        "secretsmanager:ListSecrets",
        "kms:ListAliases",
        "sts:GetCallerIdentity",
        "tag:GetResources",
    }
)
_WILDCARD_LOWER = frozenset(action.lower() for action in WILDCARD_RESOURCE_ACTIONS)
ADMIN_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
ASSUME_ACTIONS = frozenset(
    {"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"}
)
# Service principals whose documentation offers aws:SourceAccount / aws:SourceArn against the confused deputy.
SOURCE_CONDITION_SERVICES = frozenset(
    {
        "ecs-tasks.amazonaws.com",
        "scheduler.amazonaws.com",
        "pipes.amazonaws.com",
        "vpc-flow-logs.amazonaws.com",
        "events.amazonaws.com",
        "states.amazonaws.com",
        "monitoring.rds.amazonaws.com",
    }
)


def statements(policy: Any) -> list[dict[str, Any]]:
    """The statements of a policy document given as JSON text or structure."""
    parsed = document(policy)
    if not isinstance(parsed, dict):
        return []
    return [s for s in as_list(parsed.get("Statement")) if isinstance(s, dict)]


def identity_documents(resource: Subject) -> list[tuple[str, Any]]:
    """(label, document) of every identity policy a resource carries."""
    if resource.type == ROLE:
        return [
            (f"inline policy {inline.get('name', '?')}", inline.get("policy"))
            for inline in resource.get("inlinePolicies", default=[])
            if isinstance(inline, dict)
        ]
    return [("policy", resource.get(IDENTITY_POLICIES[resource.type]))]


def _allows(statement: dict[str, Any]) -> bool:
    return statement.get("Effect", "Allow") == "Allow"


def _label(statement: dict[str, Any], index: int) -> str:
    return f"statement {statement.get('Sid') or index}"


def _is_the_boundary(resource: Subject) -> bool:
    """The bootstrap's permissions boundary: a ceiling on other roles, it grants nothing itself."""
    return (
        resource.project == BOOTSTRAP_PROJECT
        and resource.type == MANAGED_POLICY
        and resource.peek("name") == BOUNDARY_POLICY
    )


def _wildcard_actions(resource: Subject) -> Iterator[str]:
    if _is_the_boundary(resource):
        return
    for where, policy in identity_documents(resource):
        for index, statement in enumerate(statements(policy)):
            if not _allows(statement):
                continue
            if "NotAction" in statement:
                yield f"{where} {_label(statement, index)} allows NotAction (everything except a list)"
            wide = [a for a in as_list(statement.get("Action")) if a == "*" or str(a).endswith(":*")]
            if wide:
                yield f"{where} {_label(statement, index)} allows {', '.join(wide)}; name the actions"


def _wildcard_resources(resource: Subject) -> Iterator[str]:
    # The bootstrap's CI roles describe and list whole services (calls IAM scopes to no resource)
    # and its boundary caps services as a whole; tests/test_bootstrap.py holds them to that.
    if resource.project == BOOTSTRAP_PROJECT:
        return
    for where, policy in identity_documents(resource):
        for index, statement in enumerate(statements(policy)):
            if not _allows(statement):
                continue
            if "NotResource" in statement:
                yield f"{where} {_label(statement, index)} uses NotResource"
            if "*" not in as_list(statement.get("Resource")):
                continue
            # Action names are case-insensitive in IAM.
            scoped = sorted({str(a) for a in as_list(statement.get("Action")) if str(a).lower() not in _WILDCARD_LOWER})
            if scoped:
                yield (
                    f"{where} {_label(statement, index)} grants {', '.join(scoped)} on Resource '*'; "
                    "these actions accept ARNs, so list them"
                )


def _trust_scoped(role: Subject) -> Iterator[str]:
    trust = statements(role.get("assumeRolePolicy"))
    if not trust:
        yield "assumeRolePolicy is missing or not a policy document"
    for index, statement in enumerate(trust):
        if not _allows(statement):
            continue
        label = _label(statement, index)
        principal = statement.get("Principal")
        actions = set(map(str, as_list(statement.get("Action"))))
        if not actions or not actions <= ASSUME_ACTIONS:
            yield f"trust {label} allows {sorted(actions)}; only sts:AssumeRole* belongs in a trust policy"
        if principal == "*" or not isinstance(principal, dict) or "*" in as_list(principal.get("AWS")):
            yield f"trust {label} lets any principal assume the role"
            continue
        services = as_list(principal.get("Service"))
        if len(services) > 1:
            yield (
                f"trust {label} admits {len(services)} services ({', '.join(services)}); give each service its own role"
            )
        if principal.get("Federated") and not statement.get("Condition"):
            yield f"trust {label} admits a federated identity without conditions on its claims (sub, aud)"
        if principal.get("AWS") and not statement.get("Condition"):
            yield f"trust {label} admits AWS principals {as_list(principal.get('AWS'))} without a condition"


def _trust_source_condition(role: Subject) -> Iterator[str]:
    for index, statement in enumerate(statements(role.get("assumeRolePolicy"))):
        principal = statement.get("Principal")
        services = set(as_list(principal.get("Service"))) if isinstance(principal, dict) else set()
        conditions = {key.lower() for block in (statement.get("Condition") or {}).values() for key in block}
        if services & SOURCE_CONDITION_SERVICES and not conditions & {"aws:sourceaccount", "aws:sourcearn"}:
            yield (
                f"trust {_label(statement, index)} for {', '.join(sorted(services))} has no "
                "aws:SourceAccount or aws:SourceArn condition (confused deputy)"
            )


def _no_admin_policies(resource: Subject) -> Iterator[str]:
    arns = resource.get("managedPolicyArns", default=[]) if resource.type == ROLE else [resource.get("policyArn")]
    for arn in arns:
        name = str(arn or "").rsplit("/", 1)[-1]
        if name in ADMIN_POLICIES or name.endswith("FullAccess"):
            yield f"attaches {name}; write a policy with the actions this role needs"


def _carries_the_boundary(role: Subject) -> Iterator[str]:
    if role.project == BOOTSTRAP_PROJECT:
        return
    boundary = role.get("permissionsBoundary")
    if not isinstance(boundary, str) or not BOUNDARY_ARN.match(boundary):
        yield (
            f"permissionsBoundary is {boundary!r}; every role of the program carries "
            f"arn:<partition>:iam::<account>:policy/{BOUNDARY_POLICY}"
        )


def _no_public_resource_policy(resource: Subject) -> Iterator[str]:
    for index, statement in enumerate(statements(resource.get(RESOURCE_POLICIES[resource.type]))):
        principal = statement.get("Principal")
        anyone = principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))
        if _allows(statement) and anyone and not statement.get("Condition"):
            yield f"{_label(statement, index)} allows anyone ('*') with no condition"


POLICIES = [
    resource_rule(
        "iam-no-wildcard-actions",
        "IAM policies must not allow '*' or 'service:*' actions (nor NotAction).",
        (*IDENTITY_POLICIES, ROLE),
        _wildcard_actions,
        mandatory=True,
        remediation="List the API actions the principal calls.",
        tags=["iam"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "iam-no-wildcard-resources",
        "IAM policies must not grant on Resource '*' except actions AWS offers no narrower resource for.",
        (*IDENTITY_POLICIES, ROLE),
        _wildcard_resources,
        mandatory=True,
        remediation=(
            "Name the ARNs; move resource-less actions (e.g. ecr:GetAuthorizationToken) to their own statement."
        ),
        tags=["iam"],
    ),
    resource_rule(
        "iam-role-permissions-boundary",
        f"Every IAM role of the program carries the account's {BOUNDARY_POLICY} as its permissions boundary.",
        (ROLE,),
        _carries_the_boundary,
        mandatory=True,
        remediation=(
            "Create the role through the shared role helper, or set permissions_boundary to "
            f"arn:<partition>:iam::<account>:policy/{BOUNDARY_POLICY} (made by bootstrap/)."
        ),
        tags=["iam"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "iam-trust-scoped-to-service",
        (
            "Role trust policies must admit one service principal (or a conditioned "
            "federated identity), only sts:AssumeRole*."
        ),
        (ROLE,),
        _trust_scoped,
        mandatory=True,
        remediation="Use components.iam.service_trust_policy(<service>, account).",
        tags=["iam"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "iam-trust-source-condition",
        "Trust policies for services that support it should carry aws:SourceAccount or aws:SourceArn.",
        (ROLE,),
        _trust_source_condition,
        mandatory=False,
        remediation="Pass the account id to service_trust_policy so it adds aws:SourceAccount.",
        tags=["iam"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "iam-no-admin-managed-policies",
        "Roles must not get AdministratorAccess, PowerUserAccess or *FullAccess managed policies.",
        (*ATTACHMENTS, ROLE),
        _no_admin_policies,
        mandatory=True,
        remediation="Replace the managed policy with a least-privilege inline or customer policy.",
        tags=["iam"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "resource-policy-no-public-access",
        "Resource policies (SQS, SNS, ECR, S3, KMS, Secrets Manager) must not allow '*' without a condition.",
        tuple(RESOURCE_POLICIES),
        _no_public_resource_policy,
        mandatory=True,
        remediation="Name the principal, or add a condition such as aws:SourceArn / aws:SourceAccount.",
        tags=["iam"],
        severity=Severity.CRITICAL,
    ),
]
