"""The config model: committed stacks load, and each kind of bad input fails before any resource."""

from __future__ import annotations

import pytest

from simulation.harness import read_stack_file, run_main, run_program, run_stack, stack_config
from stackconfig import ConfigError, Environment, NatStrategy, Topology, load_stack_config


def load(stack: str, overrides: dict | None = None):
    """Load a stack's config exactly as the program would, with some keys replaced."""
    holder = {}
    run_program(
        lambda: holder.update(result=load_stack_config("flowbuilder", stack)),
        stack=stack,
        config=stack_config(stack, overrides),
    )
    return holder["result"][0]


def run_expecting_config_error(stack: str, overrides: dict) -> tuple[ConfigError | None, list]:
    """Run the whole program; return the config error it raised and what it had declared by then."""
    caught = {}

    def program() -> None:
        try:
            run_main()
        except ConfigError as error:
            caught["error"] = error

    run = run_program(program, stack=stack, config=stack_config(stack, overrides))
    return caught.get("error"), [r for r in run.resources if r.custom]


@pytest.mark.parametrize(
    ("stack", "environment", "topology", "nat"),
    [
        ("dev", Environment.DEV, Topology.STANDARD, NatStrategy.INSTANCE),
        ("staging", Environment.STAGING, Topology.STANDARD, NatStrategy.SINGLE_GATEWAY),
        ("prod", Environment.PROD, Topology.STANDARD, NatStrategy.GATEWAY_PER_AZ),
        ("ultra", Environment.PROD, Topology.ZERO_SCALE, NatStrategy.NONE),
    ],
)
def test_committed_stack_files_load(stack, environment, topology, nat):
    config = load(stack)
    assert (config.environment, config.topology, config.network.nat_strategy) == (environment, topology, nat)
    assert config.name_prefix == f"flowbuilder-{stack}"
    assert config.region == "us-east-1"


def test_environment_defaults_follow_the_design_sizes():
    dev, staging, prod = load("dev"), load("staging"), load("prod")
    assert (dev.database.instance_class, dev.database.allocated_storage_gb, dev.database.backup_retention_days) == (
        "db.t4g.micro",
        20,
        1,
    )
    assert (staging.database.instance_class, staging.database.allocated_storage_gb) == ("db.t4g.small", 50)
    assert (prod.database.instance_class, prod.database.backup_retention_days, prod.database.multi_az) == (
        "db.t4g.medium",
        30,
        True,
    )
    assert (dev.api.cpu, dev.api.memory, prod.api.cpu, prod.api.memory) == (256, 512, 1024, 2048)
    assert (dev.worker.cpu, dev.worker.memory, prod.worker.cpu, prod.worker.memory) == (1024, 2048, 2048, 4096)
    assert prod.api.desired_count >= 2
    assert (dev.log_retention_days, prod.log_retention_days) == (7, 30)


def test_stack_file_value_overrides_the_environment_default():
    config = load("dev", {"flowbuilder:database": {"instanceClass": "db.t4g.small"}})
    assert config.database.instance_class == "db.t4g.small"
    assert config.database.allocated_storage_gb == 20  # the rest of the section keeps dev's defaults


def test_default_tags_name_project_stack_environment_and_cost_center():
    config = load("staging", {"flowbuilder:costCenter": "cc-1234"})
    assert config.default_tags == {
        "project": "flowbuilder",
        "stack": "staging",
        "environment": "staging",
        "managed-by": "pulumi",
        "cost-center": "cc-1234",
    }


BAD_INPUTS = [
    pytest.param(
        "dev", {"flowbuilder:natStrategy": "instance"}, "flowbuilder:natStrategy: unknown key", id="unknown-top-key"
    ),
    pytest.param(
        "dev",
        {"flowbuilder:network": {"natStrategey": "instance"}},
        "flowbuilder:network.natStrategey: unknown key",
        id="unknown-nested-key",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:api": {"desiredCount": "two"}},
        "flowbuilder:api.desiredCount: Input should be a valid integer",
        id="wrong-type",
    ),
    pytest.param(
        "dev", {"aws:region": "us-central-9"}, "aws:region: 'us-central-9' is not an AWS region", id="bad-region"
    ),
    pytest.param(
        "dev",
        {"flowbuilder:network": {"privateSubnetCidrs": ["10.1.10.0/24", "10.0.11.0/24"]}},
        "subnet 10.1.10.0/24 (private) is outside vpcCidr 10.0.0.0/16",
        id="subnet-outside-vpc",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:network": {"databaseSubnetCidrs": ["10.0.0.0/23", "10.0.21.0/24"]}},
        "subnet 10.0.0.0/23 (database) overlaps subnet 10.0.0.0/24",
        id="subnet-overlap",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:network": {"publicSubnetCidrs": ["10.0.0.0/24"]}},
        "publicSubnetCidrs has 1 CIDRs; need one per availability zone (2)",
        id="too-few-subnet-cidrs",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:network": {"availabilityZones": 1}},
        "standard topology needs at least 2 AZs",
        id="one-az-standard",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:network": {"natStrategy": "nat-gw"}},
        "flowbuilder:network.natStrategy: Input should be 'none', 'single-gateway', 'gateway-per-az' or 'instance'",
        id="unknown-nat-strategy",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:worker": {"cpu": 1024, "memory": 1024}},
        "flowbuilder:worker: memory 1024 is not allowed with cpu 1024; allowed memory: 2048-8192 MiB",
        id="invalid-fargate-pair",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:api": {"cpu": 300, "memory": 512}},
        "cpu 300 is not a Fargate size",
        id="invalid-fargate-cpu",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:topology": "serverless"},
        "flowbuilder:topology: 'serverless' is not allowed; allowed: standard, zero-scale",
        id="unknown-topology",
    ),
    pytest.param(
        "ultra",
        {"flowbuilder:network": {"natStrategy": "single-gateway"}},
        "zero-scale runs in public subnets",
        id="nat-in-zero-scale",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:logRetentionDays": 10},
        "flowbuilder:logRetentionDays: CloudWatch accepts only",
        id="retention",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:externalDatabaseUrl": "postgresql://x"},
        "must be set with `pulumi config set --secret",
        id="secret-in-plaintext",
    ),
]


@pytest.mark.parametrize(("stack", "overrides", "expected"), BAD_INPUTS)
def test_bad_input_names_stack_file_and_key_before_any_resource(stack, overrides, expected):
    error, declared = run_expecting_config_error(stack, overrides)
    assert error is not None, "the program accepted bad input"
    message = str(error)
    assert message.startswith(f"Pulumi.{stack}.yaml: invalid configuration")
    assert expected in message
    assert declared == []


def test_a_long_stack_name_is_refused_before_any_resource():
    with pytest.raises(ConfigError) as raised:
        run_program(
            lambda: load_stack_config("flowbuilder", "development-eu-west-sandbox"),
            stack="development-eu-west-sandbox",
            config=read_stack_file("dev"),
        )
    assert "Pulumi.development-eu-west-sandbox.yaml" in str(raised.value)
    assert "alb names would be 43 characters (limit 32)" in str(raised.value)


def test_all_problems_are_reported_together():
    with pytest.raises(ConfigError) as raised:
        run_stack(
            "dev",
            {"flowbuilder:bogus": "1", "flowbuilder:api": {"containerPort": 0}, "flowbuilder:externalDatabaseUrl": "x"},
        )
    message = str(raised.value)
    assert "flowbuilder:externalDatabaseUrl: must be set with `pulumi config set --secret" in message
    assert "flowbuilder:bogus: unknown key" in message
    assert "flowbuilder:api.containerPort" in message
