"""The images a stack runs: its own ECR repository plus the digest its stack file records.

A release pushes to dev's repositories and records the digests in ``flowbuilder:images`` of
``Pulumi.dev.yaml``; promotion copies the same digests into the next stack's repositories and
stack file. A resource runs ``<repository url>@<digest>``, never a tag, so a ``pulumi up`` deploys
exactly what the stack file says. Each image is optional on its own: until its digest is
recorded, what runs it waits (see :class:`Image`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pulumi

IMAGE_NAMES = ("api", "worker", "scheduler")
"""The images the application repository builds; one ECR repository each per stack."""

NOT_RELEASED_TAG = "not-released"
"""The tag a task definition names while its image has no digest. A task definition needs an image,
and nothing pushes or pulls this tag: its service stays at 0 tasks, or its pipe STOPPED."""


@dataclass(frozen=True)
class Image:
    """One of the stack's images: where it lives, and the digest the stack runs, if released."""

    name: str
    repository_url: pulumi.Output[str]
    repository_arn: pulumi.Output[str]
    digest: str | None
    """``sha256:<64 hex>`` from ``flowbuilder:images``; None until the first release reaches the stack."""

    @property
    def released(self) -> bool:
        return self.digest is not None

    @property
    def uri(self) -> pulumi.Output[str]:
        """``<repository url>@<digest>``; ``<repository url>:not-released`` while there is no digest."""
        reference = f"@{self.digest}" if self.digest else f":{NOT_RELEASED_TAG}"
        return pulumi.Output.concat(self.repository_url, reference)

    def warn_unreleased(self, waiting: str, resource: pulumi.Resource | None) -> None:
        """Say what waits for this image (``waiting``), while it has no digest."""
        pulumi.log.warn(
            f"flowbuilder:images has no {self.name} digest: {waiting} (see the imagesToPush output)",
            resource=resource,
        )


@dataclass(frozen=True)
class ContainerImages:
    """The stack's three images."""

    api: Image
    worker: Image
    scheduler: Image

    def __iter__(self) -> Iterator[Image]:
        return iter((self.api, self.worker, self.scheduler))

    def unreleased(self) -> list[Image]:
        return [image for image in self if not image.released]


def images_to_push(images: ContainerImages, stack: str) -> pulumi.Output[dict[str, object]] | None:
    """What the ``imagesToPush`` stack output says while some image has no digest; None once all have one."""
    waiting = images.unreleased()
    if not waiting:
        return None
    return pulumi.Output.all(*(image.repository_url for image in waiting)).apply(
        lambda urls: {
            "push": [f"docker push {url}:<git-sha>" for url in urls],
            "then": (
                f"record each image's digest (sha256:...) under flowbuilder:images in Pulumi.{stack}.yaml, as the "
                "release workflow does (promotion records the digests it copied from the previous stack), then "
                "pulumi up"
            ),
        }
    )
