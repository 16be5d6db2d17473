"""The EKS cluster's AWS side: control plane, system nodes, add-ons, Karpenter, Pod Identity, CI runner."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from bootstrap.policies import BOUNDARY_SERVICES
from preview.cost.estimate import estimate
from preview.report.diagram import build_diagram
from simulation.harness import RecordedResource, StackRun, read_stack_file, run_stack
from simulation.mocks import ACCOUNT_ID
from stackconfig.dated_tables import EKS_ADDONS

CLUSTER = "aws:eks/cluster:Cluster"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ADDON = "aws:eks/addon:Addon"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
CONNECTION = f"arn:aws:codeconnections:us-east-1:{ACCOUNT_ID}:connection/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
VARIANT_ADMIN = f"arn:aws:iam::{ACCOUNT_ID}:role/platform-oncall"
EKS_OUTPUT_KEYS = {
    "clusterName",
    "endpoint",
    "certificateAuthority",
    "kubernetesVersion",
    "region",
    "nodeRoleName",
    "nodeSecurityGroupId",
    "privateSubnetIds",
    "discoveryTag",
    "interruptionQueueName",
    "karpenterServiceAccount",
    "externalSecretsServiceAccount",
    "databaseSecretArn",
    "databaseEndpoint",
    "databasePort",
    "databaseName",
    "applicationDatabaseUser",
}


@functools.cache
def variant() -> StackRun:
    """Staging with the runner, an extra admin role and a public endpoint for one network."""
    eks = json.loads(read_stack_file("staging")["flowbuilder:eks"])
    eks.update(
        ciRunner={"repository": "example-org/flowbuilder-infra", "connectionArn": CONNECTION},
        adminRoleArns=[VARIANT_ADMIN],
        publicAccessCidrs=["198.51.100.0/24"],
    )
    return run_stack("staging", overrides={"flowbuilder:eks": eks})


def statements(resource: RecordedResource, key: str = "policy") -> list[dict[str, Any]]:
    return json.loads(resource.inputs[key])["Statement"]


def by_sid(resource: RecordedResource) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements(resource)}


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def depends_on(run: StackRun, resource: RecordedResource) -> set[str]:
    """Logical names of what ``resource`` was declared to depend on."""
    by_urn = {r.urn: r.name for r in run.resources}
    return {by_urn[urn] for urn in resource.depends_on}


# -- where the cluster exists ------------------------------------------------------------------
def test_dev_and_ultra_declare_no_cluster_and_no_eks_output(dev, ultra):
    for run in (dev, ultra):
        assert not [r for r in run.resources if r.type.startswith("aws:eks/") or r.type.startswith("kubernetes:")]
        assert "eks" not in run.outputs


def test_the_eks_output_has_exactly_what_the_mesh_project_reads(staging):
    eks = staging.outputs["eks"]
    assert set(eks) == EKS_OUTPUT_KEYS
    # The mesh project reads every key it needs from this output (components/mesh/platform.py).
    from components.mesh.platform import EKS_OUTPUT_KEYS as READ_BY_THE_MESH

    assert set(READ_BY_THE_MESH) <= set(eks)
    assert eks["clusterName"] == eks["discoveryTag"] == "flowbuilder-staging-eks"
    assert eks["kubernetesVersion"] == "1.35"
    assert eks["region"] == "us-east-1"
    assert eks["karpenterServiceAccount"] == "kube-system/karpenter"
    assert eks["externalSecretsServiceAccount"] == "external-secrets/external-secrets"
    assert eks["applicationDatabaseUser"] == "flowbuilder_app"
    assert eks["interruptionQueueName"] == "flowbuilder-staging-karpenter"
    assert eks["privateSubnetIds"] == staging.outputs["privateSubnetIds"]
    assert eks["databaseSecretArn"] == staging.outputs["databaseSecretArn"]
    assert eks["nodeRoleName"] == staging.one(ROLE, "-karpenter-node").state["name"]
    assert eks["nodeSecurityGroupId"] == staging.one(SECURITY_GROUP, "-eks-nodes-sg").id


# -- control plane ---------------------------------------------------------------------------
def test_the_control_plane_is_private_api_authenticated_encrypted_and_on_standard_support(staging):
    cluster = staging.one(CLUSTER)
    inputs = cluster.inputs
    assert inputs["name"] == "flowbuilder-staging-eks"
    assert inputs["vpcConfig"]["endpointPrivateAccess"] is True
    assert inputs["vpcConfig"]["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in inputs["vpcConfig"]
    assert inputs["vpcConfig"]["subnetIds"] == staging.outputs["privateSubnetIds"]
    assert inputs["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    assert inputs["bootstrapSelfManagedAddons"] is False
    assert inputs["deletionProtection"] is False
    key = staging.one("aws:kms/key:Key", "-eks-secrets")
    assert key.inputs["enableKeyRotation"] is True
    assert inputs["encryptionConfig"] == {"provider": {"keyArn": key.state["arn"]}, "resources": ["secrets"]}


def test_a_public_endpoint_opens_only_for_the_listed_networks():
    vpc = variant().one(CLUSTER).inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == ["198.51.100.0/24"]
    assert vpc["endpointPrivateAccess"] is True


@pytest.mark.parametrize(
    "stack, expected",
    [
        ("staging", ["api", "audit", "authenticator"]),
        ("prod", ["api", "audit", "authenticator", "controllerManager", "scheduler"]),
    ],
)
def test_control_plane_logs_go_to_a_log_group_declared_first_and_kept(stack, expected):
    run = run_stack(stack)
    cluster = run.one(CLUSTER)
    assert cluster.inputs["enabledClusterLogTypes"] == expected
    group = run.one("aws:cloudwatch/logGroup:LogGroup", "-eks-control-plane")
    assert group.inputs["name"] == f"/aws/eks/flowbuilder-{stack}-eks/cluster"
    assert group.inputs["retentionInDays"] == run.config.log_retention_days
    assert group.name in depends_on(run, cluster)


def test_prod_protects_the_cluster_from_deletion(prod):
    assert prod.one(CLUSTER).inputs["deletionProtection"] is True


def test_the_ci_roles_and_listed_admins_get_access_entries_and_nothing_else():
    run = variant()
    account = f"arn:aws:iam::{ACCOUNT_ID}:role"
    policies = {
        a.inputs["principalArn"]: (a.inputs["policyArn"].rsplit("/", 1)[1], a.inputs["accessScope"])
        for a in run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    }
    assert policies == {
        f"{account}/flowbuilder-deploy-staging": ("AmazonEKSClusterAdminPolicy", {"type": "cluster"}),
        f"{account}/flowbuilder-preview": ("AmazonEKSViewPolicy", {"type": "cluster"}),
        VARIANT_ADMIN: ("AmazonEKSClusterAdminPolicy", {"type": "cluster"}),
    }
    standard = {e.inputs["principalArn"] for e in run.of_type(ACCESS_ENTRY) if e.inputs["type"] == "STANDARD"}
    assert standard == set(policies)


def test_the_control_plane_and_nodes_talk_on_the_kubelet_webhook_and_istio_ports(staging):
    api = staging.one(SECURITY_GROUP, "-eks-cluster-sg").id
    nodes = staging.one(SECURITY_GROUP, "-eks-nodes-sg").id
    into_nodes = {
        (r.inputs["fromPort"], r.inputs["toPort"])
        for r in staging.of_type(INGRESS)
        if r.inputs["securityGroupId"] == nodes and r.inputs.get("referencedSecurityGroupId") == api
    }
    assert into_nodes == {(443, 443), (10250, 10251), (15017, 15017), (15012, 15012)}
    into_api = [r for r in staging.of_type(INGRESS) if r.inputs["securityGroupId"] == api]
    assert [(r.inputs["fromPort"], r.inputs["referencedSecurityGroupId"]) for r in into_api] == [(443, nodes)]


# -- system nodes and add-ons ----------------------------------------------------------------------
def test_the_system_node_group_is_fixed_graviton_and_only_for_critical_add_ons(staging):
    group = staging.one(NODE_GROUP).inputs
    # A new name whenever a replace-only field changes (tests/test_replacement_names.py).
    assert group["nodeGroupName"].startswith("flowbuilder-staging-system-")
    assert group["instanceTypes"] == ["t4g.medium"]
    assert group["amiType"] == "AL2023_ARM_64_STANDARD"
    assert group["capacityType"] == "ON_DEMAND"
    assert group["scalingConfig"] == {"desiredSize": 2, "maxSize": 2, "minSize": 2}
    assert group["subnetIds"] == staging.outputs["privateSubnetIds"]
    assert group["taints"] == [{"effect": "NO_SCHEDULE", "key": "CriticalAddonsOnly", "value": "true"}]
    assert group["labels"] == {"flowbuilder.io/node-pool": "system"}
    assert group["updateConfig"] == {"maxUnavailable": 1}


def test_system_nodes_follow_their_config():
    eks = json.loads(read_stack_file("staging")["flowbuilder:eks"])
    eks["systemNodes"] = {"instanceType": "m7g.large", "count": 3}
    group = run_stack("staging", overrides={"flowbuilder:eks": eks}).one(NODE_GROUP).inputs
    assert group["instanceTypes"] == ["m7g.large"]
    assert group["scalingConfig"] == {"desiredSize": 3, "maxSize": 3, "minSize": 3}


def test_the_launch_template_requires_imdsv2_encrypts_gp3_and_tags_what_it_launches(staging):
    template = staging.one("aws:ec2/launchTemplate:LaunchTemplate", "-eks-system").inputs
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpPutResponseHopLimit": 1,
        "httpTokens": "required",
    }
    (device,) = template["blockDeviceMappings"]
    assert device["ebs"] == {"deleteOnTermination": "true", "encrypted": "true", "volumeSize": 20, "volumeType": "gp3"}
    tagged = {spec["resourceType"]: spec["tags"] for spec in template["tagSpecifications"]}
    assert set(tagged) == {"instance", "volume", "network-interface"}
    for tags in tagged.values():
        assert tags["stack"] == "staging"
        assert tags["cost-center"] == staging.config.cost_center
        assert tags["Name"] == "flowbuilder-staging-system"
    assert template["vpcSecurityGroupIds"] == [staging.one(SECURITY_GROUP, "-eks-nodes-sg").id]


def test_add_ons_are_pinned_and_wait_for_what_they_need(staging):
    addons = {a.inputs["addonName"]: a for a in staging.of_type(ADDON)}
    assert {name: a.inputs["addonVersion"] for name, a in addons.items()} == EKS_ADDONS["1.35"]
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {"enableNetworkPolicy": "true"}
    group = staging.one(NODE_GROUP)
    before = depends_on(staging, group)
    for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert addons[name].name in before
    assert {
        a.name for a in staging.of_type(ATTACHMENT) if a.name.startswith("flowbuilder-staging-eks-system-node-")
    } <= before
    assert group.name in depends_on(staging, addons["coredns"])
    ebs = set(addons["aws-ebs-csi-driver"].depends_on)
    role = staging.one(ROLE, "-eks-ebs-csi")
    needed = [
        group,
        role,
        *[a for a in staging.of_type(ATTACHMENT) if a.inputs["role"] == role.state["name"]],
        association(staging, "kube-system", "ebs-csi-controller-sa"),
    ]
    assert len(needed) == 4
    assert {r.urn for r in needed} <= ebs


# -- Pod Identity ---------------------------------------------------------------------------------
def pod_identity_trust(run: StackRun, role: RecordedResource) -> dict[str, Any]:
    (trust,) = statements(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"] == {
        "ArnEquals": {"aws:SourceArn": run.one(CLUSTER).state["arn"]},
        "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
    }
    assert role.inputs["permissionsBoundary"].endswith(":policy/flowbuilder-permissions-boundary")
    return trust


def association(run: StackRun, namespace: str, service_account: str) -> RecordedResource:
    (found,) = [
        a
        for a in run.of_type(ASSOCIATION)
        if (a.inputs["namespace"], a.inputs["serviceAccount"]) == (namespace, service_account)
    ]
    return found


def test_external_secrets_reads_exactly_the_database_secret(staging):
    role = staging.one(ROLE, "-eks-external-secrets")
    pod_identity_trust(staging, role)
    grant, decrypt = statements(staging.one(ROLE_POLICY, "-eks-external-secrets"))
    assert (decrypt["Action"], decrypt["Resource"]) == (["kms:Decrypt"], [staging.outputs["stackKeyArn"]])
    assert grant["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    assert grant["Resource"] == [staging.outputs["databaseSecretArn"]]
    assert association(staging, "external-secrets", "external-secrets").inputs["roleArn"] == role.state["arn"]
    assert not [a for a in staging.of_type(ATTACHMENT) if a.inputs["role"] == role.state["name"]]


def test_the_ebs_csi_controller_has_its_managed_policy_through_pod_identity(staging):
    role = staging.one(ROLE, "-eks-ebs-csi")
    pod_identity_trust(staging, role)
    (attached,) = [a for a in staging.of_type(ATTACHMENT) if a.inputs["role"] == role.state["name"]]
    assert attached.inputs["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    assert association(staging, "kube-system", "ebs-csi-controller-sa").inputs["roleArn"] == role.state["arn"]


# -- Karpenter --------------------------------------------------------------------------------------
def test_karpenters_node_role_has_the_node_policies_and_may_join_as_ec2_linux(staging):
    role = staging.one(ROLE, "-karpenter-node")
    (trust,) = statements(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = {
        a.inputs["policyArn"].rsplit("/", 1)[1]
        for a in staging.of_type(ATTACHMENT)
        if a.inputs["role"] == role.state["name"]
    }
    assert attached == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonSSMManagedInstanceCore",
    }
    (entry,) = [e for e in staging.of_type(ACCESS_ENTRY) if e.inputs["type"] == "EC2_LINUX"]
    assert entry.inputs["principalArn"] == role.state["arn"]


def test_karpenters_controller_acts_only_on_what_carries_this_clusters_tags(staging):
    role = staging.one(ROLE, "-karpenter-controller")
    pod_identity_trust(staging, role)
    assert association(staging, "kube-system", "karpenter").inputs["roleArn"] == role.state["arn"]
    policy = staging.one(ROLE_POLICY, "-karpenter-controller")
    sids = by_sid(policy)
    cluster = "flowbuilder-staging-eks"
    launch = sids["AllowScopedEC2InstanceActionsWithTags"]
    assert launch["Action"] == ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"]
    assert launch["Condition"] == {
        "StringEquals": {
            f"aws:RequestTag/kubernetes.io/cluster/{cluster}": "owned",
            "aws:RequestTag/eks:eks-cluster-name": cluster,
        },
        "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
    }
    delete = sids["AllowScopedDeletion"]
    assert delete["Condition"] == {
        "StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{cluster}": "owned"},
        "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
    }
    tagging = sids["AllowScopedResourceCreationTagging"]["Condition"]["StringEquals"]
    assert tagging["ec2:CreateAction"] == ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]
    passing = sids["AllowPassingInstanceRole"]
    assert passing["Resource"] == [staging.one(ROLE, "-karpenter-node").state["arn"]]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com"]}}
    profile = sids["AllowScopedInstanceProfileCreationActions"]["Condition"]["StringEquals"]
    assert profile["aws:RequestTag/topology.kubernetes.io/region"] == "us-east-1"
    assert (
        sids["AllowAPIServerEndpointDiscovery"]["Resource"] == f"arn:aws:eks:us-east-1:{ACCOUNT_ID}:cluster/{cluster}"
    )
    queue = staging.one("aws:sqs/queue:Queue", "-karpenter")
    assert sids["AllowInterruptionQueueActions"]["Resource"] == [queue.state["arn"]]
    reads = sids["AllowRegionalReadActions"]
    assert reads["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}
    # Every EC2 or IAM write is conditioned on this cluster's tags, except naming the images,
    # subnets and groups an instance is launched from (which Karpenter's reference leaves open).
    writes = ("Run", "Create", "Delete", "Terminate", "Tag", "Add", "Remove")
    unconditioned_writes = [
        s["Sid"]
        for s in sids.values()
        if "Condition" not in s
        and any(a.split(":")[0] in ("ec2", "iam") and a.split(":")[1].startswith(writes) for a in listed(s["Action"]))
    ]
    assert unconditioned_writes == ["AllowScopedEC2InstanceAccessActions"]
    # IAM counts a role's inline policies together against 10,240 characters (whitespace excluded).
    assert len("".join(policy.inputs["policy"].split())) < 10_240


def test_the_interruption_queue_is_encrypted_short_lived_and_fed_by_four_rules(staging):
    queue = staging.one("aws:sqs/queue:Queue", "-karpenter")
    assert queue.inputs["name"] == "flowbuilder-staging-karpenter"
    assert queue.inputs["messageRetentionSeconds"] == 300
    assert queue.inputs["sqsManagedSseEnabled"] is True
    send, deny = statements(staging.one("aws:sqs/queuePolicy:QueuePolicy", "-karpenter"))
    assert send["Principal"] == {"Service": ["events.amazonaws.com", "sqs.amazonaws.com"]}
    assert (send["Action"], send["Resource"]) == ("sqs:SendMessage", queue.state["arn"])
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    patterns = {
        json.loads(rule.inputs["eventPattern"])["detail-type"][0]: json.loads(rule.inputs["eventPattern"])["source"]
        for rule in staging.of_type("aws:cloudwatch/eventRule:EventRule")
        if "-karpenter-" in rule.name
    }
    assert patterns == {
        "AWS Health Event": ["aws.health"],
        "EC2 Spot Instance Interruption Warning": ["aws.ec2"],
        "EC2 Instance Rebalance Recommendation": ["aws.ec2"],
        "EC2 Instance State-change Notification": ["aws.ec2"],
    }
    targets = [t for t in staging.of_type("aws:cloudwatch/eventTarget:EventTarget") if "-karpenter-" in t.name]
    assert len(targets) == 4
    assert {t.inputs["arn"] for t in targets} == {queue.state["arn"]}


def test_the_discovery_tag_marks_the_private_subnets_and_the_node_group_only(staging):
    tagged = {
        r.name
        for r in staging.resources
        if (r.inputs.get("tags") or {}).get("karpenter.sh/discovery") == "flowbuilder-staging-eks"
    }
    assert tagged == {
        "flowbuilder-staging-private-a",
        "flowbuilder-staging-private-b",
        "flowbuilder-staging-eks-nodes-sg",
    }
    private = staging.one("aws:ec2/subnet:Subnet", "-private-a").inputs["tags"]
    assert private["kubernetes.io/role/internal-elb"] == "1"


# -- CI runner ------------------------------------------------------------------------------------
def test_no_runner_until_a_connection_is_configured(staging):
    assert not staging.of_type("aws:codebuild/project:Project")
    assert "ciRunnerProject" not in staging.outputs


def test_the_runner_is_an_arm_codebuild_runner_project_for_the_repository():
    run = variant()
    project = run.one("aws:codebuild/project:Project").inputs
    assert project["name"] == "flowbuilder-staging-runner"
    assert run.outputs["ciRunnerProject"] == "flowbuilder-staging-runner"
    assert project["source"] == {
        "auth": {"resource": CONNECTION, "type": "CODECONNECTIONS"},
        "location": "https://github.com/example-org/flowbuilder-infra.git",
        "type": "GITHUB",
    }
    assert project["environment"]["type"] == "ARM_CONTAINER"
    assert project["environment"]["computeType"] == "BUILD_GENERAL1_SMALL"
    assert project["environment"]["image"] == "aws/codebuild/amazonlinux-aarch64-standard:3.0"
    assert project["artifacts"] == {"type": "NO_ARTIFACTS"}
    group = run.one(SECURITY_GROUP, "-runner-sg").id
    assert project["vpcConfig"]["securityGroupIds"] == [group]
    assert project["vpcConfig"]["subnets"] == run.outputs["privateSubnetIds"]
    logs = run.one("aws:cloudwatch/logGroup:LogGroup", "-runner")
    assert logs.inputs["name"] == "/aws/codebuild/flowbuilder-staging-runner"
    assert project["logsConfig"]["cloudwatchLogs"] == {"groupName": logs.inputs["name"], "status": "ENABLED"}
    (webhook,) = run.of_type("aws:codebuild/webhook:Webhook")
    assert webhook.inputs["buildType"] == "BUILD"
    assert webhook.inputs["filterGroups"] == [{"filters": [{"pattern": "WORKFLOW_JOB_QUEUED", "type": "EVENT"}]}]


def test_the_runner_leaves_on_https_only_and_is_admitted_to_the_kubernetes_api():
    run = variant()
    group = run.one(SECURITY_GROUP, "-runner-sg").id
    out = [r.inputs for r in run.of_type(EGRESS) if r.inputs["securityGroupId"] == group]
    assert out == [
        {
            "cidrIpv4": "0.0.0.0/0",
            "description": "The Kubernetes API, AWS APIs and GitHub (through NAT)",
            "fromPort": 443,
            "ipProtocol": "tcp",
            "securityGroupId": group,
            "toPort": 443,
        }
    ]
    assert not [r for r in run.of_type(INGRESS) if r.inputs["securityGroupId"] == group]
    api = run.one(SECURITY_GROUP, "-eks-cluster-sg").id
    (admitted,) = [r.inputs for r in run.of_type(INGRESS) if r.inputs.get("referencedSecurityGroupId") == group]
    assert (admitted["securityGroupId"], admitted["fromPort"], admitted["toPort"]) == (api, 443, 443)


def test_the_runners_role_writes_its_logs_attaches_to_its_subnets_and_uses_its_connection_only():
    run = variant()
    role = run.one(ROLE, "-runner")
    (trust,) = statements(role, "assumeRolePolicy")
    assert trust["Principal"] == {"Service": "codebuild.amazonaws.com"}
    sids = by_sid(run.one(ROLE_POLICY, "-runner"))
    assert set(sids) == {"OwnLogs", "VpcPlacement", "VpcInterfacesForCodeBuild", "GitHubConnection"}
    logs = run.one("aws:cloudwatch/logGroup:LogGroup", "-runner")
    assert sids["OwnLogs"]["Resource"] == [f"{logs.state['arn']}:*"]
    assert sids["GitHubConnection"]["Resource"] == [CONNECTION]
    subnets = [f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:subnet/{s}" for s in run.outputs["privateSubnetIds"]]
    assert sids["VpcInterfacesForCodeBuild"]["Condition"] == {
        "ArnEquals": {"ec2:Subnet": subnets},
        "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
    }
    granted = {a.split(":")[0] for s in sids.values() for a in listed(s["Action"])}
    assert granted <= set(BOUNDARY_SERVICES)
    assert not [a for a in run.of_type(ATTACHMENT) if a.inputs["role"] == role.state["name"]]


# -- what a reviewer sees -------------------------------------------------------------------------
def test_the_cost_estimate_prices_the_control_plane_system_nodes_and_their_volumes(staging):
    lines = {(line.resource, line.item): line for line in estimate(staging).lines}
    control_plane = lines[("flowbuilder-staging-eks", "EKS control plane")]
    assert (control_plane.quantity, control_plane.unit_usd) == (730, 0.10)
    nodes = lines[("flowbuilder-staging-eks-system", "EKS nodes t4g.medium x 2")]
    assert (nodes.quantity, nodes.unit_usd) == (1460, 0.0336)
    volumes = lines[("flowbuilder-staging-eks-system", "EKS node volumes 20 GB x 2")]
    assert (volumes.quantity, volumes.unit_usd) == (40, 0.08)


def test_the_runner_costs_nothing_at_idle_and_its_build_minutes_are_listed():
    result = estimate(variant())
    assert not [line for line in result.lines if "runner" in line.resource]
    assert "CI runner jobs (CodeBuild arm1.small) $0.0034/build-minute; nothing while no job runs" in result.left_out
    assert [n for n in result.left_out if n.startswith("EventBridge rules: AWS service events")]


def test_the_diagram_shows_the_runner_reaching_the_kubernetes_api_and_interruptions_reaching_karpenter():
    edges = {(e.source, e.target): e.label for e in build_diagram(variant()).edges}
    assert edges[("codebuild_runner", "eks_eks")] == "443"
    assert edges[("nodes_eks_system", "eks_eks")] == "443"
    assert edges[("aws_events", "sqs_karpenter")] == "event"


def test_the_database_admits_the_nodes_on_postgresql_and_nothing_else_from_the_cluster(staging):
    database = staging.outputs["securityGroupIds"]["database"]
    nodes = staging.one(SECURITY_GROUP, "-eks-nodes-sg").id
    from_cluster = [
        (r.inputs["fromPort"], r.inputs["toPort"], r.inputs["ipProtocol"])
        for r in staging.of_type(INGRESS)
        if r.inputs["securityGroupId"] == database and r.inputs.get("referencedSecurityGroupId") == nodes
    ]
    assert from_cluster == [(5432, 5432, "tcp")]
