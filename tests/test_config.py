"""The config model: committed stacks load, and each kind of bad input fails before any resource."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from release.images import Images
from release.stackfile import StackFile
from simulation.harness import ROOT, read_stack_file, run_main, run_program, run_stack, stack_config
from simulation.mocks import ACCOUNT_ID
from stackconfig import (
    ConfigError,
    Environment,
    NatStrategy,
    StandardStackConfig,
    Topology,
    ZeroScaleStackConfig,
    checks,
    cidrs,
    load_stack_config,
    windows,
)
from stackconfig.defaults import defaults_for
from tests.conftest import DIGESTS


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
        ("ultra", Environment.STAGING, Topology.ZERO_SCALE, None),
    ],
)
def test_committed_stack_files_load(stack, environment, topology, nat):
    config = load(stack)
    assert (config.environment, config.topology) == (environment, topology)
    if nat is None:
        assert isinstance(config, ZeroScaleStackConfig) and not hasattr(config.network, "nat_strategy")
    else:
        assert isinstance(config, StandardStackConfig) and config.network.nat_strategy is nat
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


def test_zero_scale_sizes_do_not_depend_on_the_environment():
    """ultra is not prod, and keeps the sizes it had as one: zero-scale's defaults are its own."""
    tables = [defaults_for(environment, Topology.ZERO_SCALE) for environment in Environment]
    assert all(table == tables[0] for table in tables)
    ultra = load("ultra")
    assert ultra.environment is Environment.STAGING
    assert ultra.log_retention_days == 30
    assert (ultra.api.memory, ultra.api.lambda_reserved_concurrency, ultra.api.throttle_burst) == (2048, 10, 10)
    assert (ultra.worker.cpu, ultra.worker.memory, ultra.worker.max_run_minutes) == (1024, 2048, 15)
    assert (ultra.ecs.container_insights, ultra.ecs.force_delete_repositories) == (False, False)
    assert (ultra.monitoring.dashboard, ultra.monitoring.monthly_budget_usd) == (False, 10)


def test_zero_scale_defaults_hold_no_key_of_the_standard_topology():
    table = defaults_for(Environment.DEV, Topology.ZERO_SCALE)
    assert "database" not in table and "eks" not in table
    assert table["network"] == {}
    assert set(table["api"]) == {
        "containerPort",
        "healthCheckPath",
        "memory",
        "lambdaReservedConcurrency",
        "throttleRatePerSecond",
        "throttleBurst",
    }
    assert set(table["worker"]) == {"cpu", "memory", "maxRunMinutes", "stopTimeoutSeconds"}
    assert set(table["ecs"]) == {"architecture", "containerInsights", "keepTaggedImages", "forceDeleteRepositories"}


def test_only_prod_keeps_its_repositories_on_delete():
    assert [load(stack).ecs.force_delete_repositories for stack in ("dev", "staging", "prod", "ultra")] == [
        True,
        True,
        False,
        False,
    ]


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
        "flowbuilder:api.desiredCount: must be a whole number (got 'two')",
        id="wrong-type",
    ),
    pytest.param("dev", {"aws:region": "us-central-9"}, "aws:region: not an AWS region;", id="bad-region"),
    pytest.param(
        "dev",
        {"flowbuilder:network": {"privateSubnetCidrs": ["10.1.10.0/24", "10.0.11.0/24"]}},
        "flowbuilder:network.privateSubnetCidrs[0]: 10.1.10.0/24 is outside vpcCidr 10.0.0.0/16",
        id="subnet-outside-vpc",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:network": {"databaseSubnetCidrs": ["10.0.0.0/23", "10.0.21.0/24"]}},
        "flowbuilder:network.databaseSubnetCidrs[0]: 10.0.0.0/23 overlaps 10.0.0.0/24 (publicSubnetCidrs[0])",
        id="subnet-overlap",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:network": {"publicSubnetCidrs": ["10.0.0.0/24"]}},
        "flowbuilder:network.publicSubnetCidrs: has 1 CIDRs; need one per availability zone (2)",
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
        "flowbuilder:network.natStrategy: 'nat-gw' is not allowed; allowed: none, single-gateway, gateway-per-az",
        id="unknown-nat-strategy",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:worker": {"cpu": 1024, "memory": 1024}},
        "flowbuilder:worker.memory: memory 1024 is not allowed with cpu 1024; allowed memory: 2048-8192 MiB",
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
        "flowbuilder:network.natStrategy: has no effect in the zero-scale topology; it belongs to standard stacks",
        id="nat-in-zero-scale",
    ),
    pytest.param(
        "dev",
        {"flowbuilder:logRetentionDays": 10},
        "flowbuilder:logRetentionDays: 10 is not allowed; allowed: 1, 3, 5, 7, 14, 30",
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


# -- what AWS accepts is accepted -----------------------------------------------------------
@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minute)",
        "rate(5 minutes)",
        "rate(1 hour)",
        "rate(12 hours)",
        "rate(1 day)",
        "rate(30 days)",
        "cron(0 12 * * ? *)",
        "cron(0/15 8-18 ? * MON-FRI *)",
        "cron(5,35 14 * JAN,JUL ? *)",
        "cron(0 9 ? * 2#1 *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(0 18 ? * 6L 2026-2030)",
        "cron(*/10 * ? * sun *)",
    ],
)
def test_schedule_expressions_eventbridge_accepts_are_accepted(expression):
    assert checks.schedule_expression(expression) is None


@pytest.mark.parametrize(
    ("backup", "maintenance", "overlapping_day"),
    [
        ("03:00-04:00", "sun:04:00-sun:05:00", None),
        ("03:00-04:00", "sun:03:59-sun:05:00", "sun"),
        ("23:30-00:30", "tue:00:31-tue:01:30", None),
        ("23:30-00:30", "tue:00:00-tue:00:31", "mon"),
        ("22:00-23:00", "sat:23:00-sun:01:00", None),
        ("00:00-00:30", "sun:23:40-mon:00:10", "mon"),
    ],
)
def test_backup_and_maintenance_windows_overlap_as_rds_sees_it(backup, maintenance, overlapping_day):
    assert windows.overlap(windows.daily(backup), windows.weekly(maintenance)) == overlapping_day


@pytest.mark.parametrize(
    ("blocks", "everything"),
    [
        (["0.0.0.0/0"], True),
        (["0.0.0.0/1", "128.0.0.0/1"], True),
        (["0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/2"], True),
        (["0.0.0.0/1", "128.0.0.0/2"], False),
        (["203.0.113.0/24"], False),
    ],
)
def test_allow_lists_that_cover_the_internet_in_pieces(blocks, everything):
    assert cidrs.covers_everything(cidrs.parse(block) for block in blocks) is everything


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (checks.certificate_arn, "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"),
        (checks.role_arn, "arn:aws:iam::123456789012:role/service-role/Deploy+Prod=1,2.3@x"),
        (checks.role_arn, "arn:aws-us-gov:iam::123456789012:role/admin"),
        (checks.secret_reference, "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbC123"),
        (checks.secret_reference, "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-AbC123:password::"),
        (checks.engine_version, "16"),
        (checks.engine_version, "17.5"),
        (checks.rds_instance_class, "db.t4g.micro"),
        (checks.rds_instance_class, "db.r8g.48xlarge"),
        (checks.instance_type, "c7gn.16xlarge"),
        (checks.graviton_instance_type, "t4g.nano"),
        (checks.kubernetes_version, "1.35"),
        (checks.vpc_cidr, "172.16.0.0/16"),
        (checks.vpc_cidr, "100.64.0.0/28"),
        (checks.email, "o'neil+alerts@mail.example.co.uk"),
        (checks.project_name, "flowbuilder"),
        (checks.stack_name, "2026-eu-west"),
        (checks.region, "ap-southeast-6"),
        (checks.database_name, "flowbuilder"),
        (checks.cost_center, "cc 42/a:b=c+d-e@f_é"),
    ],
)
def test_values_aws_accepts_are_accepted(check, value):
    assert check(value) is None


def test_availability_zones_up_to_the_regions_count_are_accepted():
    config = load("prod", {"flowbuilder:network": {"availabilityZones": 6}})
    assert config.network.availability_zones == 6


def test_booleans_and_numbers_as_pulumi_writes_them():
    config = load(
        "dev",
        {
            "flowbuilder:logRetentionDays": "14",
            "flowbuilder:network": {"interfaceEndpoints": "true"},
            "flowbuilder:monitoring": {"dashboard": "False", "monthlyBudgetUsd": "99.5"},
        },
    )
    assert (config.log_retention_days, config.network.interface_endpoints) == (14, True)
    assert (config.monitoring.dashboard, config.monitoring.monthly_budget_usd) == (False, 99.5)


# -- images and what the stack files say --------------------------------------------------
DIGEST = "sha256:" + "0123456789abcdef" * 4


def test_images_default_to_none_and_each_digest_is_optional():
    assert load("dev").images.model_dump() == {"source_commit": None, "api": None, "worker": None, "scheduler": None}
    images = load(
        "prod", {"flowbuilder:images": {"api": DIGEST, "sourceCommit": "4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"}}
    )
    assert (images.images.api, images.images.worker, images.images.scheduler) == (DIGEST, None, None)


def test_the_images_block_the_release_writes_is_the_one_the_program_runs(tmp_path):
    # release/ edits the stack file as text (quoted values); the program must read that very block.
    commit = "4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"
    written = StackFile.read(ROOT / "Pulumi.dev.yaml").with_images(Images.of(commit, DIGESTS))
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.dev.yaml").write_text(written)
    run = run_stack("dev", directory=tmp_path)
    images = {
        definition.name: json.loads(definition.inputs["containerDefinitions"])[0]["image"]
        for definition in run.of_type("aws:ecs/taskDefinition:TaskDefinition")
    }
    repository = f"{ACCOUNT_ID}.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-dev"
    assert images == {
        "flowbuilder-dev-api": f"{repository}/api@{DIGESTS['api']}",
        "flowbuilder-dev-worker": f"{repository}/worker@{DIGESTS['worker']}",
        # The migration runs the api image, the release's own code.
        "flowbuilder-dev-migrate": f"{repository}/api@{DIGESTS['api']}",
    }
    (scheduler,) = [f for f in run.of_type("aws:lambda/function:Function") if f.inputs.get("packageType") == "Image"]
    assert scheduler.inputs["imageUri"] == f"{repository}/scheduler@{DIGESTS['scheduler']}"
    assert "imagesToPush" not in run.outputs


@pytest.mark.parametrize(
    ("images", "expected"),
    [
        ({"api": "latest"}, "flowbuilder:images.api: must be an image digest: sha256: and 64 lowercase"),
        ({"api": "sha256:" + "0" * 63}, "flowbuilder:images.api: must be an image digest: sha256: and 64 lowercase"),
        ({"api": "sha256:" + "A" * 64}, "flowbuilder:images.api: must be an image digest: sha256: and 64 lowercase"),
        (
            {"migrate": DIGEST},
            "flowbuilder:images.migrate: unknown key; allowed keys here: api, scheduler, sourceCommit, worker",
        ),
        ({"sourceCommit": "main"}, "flowbuilder:images.sourceCommit: must be a full git commit SHA: 40 lowercase"),
    ],
)
def test_an_image_is_pinned_by_a_sha256_digest_or_not_at_all(images, expected):
    error, declared = run_expecting_config_error("dev", {"flowbuilder:images": images})
    assert error is not None and expected in str(error)
    assert declared == []


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("flowbuilder:imageTag", "4f1c2d9", "flowbuilder:imageTag: unknown key; it was replaced by flowbuilder:images"),
        (
            "flowbuilder:database",
            {"readReplicas": 0},
            "flowbuilder:database.readReplicas: unknown key; it was removed: RDS does not create read replicas",
        ),
    ],
)
def test_removed_keys_are_refused(key, value, expected):
    error, declared = run_expecting_config_error("dev", {key: value})
    assert error is not None and expected in str(error)
    assert declared == []


@pytest.mark.parametrize("stack", ["dev", "staging", "prod", "ultra"])
def test_stack_files_say_only_what_differs_from_the_defaults(stack):
    own = {
        key.removeprefix("flowbuilder:"): value
        for key, value in yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"].items()
        if key.startswith("flowbuilder:")
    }
    defaults = defaults_for(Environment(own.pop("environment")), Topology(own.pop("topology")))

    def restated(value, default, path):
        if isinstance(value, dict) and isinstance(default, dict):
            for key, item in value.items():
                if key in default:
                    yield from restated(item, default[key], f"{path}.{key}")
        elif value == default:
            yield path

    assert list(restated(own, defaults, "flowbuilder")) == []


@pytest.mark.parametrize(("stack", "force_delete"), [("dev", True), ("prod", False), ("ultra", False)])
def test_repositories_follow_force_delete_repositories(stack, force_delete):
    repositories = run_stack(stack).of_type("aws:ecr/repository:Repository")
    assert len(repositories) == 3
    assert {repository.inputs["forceDelete"] for repository in repositories} == {force_delete}
