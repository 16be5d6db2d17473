"""EKS: control-plane logs (all five in prod), secrets encryption, a private endpoint and none open to
the internet, standard support only; node launch templates require IMDSv2 and encrypt their volumes."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import Severity

from ._support import Subject, resource_rule

CLUSTER = "aws:eks/cluster:Cluster"
CLUSTERS = (CLUSTER,)
REQUIRED_LOG_TYPES = ("api", "audit", "authenticator")
PROD_LOG_TYPES = (*REQUIRED_LOG_TYPES, "controllerManager", "scheduler")
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
OPEN = ("0.0.0.0/0", "::/0")


def _logging(cluster: Subject) -> Iterator[str]:
    enabled = set(cluster.get("enabledClusterLogTypes", default=[]))
    missing = [kind for kind in REQUIRED_LOG_TYPES if kind not in enabled]
    if missing:
        yield f"control-plane log types {', '.join(missing)} are off; audit trails start here"


def _prod_logging(cluster: Subject) -> Iterator[str]:
    if not cluster.facts.is_prod:
        return
    enabled = set(cluster.get("enabledClusterLogTypes", default=[]))
    missing = [kind for kind in PROD_LOG_TYPES if kind not in enabled]
    if missing:
        yield (
            f"{cluster.facts.describe()} sends every control-plane log type; {', '.join(missing)} "
            "are off (the scheduler's and controller manager's decisions are what a post-mortem reads)"
        )


def _private_endpoint(cluster: Subject) -> Iterator[str]:
    if (cluster.get("vpcConfig") or {}).get("endpointPrivateAccess") is not True:
        yield (
            "endpointPrivateAccess is off: nodes and the in-VPC CI runner would reach the API over the "
            "internet, and the endpoint could only be closed by opening it"
        )


def _launch_template(template: Subject) -> Iterator[str]:
    metadata = template.get("metadataOptions") or {}
    if metadata.get("httpTokens") != "required":
        yield "metadataOptions.httpTokens must be 'required' (IMDSv2 only): IMDSv1 hands credentials to any SSRF"
    for mapping in template.get("blockDeviceMappings", default=[]) or []:
        ebs = mapping.get("ebs") or {}
        if str(ebs.get("encrypted", "")).lower() != "true":
            yield f"the volume {mapping.get('deviceName', '?')} is not encrypted (ebs.encrypted must be true)"


def _secrets_encryption(cluster: Subject) -> Iterator[str]:
    config = cluster.get("encryptionConfig") or {}
    if "secrets" not in (config.get("resources") or []) or not (config.get("provider") or {}).get("keyArn"):
        yield "encryptionConfig must encrypt 'secrets' with a KMS key"


def _endpoint(cluster: Subject) -> Iterator[str]:
    vpc = cluster.get("vpcConfig") or {}
    public, cidrs = vpc.get("endpointPublicAccess", True), vpc.get("publicAccessCidrs")
    if public is not True:
        return
    if not cidrs:
        yield "the public API endpoint is open to 0.0.0.0/0 (no publicAccessCidrs); list your CIDRs or make it private"
    elif any(cidr in OPEN for cidr in cidrs):
        yield (
            f"publicAccessCidrs contains {[c for c in cidrs if c in OPEN]}; the Kubernetes API is open to the internet"
        )


def _standard_support(cluster: Subject) -> Iterator[str]:
    support = cluster.get("upgradePolicy", "supportType")
    if support != "STANDARD":
        yield (
            f"upgradePolicy.supportType is {support or 'unset (EKS defaults to EXTENDED)'}; "
            "extended support bills the control plane $0.60/h instead of $0.10/h once the version ages out"
        )


POLICIES = [
    resource_rule(
        "eks-control-plane-logging",
        "EKS clusters must send api, audit and authenticator logs to CloudWatch.",
        CLUSTERS,
        _logging,
        mandatory=True,
        remediation="Set enabled_cluster_log_types=['api', 'audit', 'authenticator'].",
        tags=["eks", "logging"],
    ),
    resource_rule(
        "eks-prod-control-plane-logging",
        "Prod EKS clusters must send all five control-plane log types to CloudWatch.",
        CLUSTERS,
        _prod_logging,
        mandatory=True,
        remediation="Leave eks.controlPlaneLogTypes at prod's default (api, audit, authenticator, controllerManager, "
        "scheduler).",
        tags=["eks", "logging"],
        severity=Severity.MEDIUM,
    ),
    resource_rule(
        "eks-private-endpoint",
        "EKS clusters must have the private API endpoint on.",
        CLUSTERS,
        _private_endpoint,
        mandatory=True,
        remediation="Set vpc_config.endpoint_private_access=True.",
        tags=["eks", "network"],
    ),
    resource_rule(
        "launch-template-imdsv2-encrypted",
        "Launch templates must require IMDSv2 and encrypt every volume they define.",
        (LAUNCH_TEMPLATE,),
        _launch_template,
        mandatory=True,
        remediation="Set metadata_options.http_tokens='required' and ebs.encrypted='true' on each block device.",
        tags=["ec2", "encryption"],
    ),
    resource_rule(
        "eks-secrets-encryption",
        "EKS clusters must encrypt Kubernetes secrets with a KMS key.",
        CLUSTERS,
        _secrets_encryption,
        mandatory=True,
        remediation="Create a KMS key and set encryption_config={resources: ['secrets'], provider: {key_arn}}.",
        tags=["eks", "encryption"],
    ),
    resource_rule(
        "eks-no-open-endpoint",
        "The EKS API endpoint must be private or restricted to listed CIDRs.",
        CLUSTERS,
        _endpoint,
        mandatory=True,
        remediation="Set eks.publicAccessCidrs to your office/VPN ranges, or endpoint_public_access=False.",
        tags=["eks", "network"],
        severity=Severity.CRITICAL,
    ),
    resource_rule(
        "eks-standard-support",
        "EKS clusters must use the STANDARD upgrade policy (no EXTENDED support: a cost rule as well).",
        CLUSTERS,
        _standard_support,
        mandatory=True,
        remediation=(
            "Set upgrade_policy={support_type: 'STANDARD'} and upgrade Kubernetes before standard support ends."
        ),
        tags=["eks", "cost"],
        severity=Severity.MEDIUM,
    ),
]
