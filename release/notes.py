"""Markdown for pull requests and job summaries: what changes, and what a deploy will run."""

from __future__ import annotations

from .images import IMAGE_NAMES, Images


def short(value: str | None) -> str:
    if not value:
        return "—"
    return f"`{value[:19]}…`" if value.startswith("sha256:") else f"`{value[:12]}`"


def commit_link(commit: str | None, app_repository: str | None) -> str:
    if not commit:
        return "—"
    if app_repository:
        return f"[`{commit[:12]}`](https://github.com/{app_repository}/commit/{commit})"
    return f"`{commit[:12]}`"


def deploy_plan(stack: str, prefix: str, images: Images) -> str:
    """What ``pulumi up`` of ``stack`` runs, read from its committed stack file alone."""
    if images.empty:
        return (
            f"### `{stack}` has no released images\n\n"
            "The update creates the repositories and everything else; services keep 0 tasks and the image"
            " functions are not created until a release records digests (docs/delivery.md, first release)."
        )
    rows = "\n".join(f"| {name} | `{prefix}/{name}@{digest}` |" for name, digest in images.items())
    missing = [name for name in IMAGE_NAMES if name not in images.digests]
    note = f"\n\nNo digest for {', '.join(missing)}: what needs it is not released yet." if missing else ""
    return (
        f"### Images `{stack}` runs after this update\n\n"
        f"Built from application commit `{images.source_commit}`.\n\n"
        f"| image | runs |\n|---|---|\n{rows}{note}"
    )


def change_body(
    *,
    stack: str,
    before: Images,
    after: Images,
    origin: str,
    source: str | None,
    app_repository: str | None,
) -> str:
    """The pull request body of a release (``source`` None) or a promotion from ``source`` into ``stack``."""
    rows = (
        "\n".join(f"| {name} | {short(old)} | {short(new)} |" for name, old, new in after.changes(before))
        or "| — | no digest changes | |"
    )
    compare = ""
    if app_repository and before.source_commit and after.source_commit and before.source_commit != after.source_commit:
        compare = (
            f" ([changes](https://github.com/{app_repository}/compare/{before.source_commit}...{after.source_commit}))"
        )
    check = (
        f"copies any digest its repositories lack from `{source}`'s (by digest, verified)"
        if source
        else "checks that the build pushed every digest to its repositories"
    )
    back = (
        f"run the release workflow for `{stack}` with `source-commit` set to an earlier commit `{source}` ran"
        if source
        else f"release an earlier application commit to `{stack}` again"
    )
    return f"""{origin}

Application commit: {commit_link(before.source_commit, app_repository)} → \
{commit_link(after.source_commit, app_repository)}{compare}

| image | `{stack}` runs now | after this merges |
|---|---|---|
{rows}

This pull request changes only `flowbuilder:images` in `Pulumi.{stack}.yaml`. Merging it runs `deploy.yml`: the
`{stack}` job {check}; then `pulumi up` runs the migration task if the `api` digest changes, and rolls the services
once it has succeeded. A failed migration fails the update, and the current version keeps serving.

To roll back after merging, {back}, or revert this pull request's commit.
"""
