"""Nodes: the role every EKS node carries, its launch template, and the fixed system node group.

The system node group is small and fixed (``eks.systemNodes``, default 2 x t4g.medium over the
AZs): it runs Karpenter and the add-ons, tainted ``CriticalAddonsOnly`` so nothing else lands
there. Karpenter launches every other node (its AWS side is :mod:`.karpenter`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import SystemNodesConfig
from stackconfig.naming import fingerprint

from ..context import StackContext
from ..iam import iam_role, service_trust_policy
from .names import CRITICAL_ADDONS_TAINT, SYSTEM_NODE_LABELS, managed_policy_arn

NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    # Pull-only ECR access; SSM gives shell access to nodes without SSH keys or open ports.
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
)
"""What an EKS node needs (Karpenter's reference node role; the VPC CNI runs with the node's role)."""
SYSTEM_VOLUME_GB = 20
TAGGED_AT_LAUNCH = ("instance", "volume", "network-interface")
"""Provider default tags do not reach what a launch template starts; these carry the stack's tags."""


@dataclass
class SystemNodes:
    role: aws.iam.Role
    template: aws.ec2.LaunchTemplate
    group: aws.eks.NodeGroup


def node_role(
    name: str, context: StackContext, description: str, parent: pulumi.Resource
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """``<name>``: a role EC2 instances of the cluster carry, with :data:`NODE_POLICIES` attached."""
    child = pulumi.ResourceOptions(parent=parent)
    # EC2 does not send aws:SourceAccount when an instance assumes its profile's role.
    role = iam_role(
        name,
        boundary_arn=context.permissions_boundary_arn,
        assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
        description=description,
        opts=child,
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{name}-{policy}",
            role=role.name,
            policy_arn=managed_policy_arn(context.account.partition, policy),
            opts=child,
        )
        for policy in NODE_POLICIES
    ]
    return role, attachments


def launch_template(
    name: str,
    context: StackContext,
    *,
    cluster_name: str,
    security_group_id: pulumi.Input[str],
    parent: pulumi.Resource,
    tags: Mapping[str, str],
) -> aws.ec2.LaunchTemplate:
    """IMDSv2 only with one hop, an encrypted gp3 root volume, the stack's tags on all it launches."""
    return aws.ec2.LaunchTemplate(
        name,
        description=f"System nodes of {cluster_name}",
        vpc_security_group_ids=[security_group_id],
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            # One hop: processes on the node reach IMDS, pods do not, so a pod gets AWS access
            # only through its own Pod Identity role.
            http_put_response_hop_limit=1,
        ),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=SYSTEM_VOLUME_GB,
                    volume_type="gp3",
                    encrypted="true",
                    delete_on_termination="true",
                ),
            )
        ],
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=dict(tags)) for kind in TAGGED_AT_LAUNCH
        ],
        update_default_version=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )


def system_nodes(
    name: str,
    context: StackContext,
    config: SystemNodesConfig,
    *,
    cluster: aws.eks.Cluster,
    subnet_ids: pulumi.Input[list[str]],
    security_group_id: pulumi.Input[str],
    depends_on: list[pulumi.Resource],
    parent: pulumi.Resource,
) -> SystemNodes:
    """The managed node group ``<prefix>-system``: ``config.count`` x ``config.instanceType``, fixed."""
    group_name = context.name("eks-nodegroup", "system")
    role, attachments = node_role(f"{name}-eks-system-node", context, f"System nodes {group_name}", parent)
    template = launch_template(
        f"{name}-eks-system",
        context,
        cluster_name=group_name,
        security_group_id=security_group_id,
        parent=parent,
        tags={**context.tags, "Name": group_name},
    )
    group = aws.eks.NodeGroup(
        f"{name}-eks-system",
        cluster_name=cluster.name,
        # AMI type, capacity type, instance types, role and subnets are replace-only, and the new
        # group is created (and its nodes join) before the old one drains: a name per combination.
        node_group_name=pulumi.Output.all(role.arn, subnet_ids).apply(
            lambda parts: context.name(
                "eks-nodegroup",
                "system-" + fingerprint("AL2023_ARM_64_STANDARD", "ON_DEMAND", [config.instance_type], *parts),
            )
        ),
        version=cluster.version,
        node_role_arn=role.arn,
        subnet_ids=subnet_ids,
        # Every allowed system type is Graviton (stackconfig SYSTEM_NODE_INSTANCE_TYPES).
        ami_type="AL2023_ARM_64_STANDARD",
        capacity_type="ON_DEMAND",
        instance_types=[config.instance_type],
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            desired_size=config.count, min_size=config.count, max_size=config.count
        ),
        update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
        node_repair_config=aws.eks.NodeGroupNodeRepairConfigArgs(enabled=True),
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version.apply(str)),
        labels=SYSTEM_NODE_LABELS,
        taints=[aws.eks.NodeGroupTaintArgs(**CRITICAL_ADDONS_TAINT)],
        tags={"Name": group_name},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*depends_on, *attachments]),
    )
    return SystemNodes(role, template, group)
