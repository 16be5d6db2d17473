"""CiRoles: the roles GitHub Actions assumes, with their trust and their managed policies."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from . import names
from .account import Account
from .config import BootstrapConfig
from .policies import (
    StateLocation,
    deploy_parts,
    deploy_policies,
    dumps,
    github_subject,
    github_trust,
    preview_parts,
    preview_policies,
    publish_policy,
)

DEPLOY_SESSION_SECONDS = 3 * 3600
"""A first deploy (EKS, a Multi-AZ database, Helm releases) can outlast STS's one-hour default."""
PREVIEW_SESSION_SECONDS = 3600


@dataclass
class CiRolesArgs:
    """Inputs of :class:`CiRoles`."""

    config: BootstrapConfig
    account: Account
    github_provider_arn: pulumi.Output[str]
    boundary_arn: pulumi.Input[str]
    state: pulumi.Output[StateLocation] | None


class CiRoles(pulumi.ComponentResource):
    """The deploy role of each stack, the preview role, and the optional publish role.

    Creates, all trusted only from GitHub's OIDC provider with ``aud`` pinned to
    ``sts.amazonaws.com`` and ``sub`` matched exactly (``StringEquals``):

    * per stack ``flowbuilder-deploy-<stack>`` (``sub`` = ``repo:<owner>/<repo>:environment:<stack>``,
      sessions up to 3 hours) with managed policies ``flowbuilder-deploy-<stack>-<part>``
      (network, edge, compute, platform, integration, data, identity, and state on a self-managed
      backend): the services the program declares, on the stack's ARN patterns; roles only under
      ``flowbuilder-<stack>-`` and only with the permissions boundary;
    * ``flowbuilder-preview`` (``sub`` = ``repo:<owner>/<repo>:pull_request``) with
      ``flowbuilder-preview-read-network``, ``-read-compute``, ``-read-data`` and ``-state`` (or
      ``-guards`` on Pulumi Cloud): read-only, never a secret's value;
    * ``flowbuilder-publish`` when ``github.publishers`` lists subjects: push to the first stack's
      repositories, nothing else.
    """

    deploy_role_arns: dict[str, pulumi.Output[str]]
    preview_role_arn: pulumi.Output[str]
    publish_role_arn: pulumi.Output[str] | None

    def __init__(self, name: str, args: CiRolesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:CiRoles", name, None, opts)
        self._name = name
        self._args = args
        config, account = args.config, args.account
        repository = config.github.repository_path

        self.deploy_role_arns = {}
        for entry in config.stacks:
            scope = account.scope(
                entry.name, config.stack_region(entry), tuple(entry.hosted_zone_ids), tuple(entry.zone_names)
            )
            documents = pulumi.Output.all(args.boundary_arn, _state_or_none(args.state)).apply(
                lambda values, scope=scope: deploy_policies(
                    scope, boundary_arn=values[0], github_provider_arn=account.github_provider_arn, state=values[1]
                )
            )
            role = self._role(
                f"deploy-{entry.name}",
                names.deploy_role(entry.name),
                [github_subject(repository, f"environment:{entry.name}")],
                DEPLOY_SESSION_SECONDS,
                f"Deploys the {entry.name} stack from the GitHub environment {entry.name}",
            )
            for part in deploy_parts(self_managed=args.state is not None):
                self._attach(
                    role, f"deploy-{entry.name}-{part}", names.deploy_policy(entry.name, part), documents, part
                )
            self.deploy_role_arns[entry.name] = role.arn

        previewable = [entry.name for entry in config.stacks if entry.pull_request_preview]
        preview_documents = _state_or_none(args.state).apply(
            lambda state: preview_policies(account.everywhere, previewable=previewable, state=state)
        )
        preview = self._role(
            "preview",
            names.PREVIEW_ROLE,
            [github_subject(repository, "pull_request")],
            PREVIEW_SESSION_SECONDS,
            "Runs pulumi preview for pull requests: read-only",
        )
        for part in preview_parts(self_managed=args.state is not None):
            self._attach(preview, f"preview-{part}", names.preview_policy(part), preview_documents, part)
        self.preview_role_arn = preview.arn

        self.publish_role_arn = None
        if config.github.publishers:
            first = config.stacks[0]
            scope = account.scope(first.name, config.stack_region(first))
            publish = self._role(
                "publish",
                names.PUBLISH_ROLE,
                list(config.github.publishers),
                PREVIEW_SESSION_SECONDS,
                f"Pushes application images to the {first.name} stack's repositories",
            )
            self._attach(
                publish,
                "publish-images",
                names.publish_policy(),
                pulumi.Output.from_input({"images": publish_policy(scope)}),
                "images",
            )
            self.publish_role_arn = publish.arn

        self.register_outputs(
            {
                "deployRoleArns": self.deploy_role_arns,
                "previewRoleArn": self.preview_role_arn,
                "publishRoleArn": self.publish_role_arn,
            }
        )

    def _role(self, suffix: str, role_name: str, subjects: list[str], session: int, description: str) -> aws.iam.Role:
        return aws.iam.Role(
            f"{self._name}-{suffix}",
            name=role_name,
            description=description,
            assume_role_policy=self._args.github_provider_arn.apply(lambda arn: dumps(github_trust(arn, subjects))),
            max_session_duration=session,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _attach(
        self,
        role: aws.iam.Role,
        suffix: str,
        policy_name: str,
        documents: pulumi.Output[dict],
        part: str,
    ) -> None:
        policy = aws.iam.Policy(
            f"{self._name}-{suffix}",
            name=policy_name,
            policy=documents.apply(lambda found: dumps(found[part])),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.iam.RolePolicyAttachment(
            f"{self._name}-{suffix}", role=role.name, policy_arn=policy.arn, opts=pulumi.ResourceOptions(parent=self)
        )


def _state_or_none(state: pulumi.Output[StateLocation] | None) -> pulumi.Output[StateLocation | None]:
    return state if state is not None else pulumi.Output.from_input(None)
