"""The names the bootstrap creates, which the main program and the workflows rely on by convention."""

from __future__ import annotations

PROJECT = "flowbuilder"
BOOTSTRAP_PROJECT = "flowbuilder-bootstrap"
MESH_PROJECT = "flowbuilder-mesh"
PROGRAM_PROJECTS = (PROJECT, MESH_PROJECT)
"""Projects whose stacks the CI roles deploy and preview (the base program and its Kubernetes layer)."""

BOUNDARY_POLICY = "flowbuilder-permissions-boundary"
PREVIEW_ROLE = "flowbuilder-preview"
PUBLISH_ROLE = "flowbuilder-publish"
STATE_KEY_ALIAS = "alias/flowbuilder-pulumi-state"
SECRETS_KEY_ALIAS = "alias/flowbuilder-pulumi-secrets"

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
ENCRYPTION_CONTEXT_KEY = "stack"
"""The ``awskms://`` encryption-context key naming the stack a data key belongs to (``context_stack=<stack>``)."""


def stack_prefix(stack: str) -> str:
    """What every physical name of a main-program stack starts with."""
    return f"{PROJECT}-{stack}"


def deploy_role(stack: str) -> str:
    return f"{PROJECT}-deploy-{stack}"


def deploy_policy(stack: str, part: str) -> str:
    return f"{deploy_role(stack)}-{part}"


def preview_policy(part: str) -> str:
    return f"{PREVIEW_ROLE}-{part}"


def publish_policy() -> str:
    return f"{PUBLISH_ROLE}-images"


def state_bucket(account: str, region: str) -> str:
    return f"{PROJECT}-pulumi-state-{account}-{region}"


# Name families the bootstrap owns (prefixes) and single names; a stack whose own names
# (flowbuilder-<stack>-*) overlap one of them would let its deploy role change the bootstrap.
_FAMILIES = {
    "deploy roles and their policies": f"{PROJECT}-deploy-",
    "preview role's policies": f"{PREVIEW_ROLE}-",
    "publish role's policies": f"{PUBLISH_ROLE}-",
    "state bucket and key aliases": f"{PROJECT}-pulumi-",
}
_SINGLE = {"preview role": PREVIEW_ROLE, "publish role": PUBLISH_ROLE, "permissions boundary": BOUNDARY_POLICY}


def collides_with_bootstrap(stack: str) -> str | None:
    """Which bootstrap names ``flowbuilder-<stack>-*`` would cover, or None."""
    owned = f"{stack_prefix(stack)}-"
    for what, family in _FAMILIES.items():
        if family.startswith(owned) or owned.startswith(family):
            return what
    for what, name in _SINGLE.items():
        if name.startswith(owned):
            return what
    return None
