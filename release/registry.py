"""Make sure a stack's repositories hold the digests its stack file names, copying them by digest.

Every stack has its own repositories, ``<project>-<stack>/api``, ``/worker`` and
``/scheduler``. Before ``pulumi up`` the deploy job checks that each committed
digest is in the stack's own repository. A digest that is missing is copied
from the stack the digest was promoted from (``release/line.py``) with
``skopeo copy --all --preserve-digests``: the manifest (or image index, with
its platform images and attestations) is copied byte for byte, and skopeo
refuses to push anything whose digest would differ. The copy is tagged with
the image's ``sourceCommit``. The job then reads the digest back from the
target repository and fails unless it is exactly the committed one.

``dev`` takes no copies: its images are pushed by the build, and a digest
missing there is an error.

Every digest a stack is deployed with also gets the tag ``keep-<stack>-<hex>``
(:func:`keep_tag`); the repositories' lifecycle policy never expires the newest
``KEEP_WINDOW`` images so tagged, so neither the running version nor a rollback
target disappears however many builds are pushed after it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import botocore.session
from botocore.exceptions import ClientError

from .images import Images, ReleaseError


@cache
def partition_of(region: str) -> tuple[str, str]:
    """``(partition, DNS suffix)`` of a region, from botocore's endpoint data."""
    session = botocore.session.get_session()
    name = session.get_partition_for_region(region)
    for partition in session.get_data("endpoints")["partitions"]:
        if partition["partition"] == name:
            return name, partition["dnsSuffix"]
    raise ReleaseError(f"{region}: no partition in botocore's endpoint data")


@dataclass(frozen=True)
class Location:
    """A stack's repositories: ``<prefix>/<image>`` in ``account``'s registry in ``region``."""

    stack: str
    account: str
    region: str
    prefix: str

    @property
    def host(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.{partition_of(self.region)[1]}"

    def repository(self, image: str) -> str:
        return f"{self.prefix}/{image}"

    def reference(self, image: str, *, digest: str | None = None, tag: str | None = None) -> str:
        suffix = f"@{digest}" if digest else f":{tag}"
        return f"{self.host}/{self.repository(image)}{suffix}"


@dataclass(frozen=True)
class Found:
    """An image in a repository, as DescribeImages reports it."""

    digest: str
    tags: tuple[str, ...]
    status: str


KEEP_TAG_PREFIX = "keep-"


def keep_tag(stack: str, digest: str) -> str:
    """The tag that marks ``digest`` as deployed to ``stack`` (ECR allows 300 characters; this is at most 98)."""
    return f"{KEEP_TAG_PREFIX}{stack}-{digest.removeprefix('sha256:')}"


class Registry(Protocol):
    """The ECR calls of one region (``Ecr`` for real; tests pass their own)."""

    def find(
        self, location: Location, image: str, *, digest: str | None = None, tag: str | None = None
    ) -> Found | None:
        """The image with that digest (or tag) in the location's repository, None when there is none."""

    def tag(self, location: Location, image: str, digest: str, tag: str) -> None:
        """Add ``tag`` to the image with ``digest`` (its manifest put again under the new tag)."""

    def token(self) -> str:
        """A registry authorization token (base64 ``AWS:<password>``) valid for every registry the caller may use."""


class Ecr:
    """:class:`Registry` over a botocore ECR client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def for_region(cls, region: str) -> Ecr:
        return cls(botocore.session.get_session().create_client("ecr", region_name=region))

    def find(
        self, location: Location, image: str, *, digest: str | None = None, tag: str | None = None
    ) -> Found | None:
        image_id = {"imageDigest": digest} if digest else {"imageTag": tag}
        repository = location.repository(image)
        try:
            details = self._client.describe_images(
                registryId=location.account, repositoryName=repository, imageIds=[image_id]
            )["imageDetails"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "ImageNotFoundException":
                return None
            if code == "RepositoryNotFoundException":
                raise ReleaseError(
                    f"{location.host}/{repository} does not exist: deploy {location.stack} once (the program creates"
                    " its repositories before any image exists)"
                ) from None
            raise ReleaseError(f"DescribeImages on {repository}: {error}") from None
        if not details:
            return None
        detail = details[0]
        return Found(detail["imageDigest"], tuple(detail.get("imageTags", ())), detail.get("imageStatus", "ACTIVE"))

    def tag(self, location: Location, image: str, digest: str, tag: str) -> None:
        repository = location.repository(image)
        try:
            got = self._client.batch_get_image(
                registryId=location.account,
                repositoryName=repository,
                imageIds=[{"imageDigest": digest}],
                acceptedMediaTypes=[
                    "application/vnd.oci.image.index.v1+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                ],
            )["images"]
            if not got:
                raise ReleaseError(f"BatchGetImage on {repository}: no manifest for {digest}")
            # The manifest exactly as stored, so the digest stays the same; a new tag is allowed
            # on an IMMUTABLE repository (only moving an existing tag is not).
            self._client.put_image(
                registryId=location.account,
                repositoryName=repository,
                imageManifest=got[0]["imageManifest"],
                imageManifestMediaType=got[0]["imageManifestMediaType"],
                imageTag=tag,
                imageDigest=digest,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ImageAlreadyExistsException":
                return
            raise ReleaseError(f"tagging {repository}@{digest} {tag}: {error}") from None

    def token(self) -> str:
        return self._client.get_authorization_token()["authorizationData"][0]["authorizationToken"]


class Copier(Protocol):
    def copy(self, source: str, target: str, authfile: Path) -> None:
        """Copy the image ``source`` (by digest) to ``target`` (by tag), keeping its digest."""


class Skopeo:
    """:class:`Copier` running ``skopeo`` (installed on GitHub's ubuntu-24.04 runners)."""

    def __init__(self, run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
        self._run = run

    def command(self, source: str, target: str, authfile: Path) -> list[str]:
        return [
            "skopeo",
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "3",
            "--authfile",
            str(authfile),
            f"docker://{source}",
            f"docker://{target}",
        ]

    def copy(self, source: str, target: str, authfile: Path) -> None:
        try:
            result = self._run(self.command(source, target, authfile), capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise ReleaseError("skopeo is not installed on this runner (GitHub's ubuntu-24.04 image has it)") from None
        if result.returncode != 0:
            raise ReleaseError(f"skopeo could not copy {source} to {target}: {result.stderr.strip()}")


@contextmanager
def auth_file(tokens: dict[str, str]) -> Iterator[Path]:
    """A containers-auth.json for ``{registry host: token}``, readable by this user only, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="release-auth-") as directory:
        path = Path(directory) / "auth.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"auths": {host: {"auth": token} for host, token in tokens.items()}}, handle)
        yield path


def _usable(found: Found, where: str) -> Found:
    if found.status != "ACTIVE":
        raise ReleaseError(
            f"{where} is {found.status}, not ACTIVE: restore it with `aws ecr update-image-storage-class"
            " --target-storage-class STANDARD` and wait until it is ACTIVE"
        )
    return found


def ensure_images(
    images: Images,
    target: Location,
    source: Location | None,
    registry_for: Callable[[str], Registry],
    copier: Copier,
) -> list[str]:
    """Check (and copy into ``target`` from ``source``) every digest of ``images``; one report line per image."""
    report = []
    registry = registry_for(target.region)
    for image, digest in images.items():
        wanted = target.reference(image, digest=digest)
        found = registry.find(target, image, digest=digest)
        if found is not None:
            _usable(found, wanted)
            report.append(f"{image}: {wanted} is present{_keep(registry, target, image, found)}")
            continue
        if source is None:
            raise ReleaseError(
                f"{wanted} does not exist: {target.stack} takes its images from the build; check the build of"
                f" {images.source_commit} pushed {image} to {target.repository(image)}"
            )
        source_registry = registry_for(source.region)
        origin = source.reference(image, digest=digest)
        found = source_registry.find(source, image, digest=digest)
        if found is None:
            raise ReleaseError(
                f"{origin} does not exist, so {wanted} cannot be copied from it: promote only what"
                f" {source.stack} has run (python3 tasks.py release promote --to {target.stack})"
            )
        _usable(found, origin)
        tag = images.source_commit or ""
        taken = registry.find(target, image, tag=tag)
        if taken is not None:
            raise ReleaseError(
                f"{target.reference(image, tag=tag)} already names {taken.digest}, not {digest}; tags are immutable,"
                " so a second build of one commit cannot be promoted over the first"
            )
        tokens = {target.host: registry.token(), source.host: source_registry.token()}
        with auth_file(tokens) as authfile:
            copier.copy(origin, target.reference(image, tag=tag), authfile)
        copied = registry.find(target, image, digest=digest)
        if copied is None or copied.digest != digest:
            raise ReleaseError(f"after copying {origin}, {target.repository(image)} does not hold {digest}")
        report.append(
            f"{image}: copied {origin} to {wanted} (tag {tag}); digest verified{_keep(registry, target, image, copied)}"
        )
    return report


def _keep(registry: Registry, target: Location, image: str, found: Found) -> str:
    """Tag ``found`` as deployed to the target stack, so the lifecycle policy keeps it; the report's suffix."""
    tag = keep_tag(target.stack, found.digest)
    if tag in found.tags:
        return f"; kept ({tag})"
    registry.tag(target, image, found.digest, tag)
    return f"; tagged {tag}"
