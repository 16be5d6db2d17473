"""CiRunner: the CodeBuild-hosted GitHub Actions runner inside the VPC, the CI's path to the cluster.

The Kubernetes API endpoint is private (EKS takes at most 40 public CIDRs; GitHub's hosted
runners use far more addresses), so the mesh project's jobs run here, on
``codebuild-flowbuilder-<stack>-runner-<run id>-<attempt>``. The runner provides the network path
only: each job still assumes ``flowbuilder-deploy-<stack>`` or ``flowbuilder-preview`` through
GitHub OIDC, and the runner's own role can do nothing but write its logs and attach to the VPC.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import CiRunnerConfig

from ..constants import HTTPS_PORT
from ..context import StackContext
from ..iam import role_policy, service_role, statement
from ..logs import log_group, log_stream_arn

IMAGE = "aws/codebuild/amazonlinux-aarch64-standard:3.0"
"""CodeBuild's curated Amazon Linux 2023 image for ARM (Graviton) containers."""
COMPUTE_TYPE = "BUILD_GENERAL1_SMALL"
"""arm1.small: 2 vCPUs, 3 GB; billed per build-minute, nothing while no job runs."""
BUILD_TIMEOUT_MINUTES = 60
"""A mesh ``up`` that installs Istio and the monitoring stack takes well under this."""
JOB_QUEUED = "WORKFLOW_JOB_QUEUED"


@dataclass
class CiRunnerArgs:
    """Inputs of :class:`CiRunner`."""

    context: StackContext
    runner: CiRunnerConfig
    """``eks.ciRunner``; its ``connectionArn`` and ``repository`` are set (the runner exists only then)."""
    vpc_id: pulumi.Input[str]
    private_subnet_ids: pulumi.Input[list[str]]
    cluster_security_group_id: pulumi.Input[str]
    """The control plane's group, which admits the runner on 443."""


class CiRunner(pulumi.ComponentResource):
    """The CodeBuild project ``flowbuilder-<stack>-runner`` as a self-hosted GitHub Actions runner.

    Creates:

    * the project: source GITHUB at ``https://github.com/<eks.ciRunner.repository>`` through the
      CodeConnections connection ``eks.ciRunner.connectionArn``, ARM Linux container
      (``BUILD_GENERAL1_SMALL``, :data:`IMAGE`), 60-minute timeout, logs to
      ``/aws/codebuild/flowbuilder-<stack>-runner`` kept ``logRetentionDays``;
    * the webhook with the filter group ``EVENT = WORKFLOW_JOB_QUEUED``, which makes it a runner
      project: GitHub starts one build per queued job whose ``runs-on`` names the project;
    * VPC placement in the private subnets, in its own security group that leaves only on HTTPS
      (the Kubernetes API, AWS APIs, GitHub through NAT), and a rule on the control plane's group
      admitting it on 443;
    * a service role (permissions boundary) for its log group, its network interfaces in those
      subnets, and the connection.
    """

    project_name: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: CiRunnerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:CiRunner", name, None, opts)
        context, runner = args.context, args.runner
        if runner.connection_arn is None or runner.repository is None:
            raise ValueError("CiRunner needs eks.ciRunner.connectionArn and eks.ciRunner.repository")
        child = pulumi.ResourceOptions(parent=self)
        project = context.name("codebuild-project", "runner")
        group = aws.ec2.SecurityGroup(
            f"{name}-runner-sg",
            name_prefix=f"{project}-",
            description="CI runner: HTTPS out only",
            vpc_id=args.vpc_id,
            tags={"Name": project},
            opts=child,
        )
        self.security_group_id = group.id
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-runner-https-out",
            security_group_id=group.id,
            description="The Kubernetes API, AWS APIs and GitHub (through NAT)",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4="0.0.0.0/0",
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-eks-api-from-runner-in",
            security_group_id=args.cluster_security_group_id,
            description="Kubernetes API from the CI runner",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            referenced_security_group_id=group.id,
            opts=child,
        )
        logs = log_group(f"{name}-runner", f"/aws/codebuild/{project}", context, child)
        role = service_role(f"{name}-runner", context, "codebuild.amazonaws.com", f"CodeBuild runner {project}", child)
        policy = role_policy(
            f"{name}-runner",
            role,
            runner_statements(context, logs, runner.connection_arn, args.private_subnet_ids),
            child,
        )
        codebuild = aws.codebuild.Project(
            f"{name}-runner",
            name=project,
            description=f"GitHub Actions runner for {runner.repository} inside the {context.stack} VPC",
            service_role=role.arn,
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                type="ARM_CONTAINER",
                compute_type=COMPUTE_TYPE,
                image=IMAGE,
                image_pull_credentials_type="CODEBUILD",
            ),
            source=aws.codebuild.ProjectSourceArgs(
                type="GITHUB",
                location=f"https://github.com/{runner.repository}.git",
                auth=aws.codebuild.ProjectSourceAuthArgs(type="CODECONNECTIONS", resource=runner.connection_arn),
            ),
            build_timeout=BUILD_TIMEOUT_MINUTES,
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=args.vpc_id, subnets=args.private_subnet_ids, security_group_ids=[group.id]
            ),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                    status="ENABLED", group_name=logs.name
                )
            ),
            # CodeBuild checks the role's VPC and connection permissions when the project is created.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.project_name = codebuild.name
        aws.codebuild.Webhook(
            f"{name}-runner",
            project_name=codebuild.name,
            build_type="BUILD",
            filter_groups=[
                aws.codebuild.WebhookFilterGroupArgs(
                    filters=[aws.codebuild.WebhookFilterGroupFilterArgs(type="EVENT", pattern=JOB_QUEUED)]
                )
            ],
            opts=child,
        )
        self.register_outputs({"project_name": self.project_name, "security_group_id": self.security_group_id})


def runner_statements(
    context: StackContext,
    logs: aws.cloudwatch.LogGroup,
    connection_arn: str,
    subnet_ids: pulumi.Input[list[str]],
) -> list[dict[str, object]]:
    """The runner's own permissions: its logs, its network interfaces, its GitHub connection."""
    account = context.account
    # Connections made before the CodeConnections rename keep their codestar-connections ARN and actions.
    service = connection_arn.split(":")[2]
    network_interface = account.arn("ec2", "network-interface/*")
    subnet_arns = pulumi.Output.from_input(subnet_ids).apply(
        lambda ids: [account.arn("ec2", f"subnet/{subnet}") for subnet in ids]
    )
    return [
        statement(["logs:CreateLogStream", "logs:PutLogEvents"], [log_stream_arn(logs)], sid="OwnLogs"),
        # CodeBuild's VPC support (CodeBuild user guide, "Use CodeBuild with Amazon VPC"): the
        # Describe calls and CreateNetworkInterface take no narrower resource here; the interface
        # permission is limited to CodeBuild placing interfaces in the runner's subnets.
        statement(
            [
                "ec2:CreateNetworkInterface",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcs",
            ],
            "*",
            sid="VpcPlacement",
        ),
        statement(
            ["ec2:CreateNetworkInterfacePermission"],
            network_interface,
            sid="VpcInterfacesForCodeBuild",
            condition={
                "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                "ArnEquals": {"ec2:Subnet": subnet_arns},
            },
        ),
        statement(
            [f"{service}:{action}" for action in ("GetConnectionToken", "GetConnection", "UseConnection")],
            [connection_arn],
            sid="GitHubConnection",
        ),
    ]
