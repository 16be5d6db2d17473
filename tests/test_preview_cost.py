"""The idle cost estimate: each billed line priced from the recorded resource, and the real stacks' totals."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from preview.cost import PriceTable, estimate, spot_share
from preview.report import docs

from .conftest import committed_run
from .preview_support import program, resource, runs_of

HOURS = 730


def lines(result, token_or_item: str) -> list:
    return [line for line in result.lines if token_or_item in (line.type, line.item) or token_or_item in line.item]


def monthly(result, text: str) -> float:
    found = [line.monthly_usd for line in result.lines if text in line.item]
    assert found, f"no line mentions {text!r}: {[line.item for line in result.lines]}"
    return round(sum(found), 2)


# -- the price table -------------------------------------------------------------------
def test_price_table_is_dated_sourced_and_covers_both_regions():
    table = PriceTable.load()
    assert table.as_of.startswith("2026")
    assert table.hours_per_month == 730
    assert table.regions == ["ap-south-1", "us-east-1"]
    for key in table.keys():
        for region in table.regions:
            price = table.get(key, region)
            assert price is not None, f"{key} has no {region} price"
            assert price.source.startswith("https://aws.amazon.com/"), key
    required = [
        "rds-postgres:db.t4g.micro",
        "rds-postgres:db.t4g.small",
        "rds-postgres:db.t4g.medium",
        "rds-storage-gp3-gb-month",
        "nat-gateway-hour",
        "public-ipv4-hour",
        "alb-hour",
        "interface-endpoint-az-hour",
        "fargate-x86-vcpu-hour",
        "fargate-x86-gb-hour",
        "fargate-arm-vcpu-hour",
        "fargate-arm-gb-hour",
        "fargate-spot-discount",
        "eks-cluster-hour",
        "ec2:t4g.nano",
        "ec2:t4g.medium",
        "ec2:t4g.large",
        "ec2:t3.medium",
        "ec2:t3.large",
        "secret-month",
        "dashboard-month",
        "alarm-metric-month",
        "kms-key-month",
        "elasticache-valkey-serverless-gb-hour",
        "elasticache-valkey:cache.t4g.micro",
        "backup-rds-gb-month",
        "cross-region-transfer-gb",
    ]
    assert [key for key in required if key not in table.keys()] == []
    # Backup copies default to us-west-2: what they bill there is priced too.
    for key in ("kms-key-month", "backup-rds-gb-month", "cross-region-transfer-gb"):
        assert table.get(key, "us-west-2") is not None, key


@pytest.mark.parametrize(
    "key, region, usd",
    [
        ("nat-gateway-hour", "us-east-1", 0.045),
        ("nat-gateway-hour", "ap-south-1", 0.056),
        ("interface-endpoint-az-hour", "ap-south-1", 0.013),
        ("rds-postgres:db.t4g.micro", "ap-south-1", 0.021),
        ("public-ipv4-hour", "us-east-1", 0.005),
        ("fargate-arm-vcpu-hour", "us-east-1", 0.03238),
        ("fargate-x86-gb-hour", "us-east-1", 0.004445),
        ("rds-storage-gp3-gb-month", "us-east-1", 0.115),
        ("eks-cluster-hour", "us-east-1", 0.10),
    ],
)
def test_list_prices(key, region, usd):
    assert PriceTable.load().get(key, region).usd == usd


# -- network ----------------------------------------------------------------------------------
def test_nat_gateway_and_its_elastic_ip():
    def build():
        eip = aws.ec2.Eip("nat-eip", domain="vpc")
        aws.ec2.NatGateway("nat", allocation_id=eip.allocation_id, subnet_id="subnet-1")

    result = estimate(program(build))
    assert monthly(result, "NAT gateway") == 32.85
    assert monthly(result, "Elastic IP") == 3.65
    assert result.total_usd == 36.50
    assert any("NAT gateway data processing $0.045/GB" in text for text in result.left_out)


def test_nat_instance_pays_instance_root_volume_and_public_ip():
    def build():
        aws.ec2.Instance(
            "nat",
            ami="ami-1",
            instance_type="t4g.nano",
            associate_public_ip_address=True,
            source_dest_check=False,
            root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(volume_size=8, volume_type="gp3"),
        )

    result = estimate(program(build))
    assert monthly(result, "EC2 t4g.nano") == 3.07
    assert monthly(result, "EBS gp3 root volume") == 0.64
    assert monthly(result, "public IPv4 address (instance)") == 3.65


def test_an_instance_behind_an_elastic_ip_is_not_charged_twice_for_its_address():
    def build():
        instance = aws.ec2.Instance("nat", ami="ami-1", instance_type="t4g.nano", associate_public_ip_address=True)
        aws.ec2.Eip("nat-eip", domain="vpc", instance=instance.id)

    result = estimate(program(build))
    assert [line.item for line in result.lines if "IPv4" in line.item] == ["public IPv4 address (Elastic IP)"]


def test_internet_facing_alb_pays_one_public_address_per_az():
    def build():
        aws.lb.LoadBalancer(
            "public", load_balancer_type="application", internal=False, subnets=["subnet-a", "subnet-b"]
        )
        aws.lb.LoadBalancer("inside", load_balancer_type="application", internal=True, subnets=["subnet-c", "subnet-d"])

    result = estimate(program(build))
    assert [round(line.monthly_usd, 3) for line in result.lines if line.resource == "public"] == [16.425, 7.3]
    assert [round(line.monthly_usd, 3) for line in result.lines if line.resource == "inside"] == [16.425]
    assert any("$0.008/LCU-h (one LCU all month: $5.84)" in text for text in result.left_out)


def test_interface_endpoints_bill_per_az_and_gateway_endpoints_are_free():
    def build():
        aws.ec2.VpcEndpoint(
            "sqs",
            vpc_id="vpc-1",
            service_name="com.amazonaws.us-east-1.sqs",
            vpc_endpoint_type="Interface",
            subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
        )
        aws.ec2.VpcEndpoint(
            "s3", vpc_id="vpc-1", service_name="com.amazonaws.us-east-1.s3", vpc_endpoint_type="Gateway"
        )

    result = estimate(program(build))
    assert [(line.item, line.quantity, round(line.monthly_usd, 2)) for line in result.lines] == [
        ("interface endpoint sqs in 3 AZs", 3 * HOURS, 21.9)
    ]


def test_an_http_api_bills_only_per_request():
    def build():
        aws.apigatewayv2.Api("api", name="api", protocol_type="HTTP")

    result = estimate(program(build))
    assert result.lines == []
    assert "API Gateway HTTP API requests $1/million" in result.left_out


# -- database ----------------------------------------------------------------------------------
def test_multi_az_rds_doubles_instance_and_storage_and_counts_its_managed_secret():
    def build():
        aws.rds.Instance(
            "db",
            engine="postgres",
            instance_class="db.t4g.medium",
            allocated_storage=100,
            storage_type="gp3",
            multi_az=True,
            manage_master_user_password=True,
            username="app",
        )

    result = estimate(program(build))
    assert monthly(result, "db.t4g.medium Multi-AZ") == round(0.065 * HOURS * 2, 2) == 94.9
    assert monthly(result, "gp3 storage 100 GB Multi-AZ") == round(0.115 * 100 * 2, 2) == 23.0
    assert monthly(result, "RDS-managed master password") == 0.40


def test_serverless_valkey_bills_its_100_mb_minimum_and_is_cheaper_idle_than_one_micro_node():
    def build():
        aws.elasticache.ServerlessCache("cache", engine="valkey", name="cache")
        aws.elasticache.ReplicationGroup(
            "nodes", description="x", engine="valkey", node_type="cache.t4g.micro", num_cache_clusters=2
        )

    result = estimate(program(build))
    serverless = monthly(result, "Serverless Valkey minimum storage 100 MB")
    assert serverless == round(0.1 * 0.084 * HOURS, 2) == 6.13
    assert monthly(result, "cache.t4g.micro x 2") == round(0.0128 * HOURS * 2, 2) == 18.69
    assert serverless < round(0.0128 * HOURS, 2) == 9.34
    assert any("Valkey ECPUs $0.0023/million" in text for text in result.left_out)


def test_backups_price_one_full_copy_of_the_selected_database_per_vault_and_its_transfer():
    def build():
        aws.rds.Instance(
            "db",
            engine="postgres",
            instance_class="db.t4g.micro",
            allocated_storage=80,
            username="app",
            tags={"backup-plan": "flowbuilder-dev"},
        )
        aws.rds.Instance("other", engine="postgres", instance_class="db.t4g.micro", allocated_storage=500, username="x")
        copy = aws.backup.Vault("copy", name="copy")
        plan = aws.backup.Plan(
            "plan",
            name="plan",
            rules=[
                aws.backup.PlanRuleArgs(
                    rule_name="daily",
                    target_vault_name="main",
                    copy_actions=[aws.backup.PlanRuleCopyActionArgs(destination_vault_arn=copy.arn)],
                )
            ],
        )
        aws.backup.Selection(
            "tagged",
            name="tagged",
            plan_id=plan.id,
            iam_role_arn="arn:aws:iam::123456789012:role/backup",
            selection_tags=[
                aws.backup.SelectionSelectionTagArgs(type="STRINGEQUALS", key="backup-plan", value="flowbuilder-dev")
            ],
        )

    result = estimate(program(build))
    assert monthly(result, "AWS Backup RDS snapshots 80 GB") == round(80 * 0.095, 2) == 7.6
    assert monthly(result, "AWS Backup RDS snapshot copies 80 GB") == 7.6
    assert monthly(result, "cross-region copy transfer 80 GB") == round(80 * 0.02, 2) == 1.6


def test_single_az_micro_database():
    def build():
        aws.rds.Instance(
            "db",
            engine="postgres",
            instance_class="db.t4g.micro",
            allocated_storage=20,
            storage_type="gp3",
            username="app",
        )

    result = estimate(program(build))
    assert [round(line.monthly_usd, 2) for line in result.lines] == [11.68, 2.3]


# -- Fargate ----------------------------------------------------------------------------------
def _service_program(
    *,
    desired: int,
    strategy: list[tuple[str, int, int]],
    architecture: str,
    cpu: str,
    memory: str,
    minimum: int | None = None,
    public_ip: bool = False,
):
    def build():
        definition = aws.ecs.TaskDefinition(
            "td",
            family="app",
            cpu=cpu,
            memory=memory,
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                cpu_architecture=architecture, operating_system_family="LINUX"
            ),
            container_definitions=json.dumps([{"name": "app", "image": "app:1"}]),
        )
        service = aws.ecs.Service(
            "svc",
            name="app",
            cluster="cluster",
            task_definition=definition.arn,
            desired_count=desired,
            capacity_provider_strategies=[
                aws.ecs.ServiceCapacityProviderStrategyArgs(capacity_provider=p, weight=w, base=b)
                for p, w, b in strategy
            ],
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=["subnet-a"], assign_public_ip=public_ip
            ),
        )
        if minimum is not None:
            aws.appautoscaling.Target(
                "svc-scaling",
                min_capacity=minimum,
                max_capacity=5,
                service_namespace="ecs",
                scalable_dimension="ecs:service:DesiredCount",
                resource_id=pulumi.Output.concat("service/cluster/", service.name),
            )

    return program(build)


def test_fargate_arm_service_split_between_on_demand_and_spot():
    # base 1 on FARGATE, the second task split 1:1 -> 1.5 on-demand, 0.5 Spot.
    run = _service_program(
        desired=2, strategy=[("FARGATE", 1, 1), ("FARGATE_SPOT", 1, 0)], architecture="ARM64", cpu="1024", memory="2048"
    )
    result = estimate(run)
    per_task_hour = 1 * 0.03238 + 2 * 0.00356
    assert monthly(result, "x 1.5 on-demand") == round(1.5 * HOURS * per_task_hour, 2)
    assert monthly(result, "x 0.5 Spot") == round(0.5 * HOURS * per_task_hour * (1 - 0.70), 2)
    assert lines(result, "Fargate ARM64 1 vCPU / 2 GB x 1.5 on-demand")


def test_fargate_x86_service_with_public_ips():
    run = _service_program(
        desired=1, strategy=[("FARGATE", 1, 0)], architecture="X86_64", cpu="512", memory="1024", public_ip=True
    )
    result = estimate(run)
    assert monthly(result, "Fargate X86_64 0.5 vCPU / 1 GB x 1 on-demand") == round(
        HOURS * (0.5 * 0.04048 + 1 * 0.004445), 2
    )
    assert monthly(result, "public IPv4 address per task (1)") == 3.65


def test_a_service_scaled_to_zero_costs_nothing_idle_and_gets_a_job_price():
    run = _service_program(
        desired=1, minimum=0, strategy=[("FARGATE_SPOT", 1, 0)], architecture="ARM64", cpu="1024", memory="2048"
    )
    result = estimate(run, job_minutes=30)
    assert result.lines == []
    assert result.scales_to_zero == ["svc"]
    [job] = result.jobs
    compute = (0.03238 + 2 * 0.00356) * 0.5
    assert job.on_demand_usd == pytest.approx(compute)
    assert job.spot_usd == pytest.approx(compute * 0.30)
    assert job.as_configured == "spot"


@pytest.mark.parametrize(
    "strategy, tasks, spot",
    [
        ([{"capacityProvider": "FARGATE_SPOT", "weight": 1}], 4, 4),
        (
            [
                {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
                {"capacityProvider": "FARGATE_SPOT", "weight": 3},
            ],
            5,
            3,
        ),
        (
            [
                {"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 2},
                {"capacityProvider": "FARGATE", "weight": 1},
            ],
            2,
            2,
        ),
        ([{"capacityProvider": "FARGATE", "weight": 1}], 3, 0),
        ([], 3, 0),
    ],
)
def test_spot_share_places_base_first_then_by_weight(strategy, tasks, spot):
    assert spot_share(strategy, tasks) == spot


# -- one worker job -----------------------------------------------------------------------------
def _run_task_state_machine(public: str = "ENABLED"):
    def build():
        definition = aws.ecs.TaskDefinition(
            "worker",
            family="worker",
            cpu="1024",
            memory="2048",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                cpu_architecture="ARM64", operating_system_family="LINUX"
            ),
            container_definitions=json.dumps([{"name": "worker", "image": "worker:1"}]),
        )
        aws.sfn.StateMachine(
            "worker-run",
            role_arn="arn:aws:iam::123456789012:role/run",
            definition=definition.arn.apply(
                lambda arn: json.dumps(
                    {
                        "StartAt": "Run",
                        "States": {
                            "Run": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::ecs:runTask.sync",
                                "End": True,
                                "Parameters": {
                                    "Cluster": "cluster",
                                    "TaskDefinition": arn,
                                    "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}],
                                    "NetworkConfiguration": {
                                        "AwsvpcConfiguration": {"Subnets": ["subnet-a"], "AssignPublicIp": public}
                                    },
                                },
                            }
                        },
                    }
                )
            ),
        )

    return program(build)


def test_job_cost_of_a_step_functions_run_task_with_a_public_ip():
    result = estimate(_run_task_state_machine(), job_minutes=10)
    [job] = result.jobs
    compute = (1 * 0.03238 + 2 * 0.00356) * 10 / 60
    address = 0.005 * 10 / 60
    transition = 0.025 / 1000
    assert job.task_definition == "worker"
    assert job.state_transitions == 1
    assert job.on_demand_usd == pytest.approx(compute + address + transition)
    assert job.spot_usd == pytest.approx(compute * 0.30 + address + transition)
    assert job.public_ipv4_usd == pytest.approx(address)
    assert job.as_configured == "spot"
    assert result.lines == []


def test_a_job_is_billed_at_least_one_minute():
    [job] = estimate(_run_task_state_machine(public="DISABLED"), job_minutes=0.2).jobs
    assert job.public_ipv4_usd == 0
    assert job.on_demand_usd == pytest.approx((0.03238 + 2 * 0.00356) / 60 + 0.025 / 1000)


def test_job_cost_of_a_pipe_uses_its_task_override():
    def build():
        definition = aws.ecs.TaskDefinition(
            "worker",
            family="worker",
            cpu="1024",
            memory="2048",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            container_definitions=json.dumps([{"name": "worker", "image": "worker:1"}]),
        )
        aws.pipes.Pipe(
            "pipe",
            role_arn="arn:aws:iam::123456789012:role/pipe",
            source="arn:aws:sqs:us-east-1:123456789012:work",
            target="arn:aws:ecs:us-east-1:123456789012:cluster/c",
            target_parameters=aws.pipes.PipeTargetParametersArgs(
                ecs_task_parameters=aws.pipes.PipeTargetParametersEcsTaskParametersArgs(
                    task_definition_arn=definition.arn,
                    launch_type="FARGATE",
                    overrides=aws.pipes.PipeTargetParametersEcsTaskParametersOverridesArgs(cpu="2048", memory="4096"),
                )
            ),
        )

    [job] = estimate(program(build), job_minutes=60).jobs
    assert (job.vcpu, job.memory_gb, job.architecture) == (2, 4, "X86_64")
    assert job.on_demand_usd == pytest.approx(2 * 0.04048 + 4 * 0.004445)
    assert job.as_configured == "on-demand"


# -- EKS ----------------------------------------------------------------------------------------
def test_eks_control_plane_nodes_and_their_volumes():
    def build():
        aws.eks.Cluster(
            "mesh",
            role_arn="arn:aws:iam::123456789012:role/eks",
            version="1.33",
            vpc_config=aws.eks.ClusterVpcConfigArgs(subnet_ids=["subnet-a"]),
        )
        aws.eks.NodeGroup(
            "nodes",
            cluster_name="mesh",
            node_role_arn="arn:aws:iam::123456789012:role/node",
            subnet_ids=["subnet-a"],
            instance_types=["t4g.medium"],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(desired_size=3, min_size=3, max_size=6),
        )

    result = estimate(program(build))
    control = lines(result, "EKS control plane")[0]
    assert round(control.monthly_usd, 2) == 73.0
    assert "$0.60/h once the version leaves standard support" in control.note
    assert monthly(result, "EKS nodes t4g.medium x 3") == round(3 * HOURS * 0.0336, 2)
    assert monthly(result, "EKS node volumes 20 GB x 3") == 4.8


def test_standard_support_policy_has_no_extended_support_warning():
    cluster = resource("aws:eks/cluster:Cluster", "mesh", {"upgradePolicy": {"supportType": "STANDARD"}})
    [line] = estimate(runs_of(cluster)).lines
    assert line.note == ""


# -- management -------------------------------------------------------------------------------------
def test_cloudwatch_free_tier_and_per_metric_alarms():
    def build():
        for index in range(4):
            aws.cloudwatch.Dashboard(f"board-{index}", dashboard_name=f"board-{index}", dashboard_body="{}")
        for index in range(11):
            aws.cloudwatch.MetricAlarm(
                f"alarm-{index}",
                comparison_operator="GreaterThanThreshold",
                evaluation_periods=1,
                metric_name="Errors",
                namespace="AWS/Lambda",
                period=60,
                statistic="Sum",
                threshold=1,
            )
        aws.cloudwatch.MetricAlarm(
            "fast",
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=1,
            metric_name="Errors",
            namespace="AWS/Lambda",
            period=10,
            statistic="Sum",
            threshold=1,
        )
        aws.cloudwatch.MetricAlarm(
            "ratio",
            comparison_operator="GreaterThanThreshold",
            evaluation_periods=1,
            threshold=1,
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(id="e", expression="a/b", return_data=True),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="a",
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        metric_name="5xx", namespace="AWS/ApplicationELB", period=60, stat="Sum"
                    ),
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="b",
                    metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                        metric_name="Requests", namespace="AWS/ApplicationELB", period=60, stat="Sum"
                    ),
                ),
            ],
        )
        aws.secretsmanager.Secret("secret")
        aws.kms.Key("key")

    run = program(build)
    result = estimate(run)
    assert monthly(result, "CloudWatch dashboard") == 12.0
    assert monthly(result, "CloudWatch alarm (1 metric)") == 1.1
    assert monthly(result, "CloudWatch alarm (2 metrics)") == 0.2
    assert monthly(result, "high-resolution") == 0.3
    assert [round(credit.monthly_usd, 2) for credit in result.credits] == [-9.0, -1.0]
    assert monthly(result, "Secrets Manager secret") == 0.4
    assert monthly(result, "KMS customer managed key") == 1.0
    assert result.total_usd == round(12 + 1.1 + 0.2 + 0.3 + 0.4 + 1.0 - 10.0, 2)
    assert estimate(run, free_tier=False).total_usd == round(12 + 1.1 + 0.2 + 0.3 + 0.4 + 1.0, 2)


# -- region and what cannot be priced ---------------------------------------------------------------
def test_region_comes_from_the_stack_provider():
    def build():
        mumbai = aws.Provider("stack-aws", region="ap-south-1")
        aws.ec2.NatGateway(
            "nat", subnet_id="subnet-1", connectivity_type="private", opts=pulumi.ResourceOptions(provider=mumbai)
        )
        aws.lb.LoadBalancer("alb", internal=True, subnets=["subnet-a"], opts=pulumi.ResourceOptions(provider=mumbai))

    result = estimate(program(build), default_region="us-east-1")
    assert result.region == "ap-south-1"
    assert monthly(result, "NAT gateway") == round(0.056 * HOURS, 2)
    assert [line.approximate for line in result.lines if line.resource == "alb"] == [True]


def test_unknown_prices_are_listed_not_guessed():
    def build():
        aws.ec2.Instance("big", ami="ami-1", instance_type="m5.24xlarge")

    result = estimate(program(build))
    [instance] = [line for line in result.lines if line.item == "EC2 m5.24xlarge"]
    assert instance.monthly_usd is None
    assert not result.complete
    assert "no price for ec2:m5.24xlarge in us-east-1" in result.unpriced[0]


def test_a_region_missing_from_the_table_prices_nothing():
    def build():
        aws.secretsmanager.Secret("secret")

    result = estimate(program(build, region="eu-west-1"), default_region="eu-west-1")
    assert result.total_usd == 0
    assert result.unpriced == [
        "secret: Secrets Manager secret - no price for secret-month in eu-west-1 (preview/cost/prices.yaml)"
    ]


# -- the real stacks, as they run after their first image push -------------------------------------
# The budgets of the issue: dev at most $55 and ultra at most $1 a month idle in us-east-1. The one
# line that stops both today is the alert topic's customer managed KMS key ($1/month): CloudWatch
# alarms cannot publish to a topic encrypted with the AWS managed SNS key, so encryption costs a key.
def _without_alert_key(cost) -> float:
    return cost.total_usd - sum(line.monthly_usd for line in cost.lines if line.price_keys == ["kms-key-month"])


def test_dev_idle_cost_fits_55_dollars_but_for_the_alert_key():
    cost = docs.deployed("dev").cost
    assert cost.complete
    assert cost.region == "us-east-1"
    assert 0 < _without_alert_key(cost) <= 55.0
    amounts = [line.monthly_usd for line in cost.lines]
    assert amounts == sorted(amounts, reverse=True)
    assert cost.lines[0].item.startswith("Application Load Balancer")


def test_ultra_idle_cost_has_no_compute_or_network_and_fits_one_dollar_but_for_the_alert_key():
    cost = docs.deployed("ultra").cost
    assert cost.complete
    billed = {key for line in cost.lines for key in line.price_keys}
    assert billed <= {"secret-month", "kms-key-month", "alarm-metric-month", "alarm-high-resolution-metric-month"}
    assert _without_alert_key(cost) <= 1.0
    assert cost.jobs and all(job.spot_usd < 0.01 for job in cost.jobs)


def test_front_door_hosted_zone_certificate_and_waf():
    def build():
        aws.route53.Zone("zone", name="example.com")
        aws.acm.Certificate("certificate", domain_name="api.example.com", validation_method="DNS")
        visibility = aws.wafv2.WebAclRuleVisibilityConfigArgs(
            cloudwatch_metrics_enabled=True, metric_name="m", sampled_requests_enabled=True
        )
        aws.wafv2.WebAcl(
            "waf",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name="acl", sampled_requests_enabled=True
            ),
            rules=[
                aws.wafv2.WebAclRuleArgs(
                    name=f"group-{index}",
                    priority=index,
                    override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                        none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()
                    ),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                            vendor_name="AWS", name=f"group-{index}"
                        )
                    ),
                    visibility_config=visibility,
                )
                for index in range(4)
            ],
        )

    result = estimate(program(build))
    assert sorted((line.item, line.quantity, round(line.monthly_usd, 2)) for line in result.lines) == [
        ("ACM public certificate", 1, 0.0),
        ("Route 53 hosted zone", 1, 0.5),
        ("WAF rules and managed rule groups (4)", 4, 4.0),
        ("WAF web ACL", 1, 5.0),
    ]
    assert "WAF requests inspected $0.6/million" in result.left_out
    assert (
        "Route 53 queries $0.4/million (alias queries to the load balancer or API domain are free)" in result.left_out
    )


@pytest.mark.parametrize("stack, front_door", [("dev", 0.0), ("staging", 10.5), ("prod", 10.5)])
def test_committed_stacks_price_their_front_door(stack, front_door):
    result = estimate(committed_run(stack))
    # Web ACL $5 + five rules (IP reputation, rate limit, common, known bad inputs, SQLi) + the zone.
    found = [line.monthly_usd for line in result.lines if line.type.startswith(("aws:wafv2/", "aws:route53/"))]
    assert round(sum(found), 2) == front_door
