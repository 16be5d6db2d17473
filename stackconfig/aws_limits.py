"""AWS limits the program checks offline, before anything is declared.

Each table cites the AWS rule it encodes so a reviewer can check it against the
service documentation instead of trusting it.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path

import botocore

from .dated_tables import RDS_POSTGRES_BURSTABLE_FAMILIES, RDS_POSTGRES_FAMILIES

# Fargate task-size table (ECS developer guide, "Task CPU and memory").
# CPU units -> allowed memory in MiB.
FARGATE_MEMORY_BY_CPU: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# Lambda function limits (Lambda developer guide, "Lambda quotas").
LAMBDA_MEMORY_MB = (128, 10240)
LAMBDA_TIMEOUT_SECONDS = (1, 900)

# Physical-name limits per resource kind (each service's API reference).
NAME_LIMITS: dict[str, int] = {
    "alb": 32,
    "target-group": 32,
    "iam-role": 64,
    "iam-policy": 128,
    "lambda": 64,
    "sqs": 80,
    "sns": 256,
    "ecs-cluster": 255,
    "ecs-service": 255,
    "ecs-family": 255,
    "ecr-repository": 256,
    "log-group": 512,
    "rds-identifier": 63,
    "db-subnet-group": 255,
    "db-parameter-group": 255,
    "security-group": 255,
    "secret": 512,
    "pipe": 64,
    "state-machine": 80,
    "schedule": 64,
    "event-rule": 64,
    "eks-cluster": 100,
    "eks-nodegroup": 63,
    "codebuild-project": 150,
    "s3-bucket": 63,
    "budget": 100,
    "dashboard": 255,
    "alarm": 255,
    "http-api": 128,
    "waf": 128,
    "ses-configuration-set": 64,
    "cloudfront-oac": 64,
    # ElastiCache: replication group, serverless cache, user and user group ids (CreateReplicationGroup,
    # CreateServerlessCache, CreateUser, CreateUserGroup); AWS Backup vault and plan names (CreateBackupVault).
    "cache": 40,
    "backup-vault": 50,
}

# Pulumi auto-naming appends "-" and seven random hex characters.
AUTONAME_SUFFIX_LENGTH = 8


def fargate_pair_error(cpu: int, memory: int) -> str | None:
    """Return why (cpu, memory) is not a valid Fargate task size, or None."""
    allowed = FARGATE_MEMORY_BY_CPU.get(cpu)
    if allowed is None:
        return f"cpu {cpu} is not a Fargate size; allowed cpu: {', '.join(map(str, FARGATE_MEMORY_BY_CPU))}"
    if memory not in allowed:
        return (
            f"memory {memory} is not allowed with cpu {cpu}; "
            f"allowed memory: {allowed[0]}-{allowed[-1]} MiB in steps of {allowed[1] - allowed[0]}"
        )
    return None


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in the endpoint data botocore ships."""
    path = Path(botocore.__file__).parent / "data" / "endpoints.json"
    data = json.loads(path.read_text())
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])


@functools.cache
def partition_of(region: str) -> tuple[str, str]:
    """The partition (``aws``, ``aws-cn``, ...) and DNS suffix of a region, from botocore's endpoint data."""
    path = Path(botocore.__file__).parent / "data" / "endpoints.json"
    for partition in json.loads(path.read_text())["partitions"]:
        if region in partition["regions"]:
            return partition["partition"], partition["dnsSuffix"]
    raise ValueError(f"{region!r} is in no partition botocore knows")


@functools.cache
def service_model(service: str) -> dict:
    """The newest API model botocore ships for a service (e.g. ``ecs``)."""
    service_dir = Path(botocore.__file__).parent / "data" / service
    newest = sorted(p for p in service_dir.iterdir() if p.is_dir())[-1]
    with gzip.open(newest / "service-2.json.gz", "rt") as handle:
        return json.load(handle)


@functools.cache
def ec2_instance_types() -> frozenset[str]:
    """Every EC2 instance type, from the EC2 model's ``InstanceType`` enum (botocore).

    Only that list is kept: the whole EC2 model is 4 MB of JSON, too much to hold for one enum.
    """
    service_dir = Path(botocore.__file__).parent / "data" / "ec2"
    newest = sorted(p for p in service_dir.iterdir() if p.is_dir())[-1]
    with gzip.open(newest / "service-2.json.gz", "rt") as handle:
        text = handle.read()
    listed = re.search(r'"InstanceType":\{\s*"type":"string",\s*"enum":\[(.*?)\]', text, re.DOTALL)
    if listed is None:
        return frozenset(json.loads(text)["shapes"]["InstanceType"]["enum"])
    return frozenset(json.loads(f"[{listed.group(1)}]"))


@functools.cache
def rds_instance_classes() -> tuple[str, ...]:
    """RDS for PostgreSQL instance classes: ``db.`` + the EC2 sizes of each family RDS offers for it.

    RDS offers no ``nano`` and no bare-metal classes, and below ``large`` only in the burstable
    (``t``) families (RDS user guide, "DB instance class types").
    """
    classes = []
    for instance_type in sorted(ec2_instance_types()):
        family, _, size = instance_type.partition(".")
        if family not in RDS_POSTGRES_FAMILIES or size == "nano" or size.startswith("metal"):
            continue
        if family not in RDS_POSTGRES_BURSTABLE_FAMILIES and size in ("micro", "small", "medium"):
            continue
        classes.append(f"db.{instance_type}")
    return tuple(classes)


@functools.cache
def log_retention_days() -> tuple[int, ...]:
    """The retention periods CloudWatch Logs accepts, from the logs model's ``Days`` documentation."""
    documentation = service_model("logs")["shapes"]["Days"]["documentation"]
    listed = re.search(r"Possible values are: ([0-9, and]+)\.", documentation)
    if listed is None:
        raise RuntimeError("botocore's logs model no longer lists the retention days; update log_retention_days")
    return tuple(int(day) for day in re.findall(r"\d+", listed.group(1)))


def is_graviton(instance_type: str) -> bool:
    """Whether an EC2 instance type runs on Graviton (ARM64): a ``g`` after the generation digit.

    ``t4g.medium``, ``m7gd.large`` and ``c7gn.xlarge`` are Graviton; ``t3.medium``,
    ``m6i.large`` and the x86 GPU family ``g5.xlarge`` are not (EC2 instance type naming).
    """
    family = instance_type.split(".", 1)[0]
    generation = next((i for i, char in enumerate(family) if char.isdigit()), len(family))
    return "g" in family[generation + 1 :]
