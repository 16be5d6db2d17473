"""ARNs of the shapes the program takes in config.

General reference, "Amazon Resource Names": ``arn:partition:service:region:account-id:resource``.
The shape is checked here; whether its partition and region fit the stack is a
cross-key rule (``stackconfig.rules``), since it depends on ``aws:region``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse(text: str, service: str, *, regional: bool) -> Arn:
    """Split an ARN of ``service``; ``ValueError`` names the part that is wrong."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"must be an ARN: arn:<partition>:{service}:<region>:<account>:<resource>")
    _, partition, found_service, region, account, resource = parts
    if partition not in PARTITIONS:
        raise ValueError(f"partition {partition!r} is not an AWS partition; allowed: {', '.join(PARTITIONS)}")
    if found_service != service:
        raise ValueError(f"must be an ARN of {service}, not of {found_service!r}")
    if regional and not _REGION.match(region):
        raise ValueError("must name the region the resource is in (arn:<partition>:" + service + ":<region>:...)")
    if not regional and region:
        raise ValueError(f"{service} ARNs have no region (arn:<partition>:{service}::<account>:...)")
    if not _ACCOUNT.match(account):
        raise ValueError("must name a 12-digit account id")
    if not resource:
        raise ValueError("names no resource")
    return Arn(partition, found_service, region, account, resource)


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def certificate(text: str) -> Arn:
    """An ACM certificate: ``arn:<p>:acm:<region>:<account>:certificate/<uuid>``."""
    arn = parse(text, "acm", regional=True)
    kind, _, certificate_id = arn.resource.partition("/")
    if kind != "certificate" or not _UUID.match(certificate_id):
        raise ValueError("must name an ACM certificate: ...:certificate/<id, a lowercase UUID>")
    return arn


_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_ROLE_PATH = re.compile(r"^/([\x21-\x7e]+/)*$")


def role(text: str) -> Arn:
    """An IAM role: ``arn:<p>:iam::<account>:role[/path/]<name>`` (IAM user guide, "IAM identifiers")."""
    arn = parse(text, "iam", regional=False)
    kind, _, rest = arn.resource.partition("/")
    if kind != "role" or not rest:
        raise ValueError("must name an IAM role: arn:<partition>:iam::<account>:role/<name>")
    path, _, name = ("/" + rest).rpartition("/")
    if not _ROLE_NAME.match(name):
        raise ValueError("the role name must be 1-64 letters, digits or +=,.@_-")
    if len(path) + 1 > 512 or not _ROLE_PATH.match(path + "/"):
        raise ValueError("the role path must be /, or /<segments>/ of printable characters, at most 512")
    return arn


_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}-[A-Za-z0-9]{6}$")
_JSON_KEY = re.compile(r"^[A-Za-z0-9_.@/+=-]*$")
_VERSION_STAGE = re.compile(r"^[A-Za-z0-9_.@/+=-]{0,256}$")
_VERSION_ID = re.compile(r"^([0-9a-fA-F-]{32,64})?$")


def secret_reference(text: str) -> Arn:
    """An ECS ``valueFrom`` into Secrets Manager (ECS developer guide, "Pass Secrets Manager secrets"):
    the complete secret ARN, with its 6-character suffix so IAM can name exactly that secret,
    optionally followed by ``:<json-key>:<version-stage>:<version-id>``."""
    arn = parse(text, "secretsmanager", regional=True)
    kind, _, rest = arn.resource.partition(":")
    name, *options = rest.split(":")
    if kind != "secret" or not name:
        raise ValueError("must name a secret: ...:secret:<name>-<6 characters>")
    if not _SECRET_NAME.match(name):
        raise ValueError(
            "must be the complete secret ARN, ending in the 6 characters Secrets Manager adds to the name "
            "(the console shows it)"
        )
    if options and len(options) != 3:
        raise ValueError(
            "after the secret ARN, give all three of :<json-key>:<version-stage>:<version-id> (each may be empty)"
        )
    if options:
        json_key, stage, version = options
        if not _JSON_KEY.match(json_key) or not _VERSION_STAGE.match(stage) or not _VERSION_ID.match(version):
            raise ValueError("the :<json-key>:<version-stage>:<version-id> suffix is malformed")
        if stage and version:
            raise ValueError("give a version stage or a version id, not both")
    return arn
