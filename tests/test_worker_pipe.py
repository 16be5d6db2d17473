"""WorkerPipe: SQS -> Pipe -> Step Functions -> Fargate Spot, and a message's life through it."""

from __future__ import annotations

import functools
import json
from typing import Any

import pulumi
import pytest

from components import WorkerPipe, WorkerPipeArgs
from components.ecs import ClusterRef
from components.images import NOT_RELEASED_TAG
from components.network import Placement
from components.worker_run import ECS_OVERRIDES_LIMIT, INLINE_BODY_LIMIT, TASK_START_SECONDS, retry_delays
from simulation.harness import RecordedResource, StackRun
from stackconfig import CpuArchitecture
from stackconfig.model import WorkerConfig
from tests import asl
from tests.component_support import image, queue_ref, run_component, section, url_database
from tests.conftest import DIGESTS, released_run

PIPE = "aws:pipes/pipe:Pipe"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
CLUSTER = "aws:ecs/cluster:Cluster"
CAPACITY = "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
QUEUE = "aws:sqs/queue:Queue"

RUN_TASK = "arn:aws:states:::ecs:runTask.sync"
LIST_TASKS = "arn:aws:states:::aws-sdk:ecs:listTasks"
STOP_TASK = "arn:aws:states:::aws-sdk:ecs:stopTask"
SEND_MESSAGE = "arn:aws:states:::sqs:sendMessage"
BODY = json.dumps({"flowId": "f-42", "step": "render", "payload": {"text": 'say "hi"\n'}})


def ultra_with_image() -> StackRun:
    return released_run("ultra")


@functools.cache
def pipe_alone(
    architecture: CpuArchitecture = CpuArchitecture.ARM64, max_receive_count: int = 3, worker: str = "{}"
) -> StackRun:
    """The worker pipe on its own, released, with made-up queues, cluster and database."""

    def build(context) -> None:
        WorkerPipe(
            context.prefix,
            WorkerPipeArgs(
                context,
                section(WorkerConfig, "worker", **json.loads(worker)),
                max_receive_count=max_receive_count,
                architecture=architecture,
                cluster=ClusterRef(
                    "c-main", pulumi.Output.from_input("arn:aws:ecs:us-east-1:123456789012:cluster/c-main")
                ),
                image=image("worker", DIGESTS["worker"]),
                placement=Placement(["subnet-a"], "sg-worker", public_ip=True),
                queue=queue_ref("q-work"),
                dead_letter=queue_ref("q-dlq"),
                database=url_database(),
            ),
        )

    return run_component(build)


def policy_of(run: StackRun, role_label: str) -> list[dict[str, Any]]:
    """The statements of the inline policy attached to the role ``<prefix>-<role_label>``."""
    role = run.one(ROLE, f"-{role_label}")
    policies = [p for p in run.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    assert len(policies) == 1, f"{role_label}: expected one inline policy"
    return json.loads(policies[0].inputs["policy"])["Statement"]


def by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements}


def trust_of(run: StackRun, role_label: str) -> dict[str, Any]:
    (trust,) = json.loads(run.one(ROLE, f"-{role_label}").inputs["assumeRolePolicy"])["Statement"]
    return trust


def definition_of(run: StackRun) -> dict[str, Any]:
    return json.loads(run.one(STATE_MACHINE).inputs["definition"])


def container_of(run: StackRun) -> dict[str, Any]:
    (container,) = json.loads(run.one(TASK_DEFINITION, "-worker").inputs["containerDefinitions"])
    return container


# -- what the stack declares --------------------------------------------------


def test_only_the_zero_scale_stack_has_a_pipe(any_stack):
    assert len(any_stack.of_type(PIPE)) == (1 if any_stack.stack == "ultra" else 0)
    assert len(any_stack.of_type(STATE_MACHINE)) == (1 if any_stack.stack == "ultra" else 0)


def test_ultra_creates_no_nat_rds_or_load_balancer(ultra):
    present = {r.type for r in ultra.resources}
    for token in (
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/instance:Instance",
        "aws:ec2/eip:Eip",
        "aws:rds/instance:Instance",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:alb/loadBalancer:LoadBalancer",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
    ):
        assert token not in present


def test_pipe_reads_the_work_queue_one_message_at_a_time_into_the_state_machine(ultra):
    pipe = ultra.one(PIPE)
    assert pipe.inputs["name"] == "flowbuilder-ultra-worker"
    assert pipe.inputs["source"] == ultra.one(QUEUE, "-work").state["arn"]
    assert pipe.inputs["target"] == ultra.one(STATE_MACHINE).state["arn"]
    assert pipe.inputs["sourceParameters"] == {"sqsQueueParameters": {"batchSize": 1}}
    assert pipe.inputs["targetParameters"] == {
        "stepFunctionStateMachineParameters": {"invocationType": "FIRE_AND_FORGET"}
    }
    assert pipe.inputs["roleArn"] == ultra.one(ROLE, "-pipe").state["arn"]


def test_pipe_logs_errors_without_message_data(ultra):
    logging = ultra.one(PIPE).inputs["logConfiguration"]
    group = ultra.one(LOG_GROUP, "-pipe-logs")
    assert logging == {"level": "ERROR", "cloudwatchLogsLogDestination": {"logGroupArn": group.state["arn"]}}
    assert group.inputs["name"] == "/aws/vendedlogs/pipes/flowbuilder-ultra-worker"
    assert group.inputs["retentionInDays"] == 30


def test_pipe_waits_stopped_until_an_image_is_configured(ultra):
    assert ultra.one(PIPE).inputs["desiredState"] == "STOPPED"
    assert container_of(ultra)["image"].endswith(f"/flowbuilder-ultra/worker:{NOT_RELEASED_TAG}")
    assert ultra.outputs["imagesToPush"]["push"] == [
        "docker push 123456789012.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-ultra/api:<git-sha>",
        "docker push 123456789012.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-ultra/worker:<git-sha>",
        "docker push 123456789012.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-ultra/scheduler:<git-sha>",
    ]
    assert ultra.outputs["imagesToPush"]["then"].startswith(
        "record each image's digest (sha256:...) under flowbuilder:images in Pulumi.ultra.yaml"
    )


def test_pipe_runs_once_the_worker_digest_is_recorded():
    run = ultra_with_image()
    assert run.one(PIPE).inputs["desiredState"] == "RUNNING"
    assert (
        container_of(run)["image"]
        == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-ultra/worker@{DIGESTS['worker']}"
    )
    assert "imagesToPush" not in run.outputs
    assert pipe_alone().one(PIPE).inputs["desiredState"] == "RUNNING"


def test_pipe_role_reads_only_its_queue_starts_only_its_state_machine_and_writes_only_its_logs(ultra):
    statements = by_sid(policy_of(ultra, "pipe"))
    pipe_logs = ultra.one(LOG_GROUP, "-pipe-logs").state["arn"]
    assert statements == {
        "ConsumeWorkQueue": {
            "Sid": "ConsumeWorkQueue",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": [ultra.one(QUEUE, "-work").state["arn"]],
        },
        "StartWorkerRun": {
            "Sid": "StartWorkerRun",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": [ultra.one(STATE_MACHINE).state["arn"]],
        },
        # Without it the pipe's log group stays empty: Pipes delivers with the pipe's role.
        "WritePipeLogs": {
            "Sid": "WritePipeLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{pipe_logs}:*"],
        },
    }
    assert ultra.one(PIPE).inputs["logConfiguration"]["cloudwatchLogsLogDestination"]["logGroupArn"] == pipe_logs
    trust = trust_of(ultra, "pipe")
    assert trust["Principal"] == {"Service": "pipes.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_pipe_and_task_roles_name_every_resource(ultra):
    for label in ("pipe", "worker-task"):
        for entry in policy_of(ultra, label):
            assert entry["Resource"] != "*" and "*" not in entry["Resource"], (label, entry)


def test_cluster_offers_fargate_spot(ultra):
    cluster = ultra.one(CLUSTER)
    assert cluster.inputs["name"] == "flowbuilder-ultra-cluster"
    assert cluster.inputs["settings"] == [{"name": "containerInsights", "value": "disabled"}]
    capacity = ultra.one(CAPACITY)
    assert capacity.inputs["clusterName"] == "flowbuilder-ultra-cluster"
    assert capacity.inputs["capacityProviders"] == ["FARGATE_SPOT"]
    assert capacity.inputs["defaultCapacityProviderStrategies"] == [
        {"capacityProvider": "FARGATE_SPOT", "weight": 100, "base": 0}
    ]


def test_worker_task_definition(ultra):
    task = ultra.one(TASK_DEFINITION, "-worker")
    assert task.inputs["family"] == "flowbuilder-ultra-worker"
    assert (task.inputs["cpu"], task.inputs["memory"]) == ("1024", "2048")
    assert task.inputs["requiresCompatibilities"] == ["FARGATE"]
    assert task.inputs["networkMode"] == "awsvpc"
    assert task.inputs["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
    assert task.inputs["volumes"] == [{"name": "scratch"}]
    assert task.inputs["executionRoleArn"] == ultra.one(ROLE, "-worker-execution").state["arn"]
    assert task.inputs["taskRoleArn"] == ultra.one(ROLE, "-worker-task").state["arn"]

    container = container_of(ultra)
    assert container["name"] == "worker"
    assert container["readonlyRootFilesystem"] is True
    assert container["mountPoints"] == [{"sourceVolume": "scratch", "containerPath": "/tmp", "readOnly": False}]
    assert container["stopTimeout"] == 120
    assert container["linuxParameters"] == {"initProcessEnabled": True}
    assert container["logConfiguration"]["options"] == {
        "awslogs-group": "/flowbuilder/ultra/worker",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "worker",
    }


def test_worker_gets_the_database_url_by_reference_only(ultra):
    container = container_of(ultra)
    secret_arn = ultra.outputs["databaseSecretArn"]
    assert container["secrets"] == [{"name": "DATABASE_URL", "valueFrom": secret_arn}]
    environment = {e["name"]: e["value"] for e in container["environment"]}
    assert environment["AWS_REGION"] == "us-east-1"
    assert environment["STACK"] == "ultra"
    assert "DATABASE_URL" not in environment
    assert not any("PASSWORD" in key for key in environment)


def test_x86_workers_when_configured():
    run = pipe_alone(CpuArchitecture.X86_64)
    assert run.one(TASK_DEFINITION, "-worker").inputs["runtimePlatform"]["cpuArchitecture"] == "X86_64"


def test_execution_role_pulls_only_the_worker_image_and_reads_only_its_secret(ultra):
    statements = by_sid(policy_of(ultra, "worker-execution"))
    assert statements["RegistryLogin"]["Action"] == ["ecr:GetAuthorizationToken"]
    assert statements["RegistryLogin"]["Resource"] == "*"
    assert statements["PullImage"]["Resource"] == [
        "arn:aws:ecr:us-east-1:123456789012:repository/flowbuilder-ultra/worker"
    ]
    assert statements["ReadInjectedSecrets"] == {
        "Sid": "ReadInjectedSecrets",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": [ultra.outputs["databaseSecretArn"]],
    }
    log_group = ultra.one(LOG_GROUP, "-worker-logs").state["arn"]
    assert statements["WriteLogs"]["Resource"] == [f"{log_group}:*"]
    wildcards = [s["Sid"] for s in statements.values() if s["Resource"] == "*"]
    assert wildcards == ["RegistryLogin"]


def test_task_role_may_only_read_executions_of_its_state_machine_and_the_database_url(ultra):
    entry, url, decrypt = policy_of(ultra, "worker-task")
    assert (decrypt["Action"], decrypt["Resource"]) == (["kms:Decrypt"], [ultra.outputs["stackKeyArn"]])
    assert url == {
        "Sid": "ReadDatabaseSecret",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue"],
        "Resource": [ultra.outputs["databaseSecretArn"]],
    }
    assert entry["Action"] == ["states:DescribeExecution"]
    assert entry["Resource"] == ["arn:aws:states:us-east-1:123456789012:execution:flowbuilder-ultra-worker-run:*"]


def test_state_machine_role_is_scoped_to_the_family_cluster_roles_and_dlq(ultra):
    statements = by_sid(policy_of(ultra, "worker-run"))
    cluster_arn = ultra.one(CLUSTER).state["arn"]
    assert statements["RunWorkerTask"]["Action"] == ["ecs:RunTask"]
    assert statements["RunWorkerTask"]["Resource"] == [
        "arn:aws:ecs:us-east-1:123456789012:task-definition/flowbuilder-ultra-worker:*"
    ]
    assert statements["RunWorkerTask"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster_arn}}
    tasks = ["arn:aws:ecs:us-east-1:123456789012:task/flowbuilder-ultra-cluster/*"]
    assert statements["WatchWorkerTasks"]["Action"] == ["ecs:StopTask", "ecs:DescribeTasks"]
    assert statements["WatchWorkerTasks"]["Resource"] == tasks
    assert statements["TagWorkerTasks"]["Resource"] == tasks
    assert statements["TagWorkerTasks"]["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
    assert statements["WaitForTaskEvents"]["Resource"] == [
        "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForECSTaskRule"
    ]
    assert statements["PassWorkerRoles"]["Action"] == ["iam:PassRole"]
    assert sorted(statements["PassWorkerRoles"]["Resource"]) == sorted(
        [ultra.one(ROLE, "-worker-execution").state["arn"], ultra.one(ROLE, "-worker-task").state["arn"]]
    )
    assert statements["PassWorkerRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert statements["DeadLetter"]["Action"] == ["sqs:SendMessage"]
    assert statements["DeadLetter"]["Resource"] == [ultra.one(QUEUE, "-work-dlq").state["arn"]]
    # Only log delivery may use "*": CloudWatch Logs offers nothing narrower for it.
    wildcards = {s["Sid"]: s["Action"] for s in statements.values() if s["Resource"] == "*"}
    assert list(wildcards) == ["DeliverLogs"]
    assert all(action.startswith("logs:") for action in wildcards["DeliverLogs"])
    assert trust_of(ultra, "worker-run")["Principal"] == {"Service": "states.amazonaws.com"}


def test_state_machine_is_standard_and_logs_errors(ultra):
    machine = ultra.one(STATE_MACHINE)
    assert machine.inputs["name"] == "flowbuilder-ultra-worker-run"
    assert machine.inputs["type"] == "STANDARD"
    group = ultra.one(LOG_GROUP, "-worker-run-logs")
    assert group.inputs["name"] == "/aws/vendedlogs/states/flowbuilder-ultra-worker-run"
    assert machine.inputs["loggingConfiguration"] == {
        "level": "ERROR",
        "includeExecutionData": False,
        "logDestination": f"{group.state['arn']}:*",
    }
    # Created after its role may deliver logs and after FARGATE_SPOT is attached to the cluster.
    assert ultra.one(ROLE_POLICY, "-worker-run").urn in machine.depends_on
    assert ultra.one(CAPACITY).urn in machine.depends_on


# -- the state machine definition ---------------------------------------------


def test_definition_is_well_formed(ultra):
    definition = definition_of(ultra)
    states = definition["States"]
    assert definition["QueryLanguage"] == "JSONata"
    assert definition["StartAt"] in states
    targets = {definition["StartAt"]}
    for state in states.values():
        targets.update(filter(None, [state.get("Next"), state.get("Default")]))
        targets.update(rule["Next"] for rule in state.get("Choices", []))
        targets.update(catcher["Next"] for catcher in state.get("Catch", []))
        assert state.get("End") or state.get("Next") or state["Type"] in ("Choice", "Fail")
    assert targets == set(states), "every state is reachable and every transition names a state"


def test_run_worker_uses_spot_public_subnets_and_explicit_cpu_memory(ultra):
    run_worker = definition_of(ultra)["States"]["RunWorker"]
    assert run_worker["Resource"] == RUN_TASK
    arguments = run_worker["Arguments"]
    assert arguments["Cluster"] == ultra.one(CLUSTER).state["arn"]
    assert arguments["TaskDefinition"] == ultra.one(TASK_DEFINITION, "-worker").state["arn"]
    assert arguments["CapacityProviderStrategy"] == [{"CapacityProvider": "FARGATE_SPOT", "Weight": 100}]
    assert "LaunchType" not in arguments
    assert arguments["NetworkConfiguration"] == {
        "AwsvpcConfiguration": {
            "Subnets": ultra.outputs["publicSubnetIds"],
            "SecurityGroups": [ultra.outputs["securityGroupIds"]["worker"]],
            "AssignPublicIp": "ENABLED",
        }
    }
    (override,) = arguments["Overrides"]["ContainerOverrides"]
    assert (override["Name"], override["Cpu"], override["Memory"]) == ("worker", 1024, 2048)


def test_retry_order_timeouts_and_catch(ultra):
    run_worker = definition_of(ultra)["States"]["RunWorker"]
    api, task = run_worker["Retry"]
    # States.TaskFailed also matches API errors, so the API retrier must come first.
    assert api["ErrorEquals"] == ["ECS.AmazonECSException", "AmazonECS.Unknown"]
    # A timeout is never retried: the timed-out task may still run, and a retry would overlap it.
    assert task["ErrorEquals"] == ["States.TaskFailed"]
    assert task["MaxAttempts"] == 2  # queue.maxReceiveCount 3 = 1 run + 2 retries
    assert run_worker["TimeoutSeconds"] == 15 * 60 + TASK_START_SECONDS
    assert run_worker["Catch"] == [
        {
            "ErrorEquals": ["States.Timeout"],
            "Assign": {"error": "{% $states.errorOutput %}"},
            "Next": "FindTimedOutTask",
        },
        {
            "ErrorEquals": ["States.ALL"],
            "Assign": {"error": "{% $states.errorOutput %}"},
            "Next": "SendToDeadLetterQueue",
        },
    ]
    assert run_worker["Arguments"]["StartedBy"] == "{% $states.context.Execution.Name %}"


def test_execution_outlasts_every_state_timeout_and_wait(ultra):
    definition = definition_of(ultra)
    states = definition["States"]
    run_worker = states["RunWorker"]
    api, task = run_worker["Retry"]
    dlq = states["SendToDeadLetterQueue"]["Retry"][0]
    runs = task["MaxAttempts"] + 1
    worst = (
        runs * run_worker["TimeoutSeconds"]
        + runs
        * sum(retry_delays(api["IntervalSeconds"], api["MaxAttempts"], api["BackoffRate"], api["MaxDelaySeconds"]))
        + sum(retry_delays(task["IntervalSeconds"], task["MaxAttempts"], task["BackoffRate"]))
        + sum(retry_delays(dlq["IntervalSeconds"], dlq["MaxAttempts"], dlq["BackoffRate"]))
    )
    assert definition["TimeoutSeconds"] > worst
    assert definition["TimeoutSeconds"] > 15 * 60


def test_attempts_and_timeouts_follow_the_queue_and_worker_settings():
    run = pipe_alone(max_receive_count=5, worker=json.dumps({"maxRunMinutes": 60}))
    definition = definition_of(run)
    run_worker = definition["States"]["RunWorker"]
    assert run_worker["Retry"][1]["MaxAttempts"] == 4
    assert run_worker["TimeoutSeconds"] == 3600 + TASK_START_SECONDS
    assert definition["TimeoutSeconds"] > 5 * (3600 + TASK_START_SECONDS)


def test_dead_letter_step_sends_the_original_body_to_the_work_dlq(ultra):
    states = definition_of(ultra)["States"]
    send = states["SendToDeadLetterQueue"]
    assert send["Resource"] == SEND_MESSAGE
    assert send["Arguments"]["QueueUrl"] == ultra.outputs["deadLetterQueueUrl"]
    assert send["Arguments"]["MessageBody"] == "{% $body %}"
    assert send["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"


# -- a message's life, played on the definition -------------------------------


TIMED_OUT_TASK = "arn:aws:ecs:us-east-1:123456789012:task/flowbuilder-ultra-cluster/0a1b2c3d4e5f"


def ecs_script(*outcomes: str, still_running: list[str] | None = None):
    """Services answering RunTask with the given outcomes in turn ('ok', 'spot', 'crash', 'throttle',
    'timeout'); ListTasks answers ``still_running`` (the timed-out task by default)."""
    remaining = list(outcomes)

    def services(resource: str, arguments: Any, _: int) -> Any:
        if resource == SEND_MESSAGE:
            return {"MessageId": "d1d1d1d1-0000-4000-8000-000000000001"}
        if resource == LIST_TASKS:
            return {"TaskArns": [TIMED_OUT_TASK] if still_running is None else still_running}
        if resource == STOP_TASK:
            return {"Task": {"TaskArn": arguments["Task"], "DesiredStatus": "STOPPED"}}
        assert resource == RUN_TASK
        outcome = remaining.pop(0)
        if outcome == "timeout":
            raise asl.TaskError("States.Timeout", "")
        if outcome == "spot":
            raise asl.TaskError(
                "States.TaskFailed", json.dumps({"StopCode": "SpotInterruption", "Containers": [{"ExitCode": 143}]})
            )
        if outcome == "crash":
            raise asl.TaskError(
                "States.TaskFailed",
                json.dumps({"StopCode": "EssentialContainerExited", "Containers": [{"ExitCode": 1}]}),
            )
        if outcome == "throttle":
            raise asl.TaskError(
                "ECS.AmazonECSException",
                "Rate exceeded (Service: AmazonECS; Status Code: 400; Error Code: ThrottlingException)",
            )
        if outcome == "no-capacity":
            raise asl.TaskError("AmazonECS.Unknown", "Capacity is unavailable at this time")
        assert outcome == "ok"
        return {"StopCode": "EssentialContainerExited", "Containers": [{"ExitCode": 0}]}

    return services


def environment_of(call: asl.Call) -> dict[str, str]:
    (override,) = call.arguments["Overrides"]["ContainerOverrides"]
    return {entry["Name"]: entry["Value"] for entry in override["Environment"]}


def play(run: StackRun, body: str, *outcomes: str) -> asl.Execution:
    return asl.run(definition_of(run), [asl.sqs_record(body)], ecs_script(*outcomes))


def test_happy_path_runs_one_task_with_the_message_in_its_environment(ultra):
    execution = play(ultra, BODY, "ok")
    assert execution.status == "SUCCEEDED"
    (call,) = execution.calls
    assert environment_of(call) == {
        "MESSAGE_ID": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "MESSAGE_ATTEMPT": "1",
        "EXIT_AFTER_COMPLETION": "true",
        "MAX_RUN_SECONDS": "900",
        "MESSAGE_BODY": BODY,
    }
    (override,) = call.arguments["Overrides"]["ContainerOverrides"]
    assert (override["Cpu"], override["Memory"]) == (1024, 2048)
    assert "LaunchType" not in call.arguments
    assert not execution.calls_to(SEND_MESSAGE)


def test_spot_interruption_is_retried_and_the_message_survives(ultra):
    execution = play(ultra, BODY, "spot", "ok")
    assert execution.status == "SUCCEEDED"
    first, second = execution.calls_to(RUN_TASK)
    assert environment_of(first)["MESSAGE_ATTEMPT"] == "1"
    assert environment_of(second)["MESSAGE_ATTEMPT"] == "2"
    assert environment_of(second)["MESSAGE_BODY"] == BODY
    assert execution.waits == [60]
    assert not execution.calls_to(SEND_MESSAGE)


def test_throttled_runtask_and_missing_spot_capacity_back_off_without_using_a_run(ultra):
    execution = play(ultra, BODY, "throttle", "no-capacity", "throttle", "crash", "crash", "ok")
    assert execution.status == "SUCCEEDED"
    assert len(execution.calls_to(RUN_TASK)) == 6
    assert execution.waits == [10, 20, 40, 60, 120]


def test_a_message_that_keeps_crashing_goes_to_the_dlq_with_its_original_body(ultra):
    execution = play(ultra, BODY, "crash", "crash", "crash")
    assert execution.status == "FAILED"
    assert execution.error == "WorkerFailed"
    assert len(execution.calls_to(RUN_TASK)) == 3
    (send,) = execution.calls_to(SEND_MESSAGE)
    assert send.arguments["QueueUrl"] == ultra.outputs["deadLetterQueueUrl"]
    assert send.arguments["MessageBody"] == BODY
    attributes = {k: v["StringValue"] for k, v in send.arguments["MessageAttributes"].items()}
    assert attributes == {
        "originalMessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "error": "States.TaskFailed",
        "executionArn": asl.EXECUTION_ARN,
    }
    assert "059f36b4-87a3-44ab-83d2-661975830a7d" in execution.cause


def test_a_run_past_its_budget_is_stopped_and_dead_lettered_never_retried_beside_it(ultra):
    execution = play(ultra, BODY, "timeout")
    assert execution.status == "FAILED"
    (run_task,) = execution.calls_to(RUN_TASK)
    assert environment_of(run_task)["MAX_RUN_SECONDS"] == str(15 * 60)
    execution_name = asl.EXECUTION_ARN.rsplit(":", 1)[1]
    assert run_task.arguments["StartedBy"] == execution_name
    cluster = ultra.one(CLUSTER).state["arn"]
    (listed,) = execution.calls_to(LIST_TASKS)
    assert listed.arguments == {"Cluster": cluster, "StartedBy": execution_name, "DesiredStatus": "RUNNING"}
    (stopped,) = execution.calls_to(STOP_TASK)
    assert stopped.arguments == {
        "Cluster": cluster,
        "Task": TIMED_OUT_TASK,
        "Reason": "worker run exceeded worker.maxRunMinutes",
    }
    (send,) = execution.calls_to(SEND_MESSAGE)
    assert send.arguments["MessageBody"] == BODY
    assert send.arguments["MessageAttributes"]["error"]["StringValue"] == "States.Timeout"
    # Stopped before the message is dead-lettered.
    assert execution.path.index("StopTimedOutTask") < execution.path.index("SendToDeadLetterQueue")


def test_a_timed_out_run_whose_task_already_stopped_goes_straight_to_the_dlq(ultra):
    execution = asl.run(definition_of(ultra), [asl.sqs_record(BODY)], ecs_script("timeout", still_running=[]))
    assert execution.calls_to(STOP_TASK) == []
    assert len(execution.calls_to(SEND_MESSAGE)) == 1
    assert execution.error == "WorkerFailed"


def test_the_state_machine_may_find_and_stop_only_tasks_on_its_cluster(ultra):
    statements = by_sid(policy_of(ultra, "worker-run"))
    cluster_arn = ultra.one(CLUSTER).state["arn"]
    assert statements["FindTimedOutTasks"]["Action"] == ["ecs:ListTasks"]
    assert statements["FindTimedOutTasks"]["Resource"] == [
        "arn:aws:ecs:us-east-1:123456789012:container-instance/flowbuilder-ultra-cluster/*"
    ]
    assert statements["FindTimedOutTasks"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster_arn}}
    assert statements["WatchWorkerTasks"]["Resource"] == [
        "arn:aws:ecs:us-east-1:123456789012:task/flowbuilder-ultra-cluster/*"
    ]


def test_a_failing_dead_letter_send_is_retried(ultra):
    sends = iter([asl.TaskError("SQS.AmazonSQSException", "throttled"), None])
    crashes = ecs_script("crash", "crash", "crash")

    def services(resource: str, arguments: Any, retry_count: int) -> Any:
        if resource == SEND_MESSAGE:
            failure = next(sends)
            if failure:
                raise failure
            return {"MessageId": "m"}
        return crashes(resource, arguments, retry_count)

    execution = asl.run(definition_of(ultra), [asl.sqs_record(BODY)], services)
    assert [c.resource for c in execution.calls].count(SEND_MESSAGE) == 2
    assert execution.error == "WorkerFailed"


def test_a_body_too_large_for_the_overrides_travels_as_a_pointer(ultra):
    large = json.dumps({"rows": ["x" * 100] * 100})
    assert len(large) > ECS_OVERRIDES_LIMIT
    execution = play(ultra, large, "ok")
    environment = environment_of(execution.calls[0])
    assert "MESSAGE_BODY" not in environment
    assert environment["MESSAGE_EXECUTION_ARN"] == asl.EXECUTION_ARN
    assert len(json.dumps(execution.calls[0].arguments["Overrides"])) < 1000


def test_the_largest_inline_body_keeps_the_overrides_under_the_ecs_limit(ultra):
    # Quotes and newlines double when escaped: the limit counts the escaped form.
    unit = '"\n'
    body = unit * (INLINE_BODY_LIMIT // 4)
    assert len(json.dumps(body)) - 2 == INLINE_BODY_LIMIT
    execution = play(ultra, body, "ok")
    environment = environment_of(execution.calls[0])
    assert environment["MESSAGE_BODY"] == body
    assert len(json.dumps(execution.calls[0].arguments["Overrides"])) <= ECS_OVERRIDES_LIMIT

    one_more = play(ultra, body + "x", "ok")
    assert "MESSAGE_BODY" not in environment_of(one_more.calls[0])


def test_a_body_pipes_parsed_as_json_still_reaches_the_worker_as_text(ultra):
    record = asl.sqs_record("")
    record["body"] = {"flowId": "f-42"}
    execution = asl.run(definition_of(ultra), [record], ecs_script("ok"))
    assert json.loads(environment_of(execution.calls[0])["MESSAGE_BODY"]) == {"flowId": "f-42"}


@pytest.mark.parametrize(
    ("resource_type", "component"),
    [
        (PIPE, "WorkerPipe"),
        (STATE_MACHINE, "WorkerPipe"),
        (TASK_DEFINITION, "WorkerPipe"),
        (CLUSTER, "EcsCluster"),
        (CAPACITY, "EcsCluster"),
    ],
)
def test_worker_resources_belong_to_their_components(ultra, resource_type, component):
    resource: RecordedResource = ultra.one(resource_type)
    owner = ultra.component_of(resource)
    assert owner is not None and owner.type == f"flowbuilder:index:{component}"


def test_an_execution_started_before_a_deploy_can_still_run_its_pinned_revision(ultra):
    # Each execution's definition names one revision; a deploy registers a new one. Deregistering
    # the old one would make a retry's RunTask fail and dead-letter its message, so old revisions
    # stay ACTIVE and the role may run every revision of the family.
    task = ultra.one(TASK_DEFINITION, "-worker")
    assert task.inputs["skipDestroy"] is True
    run_worker = definition_of(ultra)["States"]["RunWorker"]
    assert run_worker["Arguments"]["TaskDefinition"] == task.state["arn"]
    statements = by_sid(policy_of(ultra, "worker-run"))
    assert statements["RunWorkerTask"]["Resource"] == [f"{task.state['arnWithoutRevision']}:*"]
