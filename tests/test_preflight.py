"""Preflight: every rule fires on a broken input, stays quiet on a good one, and the real stacks pass."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from preview.analysis import kubernetes_version
from preview.checks.preflight import NAMED_TYPES, container_definition_problems, policy_problems, preflight
from stackconfig.aws_limits import NAME_LIMITS

from .conftest import committed_run
from .preview_support import document, program, resource, runs_of

ALLOW_SEND = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:work"}


def findings(run, rule: str, kubernetes_version: str | None = None) -> list[str]:
    result = preflight(run, kubernetes_version)
    return [f"{f.resource}: {f.message}" for f in result.findings if f.rule == rule]


# -- name-length ------------------------------------------------------------------------
def test_explicit_alb_and_target_group_names_over_32_characters():
    def build():
        aws.lb.LoadBalancer("alb", name="flowbuilder-integration-tests-api", subnets=["subnet-a"])  # 33
        aws.lb.TargetGroup(
            "tg", name="flowbuilder-integration-test-api", port=80, protocol="HTTP", vpc_id="vpc-1"
        )  # 32

    problems = findings(program(build), "name-length")
    assert problems == [
        "alb: alb name 'flowbuilder-integration-tests-api' is 33 characters (explicit name); the limit is 32"
    ]


def test_auto_named_role_counts_pulumis_suffix():
    logical = "flowbuilder-integration-worker-execution-role-for-tasks"  # 55 + 8 = 63: fits
    longer = logical + "-xx"  # 58 + 8 = 66: over 64

    def build():
        trust = document(
            {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
        )
        aws.iam.Role(logical, assume_role_policy=trust)
        aws.iam.Role(longer, assume_role_policy=trust)

    [problem] = findings(program(build), "name-length")
    assert problem.startswith(f"{longer}: iam-role name '{longer}-")
    assert "is 66 characters (auto-named: logical name + 8-character suffix); the limit is 64" in problem


def test_name_prefix_counts_the_unique_suffix():
    queue = resource("aws:sqs/queue:Queue", "queue", {"namePrefix": "q" * 55})  # 55 + 26 = 81 > 80
    [problem] = findings(runs_of(queue), "name-length")
    assert "is 81 characters (namePrefix + 26-character unique suffix); the limit is 80" in problem


@pytest.mark.parametrize(
    "token, inputs, limit",
    [
        ("aws:lambda/function:Function", {"name": "f" * 65}, 64),
        ("aws:ecs/taskDefinition:TaskDefinition", {"family": "f" * 256}, 255),
        ("aws:cloudwatch/logGroup:LogGroup", {"name": "/" + "l" * 512}, 512),
        ("aws:sqs/queue:Queue", {"name": "q" * 81}, 80),
        ("aws:rds/instance:Instance", {"identifier": "d" * 64}, 63),
        ("aws:pipes/pipe:Pipe", {"name": "p" * 65}, 64),
        ("aws:cloudwatch/eventRule:EventRule", {"name": "r" * 65}, 64),
        ("aws:eks/nodeGroup:NodeGroup", {"nodeGroupName": "n" * 64}, 63),
    ],
)
def test_name_limits_by_type(token, inputs, limit):
    [problem] = findings(runs_of(resource(token, "x", inputs)), "name-length")
    assert problem.endswith(f"the limit is {limit}")


def test_every_named_type_has_an_aws_limit():
    assert {kind for kind, _, _ in NAMED_TYPES.values()} <= set(NAME_LIMITS)


# -- fargate-size ----------------------------------------------------------------------------
def _task_definition(cpu, memory):
    return resource(
        "aws:ecs/taskDefinition:TaskDefinition",
        "td",
        {
            "family": "app",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": cpu,
            "memory": memory,
            "containerDefinitions": json.dumps([{"name": "app", "image": "app:1"}]),
        },
    )


@pytest.mark.parametrize("cpu, memory", [("256", "512"), ("1024", "8192"), ("1 vCPU", "2 GB"), ("16384", "122880")])
def test_valid_fargate_sizes(cpu, memory):
    assert findings(runs_of(_task_definition(cpu, memory)), "fargate-size") == []


@pytest.mark.parametrize(
    "cpu, memory, message",
    [
        ("256", "4096", "memory 4096 is not allowed with cpu 256"),
        ("3072", "8192", "cpu 3072 is not a Fargate size"),
        ("1024", None, "Fargate needs both cpu and memory"),
    ],
)
def test_invalid_fargate_sizes(cpu, memory, message):
    [problem] = findings(runs_of(_task_definition(cpu, memory)), "fargate-size")
    assert message in problem


def test_run_task_override_sizes_are_checked_too():
    machine = resource(
        "aws:sfn/stateMachine:StateMachine",
        "run",
        {
            "definition": json.dumps(
                {
                    "StartAt": "Run",
                    "States": {
                        "Run": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::ecs:runTask.sync",
                            "End": True,
                            "Arguments": {"TaskDefinition": "td", "Overrides": {"Cpu": "512", "Memory": "512"}},
                        }
                    },
                }
            )
        },
    )
    [problem] = findings(runs_of(machine), "fargate-size")
    assert (
        problem == "run: definition state Run: task override: memory 512 is not allowed with cpu 512; "
        "allowed memory: 1024-4096 MiB in steps of 1024"
    )


# -- lambda-limits -----------------------------------------------------------------------------
def test_lambda_memory_and_timeout_ranges():
    def build():
        role = "arn:aws:iam::123456789012:role/fn"
        aws.lambda_.Function("small", package_type="Image", image_uri="fn:1", role=role, memory_size=64)
        aws.lambda_.Function("slow", package_type="Image", image_uri="fn:1", role=role, timeout=901)
        aws.lambda_.Function("fine", package_type="Image", image_uri="fn:1", role=role, memory_size=512, timeout=300)
        aws.lambda_.Function("defaults", package_type="Image", image_uri="fn:1", role=role)

    assert findings(program(build), "lambda-limits") == [
        "slow: timeout 901 s is outside 1-900 s",
        "small: memorySize 64 MB is outside 128-10240 MB",
    ]


# -- subnet-cidr ------------------------------------------------------------------------------------
def test_subnets_outside_the_vpc_overlapping_or_malformed():
    def build():
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        aws.ec2.Subnet("a", vpc_id=vpc.id, cidr_block="10.0.0.0/24")
        aws.ec2.Subnet("outside", vpc_id=vpc.id, cidr_block="10.1.0.0/24")
        aws.ec2.Subnet("overlap", vpc_id=vpc.id, cidr_block="10.0.0.128/25")
        aws.ec2.Subnet("broken", vpc_id=vpc.id, cidr_block="10.0.3.1/24")

    assert findings(program(build), "subnet-cidr") == [
        "broken: cidrBlock '10.0.3.1/24' is not a CIDR block",
        "outside: 10.1.0.0/24 is outside its VPC's CIDR (10.0.0.0/16)",
        "overlap: 10.0.0.128/25 overlaps a (10.0.0.0/24)",
    ]


# -- iam-policy ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, kind, problem",
    [
        ("{not json", "identity", "is not JSON"),
        (json.dumps({"Version": "2012-10-17", "Statements": []}), "identity", "unknown top-level key 'Statements'"),
        (
            json.dumps({"Version": "2021-01-01", "Statement": [ALLOW_SEND]}),
            "identity",
            "Version '2021-01-01' is not 2012-10-17",
        ),
        (document(), "identity", "Statement must be a statement or a non-empty list"),
        (document({**ALLOW_SEND, "Effect": "allow"}), "identity", "Effect must be Allow or Deny (got 'allow')"),
        (document({**ALLOW_SEND, "Actions": ["sqs:SendMessage"]}), "identity", "unknown key 'Actions'"),
        (
            document({**ALLOW_SEND, "Action": "sqs-SendMessage"}),
            "identity",
            "Action 'sqs-SendMessage' is not service:Action",
        ),
        (document({**ALLOW_SEND, "Action": []}), "identity", "Action is empty"),
        (
            document({**ALLOW_SEND, "NotAction": "sqs:DeleteQueue"}),
            "identity",
            "needs exactly one of Action or NotAction",
        ),
        (document({**ALLOW_SEND, "Resource": "work-queue"}), "identity", "Resource 'work-queue' is not an ARN or *"),
        (
            document({k: v for k, v in ALLOW_SEND.items() if k != "Resource"}),
            "identity",
            "needs exactly one of Resource or NotResource",
        ),
        (document({**ALLOW_SEND, "Principal": "*"}), "identity", "an identity policy must not have Principal"),
        (document({**ALLOW_SEND, "Sid": "send-work"}), "identity", "Sid 'send-work' may hold only letters and digits"),
        (document(ALLOW_SEND), "resource", "needs a Principal"),
        (document({**ALLOW_SEND, "Principal": {"Aws": "*"}}), "resource", "Principal has unknown principal type 'Aws'"),
        (
            document({**ALLOW_SEND, "Principal": {"AWS": []}}),
            "resource",
            "Principal.AWS must be a string or a non-empty list",
        ),
        (
            document({**ALLOW_SEND, "Principal": "*", "Condition": {"Bool": True}}),
            "resource",
            "Condition 'Bool' must map condition keys",
        ),
        (
            document(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Resource": "*",
                }
            ),
            "trust",
            "a trust policy must not have Resource",
        ),
    ],
)
def test_policy_grammar(raw, kind, problem):
    assert any(problem in found for found in policy_problems(raw, kind)), list(policy_problems(raw, kind))


def test_valid_policies_pass():
    assert (
        list(
            policy_problems(
                document(ALLOW_SEND, {**ALLOW_SEND, "Effect": "Deny", "Sid": "NoDelete", "Action": ["sqs:Delete*"]}),
                "identity",
            )
        )
        == []
    )
    trust = document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        }
    )
    assert list(policy_problems(trust, "trust")) == []
    tls = document(
        {
            "Sid": "Deny insecure transport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": "arn:aws:sqs:us-east-1:123456789012:work",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    assert list(policy_problems(tls, "resource")) == []


def test_every_policy_input_is_checked_with_its_kind():
    def build():
        role = aws.iam.Role(
            "role",
            assume_role_policy=document({**ALLOW_SEND, "Principal": {"Service": "lambda.amazonaws.com"}}),
            inline_policies=[
                aws.iam.RoleInlinePolicyArgs(name="p", policy=document({**ALLOW_SEND, "Effect": "Permit"}))
            ],
        )
        aws.iam.RolePolicy("role-policy", role=role.id, policy=document({**ALLOW_SEND, "Principal": "*"}))
        aws.sqs.QueuePolicy("queue-policy", queue_url="https://sqs/work", policy=document(ALLOW_SEND))

    assert findings(program(build), "iam-policy") == [
        "queue-policy: policy: Statement[0]: needs a Principal",
        "role: assumeRolePolicy: Statement[0]: a trust policy must not have Resource",
        "role: inlinePolicies[0].policy: Statement[0]: Effect must be Allow or Deny (got 'Permit')",
        "role-policy: policy: Statement[0]: an identity policy must not have Principal",
    ]


# -- ecs-container-definitions -------------------------------------------------------------------
@pytest.mark.parametrize(
    "container, problem",
    [
        (
            {"name": "api", "image": "api:1", "portMapping": [{"containerPort": 80}]},
            "containerDefinitions[0]: unknown key 'portMapping' (not in ECS ContainerDefinition)",
        ),
        ({"name": "api", "image": "api:1", "cpu": "256"}, "containerDefinitions[0].cpu must be an integer (got '256')"),
        (
            {"name": "api", "image": "api:1", "portMappings": [{"containerPort": 80, "protocol": "TCP"}]},
            "containerDefinitions[0].portMappings[0].protocol 'TCP' is not one of tcp, udp",
        ),
        ({"name": "api"}, "containerDefinitions[0].image is required"),
        (
            {"name": "api", "image": "api:1", "logConfiguration": {"options": {"awslogs-group": "/g"}}},
            "containerDefinitions[0].logConfiguration.logDriver is required",
        ),
        (
            {"name": "api", "image": "api:1", "essential": "true"},
            "containerDefinitions[0].essential must be true or false",
        ),
        (
            {"name": "api", "image": "api:1", "secrets": [{"name": "DB", "value": "x"}]},
            "containerDefinitions[0].secrets[0]: unknown key 'value' (not in ECS Secret)",
        ),
        (
            {"name": "api", "image": "api:1", "dockerLabels": {"team": 7}},
            "containerDefinitions[0].dockerLabels.team must be a string",
        ),
    ],
)
def test_container_definitions_against_the_botocore_model(container, problem):
    assert any(problem in found for found in container_definition_problems(json.dumps([container])))


def test_container_definitions_must_be_a_json_list():
    assert list(container_definition_problems("{")) and "not JSON" in next(container_definition_problems("{"))
    assert list(container_definition_problems("[]")) == ["containerDefinitions must be a non-empty JSON list"]


def test_a_full_container_definition_passes():
    container = {
        "name": "api",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:abc",
        "essential": True,
        "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
        "readonlyRootFilesystem": True,
        "environment": [{"name": "STACK", "value": "dev"}],
        "secrets": [{"name": "DATABASE_URL", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}],
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/flowbuilder/dev/api"}},
        "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost:8080/health"], "interval": 30},
        "linuxParameters": {"initProcessEnabled": True},
        "stopTimeout": 120,
    }
    assert list(container_definition_problems(json.dumps([container]))) == []


def test_task_definitions_are_checked_in_the_run():
    run = runs_of(
        resource(
            "aws:ecs/taskDefinition:TaskDefinition",
            "td",
            {
                "family": "app",
                "containerDefinitions": json.dumps([{"name": "app", "image": "a:1", "memoryReservaton": 64}]),
            },
        )
    )
    assert findings(run, "ecs-container-definitions") == [
        "td: containerDefinitions[0]: unknown key 'memoryReservaton' (not in ECS ContainerDefinition)"
    ]


# -- kubernetes-schema --------------------------------------------------------------------------------
def _deployment(**extra):
    def build():
        k8s.apps.v1.Deployment(
            "api",
            metadata={"name": "api", "namespace": "flowbuilder"},
            spec={
                "replicas": 2,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {
                    "metadata": {"labels": {"app": "api"}},
                    "spec": {"containers": [{"name": "api", "image": "api:1.0", **extra}]},
                },
            },
        )

    return program(build)


def test_a_valid_deployment_passes_for_the_cluster_version():
    result = preflight(_deployment(), "1.33")
    assert result.checked["kubernetes-schema"] == 1
    assert [f for f in result.findings if f.rule == "kubernetes-schema"] == []


def test_an_unknown_container_field_is_rejected():
    [problem] = findings(
        _deployment(imagePullPolicy="Always", ports=[{"containerPort": "http"}]), "kubernetes-schema", "1.33"
    )
    assert problem.startswith(
        "api: spec.template.spec.containers.0.ports.0.containerPort: 'http' is not of type 'integer'"
    )
    assert problem.endswith("(Kubernetes 1.33 schema)")


def test_an_unknown_field_is_rejected_by_the_strict_schema():
    [problem] = findings(_deployment(livenessprobe={}), "kubernetes-schema", "1.33")
    assert "'livenessprobe' was unexpected" in problem


def test_a_kind_kubernetes_does_not_serve_is_rejected_and_custom_resources_are_noted():
    typo = resource("kubernetes:apps/v1:Deploymnt", "typo", {"metadata": {"name": "x"}})
    istio = resource(
        "kubernetes:security.istio.io/v1:PeerAuthentication", "mtls", {"spec": {"mtls": {"mode": "STRICT"}}}
    )
    result = preflight(runs_of(typo, istio), "1.33")
    assert [f.message for f in result.findings] == ["Kubernetes 1.33 has no Deploymnt in apps/v1"]
    assert result.notes == [
        "1 custom resources (1 kinds) have no published schema, "
        "not validated: PeerAuthentication (security.istio.io/v1)"
    ]


def test_an_unsupported_kubernetes_version_is_reported():
    [problem] = findings(_deployment(), "kubernetes-schema", "1.99")
    assert "has no schema for Kubernetes 1.99" in problem


# -- exclusive-fields ------------------------------------------------------------------------------------
def test_service_with_launch_type_and_capacity_providers():
    service = resource(
        "aws:ecs/service:Service",
        "svc",
        {
            "launchType": "FARGATE",
            "capacityProviderStrategies": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        },
    )
    assert findings(runs_of(service), "exclusive-fields") == [
        "svc: launchType 'FARGATE' and a capacity-provider strategy are both set; ECS accepts one or the other"
    ]


def test_pipe_with_launch_type_and_capacity_providers():
    def build():
        aws.pipes.Pipe(
            "pipe",
            role_arn="arn:aws:iam::123456789012:role/p",
            source="arn:aws:sqs:us-east-1:123456789012:q",
            target="arn:aws:ecs:us-east-1:123456789012:cluster/c",
            target_parameters=aws.pipes.PipeTargetParametersArgs(
                ecs_task_parameters=aws.pipes.PipeTargetParametersEcsTaskParametersArgs(
                    task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/w:1",
                    launch_type="FARGATE",
                    capacity_provider_strategies=[
                        aws.pipes.PipeTargetParametersEcsTaskParametersCapacityProviderStrategyArgs(
                            capacity_provider="FARGATE_SPOT", weight=1
                        )
                    ],
                )
            ),
        )

    [problem] = findings(program(build), "exclusive-fields")
    assert problem.startswith(
        "pipe: targetParameters.ecsTaskParameters: launchType 'FARGATE' and a capacity-provider strategy"
    )


def test_step_functions_run_task_with_both():
    machine = resource(
        "aws:sfn/stateMachine:StateMachine",
        "run",
        {
            "definition": json.dumps(
                {
                    "StartAt": "Run",
                    "States": {
                        "Run": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::ecs:runTask.sync",
                            "End": True,
                            "Parameters": {
                                "TaskDefinition": "td",
                                "LaunchType": "FARGATE",
                                "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}],
                            },
                        }
                    },
                }
            )
        },
    )
    [problem] = findings(runs_of(machine), "exclusive-fields")
    assert problem.startswith("run: definition state Run: launchType 'FARGATE' and a capacity-provider strategy")


# -- the real stacks ------------------------------------------------------------------------------------
def test_the_committed_stacks_pass_preflight(any_stack):
    result = preflight(any_stack, kubernetes_version(any_stack))
    assert result.findings == []
    assert result.checked["name-length"] > 10
    assert result.checked["iam-policy"] > 5


def test_the_schema_version_is_the_clusters_else_the_stack_config():
    loaded = committed_run("dev").config
    config = loaded.model_copy(update={"eks": loaded.eks.model_copy(update={"kubernetes_version": "1.32"})})
    cluster = resource("aws:eks/cluster:Cluster", "mesh", {"version": "1.31"})
    assert kubernetes_version(runs_of(cluster, config=config)) == "1.31"
    assert kubernetes_version(runs_of(config=config)) == "1.32"
    assert kubernetes_version(runs_of()) is None
