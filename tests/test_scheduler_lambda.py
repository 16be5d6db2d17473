"""SchedulerLambda: the 5-minute container-image function in both topologies, and the first-deploy path."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from components import SchedulerLambda, SchedulerLambdaArgs
from simulation.harness import StackRun
from stackconfig import CpuArchitecture
from stackconfig.model import SchedulerConfig
from tests.component_support import image, queue_ref, run_component, section, url_database
from tests.conftest import DIGESTS, committed_run, released_run

FUNCTION = "aws:lambda/function:Function"
SCHEDULE = "aws:scheduler/schedule:Schedule"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
QUEUE = "aws:sqs/queue:Queue"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"

STANDARD = ("dev", "staging", "prod")


def with_image(stack: str) -> StackRun:
    return released_run(stack)


@functools.cache
def scheduler_alone(architecture: CpuArchitecture = CpuArchitecture.ARM64, scheduler: str = "{}") -> StackRun:
    """The scheduler on its own, released, outside any VPC."""

    def build(context) -> None:
        SchedulerLambda(
            context.prefix,
            SchedulerLambdaArgs(
                context,
                section(SchedulerConfig, "scheduler", **json.loads(scheduler)),
                architecture=architecture,
                image=image("scheduler", DIGESTS["scheduler"]),
                queue=queue_ref("q"),
                database=url_database(),
                failure_retention_days=14,
            ),
        )

    return run_component(build)


def statements_of(run: StackRun, role_suffix: str) -> dict[str, dict[str, Any]]:
    role = run.one(ROLE, role_suffix)
    (policy,) = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


def repository_url(run: StackRun) -> str:
    return run.outputs["repositoryUrls"]["scheduler"]


# -- before the first image ---------------------------------------------------


def test_no_function_or_schedule_before_an_image_exists(any_stack):
    owned = [r for r in any_stack.resources if r.name.startswith(f"flowbuilder-{any_stack.stack}-scheduler")]
    assert {r.type for r in owned}.isdisjoint({FUNCTION, SCHEDULE, INVOKE_CONFIG})
    push = any_stack.outputs["imagesToPush"]
    assert f"docker push {repository_url(any_stack)}:<git-sha>" in push["push"]
    assert f"under flowbuilder:images in Pulumi.{any_stack.stack}.yaml" in push["then"]


def test_what_does_not_need_the_image_is_created_on_the_first_deploy(any_stack):
    name = f"flowbuilder-{any_stack.stack}-scheduler"
    assert any_stack.one(LOG_GROUP, "-scheduler-logs").inputs["name"] == f"/aws/lambda/{name}"
    assert any_stack.one(QUEUE, "-scheduler-dlq").inputs["name"] == f"{name}-dlq"
    assert any_stack.one(ROLE, "-scheduler").inputs["description"] == "Identity of the scheduler Lambda"
    assert any_stack.outputs["schedulerFunctionName"] == name


# -- the function -------------------------------------------------------------


@pytest.mark.parametrize("stack", [*STANDARD, "ultra"])
def test_function_settings(stack):
    run = with_image(stack)
    function = run.one(FUNCTION, "-scheduler")
    assert function.inputs["name"] == f"flowbuilder-{stack}-scheduler"
    assert function.inputs["packageType"] == "Image"
    assert function.inputs["imageUri"] == f"{repository_url(run)}@{DIGESTS['scheduler']}"
    assert function.inputs["architectures"] == ["arm64"]
    assert function.inputs["memorySize"] == 512
    assert function.inputs["timeout"] == 300
    assert function.inputs["reservedConcurrentExecutions"] == 1
    assert function.inputs["tracingConfig"] == {"mode": "Active"}
    assert function.inputs["role"] == run.one(ROLE, "-scheduler").state["arn"]
    assert f"{repository_url(run)}:<git-sha>" not in str(run.outputs.get("imagesToPush", ""))


@pytest.mark.parametrize("stack", [*STANDARD, "ultra"])
def test_environment_names_the_queue_and_the_secret_never_a_password(stack):
    run = with_image(stack)
    variables = run.one(FUNCTION, "-scheduler").inputs["environment"]["variables"]
    assert variables["QUEUE_URL"] == run.outputs["workQueueUrl"]
    if stack == "ultra":
        # The external database: the function reads the URL secret by ARN.
        assert variables["DB_SECRET_ARN"] == run.outputs["databaseSecretArn"]
    else:
        # IAM database authentication: a token per connection, no secret to read.
        assert (variables["DB_USER"], variables["DB_IAM_AUTH"]) == ("flowbuilder_app", "true")
        assert "DB_SECRET_ARN" not in variables
    assert variables["STACK"] == stack
    assert not any("PASSWORD" in key or key == "DATABASE_URL" for key in variables)
    assert not any(str(value).startswith("postgres") for value in variables.values())


@pytest.mark.parametrize("stack", STANDARD)
def test_standard_function_runs_in_the_private_subnets_behind_the_scheduler_group(stack):
    run = with_image(stack)
    vpc = run.one(FUNCTION, "-scheduler").inputs["vpcConfig"]
    assert vpc["subnetIds"] == run.outputs["privateSubnetIds"]
    assert len(vpc["subnetIds"]) == 2
    assert vpc["securityGroupIds"] == [run.outputs["securityGroupIds"]["scheduler"]]


def test_scheduler_group_reaches_postgres(dev):
    scheduler_group = dev.outputs["securityGroupIds"]["scheduler"]
    rules = [
        r
        for r in dev.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs.get("referencedSecurityGroupId") == scheduler_group
    ]
    assert [(r.inputs["fromPort"], r.inputs["toPort"]) for r in rules] == [(5432, 5432)]
    assert rules[0].inputs["securityGroupId"] == dev.outputs["securityGroupIds"]["database"]


def test_zero_scale_function_has_no_vpc():
    assert "vpcConfig" not in with_image("ultra").one(FUNCTION, "-scheduler").inputs


def test_x86_when_configured():
    run = scheduler_alone(CpuArchitecture.X86_64)
    assert run.one(FUNCTION, "-scheduler").inputs["architectures"] == ["x86_64"]


def test_memory_timeout_and_schedule_follow_the_scheduler_settings():
    run = scheduler_alone(
        scheduler=json.dumps({"memoryMb": 1024, "timeoutSeconds": 120, "scheduleExpression": "cron(0/15 * * * ? *)"})
    )
    function = run.one(FUNCTION, "-scheduler")
    assert (function.inputs["memorySize"], function.inputs["timeout"]) == (1024, 120)
    assert run.one(SCHEDULE, "-scheduler").inputs["scheduleExpression"] == "cron(0/15 * * * ? *)"
    assert "vpcConfig" not in function.inputs


def test_function_is_created_after_its_log_group_permissions_and_image_pull_policy():
    run = with_image("dev")
    depends_on = run.one(FUNCTION, "-scheduler").depends_on
    assert run.one(LOG_GROUP, "-scheduler-logs").urn in depends_on
    assert run.one(ROLE_POLICY, "-scheduler").urn in depends_on
    assert run.one(REPOSITORY_POLICY).urn in depends_on


def test_log_group_keeps_the_stack_retention():
    for stack, days in (("dev", 7), ("staging", 14), ("prod", 30), ("ultra", 30)):
        assert committed_run(stack).one(LOG_GROUP, "-scheduler-logs").inputs["retentionInDays"] == days


# -- failures -----------------------------------------------------------------


def test_failed_runs_go_to_the_scheduler_failure_queue_after_one_retry():
    run = with_image("prod")
    config = run.one(INVOKE_CONFIG, "-scheduler-on-failure")
    failure_queue = run.one(QUEUE, "-scheduler-dlq")
    assert config.inputs["functionName"] == "flowbuilder-prod-scheduler"
    assert config.inputs["maximumRetryAttempts"] == 1
    assert config.inputs["maximumEventAgeInSeconds"] == 900
    assert config.inputs["destinationConfig"] == {"onFailure": {"destination": failure_queue.state["arn"]}}
    # Not the work DLQ: a redrive of the work DLQ must never replay failure records as work.
    assert failure_queue.state["arn"] != run.one(QUEUE, "-work-dlq").state["arn"]


def test_failure_queue_is_encrypted_tls_only_and_kept_like_the_work_dlq(ultra):
    queue = ultra.one(QUEUE, "-scheduler-dlq")
    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert queue.inputs["messageRetentionSeconds"] == 14 * 86_400
    (policy,) = [
        p
        for p in ultra.of_type("aws:sqs/queuePolicy:QueuePolicy")
        if p.name == "flowbuilder-ultra-scheduler-dlq-tls-only"
    ]
    (deny,) = json.loads(policy.inputs["policy"])["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == queue.state["arn"]


# -- the schedule -------------------------------------------------------------


@pytest.mark.parametrize("stack", [*STANDARD, "ultra"])
def test_schedule_every_five_minutes_with_retries_and_a_dlq(stack):
    run = with_image(stack)
    schedule = run.one(SCHEDULE, "-scheduler")
    function = run.one(FUNCTION, "-scheduler")
    assert schedule.inputs["name"] == f"flowbuilder-{stack}-scheduler"
    assert schedule.inputs["scheduleExpression"] == "rate(5 minutes)"
    assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
    assert schedule.inputs["state"] == "ENABLED"
    target = schedule.inputs["target"]
    assert target["arn"] == function.state["arn"]
    assert target["roleArn"] == run.one(ROLE, "-scheduler-invoke").state["arn"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 3, "maximumEventAgeInSeconds": 300}
    assert target["deadLetterConfig"] == {"arn": run.one(QUEUE, "-scheduler-dlq").state["arn"]}
    assert json.loads(target["input"]) == {
        "stack": stack,
        "scheduledTime": "<aws.scheduler.scheduled-time>",
        "executionId": "<aws.scheduler.execution-id>",
    }


def test_schedule_role_invokes_only_the_scheduler_function():
    run = with_image("staging")
    statements = statements_of(run, "-scheduler-invoke")
    assert statements == {
        "InvokeScheduler": {
            "Sid": "InvokeScheduler",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [run.one(FUNCTION, "-scheduler").state["arn"]],
        },
        "DeadLetter": {
            "Sid": "DeadLetter",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [run.one(QUEUE, "-scheduler-dlq").state["arn"]],
        },
        # The schedule's payload is under the stack key; Scheduler decrypts it with this role.
        "DecryptSchedulePayload": {
            "Sid": "DecryptSchedulePayload",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [run.outputs["stackKeyArn"]],
        },
    }
    (trust,) = json.loads(run.one(ROLE, "-scheduler-invoke").inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


# -- the function's role ------------------------------------------------------


@pytest.mark.parametrize("stack", [*STANDARD, "ultra"])
def test_function_role_sends_to_its_queues_and_reaches_the_database_one_way(stack):
    run = committed_run(stack)
    statements = statements_of(run, "-scheduler")
    assert statements["EnqueueWork"]["Action"] == ["sqs:SendMessage"]
    assert statements["EnqueueWork"]["Resource"] == [run.one(QUEUE, "-work").state["arn"]]
    assert statements["RecordFailedRuns"]["Resource"] == [run.one(QUEUE, "-scheduler-dlq").state["arn"]]
    if stack == "ultra":
        assert statements["ReadDatabaseSecret"]["Action"] == ["secretsmanager:GetSecretValue"]
        assert statements["ReadDatabaseSecret"]["Resource"] == [run.outputs["databaseSecretArn"]]
    else:
        resource_id = run.one("aws:rds/instance:Instance", "-postgres").state["resourceId"]
        assert "ReadDatabaseSecret" not in statements
        assert statements["ConnectAsApplicationUser"]["Action"] == ["rds-db:connect"]
        assert statements["ConnectAsApplicationUser"]["Resource"] == [
            f"arn:aws:rds-db:us-east-1:123456789012:dbuser:{resource_id}/flowbuilder_app"
        ]
    log_group = run.one(LOG_GROUP, "-scheduler-logs").state["arn"]
    assert statements["WriteLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statements["WriteLogs"]["Resource"] == [f"{log_group}:*"]
    assert statements["WriteTraces"]["Action"] == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    actions = [a for s in statements.values() for a in s["Action"]]
    assert not any(a.endswith("*") for a in actions)


@pytest.mark.parametrize("stack", STANDARD)
def test_standard_role_manages_network_interfaces_in_its_account_and_region_only(stack):
    statements = statements_of(committed_run(stack), "-scheduler")
    assert statements["DescribeNetwork"]["Action"] == ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
    assert statements["ManageNetworkInterfaces"]["Action"] == [
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ]
    assert statements["ManageNetworkInterfaces"]["Resource"] == ["arn:aws:ec2:us-east-1:123456789012:*/*"]
    wildcards = sorted(sid for sid, s in statements.items() if s["Resource"] == "*")
    # X-Ray and EC2 Describe calls accept no narrower resource.
    assert wildcards == ["DescribeNetwork", "WriteTraces"]


def test_zero_scale_role_has_no_network_permissions(ultra):
    statements = statements_of(ultra, "-scheduler")
    assert not any(a.startswith("ec2:") for s in statements.values() for a in s["Action"])
    assert sorted(sid for sid, s in statements.items() if s["Resource"] == "*") == ["WriteTraces"]


def test_lambda_trust_is_limited_to_the_account(ultra):
    (trust,) = json.loads(ultra.one(ROLE, "-scheduler").inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_repository_lets_only_the_scheduler_function_pull(prod):
    policy = prod.one(REPOSITORY_POLICY)
    assert policy.inputs["repository"] == "flowbuilder-prod/scheduler"
    (grant,) = json.loads(policy.inputs["policy"])["Statement"]
    assert grant["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert grant["Action"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert grant["Condition"] == {
        "StringLike": {"aws:sourceArn": "arn:aws:lambda:us-east-1:123456789012:function:flowbuilder-prod-scheduler"}
    }
