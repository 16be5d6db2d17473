"""The strict stack-file reader hands the program what the Pulumi CLI would: yaml.v3's reading of each value."""

from __future__ import annotations

import json

import pytest

from simulation.harness import ROOT, read_stack_file
from stackconfig import read_project
from stackconfig.stackfile import SECRET_PLACEHOLDER, resolve_plain


@pytest.mark.parametrize(
    ("plain", "value"),
    [
        ("yes", "yes"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("5:00", "5:00"),
        ("2024-01-01", "2024-01-01"),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("+5", 5),
        ("0x1F", 31),
        ("0o17", 15),
        ("0b101", 5),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("16.10", 16.1),
        ("nan", "nan"),
        ("-", "-"),
        ("1.2.3", "1.2.3"),
    ],
)
def test_plain_scalars_resolve_as_yaml_v3_resolves_them(plain, value):
    assert resolve_plain(plain) == value
    assert type(resolve_plain(plain)) is type(value)


def write(tmp_path, text: str, stack: str = "dev", project: str = "name: flowbuilder\nruntime: python\n"):
    (tmp_path / "Pulumi.yaml").write_text(project)
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    return read_project(tmp_path).read_stack(stack)


def test_top_level_values_reach_the_program_as_the_cli_passes_them(tmp_path):
    stack = write(
        tmp_path,
        "config:\n"
        "  flowbuilder:a: yes\n"
        "  flowbuilder:b: True\n"
        "  flowbuilder:c: 0x1F\n"
        "  flowbuilder:d: 1e3\n"
        "  flowbuilder:e: 1e6\n"
        "  flowbuilder:f: '010'\n"
        "  flowbuilder:g: 2.50\n"
        "  flowbuilder:h: |\n    two\n    lines\n",
    )
    assert stack.config == {
        "flowbuilder:a": "yes",
        "flowbuilder:b": "true",
        "flowbuilder:c": "31",
        "flowbuilder:d": "1000",
        "flowbuilder:e": "1e+06",
        "flowbuilder:f": "010",
        "flowbuilder:g": "2.5",
        "flowbuilder:h": "two\nlines\n",
    }


def test_structured_values_are_json_with_go_numbers(tmp_path):
    stack = write(
        tmp_path,
        "config:\n  flowbuilder:network:\n    availabilityZones: 3.0\n    interfaceEndpoints: on\n"
        "    publicSubnetCidrs: [10.0.0.0/24]\n    existingVpcId: ~\n",
    )
    assert json.loads(stack.config["flowbuilder:network"]) == {
        "availabilityZones": 3,
        "interfaceEndpoints": "on",
        "publicSubnetCidrs": ["10.0.0.0/24"],
        "existingVpcId": None,
    }


def test_a_stack_file_in_other_spellings_reads_as_the_committed_one(tmp_path):
    stack = write(
        tmp_path,
        "# Pulumi.dev.yaml written differently, with dev's default network spelled out\n"
        "secretsprovider: passphrase\n"
        "config:\n"
        "  aws:region: 'us-east-1'\n"
        "  environment: dev            # bare keys belong to the project\n"
        '  "flowbuilder:topology": standard\n'
        "  flowbuilder:network: &network {natStrategy: instance, interfaceEndpoints: False}\n",
    )
    network = '{"natStrategy":"instance","interfaceEndpoints":false}'
    assert stack.config == {**read_stack_file("dev"), "flowbuilder:network": network}
    assert stack.lines == {
        "aws:region": 4,
        "flowbuilder:environment": 5,
        "flowbuilder:topology": 6,
        "flowbuilder:network": 7,
    }


def test_secure_values_are_secrets_passed_as_a_placeholder(tmp_path):
    stack = write(
        tmp_path,
        "config:\n  flowbuilder:externalDatabaseUrl:\n    secure: v1:AAAA\n"
        "  flowbuilder:ecs:\n    applicationSecrets: {}\n    note:\n      secure: v1:BBBB\n",
    )
    assert stack.config["flowbuilder:externalDatabaseUrl"] == SECRET_PLACEHOLDER
    assert json.loads(stack.config["flowbuilder:ecs"])["note"] == SECRET_PLACEHOLDER
    assert stack.secret_keys == {"flowbuilder:externalDatabaseUrl", "flowbuilder:ecs"}


def test_an_empty_stack_file_is_an_empty_config(tmp_path):
    assert write(tmp_path, "# nothing yet\n").config == {}


def test_stack_config_dir_is_where_the_stack_files_are(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text("name: flowbuilder\nruntime: python\nstackConfigDir: stacks\n")
    (tmp_path / "stacks" / "Pulumi.qa.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "Pulumi.ignored.yaml").write_text("config: {}\n")
    project = read_project(tmp_path)
    assert project.stacks() == ["qa"]
    assert project.read_stack("qa").config == {"aws:region": "eu-west-1"}


def test_the_committed_project_and_stacks():
    project = read_project(ROOT)
    assert (project.name, project.stacks()) == ("flowbuilder", ["dev", "prod", "staging", "ultra"])
