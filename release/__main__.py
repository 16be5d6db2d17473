"""Releases, promotions and the deploy jobs' image checks: ``python3 tasks.py release <command>``.

    resolve --source-commit SHA [--api D --worker D --scheduler D]
        The digests dev's repositories hold under the tag SHA (checked against the build's outputs when given).
    propose --stack dev --source-commit SHA --api D --worker D --scheduler D
        A release: write those digests into Pulumi.dev.yaml (only its flowbuilder:images block changes).
    propose --stack STACK [--source-commit SHA]
        A promotion: copy the block of STACK's source stack into Pulumi.STACK.yaml; with --source-commit,
        the block the source held when it ran that application commit (how a rollback is made).
    plan --stack STACK
        What `pulumi up` of the committed Pulumi.STACK.yaml runs.
    ensure-images --stack STACK
        Before `pulumi up`: every committed digest in STACK's repositories, copied by digest where missing.
    aws --stack STACK
        The stack's region and the roles its jobs assume (from AWS_ACCOUNTS).
    backend --stack STACK --project base|mesh
        That, plus the backend, secrets provider and stack name of a Pulumi job (from the repository variables).
    guard --branch BRANCH
        Whether this run's commit is still the head of BRANCH (a stale run must not deploy).

Inside GitHub Actions, results also go to $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY.
How the workflows use them: docs/delivery.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path

from . import github, notes
from .backend import account_of, aws_for, backend_for, project_name
from .images import IMAGE_NAMES, Images, ReleaseError, check_commit, check_digest
from .line import RELEASE_STACK, choose, source_of
from .registry import Copier, Ecr, Location, Registry, Skopeo, ensure_images
from .stackfile import StackFile, stack_path

ROOT = Path(__file__).resolve().parent.parent


def location(root: Path, stack: str, variables: Mapping[str, str]) -> Location:
    region = StackFile.read(stack_path(root, stack)).region
    return Location(stack, account_of(variables, stack), region, f"{project_name(root)}-{stack}")


def resolve(
    root: Path, source_commit: str, expected: Mapping[str, str], variables: Mapping[str, str], registry: Registry
) -> Images:
    """The digests tagged ``source_commit`` in dev's repositories (tags are immutable there)."""
    commit = check_commit(source_commit, "--source-commit")
    where = location(root, RELEASE_STACK, variables)
    digests = {}
    for image in IMAGE_NAMES:
        found = registry.find(where, image, tag=commit)
        if found is None:
            raise ReleaseError(
                f"{where.reference(image, tag=commit)} does not exist: the build of {commit} has not pushed {image}"
            )
        if expected.get(image) and expected[image] != found.digest:
            raise ReleaseError(
                f"{where.reference(image, tag=commit)} is {found.digest}, but the build reported {expected[image]}"
            )
        digests[image] = found.digest
    return Images.of(commit, digests)


def write_change(root: Path, stack: str, images: Images, *, title: str, origin: str, source: str | None) -> bool:
    """Write ``images`` into the stack file and the pull request's title and body; False when nothing changes."""
    path = stack_path(root, stack)
    current = StackFile.read(path)
    before = current.images
    changed = before != images
    if changed:
        path.write_text(current.with_images(images), encoding="utf-8")
    body = notes.change_body(
        stack=stack,
        before=before,
        after=images,
        origin=origin,
        source=source,
        app_repository=os.environ.get("APP_REPOSITORY") or None,
    )
    body_path = root / "build" / f"release-{stack}.md"
    body_path.parent.mkdir(parents=True, exist_ok=True)
    body_path.write_text(body, encoding="utf-8")
    print(body if changed else f"Pulumi.{stack}.yaml already names these images; nothing to change.")
    github.write_outputs(
        {
            "changed": str(changed).lower(),
            "title": title,
            "branch": f"release/{stack}",
            "stack-file": path.name,
            "body-path": str(body_path),
        }
    )
    return changed


def propose(root: Path, stack: str, source_commit: str, digests: Mapping[str, str]) -> bool:
    """A release into dev (``digests`` from the build) or a promotion into any other stack."""
    if source_of(stack) is None:
        images = Images.of(check_commit(source_commit, "--source-commit"), digests)
        commit = images.source_commit or ""
        return write_change(
            root,
            stack,
            images,
            title=f"Release {commit[:12]} to {stack}",
            origin=f"Releases application commit `{commit}` to `{stack}`.",
            source=None,
        )
    given = [f"--{image}" for image, digest in digests.items() if digest]
    if given:
        raise ReleaseError(f"{stack} takes its source stack's digests; {', '.join(given)} is only for a release")
    choice = choose(root, stack, source_commit or None)
    when = f" as of {choice.revision[:12]}" if choice.revision else ""
    return write_change(
        root,
        stack,
        choice.images,
        title=f"Promote {(choice.images.source_commit or '')[:12]} from {choice.source} to {stack}",
        origin=f"Promotes the images `{choice.source}` ran{when} to `{stack}`.",
        source=choice.source,
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python3 tasks.py release", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    top.add_argument("--root", type=Path, default=ROOT, help="the repository root (default: this checkout)")
    commands = top.add_subparsers(dest="command", required=True)

    resolving = commands.add_parser("resolve")
    resolving.add_argument("--source-commit", required=True)
    proposing = commands.add_parser("propose")
    proposing.add_argument("--stack", required=True)
    proposing.add_argument("--source-commit", default="")
    for command in (resolving, proposing):
        for image in IMAGE_NAMES:
            command.add_argument(f"--{image}", default="", help=f"digest of {image}")
    for name in ("plan", "ensure-images", "aws"):
        commands.add_parser(name).add_argument("--stack", required=True)
    backend = commands.add_parser("backend")
    backend.add_argument("--stack", required=True)
    backend.add_argument("--project", required=True)
    guard = commands.add_parser("guard")
    guard.add_argument("--branch", required=True)
    return top


def main(
    argv: Sequence[str],
    *,
    registry_for: Callable[[str], Registry] | None = None,
    copier: Copier | None = None,
    head: Callable[[str], str] | None = None,
) -> int:
    args = parser().parse_args(argv)
    root: Path = args.root.resolve()
    variables = os.environ
    registry_for = registry_for or cache(Ecr.for_region)
    try:
        if args.command == "resolve":
            expected = {
                image: check_digest(getattr(args, image), f"--{image}") for image in IMAGE_NAMES if getattr(args, image)
            }
            dev_region = StackFile.read(stack_path(root, RELEASE_STACK)).region
            images = resolve(root, args.source_commit, expected, variables, registry_for(dev_region))
            print("\n".join(f"{name}: {digest}" for name, digest in images.items()))
            github.write_outputs({"source-commit": images.source_commit or "", **dict(images.items())})
        elif args.command == "propose":
            propose(root, args.stack, args.source_commit, {image: getattr(args, image) for image in IMAGE_NAMES})
        elif args.command == "plan":
            images = StackFile.read(stack_path(root, args.stack)).images
            plan = notes.deploy_plan(args.stack, f"{project_name(root)}-{args.stack}", images)
            print(plan)
            github.append_summary(plan)
        elif args.command == "ensure-images":
            images = StackFile.read(stack_path(root, args.stack)).images
            if images.empty:
                print(f"{args.stack} has no released images: nothing to check")
                return 0
            source = source_of(args.stack)
            report = ensure_images(
                images,
                location(root, args.stack, variables),
                location(root, source, variables) if source else None,
                registry_for,
                copier or Skopeo(),
            )
            print("\n".join(report))
            github.append_summary("#### Images in place\n\n" + "\n".join(f"- {line}" for line in report))
        elif args.command == "aws":
            settings = aws_for(root, args.stack, variables)
            github.write_outputs(settings.outputs())
            print("\n".join(f"{key}={value}" for key, value in settings.outputs().items()))
        elif args.command == "backend":
            settings = backend_for(root, args.stack, args.project, variables)
            github.write_outputs(settings.outputs())
            print("\n".join(f"{key}={value}" for key, value in settings.outputs().items()))
        elif args.command == "guard":
            missing = [name for name in ("GITHUB_SHA", "GITHUB_REPOSITORY", "GITHUB_TOKEN") if not variables.get(name)]
            if head is None and missing:
                raise ReleaseError(f"guard runs in GitHub Actions; {', '.join(missing)} not set")
            sha = variables.get("GITHUB_SHA", "")
            head_of = head or (
                lambda branch: github.head_commit(
                    variables.get("GITHUB_API_URL", "https://api.github.com"),
                    variables["GITHUB_REPOSITORY"],
                    branch,
                    variables["GITHUB_TOKEN"],
                )
            )
            now = head_of(args.branch)
            current = sha == now
            if not current:
                message = (
                    f"{sha[:12]} is no longer the head of {args.branch} ({now[:12]} is): this run does not deploy;"
                    f" the run of {now[:12]} deploys everything committed up to it"
                )
                print(f"::notice::{message}")
                github.append_summary(f"Skipped: {message}.")
            github.write_outputs({"current": str(current).lower()})
    except ReleaseError as error:
        prefix = "::error::" if os.environ.get("GITHUB_ACTIONS") == "true" else "error: "
        print(f"{prefix}{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
