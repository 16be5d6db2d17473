"""Lambda: reserved concurrency, somewhere for failed invocations to go, tracing, no secrets in env."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import PolicyResource, Severity

from ._support import StackView, Subject, number, peek, resource_rule, stack_rule
from .ecs import plaintext_secrets
from .iam import IDENTITY_POLICIES, ROLE

FUNCTION = "aws:lambda/function:Function"
EVENT_INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
PERMISSION = "aws:lambda/permission:Permission"
HTTP_API_INTEGRATION = "aws:apigatewayv2/integration:Integration"
INVOCATION = "aws:lambda/invocation:Invocation"
REST_API_INTEGRATION = "aws:apigateway/integration:Integration"


def _reserved_concurrency(function: Subject) -> Iterator[str]:
    reserved = number(function.get("reservedConcurrentExecutions"))
    if reserved is None or reserved < 0:
        yield (
            "reservedConcurrentExecutions is unset; cap it so a runaway schedule or retry storm "
            "cannot take the account's whole concurrency (and bill for it)"
        )


def _only_synchronous(stack: StackView, function: PolicyResource) -> bool:
    """Whether the stack shows an HTTP API or ``pulumi up`` itself (an ``Invocation``) invoking the
    function, and nothing that could invoke it asynchronously.

    A dead-letter queue or destination only ever receives asynchronous invocations. An HTTP API's
    AWS_PROXY integration invokes synchronously and hands the error to its client; an Invocation
    invokes synchronously and fails the update with the function's error. Any other invoker
    the stack declares keeps the rule: a permission for another principal (S3, SNS, EventBridge), a
    REST API integration (which can ask for an asynchronous call), or an identity policy naming the
    function (how EventBridge Scheduler, Step Functions or Pipes invoke one).
    """
    ids, arns = ("name", "arn", "qualifiedArn", "invokeArn"), ("arn", "qualifiedArn")
    if not any(
        peek(integration.props, "integrationType") == "AWS_PROXY"
        and stack.references(integration, "integrationUri", function, *ids)
        for integration in stack.of_type(HTTP_API_INTEGRATION)
    ) and not any(stack.references(call, "functionName", function, *ids) for call in stack.of_type(INVOCATION)):
        return False
    other_invokers = (
        [
            p
            for p in stack.of_type(PERMISSION)
            if peek(p.props, "principal") != "apigateway.amazonaws.com"
            and stack.references(p, "function", function, *ids)
        ]
        + [i for i in stack.of_type(REST_API_INTEGRATION) if stack.references(i, "uri", function, *ids)]
        + [r for r in stack.of_type(ROLE) if stack.references(r, "inlinePolicies", function, *arns)]
        + [d for d in stack.of_type(*IDENTITY_POLICIES) if stack.references(d, "policy", function, *arns)]
    )
    return not other_invokers


def _failure_destination(stack: StackView) -> Iterator[tuple[str, str | None]]:
    configs = stack.of_type(EVENT_INVOKE_CONFIG)
    for function in stack.of_type(FUNCTION):
        if peek(function.props, "deadLetterConfig", "targetArn") or _only_synchronous(stack, function):
            continue
        handled = any(
            peek(config.props, "destinationConfig", "onFailure", "destination")
            and stack.references(config, "functionName", function, "name", "arn")
            for config in configs
        )
        if not handled:
            yield (
                "no dead-letter queue and no on-failure destination; a failed asynchronous "
                "invocation (every scheduled run) is dropped after its retries",
                function.urn,
            )


def _tracing(function: Subject) -> Iterator[str]:
    mode = function.get("tracingConfig", "mode")
    if mode != "Active":
        yield f"tracingConfig.mode is {mode or 'unset'}; set Active for X-Ray traces"


def _no_plaintext_secrets(function: Subject) -> Iterator[str]:
    for name in plaintext_secrets(function.get("environment", "variables", default={})):
        yield (
            f"environment variable {name} carries a credential in clear text; "
            "store it in Secrets Manager and pass its ARN"
        )


POLICIES = [
    resource_rule(
        "lambda-reserved-concurrency",
        "Lambda functions must have reserved concurrency.",
        (FUNCTION,),
        _reserved_concurrency,
        mandatory=True,
        remediation="Set reserved_concurrent_executions (1 for a scheduler that must not overlap itself).",
        tags=["lambda", "cost"],
        severity=Severity.MEDIUM,
    ),
    stack_rule(
        "lambda-failure-destination",
        "Lambda functions must have a dead-letter queue or an on-failure destination.",
        _failure_destination,
        mandatory=True,
        remediation=(
            "Set dead_letter_config.target_arn, or add a FunctionEventInvokeConfig with destination_config.on_failure. "
            "A function only an HTTP API or a Pulumi Invocation invokes is exempt: its callers get the error "
            "synchronously."
        ),
        tags=["lambda", "reliability"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "lambda-tracing",
        "Lambda functions must have active X-Ray tracing.",
        (FUNCTION,),
        _tracing,
        mandatory=True,
        remediation="Set tracing_config={mode: 'Active'} and allow xray:PutTraceSegments/PutTelemetryRecords.",
        tags=["lambda", "observability"],
        severity=Severity.LOW,
    ),
    resource_rule(
        "lambda-no-plaintext-secrets",
        "Lambda environment variables must not carry credentials in clear text.",
        (FUNCTION,),
        _no_plaintext_secrets,
        mandatory=True,
        remediation="Store the value in Secrets Manager; pass its ARN and read it at start-up.",
        tags=["lambda", "secrets"],
        severity=Severity.CRITICAL,
    ),
]
