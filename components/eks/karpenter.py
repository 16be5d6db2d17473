"""Karpenter's AWS side: node role, controller role, interruption queue and its EventBridge rules.

The controller's permissions mirror Karpenter's own CloudFormation reference
(``website/content/en/docs/getting-started/getting-started-with-karpenter/cloudformation.yaml``
in aws/karpenter-provider-aws, v1): everything it creates or deletes must carry
``kubernetes.io/cluster/<cluster>=owned``, ``eks:eks-cluster-name=<cluster>`` and a
``karpenter.sh/nodepool`` tag, so it can only act on its own nodes. The Helm release, NodePools
and EC2NodeClass are the mesh project's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ..context import StackContext
from ..iam import iam_role, pod_identity_trust_policy, policy_document, role_policy, statement
from .names import KARPENTER_SERVICE_ACCOUNT, owned_tag
from .nodes import node_role

MESSAGE_RETENTION_SECONDS = 300
"""Karpenter's reference: an interruption older than five minutes is past acting on."""
INTERRUPTION_EVENTS: dict[str, tuple[str, str]] = {
    "health": ("aws.health", "AWS Health Event"),
    "spot": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "state": ("aws.ec2", "EC2 Instance State-change Notification"),
}
"""Rule label -> (source, detail-type) of what Karpenter drains a node ahead of."""


@dataclass
class KarpenterArgs:
    """Inputs of :class:`Karpenter`."""

    context: StackContext
    cluster_name: str
    """The cluster's physical name (the IAM conditions are written with it)."""
    cluster: aws.eks.Cluster


class Karpenter(pulumi.ComponentResource):
    """What Karpenter needs from AWS before its controller starts in ``kube-system``.

    Creates:

    * the node role Karpenter's EC2NodeClass names (AmazonEKSWorkerNodePolicy,
      AmazonEKS_CNI_Policy, AmazonEC2ContainerRegistryPullOnly, AmazonSSMManagedInstanceCore) and
      its EC2_LINUX access entry, so the nodes it launches can join;
    * the controller's role, trusted through EKS Pod Identity for ``kube-system/karpenter`` only,
      with Karpenter v1's controller policy scoped to this cluster;
    * the interruption queue ``<prefix>-karpenter`` (SQS-managed encryption, 300 s retention, TLS
      only, EventBridge and SQS may send) and four EventBridge rules into it: Spot interruption,
      rebalance recommendation, instance state change, AWS Health scheduled changes.
    """

    node_role_name: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    controller_role_arn: pulumi.Output[str]
    queue_name: pulumi.Output[str]
    queue_arn: pulumi.Output[str]

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:Karpenter", name, None, opts)
        self._name, self._context, self._cluster = name, args.context, args.cluster_name
        child = pulumi.ResourceOptions(parent=self)
        role, attachments = node_role(
            f"{name}-karpenter-node", args.context, f"Nodes Karpenter launches into {args.cluster_name}", self
        )
        self.node_role_name, self.node_role_arn = role.name, role.arn
        aws.eks.AccessEntry(
            f"{name}-karpenter-node",
            cluster_name=args.cluster.name,
            principal_arn=role.arn,
            type="EC2_LINUX",
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )
        queue = self._interruption_queue()
        controller = iam_role(
            f"{name}-karpenter-controller",
            boundary_arn=args.context.permissions_boundary_arn,
            assume_role_policy=pod_identity_trust_policy(args.context.account.account, args.cluster.arn),
            description=f"Karpenter controller of {args.cluster_name}",
            opts=child,
        )
        self.controller_role_arn = controller.arn
        policy = role_policy(
            f"{name}-karpenter-controller",
            controller,
            controller_statements(args.context, args.cluster_name, role.arn, queue.arn),
            child,
        )
        namespace, service_account = KARPENTER_SERVICE_ACCOUNT
        aws.eks.PodIdentityAssociation(
            f"{name}-karpenter-controller",
            cluster_name=args.cluster.name,
            namespace=namespace,
            service_account=service_account,
            role_arn=controller.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs(
            {
                "node_role_name": self.node_role_name,
                "controller_role_arn": self.controller_role_arn,
                "queue_name": self.queue_name,
            }
        )

    def _interruption_queue(self) -> aws.sqs.Queue:
        child = pulumi.ResourceOptions(parent=self)
        queue = aws.sqs.Queue(
            f"{self._name}-karpenter",
            name=self._context.name("sqs", "karpenter"),
            message_retention_seconds=MESSAGE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            opts=child,
        )
        self.queue_name, self.queue_arn = queue.name, queue.arn
        aws.sqs.QueuePolicy(
            f"{self._name}-karpenter",
            queue_url=queue.url,
            policy=policy_document(
                {
                    "Sid": "EventBridgeDelivers",
                    "Effect": "Allow",
                    "Principal": {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]},
                    "Action": "sqs:SendMessage",
                    "Resource": queue.arn,
                },
                {
                    "Sid": "DenyHTTP",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sqs:*",
                    "Resource": queue.arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ),
            opts=child,
        )
        for label, (source, detail_type) in INTERRUPTION_EVENTS.items():
            rule = aws.cloudwatch.EventRule(
                f"{self._name}-karpenter-{label}",
                name=self._context.name("event-rule", f"karpenter-{label}"),
                description=f"{detail_type} -> Karpenter's interruption queue",
                event_pattern=pulumi.Output.json_dumps({"source": [source], "detail-type": [detail_type]}),
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{self._name}-karpenter-{label}",
                rule=rule.name,
                target_id="KarpenterInterruptionQueueTarget",
                arn=queue.arn,
                opts=child,
            )
        return queue


def controller_statements(
    context: StackContext, cluster: str, node_role_arn: pulumi.Input[str], queue_arn: pulumi.Input[str]
) -> list[dict[str, Any]]:
    """Karpenter v1's controller policy for ``cluster`` (node lifecycle, IAM and EKS integration,
    interruption, zonal shift, resource discovery), statement for statement as its reference."""
    account = context.account
    partition, region, account_id = account.partition, account.region, account.account

    def ec2(resource: str, owner: str = "*") -> str:
        return f"arn:{partition}:ec2:{region}:{owner}:{resource}"

    cluster_tag = next(iter(owned_tag(cluster)))
    owned = {f"aws:ResourceTag/{cluster_tag}": "owned"}
    requested = {f"aws:RequestTag/{cluster_tag}": "owned", "aws:RequestTag/eks:eks-cluster-name": cluster}
    nodepool = {"StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"}}
    request_nodepool = {"StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"}}
    tagged_at_launch = [
        ec2(kind)
        for kind in (
            "fleet/*",
            "instance/*",
            "volume/*",
            "network-interface/*",
            "launch-template/*",
            "spot-instances-request/*",
        )
    ]
    profile = f"arn:{partition}:iam::{account_id}:instance-profile/*"
    region_tag = {"aws:RequestTag/topology.kubernetes.io/region": region}
    cluster_arn = f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster}"
    return [
        statement(
            ["ec2:RunInstances", "ec2:CreateFleet"],
            [
                ec2("image/*", ""),
                ec2("snapshot/*", ""),
                ec2("security-group/*"),
                ec2("subnet/*"),
                ec2("capacity-reservation/*"),
                ec2("placement-group/*"),
            ],
            sid="AllowScopedEC2InstanceAccessActions",
        ),
        statement(
            ["ec2:RunInstances", "ec2:CreateFleet"],
            ec2("launch-template/*"),
            sid="AllowScopedEC2LaunchTemplateAccessActions",
            condition={"StringEquals": owned, **nodepool},
        ),
        statement(
            ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            tagged_at_launch,
            sid="AllowScopedEC2InstanceActionsWithTags",
            condition={"StringEquals": requested, **request_nodepool},
        ),
        statement(
            ["ec2:CreateTags"],
            tagged_at_launch,
            sid="AllowScopedResourceCreationTagging",
            condition={
                "StringEquals": {
                    **requested,
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                },
                **request_nodepool,
            },
        ),
        statement(
            ["ec2:CreateTags"],
            ec2("instance/*"),
            sid="AllowScopedResourceTagging",
            condition={
                "StringEquals": owned,
                **nodepool,
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                },
            },
        ),
        statement(
            ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            [ec2("instance/*"), ec2("launch-template/*")],
            sid="AllowScopedDeletion",
            condition={"StringEquals": owned, **nodepool},
        ),
        statement(
            ["iam:PassRole"],
            [node_role_arn],
            sid="AllowPassingInstanceRole",
            condition={"StringEquals": {"iam:PassedToService": [f"ec2.{account.dns_suffix}"]}},
        ),
        statement(
            ["iam:CreateInstanceProfile"],
            profile,
            sid="AllowScopedInstanceProfileCreationActions",
            condition={
                "StringEquals": {**requested, **region_tag},
                "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        ),
        statement(
            ["iam:TagInstanceProfile"],
            profile,
            sid="AllowScopedInstanceProfileTagActions",
            condition={
                "StringEquals": {
                    **owned,
                    "aws:ResourceTag/topology.kubernetes.io/region": region,
                    **requested,
                    **region_tag,
                },
                "StringLike": {
                    "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                },
            },
        ),
        statement(
            ["iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"],
            profile,
            sid="AllowScopedInstanceProfileActions",
            condition={
                "StringEquals": {**owned, "aws:ResourceTag/topology.kubernetes.io/region": region},
                "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        ),
        statement(["eks:DescribeCluster"], cluster_arn, sid="AllowAPIServerEndpointDiscovery"),
        statement(
            ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            [queue_arn],
            sid="AllowInterruptionQueueActions",
        ),
        statement(
            ["arc-zonal-shift:GetManagedResource"],
            "*",
            sid="AllowZonalShiftStatusReadOnly",
            condition={"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}},
        ),
        statement(
            [
                "ec2:DescribeCapacityReservations",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceStatus",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribePlacementGroups",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            "*",
            sid="AllowRegionalReadActions",
            condition={"StringEquals": {"aws:RequestedRegion": region}},
        ),
        statement(
            ["ssm:GetParameter"],
            f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
            sid="AllowSSMReadActions",
        ),
        statement(["pricing:GetProducts"], "*", sid="AllowPricingReadActions"),
        # Karpenter's reference grants the listing on "*"; IAM authorizes it on the profiles'
        # path, so the account's profiles are enough.
        statement(["iam:ListInstanceProfiles"], profile, sid="AllowInstanceProfileListAction"),
        statement(["iam:GetInstanceProfile"], profile, sid="AllowInstanceProfileReadActions"),
    ]
