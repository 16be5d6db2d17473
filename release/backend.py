"""What a Pulumi job needs to know about its backend, credentials and stack, from repository variables.

Repository variables choose the backend, as the workflows read them:

* ``PULUMI_BACKEND_URL`` set (``s3://<state bucket>?region=<region>``): the
  self-managed backend. Every stack file (``Pulumi.<stack>.yaml``, which the
  mesh project reads too: its ``stackConfigDir`` is the repository root) must then name an
  ``awskms://`` secrets provider whose URL carries ``context_stack=<stack>``:
  KMS binds that encryption context to the stack's data key, and the preview
  role may decrypt only under the contexts of the stacks it previews, so
  pull-request code cannot decrypt ``ultra``'s secrets.
* ``PULUMI_BACKEND_URL`` unset: Pulumi Cloud, organization ``PULUMI_ORG``,
  with short-lived team tokens from OIDC (``pulumi/auth-actions``).

``AWS_ACCOUNTS`` is the account of every stack (twelve digits) or a JSON object
naming each stack's account. The roles follow the bootstrap program's names:
``flowbuilder-deploy-<stack>`` and ``flowbuilder-preview``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from .images import ReleaseError
from .registry import partition_of
from .stackfile import StackFile, stack_path

PROJECTS = {"base": ".", "mesh": "mesh"}
DEPLOY_ROLE = "flowbuilder-deploy-{stack}"
PREVIEW_ROLE = "flowbuilder-preview"
_ACCOUNT = re.compile(r"[0-9]{12}")


def project_name(root: Path) -> str:
    """The ``name`` in the base project's ``Pulumi.yaml`` (the prefix of every repository)."""
    return yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]


def stack_config_dir(project_dir: Path) -> Path:
    """Where the CLI reads a project's stack files: its ``stackConfigDir`` (Pulumi.yaml), else the project directory."""
    document = yaml.safe_load((project_dir / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    configured = document.get("stackConfigDir")
    return (project_dir / configured).resolve() if isinstance(configured, str) and configured else project_dir


def account_of(variables: Mapping[str, str], stack: str) -> str:
    raw = (variables.get("AWS_ACCOUNTS") or "").strip()
    if not raw:
        raise ReleaseError("repository variable AWS_ACCOUNTS is not set (an account id, or a JSON object per stack)")
    if _ACCOUNT.fullmatch(raw):
        return raw
    try:
        accounts = json.loads(raw)
    except json.JSONDecodeError:
        accounts = None
    if not isinstance(accounts, dict):
        raise ReleaseError(f"AWS_ACCOUNTS={raw!r}: neither a 12-digit account id nor a JSON object")
    if stack not in accounts:
        raise ReleaseError(f"AWS_ACCOUNTS names no account for {stack}")
    account = str(accounts[stack])
    if not _ACCOUNT.fullmatch(account):
        raise ReleaseError(f"AWS_ACCOUNTS: {stack}: {account!r} is not a 12-digit account id")
    return account


def role_arn(region: str, account: str, name: str) -> str:
    return f"arn:{partition_of(region)[0]}:iam::{account}:role/{name}"


@dataclass(frozen=True)
class Aws:
    """The values a job hands to ``aws-actions/configure-aws-credentials``."""

    region: str
    account: str
    deploy_role: str
    preview_role: str

    def outputs(self) -> dict[str, str]:
        return {
            "region": self.region,
            "account": self.account,
            "deploy-role": self.deploy_role,
            "preview-role": self.preview_role,
        }


def aws_for(root: Path, stack: str, variables: Mapping[str, str]) -> Aws:
    region = StackFile.read(stack_path(root, stack)).region
    account = account_of(variables, stack)
    return Aws(
        region=region,
        account=account,
        deploy_role=role_arn(region, account, DEPLOY_ROLE.format(stack=stack)),
        preview_role=role_arn(region, account, PREVIEW_ROLE),
    )


@dataclass(frozen=True)
class Backend:
    """The values a Pulumi job hands to ``pulumi/auth-actions`` and ``pulumi/actions``, with its :class:`Aws`."""

    work_dir: str
    stack_name: str
    cloud_url: str
    secrets_provider: str
    pulumi_org: str
    aws: Aws

    def outputs(self) -> dict[str, str]:
        return {
            "work-dir": self.work_dir,
            "stack-name": self.stack_name,
            "cloud-url": self.cloud_url,
            "secrets-provider": self.secrets_provider,
            "pulumi-org": self.pulumi_org,
            **self.aws.outputs(),
        }


def _self_managed_provider(path: Path, shown: str, stack: str) -> str:
    if not path.exists():
        raise ReleaseError(
            f"{shown} does not exist: create the stack once with `pulumi stack init"
            f' {stack} --secrets-provider "awskms://alias/<key>?region=<region>&context_stack={stack}"` and commit'
            " the file"
        )
    provider = StackFile.read(path).secrets_provider
    if not provider or not provider.startswith("awskms://"):
        raise ReleaseError(
            f"{shown}: a self-managed stack needs secretsprovider: awskms://…&context_stack={stack} (got {provider!r})"
        )
    context = parse_qs(urlsplit(provider).query).get("context_stack")
    if context != [stack]:
        raise ReleaseError(
            f"{shown}: the awskms secrets provider must carry context_stack={stack} (got {context}); without it the"
            " stack's data key is not bound to the stack, and the roles' KMS conditions refuse it"
        )
    return provider


def backend_for(root: Path, stack: str, project: str, variables: Mapping[str, str]) -> Backend:
    """Resolve the backend of ``stack`` of ``project`` (``base`` or ``mesh``) from the repository variables."""
    if project not in PROJECTS:
        raise ReleaseError(f"project {project!r}: expected one of {', '.join(PROJECTS)}")
    work_dir = PROJECTS[project]
    aws = aws_for(root, stack, variables)
    project_file = stack_path(stack_config_dir(root / work_dir), stack)
    url = (variables.get("PULUMI_BACKEND_URL") or "").strip()
    org = (variables.get("PULUMI_ORG") or "").strip()
    if url:
        if not url.startswith("s3://"):
            raise ReleaseError(f"PULUMI_BACKEND_URL={url!r}: the self-managed backend is an s3:// bucket URL")
        shown = project_file.relative_to(root).as_posix()
        provider, stack_name = _self_managed_provider(project_file, shown, stack), stack
    else:
        if not org:
            raise ReleaseError("repository variable PULUMI_ORG is not set (the Pulumi Cloud organization)")
        existing = StackFile.read(project_file).secrets_provider if project_file.exists() else None
        provider, stack_name = existing or "", f"{org}/{stack}"
    return Backend(
        work_dir=work_dir,
        stack_name=stack_name,
        cloud_url=url,
        secrets_provider=provider,
        pulumi_org=org,
        aws=aws,
    )
