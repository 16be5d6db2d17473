"""Flow Builder bootstrap: once per AWS account, by an administrator, before the first deploy.

Reads the validated config and wires the components: the self-managed state backend
(bucket + keys), GitHub's OIDC provider, the permissions boundary every role of the main
program carries, and the CI roles. The outputs are what the repository's GitHub
environments and variables, ``pulumi login`` and ``pulumi stack init`` need.
"""

import sys
from pathlib import Path

# The bootstrap is a package of the repository; Pulumi runs this file from bootstrap/.
ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pulumi  # noqa: E402

from bootstrap import names  # noqa: E402
from bootstrap.account import Account, aws_provider  # noqa: E402
from bootstrap.boundary import PermissionsBoundary, PermissionsBoundaryArgs  # noqa: E402
from bootstrap.ci_roles import CiRoles, CiRolesArgs  # noqa: E402
from bootstrap.config import load_bootstrap_config  # noqa: E402
from bootstrap.github_oidc import GitHubOidc, GitHubOidcArgs  # noqa: E402
from bootstrap.state_backend import StateBackend, StateBackendArgs  # noqa: E402

config = load_bootstrap_config(pulumi.get_project(), pulumi.get_stack())
provider = aws_provider(config)
account = Account.of(provider, config.region)
on_aws = pulumi.ResourceOptions(providers=[provider])
name = names.BOOTSTRAP_PROJECT
previewable = [entry.name for entry in config.stacks if entry.pull_request_preview]

backend = (
    StateBackend(
        name,
        StateBackendArgs(
            account=account,
            stacks=[entry.name for entry in config.stacks],
            previewable=previewable,
            noncurrent_version_days=config.state.noncurrent_version_days,
            keep_versions=config.state.keep_versions,
            key_users=list(config.secrets_key_users),
        ),
        on_aws,
    )
    if config.self_managed_backend
    else None
)
oidc = GitHubOidc(
    name,
    GitHubOidcArgs(create=config.github.create_oidc_provider, existing_arn=account.github_provider_arn),
    on_aws,
)
boundary = PermissionsBoundary(
    name, PermissionsBoundaryArgs(account=account, state=backend.location if backend else None), on_aws
)
roles = CiRoles(
    name,
    CiRolesArgs(
        config=config,
        account=account,
        github_provider_arn=oidc.provider_arn,
        boundary_arn=boundary.arn,
        state=backend.location if backend else None,
    ),
    on_aws,
)

pulumi.export("permissionsBoundaryArn", boundary.arn)
pulumi.export("githubOidcProviderArn", oidc.provider_arn)
pulumi.export("deployRoleArns", roles.deploy_role_arns)
pulumi.export("previewRoleArn", roles.preview_role_arn)
if roles.publish_role_arn is not None:
    pulumi.export("publishRoleArn", roles.publish_role_arn)
if backend:
    pulumi.export("stateBucket", backend.bucket_name)
    pulumi.export("backendUrl", backend.backend_url)
    pulumi.export("secretsProviders", backend.secrets_providers)
# What the repository's settings need, under the names the workflows read (docs/delivery.md):
# they derive every role's ARN from the account and the role names above.
repository_variables: dict[str, pulumi.Input[str]] = {"AWS_ACCOUNTS": account.account}
if backend:
    repository_variables["PULUMI_BACKEND_URL"] = backend.backend_url
pulumi.export(
    "githubSettings",
    {"repositoryVariables": repository_variables, "environments": [entry.name for entry in config.stacks]},
)
