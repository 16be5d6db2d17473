"""Which config namespaces and keys the program reads, and why it refuses the rest.

Pulumi passes the program every key of the stack file, and a key nobody reads
is silently ignored: a typo in the namespace (``flowbuiler:``), an ``aws:`` key
the program's provider never sees. The program reads exactly two namespaces:

* its own (the project name), validated by the model;
* ``aws:``, of which only ``aws:region`` is read. Every AWS resource uses one
  explicit provider built from validated config; an explicit provider does not
  read ``aws:*`` stack config (pulumi-aws#1307, #3259: by design), so any other
  ``aws:`` key would have no effect. ``aws:`` keys are checked against the
  pulumi-aws provider's own config schema, which its SDK carries.
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

from .problems import did_you_mean, listing

AWS = "aws"
AWS_READ = frozenset({"region"})
AWS_OWNED = {
    "defaultTags": "the program sets the provider's default tags itself (project, stack, environment, managed-by, "
    "cost-center); set {project}:costCenter for the cost-center tag",
}
AWS_CREDENTIALS = frozenset(
    {
        "accessKey",
        "secretKey",
        "token",
        "profile",
        "sharedCredentialsFiles",
        "sharedConfigFiles",
        "assumeRoles",
        "assumeRoleWithWebIdentity",
    }
)
PROJECT_OWNED = {
    "project": "the project name is Pulumi.yaml's `name`",
    "stack": "the stack name is the one `pulumi stack select` chose",
    "region": "the region is aws:region",
}
"""Model fields the loader fills itself: a stack file setting them would be overridden silently."""


@functools.cache
def aws_provider_keys() -> frozenset[str]:
    """The pulumi-aws provider's config keys, from the generated ``pulumi_aws/config/vars.py``."""
    # Located, not imported: reading the generated file is enough, and cheaper than the SDK.
    package = Path(importlib.util.find_spec("pulumi_aws").origin).parent
    source = (package / "config" / "vars.py").read_text()
    return frozenset(re.findall(r"__config__\.get(?:_bool|_int|_float|_object)?\('([A-Za-z0-9]+)'", source))


def key_problems(keys: Iterable[str], project: str) -> list[tuple[str, str]]:
    """``(key, problem)`` for every key outside what the program reads, each saying why.

    Unknown keys inside the project's namespace are the model's to report (it knows each section's keys).
    """
    problems = []
    for key in sorted(keys):
        namespace, colon, name = key.partition(":")
        if not colon or not namespace or not name or ":" in name:
            problems.append((key, "not a config key: keys are <namespace>:<name>, e.g. aws:region"))
        elif namespace == project:
            if name in PROJECT_OWNED:
                problems.append((key, f"not read from the stack file: {PROJECT_OWNED[name]}"))
        elif namespace == AWS:
            problem = _aws_key_problem(name, project)
            if problem:
                problems.append((key, problem))
        else:
            hint = did_you_mean(namespace, [project, AWS])
            problems.append(
                (key, f"unknown namespace {namespace!r};{hint} this program reads only {project}: and aws: keys")
            )
    return problems


def _aws_key_problem(name: str, project: str) -> str | None:
    if name in AWS_READ:
        return None
    if name in AWS_OWNED:
        return "set by the program, not the stack file: " + AWS_OWNED[name].format(project=project)
    known = aws_provider_keys()
    if name not in known:
        return f"not a pulumi-aws provider setting;{did_you_mean(name, known)} the program reads only aws:region"
    why = (
        "the program's resources use an explicit AWS provider, which does not read aws: stack config "
        "(pulumi-aws#3259), so this key would have no effect"
    )
    if name in AWS_CREDENTIALS:
        return f"{why}; credentials never belong in a stack file: set AWS_PROFILE or use OIDC role assumption"
    return f"{why}; the program reads only aws:region"


def unknown_key_hint(key: str, allowed: Iterable[str]) -> str:
    """The "did you mean" and allowed keys of a section, for an unknown key."""
    allowed = sorted(allowed)
    head, dot, _ = key.partition(".")
    if dot and head in allowed:
        return (
            f"unknown key: a dotted key is a path for `pulumi config set --path`; in the file, nest it under "
            f"{head}: instead"
        )
    return f"unknown key;{did_you_mean(key, allowed)} allowed keys here: {listing(allowed)}"
