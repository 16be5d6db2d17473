"""The Mermaid diagram: nodes by tier and edges derived from listeners, security groups, IAM, pipes and schedules."""

from __future__ import annotations

import json
import re

import pulumi
import pulumi_aws as aws
import pytest

from preview.report import docs
from preview.report.diagram import Diagram, build_diagram

from .conftest import committed_run
from .preview_support import document, program

ACCOUNT = "123456789012"


def edges(diagram: Diagram) -> set[tuple[str, str, str]]:
    return {(e.source, e.target, e.label) for e in diagram.edges}


def zone_of(diagram: Diagram, node_id: str) -> str:
    return next(node.zone for node in diagram.nodes if node.id == node_id)


def node_id(diagram: Diagram, label_start: str) -> str:
    first_lines = {node.id: node.label.split("<br/>")[0] for node in diagram.nodes}
    [found] = [n for n, line in first_lines.items() if line == label_start or line.startswith(label_start + " ")]
    return found


def reaches(diagram: Diagram, *labels: str) -> bool:
    """Whether each labelled node has an edge to the next one."""
    ids = [node_id(diagram, label) if label != "Internet" else "internet" for label in labels]
    pairs = {(e.source, e.target) for e in diagram.edges}
    return all(pair in pairs for pair in zip(ids, ids[1:], strict=False))


def assert_valid_mermaid(diagram: Diagram) -> None:
    text = diagram.mermaid
    assert text.startswith("flowchart LR\n")
    declared = re.findall(r"^\s*([A-Za-z0-9_]+)(?:\[|\(|\{)", text, re.M)
    subgraphs = re.findall(r"^\s*subgraph ([A-Za-z0-9_]+)\[", text, re.M)
    assert len(declared) == len(set(declared)), "a node id is declared twice"
    assert text.count("subgraph ") == text.count("\n  end") + text.count("\n    end")
    for source, target in re.findall(r"^\s*([A-Za-z0-9_]+) -\.?->(?:\|\"[^\"]*\"\|)? ([A-Za-z0-9_]+)$", text, re.M):
        assert source in declared + subgraphs, source
        assert target in declared + subgraphs, target
    assert len(re.findall(r"-\.?->", text)) == len(diagram.edges)


# -- a standard stack in miniature ------------------------------------------------------------
def _standard():
    def sg(name: str) -> aws.ec2.SecurityGroup:
        return aws.ec2.SecurityGroup(f"flowbuilder-dev-{name}-sg", name=f"flowbuilder-dev-{name}", vpc_id=vpc.id)

    def role(name: str, *statements: dict) -> aws.iam.Role:
        trust = document(
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        )
        created = aws.iam.Role(f"flowbuilder-dev-{name}", assume_role_policy=trust)
        aws.iam.RolePolicy(
            f"flowbuilder-dev-{name}",
            role=created.id,
            policy=pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)}),
        )
        return created

    def task(name: str, task_role: aws.iam.Role) -> aws.ecs.TaskDefinition:
        return aws.ecs.TaskDefinition(
            f"flowbuilder-dev-{name}",
            family=f"flowbuilder-dev-{name}",
            cpu="256",
            memory="512",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            task_role_arn=task_role.arn,
            container_definitions=json.dumps([{"name": name, "image": f"{name}:1"}]),
        )

    vpc = aws.ec2.Vpc("flowbuilder-dev-vpc", cidr_block="10.0.0.0/16")
    tiers = {
        tier: [
            aws.ec2.Subnet(
                f"flowbuilder-dev-{tier}-{zone}",
                vpc_id=vpc.id,
                cidr_block=f"10.0.{base + i}.0/24",
                availability_zone=f"us-east-1{zone}",
                tags={"tier": tier},
            )
            for i, zone in enumerate("ab")
        ]
        for tier, base in (("public", 0), ("private", 10), ("database", 20))
    }
    alb_sg, api_sg, worker_sg, scheduler_sg, db_sg = (sg(n) for n in ("alb", "api", "worker", "scheduler", "database"))
    aws.vpc.SecurityGroupIngressRule(
        "api-from-alb",
        security_group_id=api_sg.id,
        referenced_security_group_id=alb_sg.id,
        ip_protocol="tcp",
        from_port=8080,
        to_port=8080,
    )
    for client, group in (("api", api_sg), ("worker", worker_sg), ("scheduler", scheduler_sg)):
        aws.vpc.SecurityGroupIngressRule(
            f"db-from-{client}",
            security_group_id=db_sg.id,
            referenced_security_group_id=group.id,
            ip_protocol="tcp",
            from_port=5432,
            to_port=5432,
        )
    queue = aws.sqs.Queue("flowbuilder-dev-work", name="flowbuilder-dev-work")
    send = {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue.arn}
    receive = {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": queue.arn}
    alb = aws.lb.LoadBalancer(
        "flowbuilder-dev-alb", internal=False, subnets=[s.id for s in tiers["public"]], security_groups=[alb_sg.id]
    )
    target_group = aws.lb.TargetGroup(
        "flowbuilder-dev-api-tg", port=8080, protocol="HTTP", target_type="ip", vpc_id=vpc.id
    )
    aws.lb.Listener(
        "flowbuilder-dev-http",
        load_balancer_arn=alb.arn,
        port=80,
        default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)],
    )
    private = aws.ecs.ServiceNetworkConfigurationArgs
    aws.ecs.Service(
        "flowbuilder-dev-api",
        name="flowbuilder-dev-api",
        cluster="c",
        desired_count=1,
        task_definition=task("api", role("api-task", send)).arn,
        network_configuration=private(subnets=[s.id for s in tiers["private"]], security_groups=[api_sg.id]),
        load_balancers=[
            aws.ecs.ServiceLoadBalancerArgs(
                target_group_arn=target_group.arn, container_name="api", container_port=8080
            )
        ],
    )
    aws.ecs.Service(
        "flowbuilder-dev-worker",
        name="flowbuilder-dev-worker",
        cluster="c",
        desired_count=0,
        task_definition=task("worker", role("worker-task", receive)).arn,
        network_configuration=private(subnets=[s.id for s in tiers["private"]], security_groups=[worker_sg.id]),
    )
    function = aws.lambda_.Function(
        "flowbuilder-dev-scheduler",
        package_type="Image",
        image_uri="scheduler:1",
        role=role("scheduler", send).arn,
        vpc_config=aws.lambda_.FunctionVpcConfigArgs(
            subnet_ids=[s.id for s in tiers["private"]], security_group_ids=[scheduler_sg.id]
        ),
    )
    aws.scheduler.Schedule(
        "flowbuilder-dev-scheduler",
        schedule_expression="rate(5 minutes)",
        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
        target=aws.scheduler.ScheduleTargetArgs(arn=function.arn, role_arn=f"arn:aws:iam::{ACCOUNT}:role/invoke"),
    )
    subnet_group = aws.rds.SubnetGroup(
        "flowbuilder-dev-db", name="flowbuilder-dev-db", subnet_ids=[s.id for s in tiers["database"]]
    )
    aws.rds.Instance(
        "flowbuilder-dev-postgres",
        engine="postgres",
        instance_class="db.t4g.micro",
        allocated_storage=20,
        db_subnet_group_name=subnet_group.name,
        vpc_security_group_ids=[db_sg.id],
        username="app",
    )
    aws.ec2.Instance(
        "flowbuilder-dev-nat",
        ami="ami-1",
        instance_type="t4g.nano",
        source_dest_check=False,
        subnet_id=tiers["public"][0].id,
        associate_public_ip_address=True,
    )


@pytest.fixture(scope="module")
def standard() -> Diagram:
    return build_diagram(program(_standard))


def test_standard_flow_api_queue_worker_database(standard):
    assert {
        ("internet", "lb_alb", "80"),
        ("lb_alb", "ecs_api", "8080"),
        ("ecs_api", "sqs_work", "send"),
        ("sqs_work", "ecs_worker", "receive"),
        ("ecs_worker", "rds_postgres", "5432"),
        ("ecs_api", "rds_postgres", "5432"),
        ("lambda_scheduler", "sqs_work", "send"),
        ("lambda_scheduler", "rds_postgres", "5432"),
        ("schedule_scheduler", "lambda_scheduler", "invoke"),
        ("private", "nat", "egress"),
    } <= edges(standard)


def test_standard_nodes_sit_in_the_tier_of_their_subnets(standard):
    assert [
        zone_of(standard, n)
        for n in ("lb_alb", "nat", "ecs_api", "ecs_worker", "lambda_scheduler", "rds_postgres", "sqs_work")
    ] == [
        "public",
        "public",
        "private",
        "private",
        "private",
        "database",
        "aws",
    ]
    assert standard.vpc_label == "VPC 10.0.0.0/16, 2 AZs"
    public_block = standard.mermaid.split('subgraph public["Public subnets"]')[1].split("end")[0]
    assert 'lb_alb["ALB alb"]' in public_block and 'nat["NAT instance t4g.nano"]' in public_block


def test_standard_mermaid_is_well_formed(standard):
    assert_valid_mermaid(standard)
    assert 'rds_postgres[("RDS PostgreSQL<br/>db.t4g.micro")]' in standard.mermaid
    assert '  ecs_api -->|"send"| sqs_work' in standard.mermaid


def test_without_a_permission_there_is_no_queue_edge():
    def build():
        queue = aws.sqs.Queue("flowbuilder-dev-work", name="flowbuilder-dev-work")
        other = aws.sqs.Queue("flowbuilder-dev-other", name="flowbuilder-dev-other")
        trust = document(
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        )
        role = aws.iam.Role("flowbuilder-dev-fn", assume_role_policy=trust)
        aws.iam.RolePolicy(
            "flowbuilder-dev-fn",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "sqs:GetQueueAttributes", "Resource": queue.arn},
                        {"Effect": "Allow", "Action": "sqs:Send*", "Resource": other.arn},
                    ],
                }
            ),
        )
        aws.lambda_.Function("flowbuilder-dev-fn", package_type="Image", image_uri="fn:1", role=role.arn)

    diagram = build_diagram(program(build))
    assert edges(diagram) == {("lambda_fn", "sqs_other", "send")}


def test_http_api_edges():
    def build():
        role = f"arn:aws:iam::{ACCOUNT}:role/fn"
        api_function = aws.lambda_.Function(
            "flowbuilder-ultra-api", name="flowbuilder-ultra-api", package_type="Image", image_uri="api:1", role=role
        )
        api = aws.apigatewayv2.Api("flowbuilder-ultra-api", name="flowbuilder-ultra-api", protocol_type="HTTP")
        aws.apigatewayv2.Integration(
            "flowbuilder-ultra-api",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_uri=api_function.invoke_arn,
            payload_format_version="2.0",
        )

    diagram = build_diagram(program(build, stack="ultra"))
    assert edges(diagram) == {
        ("internet", "apigw_api", "HTTPS"),
        ("apigw_api", "lambda_api", "invoke"),
    }
    assert_valid_mermaid(diagram)


# -- a zero-scale stack in miniature ------------------------------------------------------------
def _zero_scale():
    secret = aws.secretsmanager.Secret("flowbuilder-ultra-database-url", name="flowbuilder-ultra-database-url")
    trust = document(
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    task_role = aws.iam.Role("flowbuilder-ultra-worker-task", assume_role_policy=trust)
    definition = aws.ecs.TaskDefinition(
        "flowbuilder-ultra-worker",
        family="flowbuilder-ultra-worker",
        cpu="1024",
        memory="2048",
        network_mode="awsvpc",
        requires_compatibilities=["FARGATE"],
        task_role_arn=task_role.arn,
        container_definitions=secret.arn.apply(
            lambda arn: json.dumps(
                [{"name": "worker", "image": "worker:1", "secrets": [{"name": "DATABASE_URL", "valueFrom": arn}]}]
            )
        ),
    )
    queue = aws.sqs.Queue("flowbuilder-ultra-work", name="flowbuilder-ultra-work")
    machine = aws.sfn.StateMachine(
        "flowbuilder-ultra-worker-run",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/run",
        definition=definition.arn.apply(
            lambda arn: json.dumps(
                {
                    "StartAt": "Run",
                    "States": {
                        "Run": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::ecs:runTask.sync",
                            "End": True,
                            "Arguments": {
                                "TaskDefinition": arn,
                                "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}],
                                "NetworkConfiguration": {
                                    "AwsvpcConfiguration": {
                                        "Subnets": ["subnet-default-a"],
                                        "AssignPublicIp": "ENABLED",
                                    }
                                },
                            },
                        }
                    },
                }
            )
        ),
    )
    aws.pipes.Pipe(
        "flowbuilder-ultra-worker", role_arn=f"arn:aws:iam::{ACCOUNT}:role/pipe", source=queue.arn, target=machine.arn
    )


def test_zero_scale_flow_queue_pipe_state_machine_task_external_database():
    diagram = build_diagram(program(_zero_scale, stack="ultra"))
    assert {
        ("sqs_work", "pipe_worker", "poll"),
        ("pipe_worker", "sfn_worker_run", "start"),
        ("sfn_worker_run", "task_worker", "RunTask"),
        ("task_worker", "secret_database_url", "read"),
        ("task_worker", "external_db", "URL from the secret"),
        ("task_worker", "internet", "egress (public IP)"),
    } <= edges(diagram)
    assert zone_of(diagram, "task_worker") == "public"
    assert diagram.vpc_label == "existing VPC (public subnets)"
    assert 'task_worker["ECS task worker<br/>Spot, one per run"]' in diagram.mermaid
    assert_valid_mermaid(diagram)


# -- the real stacks ----------------------------------------------------------------------------------
def test_dev_diagram_shows_the_standard_flows():
    diagram = docs.deployed("dev").diagram
    assert reaches(diagram, "Internet", "ALB", "ECS api", "SQS work", "ECS worker", "RDS PostgreSQL")
    assert reaches(diagram, "schedule rate(5 minutes)", "Lambda scheduler", "SQS work")
    assert_valid_mermaid(diagram)


def test_ultra_diagram_shows_the_zero_scale_flows():
    diagram = docs.deployed("ultra").diagram
    assert reaches(diagram, "SQS work", "Pipe", "Step Functions", "ECS task worker", "external PostgreSQL")
    assert reaches(diagram, "schedule rate(5 minutes)", "Lambda scheduler", "SQS work")
    assert not any(node.zone in ("private", "database") for node in diagram.nodes)
    assert_valid_mermaid(diagram)


def test_flows_read_as_text(standard):
    assert "Internet --> ALB alb  [80]" in standard.flows()
    assert "ECS api Fargate, 1-1 tasks --> SQS work  [send]" in standard.flows()


def test_prod_diagram_shows_dns_then_waf_then_alb_then_api():
    diagram = docs.deployed("prod").diagram
    assert reaches(diagram, "DNS api.flowbuilder.example.com", "WAF web ACL", "ALB", "ECS api")
    assert reaches(diagram, "Internet", "WAF web ACL", "ALB")
    # With a web ACL in front, nothing reaches the load balancer around it.
    assert not reaches(diagram, "Internet", "ALB")
    assert_valid_mermaid(diagram)


def test_dev_without_a_domain_or_waf_reaches_the_alb_directly():
    diagram = docs.deployed("dev").diagram
    assert reaches(diagram, "Internet", "ALB")
    assert not [node for node in diagram.nodes if node.label.startswith(("DNS ", "WAF "))]


def test_http_api_custom_domain_edges():
    def build():
        api = aws.apigatewayv2.Api("flowbuilder-ultra-api", name="flowbuilder-ultra-api", protocol_type="HTTP")
        domain = aws.apigatewayv2.DomainName(
            "flowbuilder-ultra-api-domain",
            domain_name="api.example.com",
            domain_name_configuration=aws.apigatewayv2.DomainNameDomainNameConfigurationArgs(
                certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/x",
                endpoint_type="REGIONAL",
                security_policy="TLS_1_2",
            ),
        )
        aws.apigatewayv2.ApiMapping(
            "flowbuilder-ultra-api-domain", api_id=api.id, domain_name=domain.id, stage="$default"
        )
        configuration = domain.domain_name_configuration
        aws.route53.Record(
            "flowbuilder-ultra-api-alias-a",
            zone_id="Z0123456789ABC",
            name="api.example.com",
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=configuration.apply(lambda c: c.target_domain_name),
                    zone_id=configuration.apply(lambda c: c.hosted_zone_id),
                    evaluate_target_health=True,
                )
            ],
        )

    diagram = build_diagram(program(build, stack="ultra"))
    assert reaches(diagram, "DNS api.example.com", "API domain api.example.com", "API Gateway HTTP")
    assert ("dns_api_example_com", "apidomain_api_domain", "alias A") in edges(diagram)
    assert_valid_mermaid(diagram)


def test_prod_diagram_shows_the_cache_and_the_backup_chain():
    diagram = build_diagram(committed_run("prod"))
    flows = edges(diagram)
    cache = node_id(diagram, "ElastiCache valkey")
    assert zone_of(diagram, cache) == "database"
    for client in ("ecs_api", "ecs_worker"):
        assert (client, cache, "6379") in flows
    assert not any(target == cache for source, target, _ in flows if source.startswith("lambda_"))
    vault, copy = node_id(diagram, "Backup vault backups"), node_id(diagram, "Backup vault backups-copy")
    assert ("rds_postgres", vault, "daily, weekly") in flows
    assert (vault, copy, "copy") in flows
    assert "(us-west-2)" in next(node.label for node in diagram.nodes if node.id == copy)


def test_dev_diagram_has_no_cache_and_no_backups():
    labels = [node.label for node in build_diagram(committed_run("dev")).nodes]
    assert not [label for label in labels if label.startswith(("ElastiCache", "Backup vault"))]
