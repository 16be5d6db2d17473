"""Images by digest in each stack's own repositories: resolving a build, copying on promotion, verifying."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import botocore.session
import pytest
from botocore.stub import Stubber

from release.__main__ import main
from release.images import ReleaseError
from release.registry import KEEP_TAG_PREFIX, Ecr, Location, Skopeo, auth_file, ensure_images, keep_tag
from release.stackfile import StackFile
from tests.release_support import Checkout, MemoryCopier, MemoryRegistry, build, digest

A = build("a")
DEV = Location("dev", "111111111111", "us-east-1", "flowbuilder-dev")
STAGING = Location("staging", "222222222222", "us-east-1", "flowbuilder-staging")


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Checkout:
    monkeypatch.setenv(
        "AWS_ACCOUNTS",
        json.dumps({"dev": DEV.account, "staging": STAGING.account, "prod": "333333333333", "ultra": "444444444444"}),
    )
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    return Checkout(repo)


def pushed(registry: MemoryRegistry, location: Location, images) -> None:
    for image, value in images.items():
        registry.push(location, image, value, images.source_commit)


def test_locations_name_the_stack_repositories_in_the_regions_partition():
    assert DEV.reference("api", digest=A.digests["api"]) == (
        f"111111111111.dkr.ecr.us-east-1.amazonaws.com/flowbuilder-dev/api@{A.digests['api']}"
    )
    china = Location("dev", "111111111111", "cn-north-1", "flowbuilder-dev")
    assert (
        china.reference("worker", tag="abc")
        == "111111111111.dkr.ecr.cn-north-1.amazonaws.com.cn/flowbuilder-dev/worker:abc"
    )


def test_resolve_reads_the_digests_tagged_with_the_commit(checkout, capsys):
    registry = MemoryRegistry()
    pushed(registry, DEV, A)

    code = main(
        ["--root", str(checkout.root), "resolve", "--source-commit", A.source_commit],
        registry_for=lambda region: registry,
    )

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [f"{image}: {value}" for image, value in A.items()]


def test_resolve_refuses_a_digest_the_build_did_not_report(checkout, capsys):
    registry = MemoryRegistry()
    pushed(registry, DEV, A)

    code = main(
        ["--root", str(checkout.root), "resolve", "--source-commit", A.source_commit, f"--worker={digest('other')}"],
        registry_for=lambda region: registry,
    )

    assert code == 1
    assert "but the build reported" in capsys.readouterr().err


def test_resolve_needs_every_image_of_the_build(checkout, capsys):
    registry = MemoryRegistry()
    registry.push(DEV, "api", A.digests["api"], A.source_commit)

    assert (
        main(
            ["--root", str(checkout.root), "resolve", "--source-commit", A.source_commit],
            registry_for=lambda region: registry,
        )
        == 1
    )
    assert "has not pushed worker" in capsys.readouterr().err


def test_a_promoted_stack_gets_the_missing_digests_copied_by_digest_and_verified():
    registry = MemoryRegistry()
    pushed(registry, DEV, A)
    registry.push(STAGING, "api", A.digests["api"], A.source_commit)
    copier = MemoryCopier(registry)

    report = ensure_images(A, STAGING, DEV, lambda region: registry, copier)

    assert [(source, target) for source, target, _ in copier.copies] == [
        (DEV.reference(image, digest=A.digests[image]), STAGING.reference(image, tag=A.source_commit))
        for image in ("worker", "scheduler")
    ]
    assert set(copier.copies[0][2]["auths"]) == {DEV.host, STAGING.host}
    assert {image: set(registry.holds(STAGING, image)) for image in ("api", "worker", "scheduler")} == {
        image: {value} for image, value in A.items()
    }
    present = STAGING.reference("api", digest=A.digests["api"])
    assert report[0] == f"api: {present} is present; tagged {keep_tag('staging', A.digests['api'])}"
    assert "digest verified; tagged keep-staging-" in report[1]


def test_every_pinned_digest_is_tagged_to_be_kept_once():
    """Present or copied, each digest the stack runs carries keep-<stack>-<hex>, which the lifecycle keeps."""
    registry = MemoryRegistry()
    pushed(registry, DEV, A)
    registry.push(STAGING, "api", A.digests["api"], A.source_commit)

    ensure_images(A, STAGING, DEV, lambda region: registry, MemoryCopier(registry))
    again = ensure_images(A, STAGING, DEV, lambda region: registry, MemoryCopier(registry))

    for image, value in A.items():
        tags = registry.holds(STAGING, image)[value].tags
        assert tags == (A.source_commit, f"keep-staging-{value.removeprefix('sha256:')}")
        assert tags[1].startswith(KEEP_TAG_PREFIX)
        # The dev copy is the source, not a deployment of staging: it gets no staging tag.
        assert registry.holds(DEV, image)[value].tags == (A.source_commit,)
    assert all(line.endswith(f"; kept ({keep_tag('staging', A.digests[line.split(':')[0]])})") for line in again)


def test_a_copy_whose_digest_changes_fails():
    registry = MemoryRegistry()
    pushed(registry, DEV, A)

    with pytest.raises(ReleaseError, match=r"does not hold sha256:"):
        ensure_images(A, STAGING, DEV, lambda region: registry, MemoryCopier(registry, rewrite=True))


def test_dev_takes_no_copies_and_a_missing_digest_there_is_an_error():
    registry = MemoryRegistry()

    with pytest.raises(ReleaseError, match="dev takes its images from the build"):
        ensure_images(A, DEV, None, lambda region: registry, MemoryCopier(registry))


def test_a_digest_the_source_does_not_hold_is_not_copied():
    registry = MemoryRegistry()
    copier = MemoryCopier(registry)

    with pytest.raises(ReleaseError, match="promote only what dev has run"):
        ensure_images(A, STAGING, DEV, lambda region: registry, copier)
    assert copier.copies == []


def test_a_tag_taken_by_another_digest_stops_the_copy():
    registry = MemoryRegistry()
    pushed(registry, DEV, A)
    registry.push(STAGING, "api", digest("rebuilt"), A.source_commit)

    with pytest.raises(ReleaseError, match="tags are immutable"):
        ensure_images(A, STAGING, DEV, lambda region: registry, MemoryCopier(registry))


def test_an_archived_image_must_be_restored_first():
    registry = MemoryRegistry()
    pushed(registry, DEV, A)
    registry.push(DEV, "api", A.digests["api"], A.source_commit, status="ARCHIVED")

    with pytest.raises(ReleaseError, match="ARCHIVED, not ACTIVE"):
        ensure_images(A, STAGING, DEV, lambda region: registry, MemoryCopier(registry))


def test_ensure_images_reads_the_committed_file_and_the_line(checkout, capsys):
    checkout.file("staging").write_text(StackFile.read(checkout.file("staging")).with_images(A))
    registry = MemoryRegistry()
    pushed(registry, DEV, A)
    copier = MemoryCopier(registry)

    assert (
        main(
            ["--root", str(checkout.root), "ensure-images", "--stack", "staging"],
            registry_for=lambda region: registry,
            copier=copier,
        )
        == 0
    )

    assert len(copier.copies) == 3
    assert "digest verified" in capsys.readouterr().out


def test_ensure_images_on_a_stack_without_images_does_nothing(checkout, capsys):
    registry = MemoryRegistry()

    assert (
        main(["--root", str(checkout.root), "ensure-images", "--stack", "prod"], registry_for=lambda region: registry)
        == 0
    )
    assert "nothing to check" in capsys.readouterr().out


def test_skopeo_copies_every_manifest_and_refuses_a_changed_digest(tmp_path):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    Skopeo(run).copy("src@sha256:1", "dst:tag", tmp_path / "auth.json")

    assert calls == [
        [
            "skopeo",
            "copy",
            "--all",
            "--preserve-digests",
            "--retry-times",
            "3",
            "--authfile",
            str(tmp_path / "auth.json"),
            "docker://src@sha256:1",
            "docker://dst:tag",
        ]
    ]


def test_a_failed_skopeo_copy_is_an_error(tmp_path):
    def run(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "manifest digest would change")

    with pytest.raises(ReleaseError, match="manifest digest would change"):
        Skopeo(run).copy("src@sha256:1", "dst:tag", tmp_path / "auth.json")


def test_the_auth_file_is_private_and_removed():
    with auth_file({"h1": "dG9rZW4="}) as path:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert json.loads(path.read_text()) == {"auths": {"h1": {"auth": "dG9rZW4="}}}
    assert not path.exists()


def ecr_with_stubs():
    client = botocore.session.get_session().create_client(
        "ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return client, Stubber(client)


def test_ecr_finds_an_image_by_digest_in_the_stack_account():
    client, stubs = ecr_with_stubs()
    stubs.add_response(
        "describe_images",
        {"imageDetails": [{"imageDigest": A.digests["api"], "imageTags": [A.source_commit], "imageStatus": "ACTIVE"}]},
        {
            "registryId": DEV.account,
            "repositoryName": "flowbuilder-dev/api",
            "imageIds": [{"imageDigest": A.digests["api"]}],
        },
    )
    stubs.add_client_error("describe_images", service_error_code="ImageNotFoundException")
    stubs.add_client_error("describe_images", service_error_code="RepositoryNotFoundException")
    stubs.add_response("get_authorization_token", {"authorizationData": [{"authorizationToken": "QVdTOnB3"}]}, {})

    with stubs:
        ecr = Ecr(client)
        found = ecr.find(DEV, "api", digest=A.digests["api"])
        assert (found.digest, found.tags, found.status) == (A.digests["api"], (A.source_commit,), "ACTIVE")
        assert ecr.find(DEV, "worker", tag=A.source_commit) is None
        with pytest.raises(ReleaseError, match="does not exist: deploy dev once"):
            ecr.find(DEV, "scheduler", tag=A.source_commit)
        assert ecr.token() == "QVdTOnB3"
    stubs.assert_no_pending_responses()


def test_ecr_tags_by_putting_the_stored_manifest_again():
    client, stubs = ecr_with_stubs()
    manifest = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}'
    media = "application/vnd.oci.image.index.v1+json"
    stubs.add_response(
        "batch_get_image",
        {"images": [{"imageManifest": manifest, "imageManifestMediaType": media}]},
        {
            "registryId": DEV.account,
            "repositoryName": "flowbuilder-dev/api",
            "imageIds": [{"imageDigest": A.digests["api"]}],
            "acceptedMediaTypes": [
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json",
                "application/vnd.docker.distribution.manifest.v2+json",
            ],
        },
    )
    stubs.add_response(
        "put_image",
        {},
        {
            "registryId": DEV.account,
            "repositoryName": "flowbuilder-dev/api",
            "imageManifest": manifest,
            "imageManifestMediaType": media,
            "imageTag": "keep-dev-x",
            "imageDigest": A.digests["api"],
        },
    )
    stubs.add_response("batch_get_image", {"images": [{"imageManifest": manifest, "imageManifestMediaType": media}]})
    stubs.add_client_error("put_image", service_error_code="ImageAlreadyExistsException")
    stubs.add_response("batch_get_image", {"images": [{"imageManifest": manifest, "imageManifestMediaType": media}]})
    stubs.add_client_error("put_image", service_error_code="AccessDeniedException")

    with stubs:
        ecr = Ecr(client)
        ecr.tag(DEV, "api", A.digests["api"], "keep-dev-x")
        ecr.tag(DEV, "api", A.digests["api"], "keep-dev-x")
        with pytest.raises(ReleaseError, match="tagging flowbuilder-dev/api@sha256:.* keep-dev-x"):
            ecr.tag(DEV, "api", A.digests["api"], "keep-dev-x")
    stubs.assert_no_pending_responses()
