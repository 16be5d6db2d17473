"""ContainerRegistry: the ECR repositories of the stack's images (both topologies)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import ImagesConfig

from .context import StackContext
from .images import IMAGE_NAMES, ContainerImages, Image

# ``release ensure-images`` tags every digest a stack is deployed with ``keep-<stack>-<hex>``
# (release/registry.py keep_tag). ECR never lets a lower-priority rule expire an image a
# higher-priority rule selected, so rule 1 shields those images from the count rule; it still
# needs a count (ECR has no "keep" action), so the newest KEEP_WINDOW deployed digests stay,
# far more than any rollback reaches back and far below ECR's images-per-repository quota.
KEEP_TAG_PREFIX = "keep-"
KEEP_WINDOW = 1000


def lifecycle_policy(keep_tagged: int) -> str:
    """Keep the newest ``KEEP_WINDOW`` deployed (``keep-``) images; expire untagged images after a day;
    of the rest, keep only the newest ``keep_tagged``."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Keep the newest {KEEP_WINDOW} images a stack was deployed with",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPrefixList": [KEEP_TAG_PREFIX],
                        "countType": "imageCountMoreThan",
                        "countNumber": KEEP_WINDOW,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": "Expire untagged images after 1 day",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 3,
                    "description": f"Keep the newest {keep_tagged} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_tagged},
                    "action": {"type": "expire"},
                },
            ]
        }
    )


@dataclass
class ContainerRegistryArgs:
    """Inputs of :class:`ContainerRegistry`."""

    context: StackContext
    images: ImagesConfig
    """``flowbuilder:images``: the digest each image runs at, where released."""
    keep_tagged_images: int
    """``ecs.keepTaggedImages``: how many tagged images each repository keeps."""
    force_delete: bool
    """``ecs.forceDeleteRepositories``: delete a repository with its images when the stack is destroyed
    (dev and staging; not prod or zero-scale)."""


class ContainerRegistry(pulumi.ComponentResource):
    """One ECR repository per image: ``<project>-<stack>/api``, ``/worker``, ``/scheduler``.

    Each repository has immutable tags (an image tag is a git SHA and always means
    the same image), scan on push, encryption at rest with the stack key, and a lifecycle
    policy: the newest 1000 images a stack was deployed with (tagged ``keep-<stack>-…`` by
    ``release ensure-images``) are never expired, untagged images expire after 1 day, and of
    the rest only the newest ``ecs.keepTaggedImages`` (default 20) are kept. With ``ecs.forceDeleteRepositories``
    (dev, staging) a repository is deleted with its images when the stack is destroyed;
    without it (prod, zero-scale) it is not.

    The repositories are separate from the services so that both topologies share
    them and they exist before the first image is pushed. ``images`` pairs each repository with
    the digest ``flowbuilder:images`` records for it.
    """

    images: ContainerImages
    repository_urls: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ContainerRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:ContainerRegistry", name, None, opts)
        images: dict[str, Image] = {}
        for image in IMAGE_NAMES:
            repository = aws.ecr.Repository(
                f"{name}-{image}",
                name=f"{name}/{image}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
                # The encryption of a repository is fixed at creation; the stack key is in place from the first one.
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=args.context.stack_key.arn
                    )
                ],
                force_delete=args.force_delete,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.ecr.LifecyclePolicy(
                f"{name}-{image}-lifecycle",
                repository=repository.name,
                policy=lifecycle_policy(args.keep_tagged_images),
                opts=pulumi.ResourceOptions(parent=self),
            )
            images[image] = Image(image, repository.repository_url, repository.arn, getattr(args.images, image))
        self.images = ContainerImages(**images)
        self.repository_urls = {image.name: image.repository_url for image in self.images}
        self.register_outputs({"repository_urls": self.repository_urls})
