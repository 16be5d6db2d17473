"""ServerlessApi: the zero-scale API, the api image as a Lambda behind an API Gateway HTTP API."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from stackconfig import CpuArchitecture
from stackconfig.model import ServerlessApiConfig

from .context import StackContext
from .database import DatabaseConnection
from .iam import role_policy, statement
from .images import Image
from .lambdas import (
    LAMBDA_ARCHITECTURES,
    function_log_group,
    function_role,
    image_function,
    image_pull_policy,
    logs_and_traces,
    stack_key_decrypt,
)
from .logs import log_group
from .queues import QueueRef
from .watch import Alarm, Metric, MissingData, Severity, Watch

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
HTTP_API_STAGE = "$default"
HTTP_API_5XX_COUNT = 5
"""The API alarms on a count, not a rate: a rate needs ``Count`` as well, one more alarm metric,
and zero-scale's must stay inside CloudWatch's free 10. Five failed requests in five minutes is
more than a cold start or a single bad request."""


@dataclass
class ServerlessApiArgs:
    """Inputs of :class:`ServerlessApi`."""

    context: StackContext
    api: ServerlessApiConfig
    architecture: CpuArchitecture
    """``ecs.architecture``: the images are built for one architecture."""
    image: Image
    queue: QueueRef
    """The work queue the API sends to."""
    database: DatabaseConnection
    after: Sequence[pulumi.Resource] = ()
    """What must succeed before the function runs a new image: the release's migration."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Settings of the parts the stack turns on (the uploads bucket, the e-mail identity)."""


class ServerlessApi(pulumi.ComponentResource):
    """The zero-scale API: the api image as a container-image Lambda behind an API Gateway HTTP API.

    Nothing here bills while no request arrives: no load balancer, no public IPv4 address, no
    running task. Creates:

    * the function ``<name>-api`` from ``<api repository>@<digest>``: ``api.memory`` MB (2048,
      Lambda's 128-10240), 29 s timeout, ``ecs.architecture`` (arm64 by default), reserved
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

    A container-image function cannot be created before its image exists, so until
    ``flowbuilder:images`` records an api digest the function, its integration, route, stage and
    permission are not declared. The API itself is created on the first deploy, so its address is
    known (and stays the same) before the first release.

    ``watch``, once the function exists: 5 or more 5xx responses in 5 minutes, and any request
    throttled by the function's reserved concurrency.
    """

    function_name: str
    role_name: pulumi.Output[str]
    """The function's role: an application principal other components may grant access to."""
    api_id: pulumi.Output[str]
    api_endpoint: pulumi.Output[str]
    """``https://<api id>.execute-api.<region>.amazonaws.com``, fixed from the first deploy."""
    api_url: pulumi.Output[str] | None
    """The ``$default`` stage's invoke URL once the API serves; None until the api image is released."""
    stage_name: pulumi.Output[str] | None
    """The serving stage, for a custom domain's API mapping; None until the api image is released."""
    execution_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    access_log_group_name: pulumi.Output[str]
    watch: Watch

    def __init__(self, name: str, args: ServerlessApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:ServerlessApi", name, None, opts)
        self._name = name
        self._args = args
        context = args.context
        self.function_name = context.name("lambda", "api")
        function_arn = context.account.arn("lambda", f"function:{self.function_name}")

        function_logs = function_log_group(f"{name}-api", self.function_name, context, self._child())
        access_logs = log_group(
            f"{name}-api-access-logs", f"/flowbuilder/{context.stack}/http-api/access", context, self._child()
        )
        role = function_role(f"{name}-api", context, "Identity of the API Lambda", self._child())
        policy = role_policy(
            f"{name}-api",
            role,
            [
                # The API enqueues work, as the Fargate API task does in standard stacks.
                statement(["sqs:SendMessage"], [args.queue.arn], sid="EnqueueWork"),
                *args.database.grants,
                stack_key_decrypt(context, "DecryptEnvironmentAndSecret"),
                *logs_and_traces(function_logs),
            ],
            self._child(),
        )
        pull = image_pull_policy(f"{name}-api", args.image, function_arn, "LambdaPullsApiImage", self._child())
        api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=context.name("http-api", "api"),
            description=f"Flow Builder API of the {context.stack} stack",
            protocol_type="HTTP",
            opts=self._child(),
        )
        function = self._function(role, [function_logs, policy, pull, *args.after])

        self.api_id, self.api_endpoint, self.execution_arn = api.id, api.api_endpoint, api.execution_arn
        self.log_group_name, self.access_log_group_name = function_logs.name, access_logs.name
        self.role_name = role.name
        stage = self._serve(api, function, access_logs) if function is not None else None
        self.api_url = stage.invoke_url if stage is not None else None
        self.stage_name = stage.name if stage is not None else None
        self.watch = (
            api_watch(api.id, self.function_name, args.api.lambda_reserved_concurrency, context.stack)
            if function is not None
            else Watch()
        )
        self.register_outputs(
            {
                "function_name": self.function_name,
                "role_name": self.role_name,
                "api_id": self.api_id,
                "api_endpoint": self.api_endpoint,
                "api_url": self.api_url,
                "execution_arn": self.execution_arn,
                "log_group_name": self.log_group_name,
                "access_log_group_name": self.access_log_group_name,
            }
        )

    def _child(self, **extra: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _function(self, role: aws.iam.Role, prerequisites: list[pulumi.Resource]) -> aws.lambda_.Function | None:
        args = self._args
        port = str(args.api.container_port)
        environment = {
            **args.environment,
            **args.database.environment,
            "QUEUE_URL": args.queue.url,
            "STACK": args.context.stack,
            # The app listens where it does on Fargate; the Web Adapter in the image forwards there
            # and holds the first request until the health path answers.
            "PORT": port,
            "AWS_LWA_PORT": port,
            "AWS_LWA_READINESS_CHECK_PATH": args.api.health_check_path,
        }
        return image_function(
            f"{self._name}-api",
            args.image,
            waiting=(
                "the API function and its route are created once the release workflow records one; "
                "until then the API answers 404"
            ),
            prerequisites=prerequisites,
            opts=self._child(),
            function_name=self.function_name,
            description="The Flow Builder API behind the HTTP API",
            architectures=[LAMBDA_ARCHITECTURES[args.architecture]],
            memory_size=args.api.memory,
            timeout=FUNCTION_TIMEOUT_SECONDS,
            reserved_concurrent_executions=args.api.lambda_reserved_concurrency,
            role=role.arn,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            kms_key_arn=args.context.stack_key.arn,
        )

    def _serve(
        self, api: aws.apigatewayv2.Api, function: aws.lambda_.Function, access_log_group: aws.cloudwatch.LogGroup
    ) -> aws.apigatewayv2.Stage:
        """Route every request to the function; returns the stage serving it."""
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
        api_config = self._args.api
        stage = aws.apigatewayv2.Stage(
            f"{self._name}-api-default",
            api_id=api.id,
            name=HTTP_API_STAGE,
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
        return stage


def api_watch(api_id: pulumi.Input[str], function_name: str, concurrency: int, stack: str) -> Watch:
    """Failed requests: the HTTP API's 5xx and the function's throttles."""
    return Watch(
        (
            Alarm(
                "api-5xx",
                severity=Severity.CRITICAL,
                summary=f"The HTTP API returned {HTTP_API_5XX_COUNT} or more 5xx responses in 5 minutes.",
                runbook=(
                    f"Read the access log /flowbuilder/{stack}/http-api/access (integrationError, "
                    "integrationStatus) and the api function's log for the integrationRequestId; after a deploy, "
                    "roll back by promoting the previous api digest."
                ),
                metric=Metric("AWS/ApiGateway", "5xx", {"ApiId": api_id, "Stage": HTTP_API_STAGE}),
                statistic="Sum",
                comparison="GreaterThanOrEqualToThreshold",
                threshold=HTTP_API_5XX_COUNT,
                evaluation_periods=1,
                # API Gateway publishes only for periods with requests: a quiet API is a healthy one.
                treat_missing_data=MissingData.NOT_BREACHING,
                essential=True,
            ),
            Alarm(
                "api-throttles",
                severity=Severity.WARNING,
                summary=(
                    f"API requests were throttled: more than {concurrency} ran at once (the function's reserved "
                    "concurrency), and the callers got errors."
                ),
                runbook=(
                    "Check the function's Duration and ConcurrentExecutions; if the load is real, raise "
                    "api.lambdaReservedConcurrency, else find what holds requests open (database, queue)."
                ),
                metric=Metric("AWS/Lambda", "Throttles", {"FunctionName": function_name}),
                statistic="Sum",
                comparison="GreaterThanOrEqualToThreshold",
                threshold=1,
                evaluation_periods=1,
                # Lambda publishes only for periods with invocations.
                treat_missing_data=MissingData.NOT_BREACHING,
                essential=True,
            ),
        )
    )
