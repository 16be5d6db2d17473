"""A small interpreter of Amazon States Language in JSONata mode, for tests.

It runs a definition the way Step Functions would for the states our program
uses (Pass, Choice, Task, Fail): ``{% ... %}`` expressions are evaluated with
a real JSONata engine, ``Assign`` sets workflow variables, Task ``Retry`` and
``Catch`` follow the documented matching rules (first matching retrier,
``States.ALL``, ``States.TaskFailed`` matching everything but
``States.Timeout``). The context holds the execution's ``Id`` and ``Name``.
Service integrations are answered by a Python callable, so a test can play a
Spot interruption, a crash or a throttled API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonata

EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:flowbuilder-ultra-worker-run:test-execution"


class TaskError(Exception):
    """A service integration failed with a Step Functions error name."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(error)
        self.error, self.cause = error, cause


@dataclass
class Call:
    resource: str
    arguments: Any
    retry_count: int


@dataclass
class Execution:
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    calls: list[Call] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    """The longest wait before each retry (jitter ignored)."""
    path: list[str] = field(default_factory=list)

    def calls_to(self, resource: str) -> list[Call]:
        return [c for c in self.calls if c.resource == resource]


def _evaluate(value: Any, bindings: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{%") and value.endswith("%}"):
        return jsonata.Jsonata(value[2:-2].strip()).evaluate(None, bindings)
    if isinstance(value, dict):
        return {k: _evaluate(v, bindings) for k, v in value.items()}
    if isinstance(value, list):
        return [_evaluate(v, bindings) for v in value]
    return value


def _matches(patterns: list[str], error: str) -> bool:
    if "States.ALL" in patterns or error in patterns:
        return True
    return "States.TaskFailed" in patterns and error != "States.Timeout"


def run(
    definition: dict[str, Any],
    execution_input: Any,
    services: Callable[[str, Any, int], Any],
    *,
    max_transitions: int = 100,
) -> Execution:
    """Run ``definition`` on ``execution_input``; ``services(resource, arguments, retry_count)``
    returns a Task's result or raises :class:`TaskError`."""
    assert definition.get("QueryLanguage") == "JSONata", "only JSONata definitions are supported"
    states = definition["States"]
    variables: dict[str, Any] = {}
    execution = Execution(status="RUNNING")
    name, state_input = definition["StartAt"], execution_input

    for _ in range(max_transitions):
        state = states[name]
        execution.path.append(name)
        context = {
            "Execution": {"Id": EXECUTION_ARN, "Name": EXECUTION_ARN.rsplit(":", 1)[1], "Input": execution_input},
            "State": {"Name": name, "RetryCount": 0},
        }

        def bindings(state_input: Any = state_input, context: dict[str, Any] = context, **extra: Any) -> dict[str, Any]:
            return {**variables, "states": {"input": state_input, "context": context, **extra}}

        kind = state["Type"]
        if kind == "Pass":
            variables.update(_evaluate(state.get("Assign", {}), bindings()))
            output = state_input
        elif kind == "Choice":
            chosen = next((rule for rule in state["Choices"] if _evaluate(rule["Condition"], bindings()) is True), None)
            if chosen is None and "Default" not in state:
                return _fail(execution, "States.NoChoiceMatched", name)
            name = chosen["Next"] if chosen else state["Default"]
            continue
        elif kind == "Fail":
            return _fail(
                execution, _evaluate(state.get("Error"), bindings()), _evaluate(state.get("Cause"), bindings())
            )
        elif kind == "Task":
            attempts: dict[int, int] = {}
            while True:
                context["State"]["RetryCount"] = sum(attempts.values())
                arguments = _evaluate(state.get("Arguments", {}), bindings())
                execution.calls.append(Call(state["Resource"], arguments, context["State"]["RetryCount"]))
                try:
                    result = services(state["Resource"], arguments, context["State"]["RetryCount"])
                except TaskError as failure:
                    retriers = state.get("Retry", [])
                    index = next((i for i, r in enumerate(retriers) if _matches(r["ErrorEquals"], failure.error)), None)
                    if index is not None and attempts.get(index, 0) < retriers[index].get("MaxAttempts", 3):
                        retrier = retriers[index]
                        delay = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** attempts.get(
                            index, 0
                        )
                        execution.waits.append(min(delay, retrier.get("MaxDelaySeconds", delay)))
                        attempts[index] = attempts.get(index, 0) + 1
                        continue
                    catcher = next(
                        (c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], failure.error)), None
                    )
                    if catcher is None:
                        return _fail(execution, failure.error, failure.cause)
                    error_output = {"Error": failure.error, "Cause": failure.cause}
                    variables.update(_evaluate(catcher.get("Assign", {}), bindings(errorOutput=error_output)))
                    state_input = error_output
                    name = catcher["Next"]
                    break
                else:
                    output = result
                    variables.update(_evaluate(state.get("Assign", {}), bindings(result=result)))
                    name = None
                    break
            if name is not None:
                continue
        else:
            raise NotImplementedError(f"state type {kind} is not supported by the test interpreter")

        if state.get("End"):
            execution.status, execution.output = "SUCCEEDED", output
            return execution
        name, state_input = state["Next"], output
    raise AssertionError(f"no end after {max_transitions} transitions: {execution.path}")


def _fail(execution: Execution, error: str, cause: str) -> Execution:
    execution.status, execution.error, execution.cause = "FAILED", error, cause
    return execution


def sqs_record(body: str, message_id: str = "059f36b4-87a3-44ab-83d2-661975830a7d") -> dict[str, Any]:
    """One SQS record as EventBridge Pipes hands it to a target (Pipes user guide, SQS source)."""
    return {
        "messageId": message_id,
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1700000000000",
            "SenderId": "123456789012",
            "ApproximateFirstReceiveTimestamp": "1700000000001",
        },
        "messageAttributes": {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:flowbuilder-ultra-work",
        "awsRegion": "us-east-1",
    }
