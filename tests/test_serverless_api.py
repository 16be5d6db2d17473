"""ServerlessApi: the zero-scale API as an image Lambda behind an HTTP API, and its first-deploy path."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from typing import Any

import pytest

from components import ServerlessApi, ServerlessApiArgs
from policy.offline import evaluate
from policy.rules import POLICIES
from preview.cost import estimate
from preview.report.docs import released_overrides
from simulation.harness import StackRun, stack_config
from stackconfig import CpuArchitecture, Environment, Topology
from stackconfig.model import ServerlessApiConfig
from tests.component_support import image, queue_ref, run_component, section, url_database
from tests.conftest import DIGESTS, released_run

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
HTTP_API = "aws:apigatewayv2/api:Api"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
COMPONENT = "flowbuilder:index:ServerlessApi"


def served() -> StackRun:
    """ultra after its first release: the one whole-program run most tests read."""
    return released_run("ultra")


@functools.cache
def api_alone(architecture: CpuArchitecture = CpuArchitecture.ARM64, api: str = "{}") -> StackRun:
    """The zero-scale API on its own, released, with a made-up queue and database secret."""

    def build(context) -> None:
        ServerlessApi(
            context.prefix,
            ServerlessApiArgs(
                context,
                section(ServerlessApiConfig, "api", Environment.STAGING, Topology.ZERO_SCALE, **json.loads(api)),
                architecture=architecture,
                image=image("api", DIGESTS["api"]),
                queue=queue_ref("q"),
                database=url_database(),
            ),
        )

    return run_component(build, stack="ultra")


@pytest.fixture(scope="module")
def api() -> StackRun:
    return served()


def owned(run: StackRun) -> list:
    (component,) = run.of_type(COMPONENT)
    return list(run.children(component))


def api_statements(run: StackRun) -> dict[str, dict[str, Any]]:
    role = run.one(ROLE, "-api")
    (policy,) = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    return {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}


# -- the function -------------------------------------------------------------


def test_function_runs_the_api_image_on_arm64(api):
    function = api.one(FUNCTION, "-api")
    assert function.inputs["name"] == "flowbuilder-ultra-api"
    assert function.inputs["packageType"] == "Image"
    assert function.inputs["imageUri"] == f"{api.outputs['repositoryUrls']['api']}@{DIGESTS['api']}"
    assert (
        function.inputs["imageUri"]
        == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-ultra/api@{DIGESTS['api']}"
    )
    assert function.inputs["architectures"] == ["arm64"]
    assert function.inputs["role"] == api.one(ROLE, "-api").state["arn"]
    assert "vpcConfig" not in function.inputs


def test_function_size_fits_behind_the_http_api(api):
    function = api.one(FUNCTION, "-api")
    # Zero-scale's own default api.memory, whatever the environment.
    assert function.inputs["memorySize"] == 2048
    # The HTTP API waits 30 s at most; the function stops first.
    assert function.inputs["timeout"] == 29
    assert api.one(INTEGRATION).inputs["timeoutMilliseconds"] == 30_000


def test_concurrency_is_capped_and_traced(api):
    function = api.one(FUNCTION, "-api")
    assert function.inputs["reservedConcurrentExecutions"] == 10
    assert function.inputs["tracingConfig"] == {"mode": "Active"}


def test_environment_configures_the_web_adapter_and_names_the_secret_not_the_url(api):
    variables = api.one(FUNCTION, "-api").inputs["environment"]["variables"]
    assert variables == {
        "AWS_LWA_PORT": "8080",
        "AWS_LWA_READINESS_CHECK_PATH": "/health",
        "PORT": "8080",
        "QUEUE_URL": api.outputs["workQueueUrl"],
        "STACK": "ultra",
        "DB_SECRET_ARN": api.outputs["databaseSecretArn"],
        "DB_SECRET_KIND": "url",
    }
    assert variables["DB_SECRET_ARN"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:")
    assert not any("postgres" in str(value) for value in variables.values())
    assert not any("PASSWORD" in key or key == "DATABASE_URL" for key in variables)


def test_function_log_group_keeps_the_stack_retention_and_exists_first(api):
    log_group = api.one(LOG_GROUP, "-api-logs")
    assert log_group.inputs["name"] == "/aws/lambda/flowbuilder-ultra-api"
    assert log_group.inputs["retentionInDays"] == 30
    depends_on = api.one(FUNCTION, "-api").depends_on
    assert log_group.urn in depends_on
    assert api.one(ROLE_POLICY, "-api").urn in depends_on
    assert api.one(REPOSITORY_POLICY, "-api-image-pull").urn in depends_on


def test_architecture_memory_concurrency_and_throttling_follow_the_api_settings():
    run = api_alone(
        CpuArchitecture.X86_64,
        json.dumps(
            {
                "memory": 3008,
                "lambdaReservedConcurrency": 3,
                "throttleRatePerSecond": 5,
                "throttleBurst": 7,
            }
        ),
    )
    function = run.one(FUNCTION, "-api")
    assert function.inputs["architectures"] == ["x86_64"]
    assert function.inputs["memorySize"] == 3008
    assert function.inputs["reservedConcurrentExecutions"] == 3
    assert run.one(STAGE).inputs["defaultRouteSettings"] == {"throttlingRateLimit": 5, "throttlingBurstLimit": 7}


# -- the HTTP API -------------------------------------------------------------


def test_every_request_goes_to_the_function_with_payload_2(api):
    http_api = api.one(HTTP_API)
    assert http_api.inputs["name"] == "flowbuilder-ultra-api"
    assert http_api.inputs["protocolType"] == "HTTP"
    integration = api.one(INTEGRATION)
    assert integration.inputs["apiId"] == http_api.id
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["integrationMethod"] == "POST"
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    assert integration.inputs["integrationUri"] == api.one(FUNCTION, "-api").state["invokeArn"]
    (route,) = api.of_type(ROUTE)
    assert route.inputs["apiId"] == http_api.id
    assert route.inputs["routeKey"] == "$default"
    assert route.inputs["target"] == f"integrations/{integration.id}"


def test_default_stage_deploys_itself_is_throttled_and_logs_json(api):
    stage = api.one(STAGE)
    assert stage.inputs["apiId"] == api.one(HTTP_API).id
    assert stage.inputs["name"] == "$default"
    assert stage.inputs["autoDeploy"] is True
    assert stage.inputs["defaultRouteSettings"] == {"throttlingRateLimit": 20, "throttlingBurstLimit": 10}
    access_logs = api.one(LOG_GROUP, "-api-access-logs")
    assert access_logs.inputs["name"] == "/flowbuilder/ultra/http-api/access"
    assert access_logs.inputs["retentionInDays"] == 30
    settings = stage.inputs["accessLogSettings"]
    assert settings["destinationArn"] == access_logs.state["arn"]
    fields = json.loads(settings["format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["status"] == "$context.status"
    assert fields["integrationRequestId"] == "$context.integration.requestId"
    assert fields["integrationError"] == "$context.integration.error"
    # The stage deploys once the route exists and the gateway may invoke the function.
    assert api.one(ROUTE).urn in stage.depends_on
    assert api.one(PERMISSION).urn in stage.depends_on


def test_only_this_api_may_invoke_the_function(api):
    permission = api.one(PERMISSION)
    http_api = api.one(HTTP_API)
    assert permission.inputs["action"] == "lambda:InvokeFunction"
    assert permission.inputs["function"] == "flowbuilder-ultra-api"
    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert permission.inputs["sourceArn"] == f"{http_api.state['executionArn']}/*/*"
    assert permission.inputs["sourceArn"] == f"arn:aws:execute-api:us-east-1:123456789012:{http_api.id}/*/*"


def test_stack_exports_the_url_of_the_default_stage(api):
    http_api = api.one(HTTP_API)
    assert api.outputs["apiUrl"] == f"https://{http_api.id}.execute-api.us-east-1.amazonaws.com/"
    assert api.outputs["apiUrl"] == api.one(STAGE).state["invokeUrl"]
    assert api.outputs["apiEndpoint"] == f"https://{http_api.id}.execute-api.us-east-1.amazonaws.com"
    assert api.outputs["apiFunctionName"] == "flowbuilder-ultra-api"
    assert "imagesToPush" not in api.outputs


# -- the function's role ------------------------------------------------------


def test_role_enqueues_reads_one_secret_and_writes_its_logs_and_traces(api):
    statements = api_statements(api)
    log_group = api.one(LOG_GROUP, "-api-logs").state["arn"]
    assert {sid: (s["Effect"], s["Action"], s["Resource"]) for sid, s in statements.items()} == {
        "EnqueueWork": ("Allow", ["sqs:SendMessage"], [api.one("aws:sqs/queue:Queue", "-work").state["arn"]]),
        "ReadDatabaseSecret": ("Allow", ["secretsmanager:GetSecretValue"], [api.outputs["databaseSecretArn"]]),
        # The secret and the function's environment are under the stack key.
        "DecryptEnvironmentAndSecret": ("Allow", ["kms:Decrypt"], [api.outputs["stackKeyArn"]]),
        "WriteLogs": ("Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group}:*"]),
        # X-Ray accepts no narrower resource: the only "*".
        "WriteTraces": ("Allow", ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "*"),
    }


def test_role_is_assumed_by_lambda_in_this_account_only(api):
    (trust,) = json.loads(api.one(ROLE, "-api").inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_api_repository_lets_only_the_api_function_pull(api):
    policy = api.one(REPOSITORY_POLICY, "-api-image-pull")
    assert policy.inputs["repository"] == "flowbuilder-ultra/api"
    (grant,) = json.loads(policy.inputs["policy"])["Statement"]
    assert grant["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert grant["Action"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert grant["Condition"] == {
        "StringLike": {"aws:sourceArn": "arn:aws:lambda:us-east-1:123456789012:function:flowbuilder-ultra-api"}
    }


# -- zero idle cost -----------------------------------------------------------


def test_ultra_serves_the_api_without_load_balancer_nat_or_public_address(api):
    types = {r.type for r in api.resources}
    assert types.isdisjoint(
        {
            "aws:lb/loadBalancer:LoadBalancer",
            "aws:alb/loadBalancer:LoadBalancer",
            "aws:ec2/natGateway:NatGateway",
            "aws:ec2/eip:Eip",
            "aws:ecs/service:Service",
        }
    )
    assert not [r.name for r in api.of_type("aws:ec2/instance:Instance")]


def test_the_api_adds_nothing_to_the_idle_bill_and_its_requests_are_listed(api):
    cost = estimate(api)
    assert cost.complete
    assert not [
        line.item
        for line in cost.lines
        if line.component.endswith("ServerlessApi") or ("-api" in line.resource and line.component != "Monitoring")
    ]
    # Its two alarms (api-5xx, api-throttles) fit CloudWatch's free 10 alarm metrics: idle stays $1.40.
    assert round(cost.total_usd, 2) == 1.40
    assert any(text.startswith("API Gateway HTTP API requests $1/million") for text in cost.left_out)
    assert any(text.startswith("Lambda invocations $0.2/million") for text in cost.left_out)


# -- the policy pack ----------------------------------------------------------


def test_policy_pack_exempts_the_api_function_from_failure_destinations_but_not_the_scheduler(api):
    config = stack_config("ultra", released_overrides("ultra"))
    rule = [p for p in POLICIES if p.name == "lambda-failure-destination"]
    assert evaluate(api, config, rule) == []
    # Without its on-failure destination the scheduler is caught; the API function stays exempt.
    without = replace(api, resources=[r for r in api.resources if r.type != INVOKE_CONFIG])
    assert [f.name for f in evaluate(without, config, rule)] == ["flowbuilder-ultra-scheduler"]


# -- before the first image ---------------------------------------------------


def test_without_an_image_no_function_or_route_exists_and_the_api_image_is_awaited(ultra):
    types = {r.type for r in owned(ultra)}
    assert types.isdisjoint({FUNCTION, PERMISSION, INTEGRATION, ROUTE, STAGE})
    assert "apiUrl" not in ultra.outputs
    push = ultra.outputs["imagesToPush"]
    api_repository = ultra.outputs["repositoryUrls"]["api"]
    assert api_repository == "123456789012.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-ultra/api"
    assert f"docker push {api_repository}:<git-sha>" in push["push"]
    assert "under flowbuilder:images in Pulumi.ultra.yaml" in push["then"]


def test_what_does_not_need_the_image_exists_from_the_first_deploy(ultra):
    http_api = ultra.one(HTTP_API)
    assert http_api.inputs["protocolType"] == "HTTP"
    assert ultra.outputs["apiEndpoint"] == f"https://{http_api.id}.execute-api.us-east-1.amazonaws.com"
    assert ultra.one(LOG_GROUP, "-api-logs").inputs["name"] == "/aws/lambda/flowbuilder-ultra-api"
    assert ultra.one(ROLE, "-api").inputs["description"] == "Identity of the API Lambda"
    assert ultra.one(REPOSITORY_POLICY, "-api-image-pull").inputs["repository"] == "flowbuilder-ultra/api"
