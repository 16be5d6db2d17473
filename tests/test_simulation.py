"""The harness itself: canonical order, the loaded config, the collector, shared runs."""

from __future__ import annotations

import gc

import pulumi
import pulumi_aws as aws
import pytest
from pulumi.runtime import resource as pulumi_resource

from simulation.harness import StackRun, _SharedRuns, run_program, run_stack

from .conftest import committed_run
from .preview_support import program


def test_resources_come_by_type_then_name_whatever_order_they_were_declared_in():
    def build():
        for name in ("zeta", "alpha", "mid"):
            aws.sqs.Queue(name, tags={"b": "2", "a": "1"})
        aws.sns.Topic("first")

    run = program(build)
    assert [(r.type, r.name) for r in run.resources] == [
        ("aws:sns/topic:Topic", "first"),
        ("aws:sqs/queue:Queue", "alpha"),
        ("aws:sqs/queue:Queue", "mid"),
        ("aws:sqs/queue:Queue", "zeta"),
    ]
    assert [list(r.inputs["tags"]) for r in run.of_type("aws:sqs/queue:Queue")] == [["a", "b"]] * 3


def test_dependencies_are_sorted():
    def build():
        first, second = aws.sqs.Queue("b-queue"), aws.sqs.Queue("a-queue")
        aws.sns.Topic("topic", opts=pulumi.ResourceOptions(depends_on=[first, second]))

    topic = program(build).one("aws:sns/topic:Topic")
    assert [urn.rsplit("::", 1)[-1] for urn in topic.depends_on] == ["a-queue", "b-queue"]


def test_a_stack_run_carries_the_config_the_program_loaded():
    config = committed_run("prod").config
    assert config.name_prefix == "flowbuilder-prod"
    assert config.database.multi_az is True
    assert program(lambda: aws.sqs.Queue("q")).config is None


def test_the_collector_is_back_as_it_was_after_a_run():
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    program(lambda: aws.sqs.Queue("q"))
    assert gc.isenabled()
    assert gc.get_freeze_count() > frozen
    gc.disable()
    try:
        program(lambda: aws.sqs.Queue("q"))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_sdk_gets_its_stack_traces_back_after_a_run_even_a_failed_one():
    sdk = pulumi_resource._get_stack_trace

    def broken():
        aws.sqs.Queue("q")
        raise RuntimeError("the program failed")

    with pytest.raises(RuntimeError, match="the program failed"):
        run_program(broken, stack="dev", config={"aws:region": "us-east-1"})
    assert pulumi_resource._get_stack_trace is sdk


def test_a_shared_run_is_made_once_and_read_back(tmp_path):
    shared = _SharedRuns(tmp_path)
    made = StackRun("dev", [], {"vpcId": "vpc-1"}, set())
    assert shared.get("dev", lambda: made) is made

    def remake() -> StackRun:
        raise AssertionError("made twice")

    assert shared.get("dev", remake).outputs == {"vpcId": "vpc-1"}


def test_a_failed_run_is_not_shared(tmp_path):
    shared = _SharedRuns(tmp_path)

    def failing() -> StackRun:
        raise ValueError("bad config")

    with pytest.raises(ValueError):
        shared.get("dev", failing)
    assert list(tmp_path.glob("*.pickle")) == []


def test_run_stack_makes_each_distinct_run_once():
    assert run_stack("ultra") is run_stack("ultra", overrides={}, secrets={})
    # The same variant as test_worker_pipe's, so the session makes it once.
    assert run_stack("ultra") is not run_stack("ultra", {"flowbuilder:ecs": {"architecture": "X86_64"}})
