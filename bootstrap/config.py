"""The bootstrap stack's configuration: one pydantic model, validated before anything is declared.

Every ``flowbuilder-bootstrap:*`` key of ``bootstrap/Pulumi.<stack>.yaml`` is
read here and nowhere else. Keys are camelCase, unknown keys are rejected, and
any problem becomes one :class:`BootstrapConfigError` naming the stack file,
each bad key and what is allowed. ``Pulumi.example.yaml`` documents every key.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any

import botocore
import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from . import names

StackName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")]
"""A main-program stack: lowercase, 2-20 characters, so ``flowbuilder-<stack>-…`` fits every AWS name limit."""

# GitHub's own rules: owners are 1-39 alphanumerics or single hyphens; repositories up to 100 of [A-Za-z0-9._-].
GitHubOwner = Annotated[str, Field(pattern=r"^[A-Za-z0-9](?:-?[A-Za-z0-9])*$", max_length=39)]
GitHubRepository = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")]
# The ``sub`` claim of a GitHub Actions OIDC token (docs: "Example subject claims").
Subject = Annotated[
    str, Field(pattern=r"^repo:[A-Za-z0-9-]+/[A-Za-z0-9._-]+:(environment:[^*?]+|ref:refs/[^*?]+|pull_request)$")
]
# An IAM principal ARN, with * or ? only where IAM's ArnLike accepts them (the role name or path).
PrincipalArnPattern = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/[A-Za-z0-9+=,.@_/*?-]+$")]
HostedZoneId = Annotated[str, Field(pattern=r"^Z[A-Z0-9]{1,31}$")]
ZoneName = Annotated[
    str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$", max_length=253)
]


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in the endpoint data botocore ships."""
    data = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])


class Section(BaseModel):
    """Base for every section: camelCase keys, unknown keys rejected, values frozen."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class GitHubConfig(Section):
    """``flowbuilder-bootstrap:github`` — the repository whose workflows assume the roles."""

    owner: GitHubOwner
    repository: GitHubRepository
    create_oidc_provider: bool = True
    """Create the account's ``token.actions.githubusercontent.com`` identity provider. Set false when the
    account has one already (an account holds one provider per URL); the roles then trust that one."""
    publishers: list[Subject] = []
    """``sub`` claims (exact) of workflows that may push images to the first stack's repositories, e.g.
    ``repo:example-org/flowbuilder-app:ref:refs/heads/main`` for the application repository's build.
    Empty: no publish role."""

    @property
    def repository_path(self) -> str:
        return f"{self.owner}/{self.repository}"


class StackEntry(Section):
    """One stack of the main program deployed into this account (a GitHub environment of the same name)."""

    name: StackName
    region: str | None = None
    """The stack's ``aws:region``; the bootstrap's own region when unset."""
    pull_request_preview: bool = True
    """Whether pull-request code (the preview role) may decrypt this stack's secrets to run a real
    ``pulumi preview``. Off for a stack whose secrets pull requests must never see (ultra's database URL):
    such a stack gets the offline preview only."""
    hosted_zone_ids: list[HostedZoneId] = []
    """Route 53 hosted zones whose records this stack's deploy role may change (its front door, SES)."""
    zone_names: list[ZoneName] = []
    """Public hosted zones the stack creates itself (its ``flowbuilder:domain.zoneName``): the deploy role
    may create zones and change records named in these domains only."""

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        if region is not None and region not in known_regions():
            raise ValueError("not an AWS region (e.g. us-east-1, ap-south-1)")
        return region


class StateConfig(Section):
    """``flowbuilder-bootstrap:state`` — how long the state bucket keeps old versions of state files."""

    noncurrent_version_days: int = Field(default=90, ge=1, le=3650)
    """Days an overwritten state file version is kept before it expires."""
    keep_versions: int = Field(default=10, ge=0, le=100)
    """Newest overwritten versions kept however old they are (a quiet stack keeps its recent history)."""


class BootstrapConfig(Section):
    """The whole validated configuration of one bootstrap stack (one AWS account)."""

    stack: str
    region: str
    github: GitHubConfig
    stacks: list[StackEntry] = Field(min_length=1)
    self_managed_backend: bool = True
    """Create the S3 state bucket and the ``awskms://`` secrets key (``pulumi login s3://…``). False for
    teams on Pulumi Cloud: no bucket, no keys, and the roles get no state permissions."""
    state: StateConfig = StateConfig()
    secrets_key_users: list[PrincipalArnPattern] = []
    """People (an SSO administrator role, by ARN pattern) who may encrypt and decrypt any stack's secrets
    with the secrets key: who runs ``pulumi stack init`` and ``pulumi config set --secret``."""
    cost_center: str = Field(default="platform", min_length=1, max_length=256)

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        if region not in known_regions():
            raise ValueError("not an AWS region (e.g. us-east-1, ap-south-1)")
        return region

    @model_validator(mode="after")
    def _stack_names(self) -> BootstrapConfig:
        listed = [entry.name for entry in self.stacks]
        if len(set(listed)) != len(listed):
            raise ValueError("stacks: every stack is listed once")
        for entry in self.stacks:
            taken = names.collides_with_bootstrap(entry.name)
            if taken:
                raise ValueError(
                    f"stacks: {entry.name!r} would own the bootstrap's {taken} (its deploy role may change "
                    f"everything named flowbuilder-{entry.name}-*); choose another stack name"
                )
        for entry in self.stacks:
            for other in listed:
                if other != entry.name and other.startswith(f"{entry.name}-"):
                    raise ValueError(
                        f"stacks: {other!r}'s names start with flowbuilder-{entry.name}-, so the {entry.name} "
                        f"deploy role could change {other}'s resources; rename one of them"
                    )
        return self

    def stack_region(self, entry: StackEntry) -> str:
        return entry.region or self.region

    @property
    def default_tags(self) -> dict[str, str]:
        # No ``stack`` tag: the CI roles and the boundary deny access to anything tagged with another
        # stack's name, and the state bucket and keys serve every stack.
        return {
            "project": names.PROJECT,
            "component": "bootstrap",
            "managed-by": "pulumi",
            "cost-center": self.cost_center,
        }


class BootstrapConfigError(pulumi.RunError):
    """Invalid bootstrap configuration; raised before any resource is declared."""


def _raw_config() -> dict[str, Any]:
    # The language host hands config over through PULUMI_CONFIG or set_all_config (mocks).
    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def _parse(raw: Any) -> Any:
    # Pulumi passes objects and lists as JSON text; scalars stay strings for pydantic's lax mode.
    if isinstance(raw, str) and raw[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _describe(namespace: str, error: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    if key == "region":
        key = "aws:region"
    elif key:
        key = f"{namespace}:{key}"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
    return f"{key}: {message}{shown}" if key else message


def load_bootstrap_config(project: str, stack: str) -> BootstrapConfig:
    """Validate the current bootstrap stack's configuration; raise :class:`BootstrapConfigError` on any problem."""
    raw = _raw_config()
    prefix = f"{project}:"
    document = {key[len(prefix) :]: _parse(value) for key, value in raw.items() if key.startswith(prefix)}
    document["stack"] = stack
    if "aws:region" in raw:
        document["region"] = raw["aws:region"]
    try:
        return BootstrapConfig.model_validate(document)
    except ValidationError as error:
        problems = "\n".join(f"  - {_describe(project, e)}" for e in error.errors())
        raise BootstrapConfigError(f"Pulumi.{stack}.yaml ({project}): invalid configuration\n{problems}") from None
