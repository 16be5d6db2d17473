"""The GitHub Actions side: step outputs, the job summary, and where the deployed branch stands now."""

from __future__ import annotations

import os
import secrets
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from .images import COMMIT, ReleaseError


def write_outputs(values: Mapping[str, str], path: str | None = None) -> None:
    """Append step outputs to ``$GITHUB_OUTPUT`` (heredoc form, so values may span lines); no-op outside Actions."""
    path = path or os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in values.items():
            delimiter = f"EOF_{secrets.token_hex(8)}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(markdown: str, path: str | None = None) -> None:
    """Add markdown to the job's summary page (``$GITHUB_STEP_SUMMARY``); no-op outside Actions."""
    path = path or os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")


def head_commit(
    api_url: str,
    repository: str,
    branch: str,
    token: str,
    opener: Callable[..., Any] = urllib.request.urlopen,
) -> str:
    """The commit ``branch`` points at now, from the REST API (``GET /repos/{repository}/commits/{branch}``)."""
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/repos/{repository}/commits/{branch}",
        headers={
            "Accept": "application/vnd.github.sha",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    with opener(request, timeout=30) as response:
        sha = response.read().decode().strip()
    if not COMMIT.fullmatch(sha):
        raise ReleaseError(f"GitHub answered {sha[:80]!r} for the head of {branch}, not a commit SHA")
    return sha
