"""Migration runner: one release's database migration, as one synchronous Lambda invocation.

Runs in AWS Lambda (Python 3.13, arm64), invoked by ``pulumi up`` (an ``aws.lambda_.Invocation``)
with the event::

    {"cluster": <cluster ARN>, "taskDefinition": <family>, "container": "migrate",
     "subnets": [...], "securityGroups": [...], "assignPublicIp": "ENABLED" | "DISABLED"}

It starts one Fargate (on-demand) task of the migration family's newest revision, polls it every
``POLL_SECONDS`` until it stops, and returns normally only when the essential container exited 0.
Anything else (RunTask refused, a non-zero exit, a task stopped before its container ran, or no
stop before the function's own timeout, in which case it stops the task) raises, so the
invocation fails, ``pulumi up`` fails, and nothing that runs the new code rolls.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

POLL_SECONDS = 10
STOP_MARGIN_SECONDS = 20
"""Time kept before the function's timeout to stop the task and report."""
STARTED_BY = "pulumi-migration"


class MigrationFailed(Exception):
    """The migration did not finish with exit code 0; the message says why and where to look."""


def run(
    ecs: Any, event: dict[str, Any], remaining_ms: Callable[[], int], sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Start the migration task, wait for it to stop, and judge its exit code."""
    cluster = event["cluster"]
    started = ecs.run_task(
        cluster=cluster,
        taskDefinition=event["taskDefinition"],
        # On-demand whatever the cluster's default strategy: a Spot reclaim would fail the release.
        launchType="FARGATE",
        count=1,
        startedBy=STARTED_BY,
        propagateTags="TASK_DEFINITION",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": event["subnets"],
                "securityGroups": event["securityGroups"],
                "assignPublicIp": event["assignPublicIp"],
            }
        },
    )
    if started.get("failures") or not started.get("tasks"):
        raise MigrationFailed(f"RunTask did not start the migration task: {started.get('failures')}")
    task_arn = started["tasks"][0]["taskArn"]
    print(f"started {task_arn}")
    while True:
        if remaining_ms() < (POLL_SECONDS + STOP_MARGIN_SECONDS) * 1000:
            ecs.stop_task(cluster=cluster, task=task_arn, reason="migration exceeded migration.timeoutMinutes")
            raise MigrationFailed(f"{task_arn} did not finish within migration.timeoutMinutes; it was stopped")
        sleep(POLL_SECONDS)
        described = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"]
        if described and described[0]["lastStatus"] == "STOPPED":
            task = described[0]
            break
    container = next((c for c in task.get("containers", []) if c["name"] == event["container"]), {})
    exit_code = container.get("exitCode")
    if exit_code != 0:
        raise MigrationFailed(
            f"{task_arn} stopped with exit code {exit_code} ({task.get('stopCode')}: {task.get('stoppedReason')}; "
            f"container: {container.get('reason')}); read its log group"
        )
    print(f"{task_arn} exited 0")
    return {"taskArn": task_arn, "exitCode": 0}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3  # the Lambda runtime provides it; imported here so tests need no AWS SDK

    ecs = boto3.client("ecs", region_name=os.environ.get("AWS_REGION"))
    return run(ecs, event, context.get_remaining_time_in_millis)
