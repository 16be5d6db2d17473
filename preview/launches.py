"""Every place a stack starts ECS tasks on demand (RunTask), wherever it is declared.

A pipe's ``ecsTaskParameters``, a Step Functions ``ecs:runTask`` state, an
EventBridge rule's ``ecsTarget``, a schedule's ``ecsParameters`` and the
migration runner's invocation event all carry the same RunTask request in
different spellings; this reads them into one shape for the cost of a job, the
preflight rules and the diagram.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from simulation.harness import RecordedResource, StackRun
from simulation.refs import as_document, dig

RUN_TASK = "arn:aws:states:::ecs:runTask"
INVOCATION = "aws:lambda/invocation:Invocation"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
FUNCTION = "aws:lambda/function:Function"


@dataclass
class TaskLaunch:
    runner: RecordedResource
    where: str
    """Where the request sits in the runner (an input path or a state name)."""
    task_definition: Any
    launch_type: str | None
    strategy: list[dict[str, Any]]
    """Capacity-provider strategy as ``{capacityProvider, weight, base}``."""
    public_ip: bool
    subnets: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    cpu: Any = None
    """Task-level cpu override (RunTask ``overrides.cpu``), if any."""
    memory: Any = None
    steps: int = 0
    """State transitions of one successful run, for Step Functions runners."""
    invocation: RecordedResource | None = None
    """The Invocation that runs ``runner`` once per release (the migration), if that is how it starts."""


def _camel(value: Any) -> Any:
    """Step Functions spells RunTask in PascalCase; the SDKs in camelCase."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items() if not key.endswith(".$")}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _launch(runner: RecordedResource, where: str, request: dict[str, Any], task_key: str, steps: int = 0) -> TaskLaunch:
    network = (
        dig(request, "networkConfiguration.awsVpcConfiguration")
        or dig(request, "networkConfiguration.awsvpcConfiguration")
        or {}
    )
    public = network.get("assignPublicIp")
    overrides = request.get("overrides") or {}
    return TaskLaunch(
        runner=runner,
        where=where,
        task_definition=request.get(task_key),
        launch_type=request.get("launchType"),
        strategy=request.get("capacityProviderStrategies") or request.get("capacityProviderStrategy") or [],
        public_ip=public is True or public == "ENABLED",
        subnets=list(network.get("subnets") or []),
        security_groups=list(network.get("securityGroups") or []),
        cpu=overrides.get("cpu"),
        memory=overrides.get("memory"),
        steps=steps,
    )


def task_launches(run: StackRun) -> list[TaskLaunch]:
    """Every RunTask request ``run`` declares."""
    launches = []
    for pipe in run.of_type("aws:pipes/pipe:Pipe"):
        request = dig(pipe.inputs, "targetParameters.ecsTaskParameters")
        if request:
            launches.append(_launch(pipe, "targetParameters.ecsTaskParameters", request, "taskDefinitionArn"))
    for target in run.of_type("aws:cloudwatch/eventTarget:EventTarget"):
        if target.inputs.get("ecsTarget"):
            launches.append(_launch(target, "ecsTarget", target.inputs["ecsTarget"], "taskDefinitionArn"))
    for schedule in run.of_type("aws:scheduler/schedule:Schedule"):
        request = dig(schedule.inputs, "target.ecsParameters")
        if request:
            launches.append(_launch(schedule, "target.ecsParameters", request, "taskDefinitionArn"))
    for machine in run.of_type("aws:sfn/stateMachine:StateMachine"):
        try:
            definition = as_document(machine.inputs.get("definition") or "{}")
        except ValueError:
            continue
        steps = happy_path_length(definition)
        for name, state in _states(definition):
            if str(state.get("Resource", "")).startswith(RUN_TASK):
                request = _camel(state.get("Arguments") or state.get("Parameters") or {})
                launches.append(_launch(machine, f"definition state {name}", request, "taskDefinition", steps))
    launches += _invoked_launches(run)
    return launches


def _invoked_launches(run: StackRun) -> Iterator[TaskLaunch]:
    """The migration: an Invocation whose event is a RunTask request, run by the function it invokes."""
    functions = {str(f.inputs.get("name")): f for f in run.of_type(FUNCTION)}
    families = {str(d.inputs.get("family")): d for d in run.of_type(TASK_DEFINITION)}
    for invocation in run.of_type(INVOCATION):
        try:
            event = as_document(invocation.inputs.get("input") or "{}")
        except ValueError:
            continue
        runner = functions.get(str(invocation.inputs.get("functionName")))
        if runner is None or not isinstance(event, dict) or not event.get("taskDefinition"):
            continue
        # RunTask on a family starts its newest revision: the one this update declares.
        family = families.get(str(event["taskDefinition"]))
        request = {
            "taskDefinition": family.state.get("arn") if family else event["taskDefinition"],
            "launchType": "FARGATE",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": event.get("subnets"),
                    "securityGroups": event.get("securityGroups"),
                    "assignPublicIp": event.get("assignPublicIp"),
                }
            },
        }
        launch = _launch(runner, "once per release", request, "taskDefinition")
        launch.invocation = invocation
        yield launch


def _states(definition: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state of a definition, nested Parallel branches and Map processors included."""
    if not isinstance(definition, dict):
        return
    for name, state in (definition.get("States") or {}).items():
        if not isinstance(state, dict):
            continue
        yield name, state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        yield from _states(state.get("ItemProcessor") or state.get("Iterator"))


def happy_path_length(definition: Any) -> int:
    """States entered on the shortest run from ``StartAt`` to an end state (each entry is a billed transition)."""
    states = definition.get("States") or {} if isinstance(definition, dict) else {}
    frontier, seen, depth = [definition.get("StartAt") if isinstance(definition, dict) else None], set(), 0
    while frontier:
        depth += 1
        following = []
        for name in frontier:
            state = states.get(name)
            if not isinstance(state, dict) or name in seen:
                continue
            seen.add(name)
            if state.get("End") or state.get("Type") in ("Succeed", "Fail"):
                return depth
            following += [state.get("Next"), state.get("Default")] + [c.get("Next") for c in state.get("Choices") or []]
        frontier = [name for name in following if name]
    return depth
