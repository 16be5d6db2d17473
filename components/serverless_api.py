"""ServerlessApi: the zero-scale API, the api image as a Lambda behind an API Gateway HTTP API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig import StackConfig, physical_name
from stackconfig.aws_limits import LAMBDA_MEMORY_MB

from .context import AwsAccount
from .iam import policy_document, statement
from .lambda_image import (
    LAMBDA_ARCHITECTURES,
    function_log_group,
    function_role,
    image_pull_policy,
    image_uri,
    logs_and_traces,
)

FUNCTION_TIMEOUT_SECONDS = 29
"""An HTTP API gives up on its integration after 30 s. Ending the function a second earlier puts
"Task timed out" in the function's log instead of leaving a bare gateway timeout."""
INTEGRATION_TIMEOUT_MILLISECONDS = 30_000
"""The HTTP API maximum; the function's own timeout ends a request first."""
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "path": "$context.path",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "responseLatency": "$context.responseLatency",
        # The Lambda request id: the key to the function's own log lines for this request.
        "integrationRequestId": "$context.integration.requestId",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "integrationError": "$context.integration.error",
        "errorMessage": "$context.error.message",
        "userAgent": "$context.identity.userAgent",
    },
    separators=(",", ":"),
)
"""One JSON object per request; every value quoted, so a "-" for a missing value stays valid JSON."""


def lambda_memory_mb(api_memory_mib: int) -> int:
    """The function's memory: the Fargate task's ``api.memory``, within what Lambda accepts."""
    low, high = LAMBDA_MEMORY_MB
    return min(max(api_memory_mib, low), high)


@dataclass
class ServerlessApiArgs:
    """Inputs of :class:`ServerlessApi`: the work queue, the api repository and the database secret."""

    config: StackConfig
    queue_url: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    repository_url: pulumi.Input[str]
    repository_arn: pulumi.Input[str]
    database_secret_arn: pulumi.Input[str]
    database_environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain, non-secret database settings (the secret's ARN and kind); never the URL itself."""


class ServerlessApi(pulumi.ComponentResource):
    """The zero-scale API: the api image as a container-image Lambda behind an API Gateway HTTP API.

    Nothing here bills while no request arrives: no load balancer, no public IPv4 address, no
    running task. Creates:

    * the function ``<name>-api`` from ``<api repository>:<imageTag>``: ``api.memory`` MB (capped
      to Lambda's 128-10240), 29 s timeout, ``ecs.architecture`` (arm64 by default), reserved
      concurrency ``api.lambdaReservedConcurrency`` (10), X-Ray active tracing, no VPC; environment
      ``AWS_LWA_PORT`` = ``PORT`` = ``api.containerPort`` (8080) and ``AWS_LWA_READINESS_CHECK_PATH``
      = ``api.healthCheckPath`` (``/health``) for the Lambda Web Adapter the image carries, plus
      QUEUE_URL, STACK, DB_SECRET_ARN and DB_SECRET_KIND (never the database URL);
    * the HTTP API ``<name>-api``: one ``$default`` route to an ``AWS_PROXY`` integration (payload
      format 2.0, 30 s), the ``$default`` stage with auto-deploy, throttled to
      ``api.throttleRatePerSecond`` (20) requests/s with bursts of ``api.throttleBurst`` (10), JSON
      access logs in ``/flowbuilder/<stack>/http-api/access``;
    * the permission letting that API, and only it, invoke the function;
    * the log group ``/aws/lambda/<name>-api``; both log groups keep ``logRetentionDays``;
    * the function's role: send to the work queue, read the one database secret, write its logs
      and traces; and a policy on the api repository letting Lambda pull the function's image.

    A container-image function cannot be created before its image exists, so until ``imageTag`` is
    set the function, its integration, route, stage and permission are not declared and
    ``awaiting_image`` names the repository to push to. The API itself is created on the first
    deploy, so its address is known (and stays the same) before the first image is pushed.
    """

    function_name: str
    function_arn: pulumi.Output[str] | None
    api_id: pulumi.Output[str]
    api_endpoint: pulumi.Output[str]
    """``https://<api id>.execute-api.<region>.amazonaws.com``, fixed from the first deploy."""
    api_url: pulumi.Output[str] | None
    """The ``$default`` stage's invoke URL once the API serves; None while no image is set."""
    execution_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    access_log_group_name: pulumi.Output[str]
    awaiting_image: pulumi.Output[str] | None
    """The api repository URL while no ``imageTag`` is set; None once the function exists."""

    def __init__(self, name: str, args: ServerlessApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:ServerlessApi", name, None, opts)
        self._name = name
        self._config = config = args.config
        self._aws = AwsAccount.of(self, config.region)
        self.function_name = physical_name(name, "lambda", "api")
        function_arn = self._aws.arn("lambda", f"function:{self.function_name}")

        log_group = function_log_group(f"{name}-api", self.function_name, config.log_retention_days, self._child())
        access_log_group = aws.cloudwatch.LogGroup(
            f"{name}-api-access-logs",
            name=f"/flowbuilder/{config.stack}/http-api/access",
            retention_in_days=config.log_retention_days,
            opts=self._child(),
        )
        role, role_policy = self._function_role(args, log_group)
        repository_policy = image_pull_policy(
            f"{name}-api", args.repository_arn, function_arn, "LambdaPullsApiImage", self._child()
        )
        api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=physical_name(name, "http-api", "api"),
            description=f"Flow Builder API of the {config.stack} stack",
            protocol_type="HTTP",
            opts=self._child(),
        )

        self.api_id, self.api_endpoint, self.execution_arn = api.id, api.api_endpoint, api.execution_arn
        self.log_group_name, self.access_log_group_name = log_group.name, access_log_group.name
        if config.image_tag:
            function = self._function(args, role, [log_group, role_policy, repository_policy])
            self.api_url = self._serve(api, function, access_log_group)
            self.function_arn = function.arn
            self.awaiting_image = None
        else:
            pulumi.log.warn(
                "imageTag is not set: the API function and its route are created once an api image is pushed "
                "and imageTag is set (see the imagesToPush output); until then the API answers 404",
                resource=self,
            )
            self.function_arn = None
            self.api_url = None
            self.awaiting_image = pulumi.Output.from_input(args.repository_url)
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "api_id": self.api_id,
                "api_endpoint": self.api_endpoint,
                "api_url": self.api_url,
                "execution_arn": self.execution_arn,
                "log_group_name": self.log_group_name,
                "access_log_group_name": self.access_log_group_name,
                "awaiting_image": self.awaiting_image,
            }
        )

    # -- helpers -------------------------------------------------------------
    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    # -- resources -----------------------------------------------------------
    def _function_role(
        self, args: ServerlessApiArgs, log_group: aws.cloudwatch.LogGroup
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        role = function_role(f"{self._name}-api", self._aws.account, "Identity of the API Lambda", self._child())
        policy = aws.iam.RolePolicy(
            f"{self._name}-api",
            role=role.id,
            policy=policy_document(
                # The API enqueues work, as the Fargate API task does in standard stacks.
                statement(["sqs:SendMessage"], [args.queue_arn], sid="EnqueueWork"),
                statement(["secretsmanager:GetSecretValue"], [args.database_secret_arn], sid="ReadDatabaseSecret"),
                *logs_and_traces(log_group),
            ),
            opts=self._child(),
        )
        return role, policy

    def _function(
        self, args: ServerlessApiArgs, role: aws.iam.Role, prerequisites: list[pulumi.Resource]
    ) -> aws.lambda_.Function:
        config = self._config
        port = str(config.api.container_port)
        environment = {
            **args.database_environment,
            "DB_SECRET_ARN": args.database_secret_arn,
            "QUEUE_URL": args.queue_url,
            "STACK": config.stack,
            # The app listens where it does on Fargate; the Web Adapter in the image forwards there
            # and holds the first request until the health path answers.
            "PORT": port,
            "AWS_LWA_PORT": port,
            "AWS_LWA_READINESS_CHECK_PATH": config.api.health_check_path,
        }
        return aws.lambda_.Function(
            f"{self._name}-api",
            name=self.function_name,
            description="The Flow Builder API behind the HTTP API",
            package_type="Image",
            image_uri=image_uri(args.repository_url, config.image_tag),
            architectures=[LAMBDA_ARCHITECTURES[config.ecs.architecture]],
            memory_size=lambda_memory_mb(config.api.memory),
            timeout=FUNCTION_TIMEOUT_SECONDS,
            reserved_concurrent_executions=config.api.lambda_reserved_concurrency,
            role=role.arn,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            # The log group must exist first to keep its retention; Lambda checks the image's pull
            # permission when the function is created.
            opts=self._child(depends_on=prerequisites),
        )

    def _serve(
        self, api: aws.apigatewayv2.Api, function: aws.lambda_.Function, access_log_group: aws.cloudwatch.LogGroup
    ) -> pulumi.Output[str]:
        """Route every request to the function; returns the stage's invoke URL."""
        permission = aws.lambda_.Permission(
            f"{self._name}-api-invoke",
            statement_id="HttpApiInvoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="apigateway.amazonaws.com",
            # Any stage and route of this API; no other API in the account.
            source_arn=pulumi.Output.concat(api.execution_arn, "/*/*"),
            opts=self._child(),
        )
        integration = aws.apigatewayv2.Integration(
            f"{self._name}-api",
            api_id=api.id,
            description=f"Proxy to {self.function_name}",
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=function.invoke_arn,
            payload_format_version="2.0",
            timeout_milliseconds=INTEGRATION_TIMEOUT_MILLISECONDS,
            opts=self._child(),
        )
        route = aws.apigatewayv2.Route(
            f"{self._name}-api-default",
            api_id=api.id,
            route_key="$default",
            target=integration.id.apply(lambda integration_id: f"integrations/{integration_id}"),
            opts=self._child(),
        )
        api_config = self._config.api
        stage = aws.apigatewayv2.Stage(
            f"{self._name}-api-default",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=api_config.throttle_rate_per_second,
                throttling_burst_limit=api_config.throttle_burst,
            ),
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_log_group.arn,
                format=ACCESS_LOG_FORMAT,
            ),
            # Deployed once a route exists (an HTTP API with no route cannot be deployed), and
            # serving only once the gateway may invoke the function.
            opts=self._child(depends_on=[route, permission]),
        )
        return stage.invoke_url
