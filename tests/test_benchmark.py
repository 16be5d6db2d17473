"""The benchmark's floor: a stack's registrations again, with trivial inputs."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from benchmarks.bench import StackResult, stacks
from benchmarks.floor import graph, placeholder, run_floor
from simulation.harness import STACKS, StackRun


def _shape(run: StackRun) -> Counter:
    """Each resource as (type, name, parent's type and name, provider's type): what the floor must repeat."""
    by_urn = {r.urn: r for r in run.resources}

    def named(urn: str) -> tuple[str, str] | None:
        owner = by_urn.get(urn)
        return (owner.type, owner.name) if owner else None

    return Counter(
        (r.type, r.name, named(r.parent or ""), (named(r.provider.rsplit("::", 1)[0]) or ("", ""))[0])
        for r in run.resources
    )


def test_the_floor_registers_what_the_stack_registers(any_stack):
    floor = run_floor(json.loads(json.dumps(graph(any_stack))))
    assert _shape(floor) == _shape(any_stack)
    assert len(floor.resources) == len(any_stack.resources) > 50


def test_the_floor_takes_the_stacks_region(ultra):
    floor = graph(ultra)
    assert floor["stack"] == "ultra"
    assert floor["region"] == ultra.config.region == "us-east-1"


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        ("typing.Union[str, collections.abc.Awaitable[str]]", "x"),
        ("typing.Sequence[typing.Union[str, ForwardRef('Output[T]')]]", []),
        ("typing.Union[ForwardRef('ClusterVpcConfigArgs'), ForwardRef('Output[T]')]", {}),
        ("typing.Union[int, ForwardRef('Output[T]')]", 0),
        ("typing.Union[bool, ForwardRef('Output[T]')]", False),
    ],
)
def test_each_required_input_gets_a_placeholder_of_its_kind(annotation, value):
    assert placeholder(annotation) == value


def test_the_benchmark_covers_every_stack_file():
    assert stacks() == sorted(STACKS)


def test_a_preview_over_its_target_is_reported():
    assert StackResult("dev", 4.0, 3.6, 200).missed() == []
    assert StackResult("prod", 5.5, 4.0, 250).missed() == [
        "prod: preview 5.50 s > 5 s",
        "prod: ratio 1.38 > 1.15",
        "prod: peak 250 MiB > 240 MiB",
    ]
