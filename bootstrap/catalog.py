"""The AWS services the main program declares resources in, and what a CI role may do in each.

One :class:`Service` per IAM service prefix: the pulumi-aws type tokens whose
resources it holds, the ARN patterns of one stack's resources (names start
with ``flowbuilder-<stack>``; services that name resources by an AWS-made id
are scoped to the stack's account and region, and the roles' tag guard keeps
them off other stacks' resources), and four lists of actions:

* ``manage`` — deploy roles only, on the stack's resources;
* ``read`` — deploy roles on their stack's resources, the preview role on every stack's;
* ``listing`` — read-only calls IAM offers no narrower resource than ``*`` for (deploy and preview);
* ``create`` — calls IAM offers no narrower resource than ``*`` for that change something (deploy only).

Reads never include what returns a secret's value, an object's content or a
log's lines: the preview role runs pull-request code. ``group`` names the
managed policy the deploy role gets the statements in (a managed policy holds
at most 6,144 characters).

The module is long because it is a table, one action per line so a review
sees each grant; ``tests/test_bootstrap.py`` checks every action exists.

Its length is the catalogue itself: one entry per IAM service prefix the program uses, each a
short table of ARN patterns and actions; splitting it would scatter one list a reviewer reads
whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .names import PROJECT, stack_prefix


@dataclass(frozen=True)
class Scope:
    """Whose resources a set of statements names: one stack in one region, or every stack (``*``)."""

    partition: str
    account: str
    region: str
    stack: str
    hosted_zone_ids: tuple[str, ...] = ()
    zone_names: tuple[str, ...] = ()
    """Hosted zones the stack creates, by name (their ids are AWS-made)."""

    @property
    def prefix(self) -> str:
        return stack_prefix(self.stack)

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"


@dataclass(frozen=True)
class Service:
    prefix: str
    group: str
    types: tuple[str, ...]
    """Type-token prefixes (``aws:sqs/``) of the pulumi-aws resources this service's API manages."""
    resources: Callable[[Scope], list[str]]
    manage: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    listing: tuple[str, ...] = ()
    create: tuple[str, ...] = ()
    notes: str = field(default="", compare=False)


def _log_groups(s: Scope) -> list[str]:
    families = (
        f"/{PROJECT}/{s.stack}/",
        f"/aws/lambda/{s.prefix}-",
        f"/aws/rds/instance/{s.prefix}-",
        f"/aws/ecs/containerinsights/{s.prefix}-",
        f"/aws/eks/{s.prefix}-",
        f"/aws/codebuild/{s.prefix}-",
        # Step Functions, Pipes and API Gateway deliver to /aws/vendedlogs/<service>/...; WAF only to aws-waf-logs-*.
        f"/aws/vendedlogs/*/{s.prefix}-",
        f"aws-waf-logs-{s.prefix}-",
    )
    # The trailing * also covers the ":*" form (log streams) some actions authorize on.
    arns = [s.arn("logs", f"log-group:{family}*") for family in families]
    # The front door's WAF log group is the prefix itself, exactly (a * would reach a stack "<stack>2").
    waf = s.arn("logs", f"log-group:aws-waf-logs-{s.prefix}")
    return [*arns, waf, f"{waf}:*"]


def _elasticache(s: Scope) -> list[str]:
    kinds = ("serverlesscache", "replicationgroup", "cluster", "subnetgroup", "parametergroup", "user", "usergroup")
    return [s.arn("elasticache", f"{kind}:{s.prefix}-*") for kind in kinds] + [
        s.arn("elasticache", f"snapshot:{s.prefix}-*"),
        s.arn("elasticache", f"serverlesscachesnapshot:{s.prefix}-*"),
    ]


def _wafv2(s: Scope) -> list[str]:
    scopes = [("regional", s.region), ("global", "us-east-1")]  # CloudFront's web ACLs live in us-east-1
    arns = [
        s.arn("wafv2", f"{where}/{kind}/{s.prefix}-*/*", region=region)
        for where, region in scopes
        for kind in ("webacl", "ipset", "rulegroup", "regexpatternset")
    ]
    arns += [s.arn("wafv2", f"{where}/managedruleset/*/*", region=region) for where, region in scopes]
    # AssociateWebACL also authorizes on the resource the web ACL protects.
    arns += [
        s.arn("elasticloadbalancing", f"loadbalancer/app/{s.prefix}-*/*"),
        f"arn:{s.partition}:apigateway:{s.region}::/apis/*",
    ]
    return arns


SERVICES: tuple[Service, ...] = (
    # -- network and edge -------------------------------------------------------------
    Service(
        "ec2",
        "network",
        ("aws:ec2/", "aws:vpc/"),
        lambda s: [
            s.arn("ec2", "*"),
            s.arn("ec2", "image/*", account=""),
            s.arn("ec2", "snapshot/*", account=""),
        ],
        manage=(
            "ec2:CreateVpc",
            "ec2:DeleteVpc",
            "ec2:ModifyVpcAttribute",
            "ec2:AssociateVpcCidrBlock",
            "ec2:DisassociateVpcCidrBlock",
            "ec2:CreateSubnet",
            "ec2:DeleteSubnet",
            "ec2:ModifySubnetAttribute",
            "ec2:CreateInternetGateway",
            "ec2:DeleteInternetGateway",
            "ec2:AttachInternetGateway",
            "ec2:DetachInternetGateway",
            "ec2:CreateNatGateway",
            "ec2:DeleteNatGateway",
            "ec2:AllocateAddress",
            "ec2:ReleaseAddress",
            "ec2:AssociateAddress",
            "ec2:DisassociateAddress",
            "ec2:CreateRouteTable",
            "ec2:DeleteRouteTable",
            "ec2:CreateRoute",
            "ec2:DeleteRoute",
            "ec2:ReplaceRoute",
            "ec2:AssociateRouteTable",
            "ec2:DisassociateRouteTable",
            "ec2:ReplaceRouteTableAssociation",
            "ec2:CreateSecurityGroup",
            "ec2:DeleteSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:ModifySecurityGroupRules",
            "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
            "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
            "ec2:CreateVpcEndpoint",
            "ec2:ModifyVpcEndpoint",
            "ec2:DeleteVpcEndpoints",
            "ec2:CreateFlowLogs",
            "ec2:DeleteFlowLogs",
            "ec2:RunInstances",
            "ec2:TerminateInstances",
            "ec2:StartInstances",
            "ec2:StopInstances",
            "ec2:ModifyInstanceAttribute",
            "ec2:ModifyInstanceMetadataOptions",
            "ec2:CreateLaunchTemplate",
            "ec2:CreateLaunchTemplateVersion",
            "ec2:ModifyLaunchTemplate",
            "ec2:DeleteLaunchTemplate",
            "ec2:DeleteLaunchTemplateVersions",
            "ec2:CreateTags",
            "ec2:DeleteTags",
        ),
        listing=("ec2:Describe*",),
        notes="EC2 names resources by id: scoped to the stack's account and region, and by the tag guard",
    ),
    Service(
        "elasticloadbalancing",
        "network",
        ("aws:lb/", "aws:alb/"),
        lambda s: [
            s.arn("elasticloadbalancing", f"loadbalancer/app/{s.prefix}-*/*"),
            s.arn("elasticloadbalancing", f"targetgroup/{s.prefix}-*/*"),
            s.arn("elasticloadbalancing", f"listener/app/{s.prefix}-*/*"),
            s.arn("elasticloadbalancing", f"listener-rule/app/{s.prefix}-*/*"),
        ],
        manage=(
            "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:DeleteLoadBalancer",
            "elasticloadbalancing:ModifyLoadBalancerAttributes",
            "elasticloadbalancing:SetSecurityGroups",
            "elasticloadbalancing:SetSubnets",
            "elasticloadbalancing:SetIpAddressType",
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes",
            "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:ModifyListener",
            "elasticloadbalancing:ModifyListenerAttributes",
            "elasticloadbalancing:AddListenerCertificates",
            "elasticloadbalancing:RemoveListenerCertificates",
            "elasticloadbalancing:CreateRule",
            "elasticloadbalancing:DeleteRule",
            "elasticloadbalancing:ModifyRule",
            "elasticloadbalancing:SetRulePriorities",
            "elasticloadbalancing:SetWebAcl",
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RemoveTags",
        ),
        listing=("elasticloadbalancing:Describe*",),
    ),
    Service(
        "acm",
        "edge",
        ("aws:acm/",),
        lambda s: [s.arn("acm", "certificate/*"), s.arn("acm", "certificate/*", region="us-east-1")],
        manage=(
            "acm:DeleteCertificate",
            "acm:AddTagsToCertificate",
            "acm:RemoveTagsFromCertificate",
            "acm:UpdateCertificateOptions",
        ),
        read=("acm:DescribeCertificate", "acm:GetCertificate", "acm:ListTagsForCertificate"),
        listing=("acm:ListCertificates",),
        create=("acm:RequestCertificate",),
        notes="certificates are named by id; CloudFront's live in us-east-1",
    ),
    Service(
        "route53",
        "edge",
        ("aws:route53/",),
        lambda s: [f"arn:{s.partition}:route53:::hostedzone/{zone}" for zone in s.hosted_zone_ids],
        manage=("route53:ChangeResourceRecordSets", "route53:ChangeTagsForResource"),
        read=("route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ListTagsForResource"),
        listing=("route53:ListHostedZones", "route53:ListHostedZonesByName", "route53:GetChange"),
        notes="only the hosted zones the stack's bootstrap entry lists (hostedZoneIds)",
    ),
    Service(
        "wafv2",
        "edge",
        ("aws:wafv2/",),
        _wafv2,
        manage=(
            "wafv2:CreateWebACL",
            "wafv2:UpdateWebACL",
            "wafv2:DeleteWebACL",
            "wafv2:AssociateWebACL",
            "wafv2:DisassociateWebACL",
            "wafv2:PutLoggingConfiguration",
            "wafv2:DeleteLoggingConfiguration",
            "wafv2:CreateIPSet",
            "wafv2:UpdateIPSet",
            "wafv2:DeleteIPSet",
            "wafv2:TagResource",
            "wafv2:UntagResource",
        ),
        read=(
            "wafv2:GetWebACL",
            "wafv2:GetWebACLForResource",
            "wafv2:GetLoggingConfiguration",
            "wafv2:GetIPSet",
            "wafv2:ListTagsForResource",
        ),
        listing=(
            "wafv2:ListWebACLs",
            "wafv2:ListIPSets",
            "wafv2:DescribeManagedRuleGroup",
            "wafv2:ListAvailableManagedRuleGroups",
            "wafv2:ListAvailableManagedRuleGroupVersions",
            "wafv2:CheckCapacity",
        ),
    ),
    Service(
        "cloudfront",
        "edge",
        ("aws:cloudfront/",),
        lambda s: [
            f"arn:{s.partition}:cloudfront::{s.account}:{kind}/*"
            for kind in (
                "distribution",
                "origin-access-control",
                "cache-policy",
                "origin-request-policy",
                "response-headers-policy",
            )
        ],
        manage=(
            "cloudfront:CreateDistribution",
            "cloudfront:CreateDistributionWithTags",
            "cloudfront:UpdateDistribution",
            "cloudfront:DeleteDistribution",
            "cloudfront:CreateOriginAccessControl",
            "cloudfront:UpdateOriginAccessControl",
            "cloudfront:DeleteOriginAccessControl",
            "cloudfront:CreateResponseHeadersPolicy",
            "cloudfront:UpdateResponseHeadersPolicy",
            "cloudfront:DeleteResponseHeadersPolicy",
            "cloudfront:CreateCachePolicy",
            "cloudfront:UpdateCachePolicy",
            "cloudfront:DeleteCachePolicy",
            "cloudfront:TagResource",
            "cloudfront:UntagResource",
        ),
        read=(
            "cloudfront:GetDistribution",
            "cloudfront:GetDistributionConfig",
            "cloudfront:GetOriginAccessControl",
            "cloudfront:GetResponseHeadersPolicy",
            "cloudfront:GetCachePolicy",
            "cloudfront:ListTagsForResource",
        ),
        listing=(
            "cloudfront:ListDistributions",
            "cloudfront:ListCachePolicies",
            "cloudfront:ListOriginAccessControls",
            "cloudfront:ListResponseHeadersPolicies",
        ),
        notes="CloudFront names resources by id (global): scoped to the account, and by the tag guard",
    ),
    # -- compute -------------------------------------------------------------------------
    Service(
        "ecs",
        "compute",
        ("aws:ecs/",),
        lambda s: [
            s.arn("ecs", f"cluster/{s.prefix}-*"),
            s.arn("ecs", f"service/{s.prefix}-*/*"),
            s.arn("ecs", f"task-definition/{s.prefix}-*:*"),
        ],
        manage=(
            "ecs:CreateCluster",
            "ecs:UpdateCluster",
            "ecs:UpdateClusterSettings",
            "ecs:DeleteCluster",
            "ecs:PutClusterCapacityProviders",
            "ecs:CreateService",
            "ecs:UpdateService",
            "ecs:DeleteService",
            "ecs:TagResource",
            "ecs:UntagResource",
        ),
        read=("ecs:DescribeClusters", "ecs:DescribeServices", "ecs:ListTagsForResource"),
        listing=(
            "ecs:ListServices",
            "ecs:DescribeTaskDefinition",
            "ecs:ListTaskDefinitions",
            "ecs:ListClusters",
            "ecs:DescribeCapacityProviders",
        ),
        create=("ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition"),
        notes="task definitions are registered by family, which IAM has no resource form for",
    ),
    Service(
        "ecr",
        "compute",
        ("aws:ecr/",),
        lambda s: [s.arn("ecr", f"repository/{s.prefix}/*")],
        manage=(
            "ecr:CreateRepository",
            "ecr:DeleteRepository",
            "ecr:PutLifecyclePolicy",
            "ecr:DeleteLifecyclePolicy",
            "ecr:PutImageScanningConfiguration",
            "ecr:PutImageTagMutability",
            "ecr:SetRepositoryPolicy",
            "ecr:DeleteRepositoryPolicy",
            "ecr:BatchDeleteImage",
            "ecr:TagResource",
            "ecr:UntagResource",
            # A release pushes images into the stack's own repositories.
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
            # Lambda reads the image of a function the caller creates, with the caller's rights.
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
        ),
        read=(
            "ecr:DescribeRepositories",
            "ecr:GetLifecyclePolicy",
            "ecr:GetRepositoryPolicy",
            "ecr:ListTagsForResource",
            "ecr:DescribeImages",
            "ecr:ListImages",
            "ecr:BatchCheckLayerAvailability",
        ),
        listing=("ecr:GetAuthorizationToken",),
    ),
    Service(
        "lambda",
        "compute",
        ("aws:lambda/",),
        lambda s: [s.arn("lambda", f"function:{s.prefix}-*")],
        manage=(
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:PublishVersion",
            "lambda:PutFunctionConcurrency",
            "lambda:DeleteFunctionConcurrency",
            "lambda:AddPermission",
            "lambda:RemovePermission",
            "lambda:PutFunctionEventInvokeConfig",
            "lambda:UpdateFunctionEventInvokeConfig",
            "lambda:DeleteFunctionEventInvokeConfig",
            "lambda:TagResource",
            "lambda:UntagResource",
            # The migration runs inside `pulumi up` as a Lambda invocation.
            "lambda:InvokeFunction",
        ),
        read=(
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:GetFunctionConcurrency",
            "lambda:GetFunctionCodeSigningConfig",
            "lambda:GetFunctionEventInvokeConfig",
            "lambda:GetFunctionRecursionConfig",
            "lambda:GetRuntimeManagementConfig",
            "lambda:GetPolicy",
            "lambda:ListTags",
            "lambda:ListVersionsByFunction",
        ),
        listing=("lambda:ListFunctions", "lambda:GetAccountSettings"),
    ),
    Service(
        "eks",
        "platform",
        ("aws:eks/",),
        lambda s: [
            s.arn("eks", f"cluster/{s.prefix}-*"),
            s.arn("eks", f"nodegroup/{s.prefix}-*/*"),
            s.arn("eks", f"addon/{s.prefix}-*/*"),
            s.arn("eks", f"access-entry/{s.prefix}-*/*"),
            s.arn("eks", f"podidentityassociation/{s.prefix}-*/*"),
            f"arn:{s.partition}:eks::aws:cluster-access-policy/*",
        ],
        manage=(
            "eks:CreateCluster",
            "eks:DeleteCluster",
            "eks:UpdateClusterConfig",
            "eks:UpdateClusterVersion",
            "eks:AssociateEncryptionConfig",
            "eks:CreateNodegroup",
            "eks:DeleteNodegroup",
            "eks:UpdateNodegroupConfig",
            "eks:UpdateNodegroupVersion",
            "eks:CreateAddon",
            "eks:DeleteAddon",
            "eks:UpdateAddon",
            "eks:CreateAccessEntry",
            "eks:UpdateAccessEntry",
            "eks:DeleteAccessEntry",
            "eks:AssociateAccessPolicy",
            "eks:DisassociateAccessPolicy",
            "eks:CreatePodIdentityAssociation",
            "eks:UpdatePodIdentityAssociation",
            "eks:DeletePodIdentityAssociation",
            "eks:TagResource",
            "eks:UntagResource",
        ),
        read=(
            "eks:DescribeCluster",
            "eks:DescribeNodegroup",
            "eks:DescribeAddon",
            "eks:DescribeAccessEntry",
            "eks:DescribePodIdentityAssociation",
            "eks:DescribeUpdate",
            "eks:ListNodegroups",
            "eks:ListAddons",
            "eks:ListAccessEntries",
            "eks:ListAssociatedAccessPolicies",
            "eks:ListPodIdentityAssociations",
            "eks:ListUpdates",
            "eks:ListTagsForResource",
        ),
        listing=(
            "eks:ListClusters",
            "eks:ListAccessPolicies",
            "eks:DescribeAddonVersions",
            "eks:DescribeAddonConfiguration",
            "eks:DescribeClusterVersions",
        ),
    ),
    Service(
        "application-autoscaling",
        "compute",
        ("aws:appautoscaling/",),
        lambda s: [s.arn("application-autoscaling", "scalable-target/*")],
        manage=(
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DeleteScalingPolicy",
            "application-autoscaling:TagResource",
            "application-autoscaling:UntagResource",
        ),
        read=("application-autoscaling:ListTagsForResource",),
        listing=(
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:DescribeScalingPolicies",
            "application-autoscaling:DescribeScalingActivities",
        ),
        notes="scalable targets are named by id: scoped to the account and region, and by the tag guard",
    ),
    Service(
        "codebuild",
        "platform",
        ("aws:codebuild/",),
        lambda s: [s.arn("codebuild", f"project/{s.prefix}-*")],
        manage=(
            "codebuild:CreateProject",
            "codebuild:UpdateProject",
            "codebuild:DeleteProject",
            "codebuild:CreateWebhook",
            "codebuild:UpdateWebhook",
            "codebuild:DeleteWebhook",
        ),
        read=("codebuild:BatchGetProjects",),
        listing=("codebuild:ListProjects",),
    ),
    Service(
        "codeconnections",
        "platform",
        ("aws:codeconnections/", "aws:codestarconnections/"),
        lambda s: [s.arn("codeconnections", "connection/*"), s.arn("codestar-connections", "connection/*")],
        # The runner project uses a connection a person approved once in the console.
        manage=(
            "codeconnections:PassConnection",
            "codeconnections:UseConnection",
            "codestar-connections:PassConnection",
            "codestar-connections:UseConnection",
        ),
        read=("codeconnections:GetConnection", "codestar-connections:GetConnection"),
        listing=("codeconnections:ListConnections",),
    ),
    # -- integration -----------------------------------------------------------------------
    Service(
        "sqs",
        "integration",
        ("aws:sqs/",),
        lambda s: [s.arn("sqs", f"{s.prefix}-*")],
        manage=("sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue"),
        read=("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:ListQueueTags", "sqs:ListDeadLetterSourceQueues"),
        listing=("sqs:ListQueues",),
    ),
    Service(
        "sns",
        "integration",
        ("aws:sns/",),
        # Subscriptions are <topic ARN>:<id>, inside the same pattern.
        lambda s: [s.arn("sns", f"{s.prefix}-*")],
        manage=(
            "sns:CreateTopic",
            "sns:DeleteTopic",
            "sns:SetTopicAttributes",
            "sns:Subscribe",
            "sns:Unsubscribe",
            "sns:SetSubscriptionAttributes",
            "sns:TagResource",
            "sns:UntagResource",
        ),
        read=(
            "sns:GetTopicAttributes",
            "sns:GetSubscriptionAttributes",
            "sns:ListSubscriptionsByTopic",
            "sns:ListTagsForResource",
        ),
        listing=("sns:ListTopics",),
    ),
    Service(
        "events",
        "integration",
        ("aws:cloudwatch/eventRule:", "aws:cloudwatch/eventTarget:"),
        lambda s: [s.arn("events", f"rule/{s.prefix}-*")],
        manage=(
            "events:PutRule",
            "events:DeleteRule",
            "events:EnableRule",
            "events:DisableRule",
            "events:PutTargets",
            "events:RemoveTargets",
            "events:TagResource",
            "events:UntagResource",
        ),
        read=("events:DescribeRule", "events:ListTargetsByRule", "events:ListTagsForResource"),
        listing=("events:ListRules",),
    ),
    Service(
        "scheduler",
        "integration",
        ("aws:scheduler/",),
        lambda s: [s.arn("scheduler", f"schedule/*/{s.prefix}-*"), s.arn("scheduler", f"schedule-group/{s.prefix}-*")],
        manage=(
            "scheduler:CreateSchedule",
            "scheduler:UpdateSchedule",
            "scheduler:DeleteSchedule",
            "scheduler:CreateScheduleGroup",
            "scheduler:DeleteScheduleGroup",
            "scheduler:TagResource",
            "scheduler:UntagResource",
        ),
        read=("scheduler:GetSchedule", "scheduler:GetScheduleGroup", "scheduler:ListTagsForResource"),
        listing=("scheduler:ListSchedules", "scheduler:ListScheduleGroups"),
    ),
    Service(
        "states",
        "integration",
        ("aws:sfn/",),
        lambda s: [s.arn("states", f"stateMachine:{s.prefix}-*")],
        manage=(
            "states:CreateStateMachine",
            "states:UpdateStateMachine",
            "states:DeleteStateMachine",
            "states:TagResource",
            "states:UntagResource",
        ),
        read=(
            "states:DescribeStateMachine",
            "states:ListStateMachineVersions",
            "states:ListStateMachineAliases",
            "states:ListTagsForResource",
        ),
        listing=("states:ListStateMachines",),
    ),
    Service(
        "pipes",
        "integration",
        ("aws:pipes/",),
        lambda s: [s.arn("pipes", f"pipe/{s.prefix}-*")],
        manage=(
            "pipes:CreatePipe",
            "pipes:UpdatePipe",
            "pipes:DeletePipe",
            "pipes:StartPipe",
            "pipes:StopPipe",
            "pipes:TagResource",
            "pipes:UntagResource",
        ),
        read=("pipes:DescribePipe", "pipes:ListTagsForResource"),
        listing=("pipes:ListPipes",),
    ),
    Service(
        "apigateway",
        "integration",
        ("aws:apigatewayv2/", "aws:apigateway/"),
        # API Gateway ARNs carry no account; APIs are named by id (the tag guard applies).
        lambda s: [
            f"arn:{s.partition}:apigateway:{s.region}::/{path}"
            for path in ("apis", "apis/*", "tags/*", "domainnames", "domainnames/*")
        ],
        manage=("apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE", "apigateway:SetWebACL"),
        read=("apigateway:GET",),
    ),
    Service(
        "ses",
        "integration",
        ("aws:sesv2/", "aws:ses/"),
        lambda s: [s.arn("ses", "identity/*"), s.arn("ses", f"configuration-set/{s.prefix}-*")],
        manage=(
            "ses:CreateEmailIdentity",
            "ses:DeleteEmailIdentity",
            "ses:PutEmailIdentityDkimAttributes",
            # Easy DKIM's key length (RSA 2048) is set and changed through the signing attributes.
            "ses:PutEmailIdentityDkimSigningAttributes",
            "ses:PutEmailIdentityMailFromAttributes",
            "ses:PutEmailIdentityFeedbackAttributes",
            "ses:PutEmailIdentityConfigurationSetAttributes",
            "ses:CreateConfigurationSet",
            "ses:DeleteConfigurationSet",
            "ses:PutConfigurationSet*",
            "ses:CreateConfigurationSetEventDestination",
            "ses:UpdateConfigurationSetEventDestination",
            "ses:DeleteConfigurationSetEventDestination",
            "ses:TagResource",
            "ses:UntagResource",
        ),
        read=(
            "ses:GetEmailIdentity",
            "ses:GetConfigurationSet",
            "ses:GetConfigurationSetEventDestinations",
            "ses:ListTagsForResource",
        ),
        listing=("ses:ListEmailIdentities", "ses:ListConfigurationSets", "ses:GetAccount"),
        notes="identities are named by their domain: any identity of the account, guarded by tags",
    ),
    # -- data --------------------------------------------------------------------------------
    Service(
        "rds",
        "data",
        ("aws:rds/",),
        lambda s: [
            s.arn("rds", f"db:{s.prefix}-*"),
            s.arn("rds", f"pg:{s.prefix}-*"),
            s.arn("rds", f"subgrp:{s.prefix}-*"),
            # The final snapshot on delete is <identifier>-final.
            s.arn("rds", f"snapshot:{s.prefix}-*"),
            # An instance without an option group of its own gets the engine's default one.
            s.arn("rds", "og:default:*"),
        ],
        manage=(
            "rds:CreateDBInstance",
            "rds:ModifyDBInstance",
            "rds:DeleteDBInstance",
            "rds:RebootDBInstance",
            "rds:CreateDBSnapshot",
            "rds:CreateDBParameterGroup",
            "rds:ModifyDBParameterGroup",
            "rds:ResetDBParameterGroup",
            "rds:DeleteDBParameterGroup",
            "rds:CreateDBSubnetGroup",
            "rds:ModifyDBSubnetGroup",
            "rds:DeleteDBSubnetGroup",
            "rds:AddTagsToResource",
            "rds:RemoveTagsFromResource",
        ),
        read=("rds:ListTagsForResource",),
        listing=("rds:Describe*",),
    ),
    Service(
        "s3",
        "data",
        ("aws:s3/",),
        lambda s: [f"arn:{s.partition}:s3:::{s.prefix}-*"],
        manage=(
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutBucketOwnershipControls",
            "s3:PutEncryptionConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:PutBucketVersioning",
            "s3:PutBucketTagging",
            "s3:PutBucketCORS",
            "s3:PutBucketNotification",
        ),
        # A bucket's read in the provider asks for every sub-configuration, set or not.
        read=("s3:GetBucket*", "s3:Get*Configuration", "s3:ListBucket"),
    ),
    Service(
        "secretsmanager",
        "data",
        ("aws:secretsmanager/",),
        lambda s: [
            s.arn("secretsmanager", f"secret:{s.prefix}-*"),
            s.arn("secretsmanager", f"secret:{PROJECT}/{s.stack}/*"),
        ],
        manage=(
            "secretsmanager:CreateSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:DeleteSecret",
            "secretsmanager:RestoreSecret",
            "secretsmanager:PutResourcePolicy",
            "secretsmanager:DeleteResourcePolicy",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
            # The provider reads back a secret version it wrote; only the stack's own secrets.
            "secretsmanager:GetSecretValue",
        ),
        read=(
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetResourcePolicy",
            "secretsmanager:ListSecretVersionIds",
        ),
        listing=("secretsmanager:ListSecrets",),
    ),
    Service(
        "kms",
        "data",
        ("aws:kms/",),
        # Keys are named by id (the tag guard keeps other stacks' keys out); aliases by name.
        # alias/<prefix> is the stack key's.
        lambda s: [s.arn("kms", "key/*"), s.arn("kms", f"alias/{s.prefix}"), s.arn("kms", f"alias/{s.prefix}-*")],
        manage=(
            "kms:CreateAlias",
            "kms:UpdateAlias",
            "kms:DeleteAlias",
            "kms:PutKeyPolicy",
            "kms:EnableKeyRotation",
            "kms:DisableKeyRotation",
            "kms:EnableKey",
            "kms:DisableKey",
            "kms:UpdateKeyDescription",
            "kms:ScheduleKeyDeletion",
            "kms:CancelKeyDeletion",
            "kms:TagResource",
            "kms:UntagResource",
            # EKS secrets encryption and secrets under the stack's keys use the key with the caller's rights.
            "kms:CreateGrant",
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:GenerateDataKey",
        ),
        read=("kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"),
        listing=("kms:ListAliases", "kms:ListKeys"),
        create=("kms:CreateKey",),
    ),
    Service(
        "elasticache",
        "data",
        ("aws:elasticache/",),
        _elasticache,
        manage=(
            "elasticache:CreateServerlessCache",
            "elasticache:ModifyServerlessCache",
            "elasticache:DeleteServerlessCache",
            "elasticache:CreateReplicationGroup",
            "elasticache:ModifyReplicationGroup",
            "elasticache:DeleteReplicationGroup",
            "elasticache:CreateCacheSubnetGroup",
            "elasticache:ModifyCacheSubnetGroup",
            "elasticache:DeleteCacheSubnetGroup",
            "elasticache:CreateCacheParameterGroup",
            "elasticache:ModifyCacheParameterGroup",
            "elasticache:DeleteCacheParameterGroup",
            "elasticache:CreateUser",
            "elasticache:ModifyUser",
            "elasticache:DeleteUser",
            "elasticache:CreateUserGroup",
            "elasticache:ModifyUserGroup",
            "elasticache:DeleteUserGroup",
            "elasticache:CreateSnapshot",
            "elasticache:AddTagsToResource",
            "elasticache:RemoveTagsFromResource",
        ),
        read=("elasticache:ListTagsForResource",),
        listing=("elasticache:Describe*",),
    ),
    Service(
        "backup",
        "data",
        ("aws:backup/",),
        lambda s: [
            # Copies go to a vault of the same name in another region.
            s.arn("backup", f"backup-vault:{s.prefix}-*", region="*"),
            s.arn("backup", "backup-plan:*"),
        ],
        manage=(
            "backup:CreateBackupVault",
            "backup:DeleteBackupVault",
            "backup:PutBackupVaultAccessPolicy",
            "backup:DeleteBackupVaultAccessPolicy",
            "backup:CreateBackupPlan",
            "backup:UpdateBackupPlan",
            "backup:DeleteBackupPlan",
            "backup:CreateBackupSelection",
            "backup:DeleteBackupSelection",
            "backup:PutBackupVaultLockConfiguration",
            "backup:DeleteBackupVaultLockConfiguration",
            "backup:TagResource",
            "backup:UntagResource",
        ),
        read=(
            "backup:DescribeBackupVault",
            "backup:GetBackupVaultAccessPolicy",
            "backup:GetBackupPlan",
            "backup:GetBackupSelection",
            "backup:ListTags",
        ),
        listing=("backup:ListBackupPlans", "backup:ListBackupVaults", "backup:ListBackupSelections"),
        # Creating a vault mounts its storage with the caller's rights.
        create=("backup-storage:MountCapsule",),
    ),
    # -- observability ---------------------------------------------------------------------
    Service(
        "logs",
        "platform",
        ("aws:cloudwatch/log",),
        _log_groups,
        manage=(
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:AssociateKmsKey",
            "logs:DisassociateKmsKey",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:TagLogGroup",
            "logs:UntagLogGroup",
        ),
        read=("logs:ListTagsForResource", "logs:ListTagsLogGroup"),
        listing=(
            "logs:DescribeLogGroups",
            "logs:DescribeResourcePolicies",
            "logs:GetLogDelivery",
            "logs:ListLogDeliveries",
        ),
        # Vended log delivery (Step Functions, Pipes, API Gateway access logs, WAF) is account-wide.
        create=(
            "logs:CreateLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:PutResourcePolicy",
            "logs:DeleteResourcePolicy",
        ),
    ),
    Service(
        "cloudwatch",
        "platform",
        ("aws:cloudwatch/metricAlarm:", "aws:cloudwatch/compositeAlarm:", "aws:cloudwatch/dashboard:"),
        lambda s: [
            s.arn("cloudwatch", f"alarm:{s.prefix}-*"),
            # Target tracking policies create their alarms with the caller's rights, named after the service.
            s.arn("cloudwatch", f"alarm:TargetTracking-service/{s.prefix}-*"),
            s.arn("cloudwatch", f"dashboard/{s.prefix}-*", region=""),
        ],
        manage=(
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:PutCompositeAlarm",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:EnableAlarmActions",
            "cloudwatch:DisableAlarmActions",
            "cloudwatch:PutDashboard",
            "cloudwatch:DeleteDashboards",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
        ),
        read=("cloudwatch:GetDashboard", "cloudwatch:ListTagsForResource"),
        listing=("cloudwatch:DescribeAlarms", "cloudwatch:ListDashboards"),
    ),
    Service(
        "budgets",
        "platform",
        ("aws:budgets/",),
        lambda s: [f"arn:{s.partition}:budgets::{s.account}:budget/{s.prefix}-*"],
        manage=("budgets:ModifyBudget", "budgets:TagResource", "budgets:UntagResource"),
        read=("budgets:ViewBudget", "budgets:ListTagsForResource"),
    ),
    Service(
        "ssm",
        "platform",
        (),
        # Public parameters only (the NAT instance's and EKS nodes' AMI ids), never the account's own.
        lambda s: [
            s.arn("ssm", "parameter/aws/service/*", account=""),
            s.arn("ssm", "parameter/aws/service/*"),
        ],
        read=("ssm:GetParameter", "ssm:GetParameters"),
    ),
)

IAM_TYPES = ("aws:iam/",)
"""IAM's own resources; the roles' IAM statements are built apart (they carry the boundary conditions)."""


def service_prefix_for(type_token: str) -> str | None:
    """The IAM service prefix whose API manages resources of ``type_token`` (``aws:sqs/queue:Queue`` -> sqs)."""
    if type_token.startswith(IAM_TYPES):
        return "iam"
    matches = [(len(prefix), s.prefix) for s in SERVICES for prefix in s.types if type_token.startswith(prefix)]
    return max(matches)[1] if matches else None
