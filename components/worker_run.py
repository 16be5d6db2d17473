"""The worker run: the Amazon States Language definition that owns one message once the zero-scale
pipe hands it over, runs its task (retried), and dead-letters its original body when every attempt
failed. Plain data, so tests can play it through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackconfig.model import WorkerTaskConfig

CONTAINER_NAME = "worker"
SPOT_STRATEGY = [{"CapacityProvider": "FARGATE_SPOT", "Weight": 100}]

ECS_OVERRIDES_LIMIT = 8192
"""RunTask rejects overrides whose JSON exceeds 8192 characters (ECS API reference, TaskOverride)."""
INLINE_BODY_LIMIT = 6144
"""Largest body, JSON-escaped, passed inline in MESSAGE_BODY; the other ~2000 characters of the
8192 cover the override's names, ids and sizes. A larger body is passed by pointer."""

TASK_START_SECONDS = 300
"""Allowance for Spot placement and the image pull (Fargate pulls the whole image on every start)
on top of ``worker.maxRunMinutes``."""

# RunTask calls that fail before a task exists: throttling (20 RunTask calls/s, burst 100),
# or the Failures list of RunTask (Spot capacity unavailable), which .sync raises as AmazonECS.Unknown.
ECS_API_ERRORS = ["ECS.AmazonECSException", "AmazonECS.Unknown"]
API_RETRY: dict[str, Any] = {
    "IntervalSeconds": 10,
    "MaxAttempts": 6,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 300,
    "JitterStrategy": "FULL",
}
# A task that ran and failed: non-zero exit, Spot interruption (SIGTERM, then SIGKILL after
# stopTimeout), failed image pull. Such a task has stopped, so a retry cannot overlap it.
TASK_ERRORS = ["States.TaskFailed"]
# A run past its timeout is not retried: Step Functions does not reliably stop the task a timed-out
# .sync state started, so the state machine stops it itself and dead-letters the message; a retry
# could run beside it, and would most likely outlive maxRunMinutes again.
TIMEOUT_ERRORS = ["States.Timeout"]
STOP_RETRY: dict[str, Any] = {"IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 2.0, "JitterStrategy": "FULL"}
STOP_REASON = "worker run exceeded worker.maxRunMinutes"
TASK_RETRY_INTERVAL_SECONDS = 60
TASK_RETRY_BACKOFF = 2.0
DLQ_RETRY: dict[str, Any] = {"IntervalSeconds": 5, "MaxAttempts": 5, "BackoffRate": 2.0, "JitterStrategy": "FULL"}
EXECUTION_MARGIN_SECONDS = 300


def retry_delays(interval: float, attempts: int, backoff: float, cap: float | None = None) -> list[float]:
    """The longest wait before each retry (FULL jitter only shortens them)."""
    return [min(interval * backoff**i, cap) if cap else interval * backoff**i for i in range(attempts)]


@dataclass(frozen=True)
class WorkerRun:
    """What shapes one message's run: the task's size, how long a job may run, how many attempts."""

    cpu: int
    memory: int
    max_run_minutes: int
    attempts: int
    """Runs a message gets before the dead-letter queue: ``queue.maxReceiveCount``, as in standard."""

    @classmethod
    def of(cls, worker: WorkerTaskConfig, max_receive_count: int) -> WorkerRun:
        return cls(worker.cpu, worker.memory, worker.max_run_minutes, max_receive_count)


def task_timeout_seconds(run: WorkerRun) -> int:
    """Timeout of one worker attempt: the longest job plus placement and image pull."""
    return run.max_run_minutes * 60 + TASK_START_SECONDS


def execution_timeout_seconds(run: WorkerRun) -> int:
    """Longer than every attempt, wait and dead-letter send together, so a state always times out
    first and its Catch (which owns the message) runs; an execution timeout has no Catch."""
    attempts = run.attempts
    per_attempt = task_timeout_seconds(run) + sum(
        retry_delays(
            API_RETRY["IntervalSeconds"],
            API_RETRY["MaxAttempts"],
            API_RETRY["BackoffRate"],
            API_RETRY["MaxDelaySeconds"],
        )
    )
    between_attempts = sum(retry_delays(TASK_RETRY_INTERVAL_SECONDS, attempts - 1, TASK_RETRY_BACKOFF))
    dead_letter = sum(retry_delays(DLQ_RETRY["IntervalSeconds"], DLQ_RETRY["MaxAttempts"], DLQ_RETRY["BackoffRate"]))
    return int(attempts * per_attempt + between_attempts + dead_letter + EXECUTION_MARGIN_SECONDS)


def worker_state_machine(
    run: WorkerRun,
    *,
    partition: str,
    cluster_arn: str,
    task_definition_arn: str,
    subnet_ids: list[str],
    security_group_id: str,
    assign_public_ip: bool,
    dead_letter_queue_url: str,
) -> dict[str, Any]:
    """The Amazon States Language (JSONata) definition that owns a message once the pipe hands it over.

    Input: the pipe's batch, a JSON array holding one SQS record. The body goes to the worker in
    MESSAGE_BODY when it fits the override limit, otherwise the worker reads it from this
    execution's input (MESSAGE_EXECUTION_ARN, ``states:DescribeExecution``). A run that fails is
    retried; when every attempt failed the original body goes to the dead-letter queue. A run past
    ``maxRunMinutes`` (plus start-up) is stopped by the state machine (the task it started, found by
    ``StartedBy`` = the execution's name) and its message dead-lettered, never retried beside it.
    """
    attempts = run.attempts
    return {
        "Comment": (
            "Runs one worker task per queued message; the message goes to the dead-letter queue if every attempt fails"
        ),
        "QueryLanguage": "JSONata",
        "TimeoutSeconds": execution_timeout_seconds(run),
        "StartAt": "ReadMessage",
        "States": {
            "ReadMessage": {
                "Type": "Pass",
                "Assign": {
                    "messageId": "{% $states.input[0].messageId %}",
                    # Pipes hands SQS bodies over as strings; re-serialise anything else so the
                    # worker and the dead-letter queue always get text.
                    "body": (
                        "{% $type($states.input[0].body) = 'string' ? $states.input[0].body "
                        ": $string($states.input[0].body) %}"
                    ),
                },
                "Next": "ChooseDelivery",
            },
            "ChooseDelivery": {
                "Type": "Choice",
                "Choices": [
                    {
                        # $string of a one-element array is its JSON: the body as the override will escape it, plus 4.
                        "Condition": f"{{% $length($string([$body])) - 4 <= {INLINE_BODY_LIMIT} %}}",
                        "Next": "PassBodyInline",
                    }
                ],
                "Default": "PassExecutionPointer",
            },
            "PassBodyInline": {
                "Type": "Pass",
                "Assign": {"delivery": {"Name": "MESSAGE_BODY", "Value": "{% $body %}"}},
                "Next": "RunWorker",
            },
            "PassExecutionPointer": {
                "Type": "Pass",
                "Assign": {
                    "delivery": {"Name": "MESSAGE_EXECUTION_ARN", "Value": "{% $states.context.Execution.Id %}"}
                },
                "Next": "RunWorker",
            },
            "RunWorker": {
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::ecs:runTask.sync",
                "TimeoutSeconds": task_timeout_seconds(run),
                "Arguments": {
                    "Cluster": cluster_arn,
                    "TaskDefinition": task_definition_arn,
                    # A capacity provider strategy and no LaunchType: RunTask rejects both together.
                    "CapacityProviderStrategy": SPOT_STRATEGY,
                    "NetworkConfiguration": {
                        "AwsvpcConfiguration": {
                            "Subnets": subnet_ids,
                            "SecurityGroups": [security_group_id],
                            "AssignPublicIp": "ENABLED" if assign_public_ip else "DISABLED",
                        }
                    },
                    "PropagateTags": "TASK_DEFINITION",
                    # How a timed-out run finds its task: the .sync error names no task.
                    "StartedBy": "{% $states.context.Execution.Name %}",
                    "Overrides": {
                        "ContainerOverrides": [
                            {
                                "Name": CONTAINER_NAME,
                                "Cpu": run.cpu,
                                "Memory": run.memory,
                                "Environment": [
                                    {"Name": "MESSAGE_ID", "Value": "{% $messageId %}"},
                                    {
                                        "Name": "MESSAGE_ATTEMPT",
                                        "Value": "{% $string($states.context.State.RetryCount + 1) %}",
                                    },
                                    {"Name": "EXIT_AFTER_COMPLETION", "Value": "true"},
                                    # The job's own deadline: finish or checkpoint and exit before the
                                    # state machine stops the task.
                                    {"Name": "MAX_RUN_SECONDS", "Value": str(run.max_run_minutes * 60)},
                                    "{% $delivery %}",
                                ],
                            }
                        ]
                    },
                },
                "Retry": [
                    {"ErrorEquals": ECS_API_ERRORS, **API_RETRY},
                    {
                        "ErrorEquals": TASK_ERRORS,
                        "IntervalSeconds": TASK_RETRY_INTERVAL_SECONDS,
                        "MaxAttempts": attempts - 1,
                        "BackoffRate": TASK_RETRY_BACKOFF,
                        "JitterStrategy": "FULL",
                    },
                ],
                "Catch": [
                    {
                        "ErrorEquals": TIMEOUT_ERRORS,
                        "Assign": {"error": "{% $states.errorOutput %}"},
                        "Next": "FindTimedOutTask",
                    },
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {"error": "{% $states.errorOutput %}"},
                        "Next": "SendToDeadLetterQueue",
                    },
                ],
                "End": True,
            },
            "FindTimedOutTask": {
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:ecs:listTasks",
                "Arguments": {
                    "Cluster": cluster_arn,
                    "StartedBy": "{% $states.context.Execution.Name %}",
                    "DesiredStatus": "RUNNING",
                },
                "Assign": {"timedOutTasks": "{% $states.result.TaskArns %}"},
                "Retry": [{"ErrorEquals": ["States.ALL"], **STOP_RETRY}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "SendToDeadLetterQueue"}],
                "Next": "StopIfStillRunning",
            },
            "StopIfStillRunning": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $count($timedOutTasks) > 0 %}", "Next": "StopTimedOutTask"}],
                "Default": "SendToDeadLetterQueue",
            },
            "StopTimedOutTask": {
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:ecs:stopTask",
                "Arguments": {"Cluster": cluster_arn, "Task": "{% $timedOutTasks[0] %}", "Reason": STOP_REASON},
                "Retry": [{"ErrorEquals": ["States.ALL"], **STOP_RETRY}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "SendToDeadLetterQueue"}],
                "Next": "SendToDeadLetterQueue",
            },
            "SendToDeadLetterQueue": {
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::sqs:sendMessage",
                "Arguments": {
                    "QueueUrl": dead_letter_queue_url,
                    # The original body, so a redrive to the work queue replays the message as sent.
                    "MessageBody": "{% $body %}",
                    "MessageAttributes": {
                        "originalMessageId": {"DataType": "String", "StringValue": "{% $messageId %}"},
                        "error": {"DataType": "String", "StringValue": "{% $string($error.Error) %}"},
                        "executionArn": {"DataType": "String", "StringValue": "{% $states.context.Execution.Id %}"},
                    },
                },
                "Retry": [{"ErrorEquals": ["States.ALL"], **DLQ_RETRY}],
                "Next": "Failed",
            },
            "Failed": {
                "Type": "Fail",
                "Error": "WorkerFailed",
                "Cause": (
                    "{% 'message ' & $messageId & ' sent to the dead-letter queue after ' & $string($error.Error) %}"
                ),
            },
        },
    }
