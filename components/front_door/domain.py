"""The API's name in DNS: the hosted zone, the ACM certificate validated through it, the alias records.

Shared by both topologies' entry points (the ALB's FrontDoor, zero-scale's HttpApiDomain); each calls
:func:`domain_names` once with its own ``opts`` so the resources are its children.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import DomainConfig

VALIDATION_RECORD_TTL_SECONDS = 300
CERTIFICATE_VALIDATION_TIMEOUT = "45m"
"""ACM usually validates within minutes of the record resolving; 45 minutes covers a slow delegation
without holding a deploy for the provider's 75-minute default when the zone was never delegated."""


@dataclass(frozen=True)
class DomainNames:
    """What a stack with ``domain.name`` serves HTTPS under."""

    name: str
    certificate_arn: pulumi.Output[str]
    """The validated certificate's ARN: resolves once ACM has issued it."""
    zone_id: pulumi.Output[str] | None
    """Where the alias records go; None when only ``certificateArn`` is configured."""
    name_servers: pulumi.Output[list[str]] | None
    """A created zone's name servers, to delegate to from the parent domain."""


def domain_names(
    name: str, domain: DomainConfig, opts: pulumi.ResourceOptions, *, protect_zone: bool = False
) -> DomainNames | None:
    """The zone (created or given) and the certificate (issued or given) of ``domain``; None without a name.

    Creates ``<name>-zone`` for ``zoneName`` (Pulumi ``protect`` with ``protect_zone``: a zone created
    anew gets other name servers, and the parent's delegation stops working); unless ``certificateArn``
    is set, the certificate ``<name>-certificate`` (DNS validation), its CNAME
    ``<name>-certificate-validation`` and the ``acm.CertificateValidation`` that waits for ACM to issue it.
    """
    if domain.name is None:
        return None
    zone_id: pulumi.Output[str] | None = None
    name_servers: pulumi.Output[list[str]] | None = None
    if domain.zone_name:
        zone = aws.route53.Zone(
            f"{name}-zone",
            name=domain.zone_name,
            comment=f"Flow Builder API {domain.name}; delegate to these name servers from the parent domain",
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=protect_zone)),
        )
        zone_id, name_servers = zone.zone_id, zone.name_servers
    elif domain.hosted_zone_id:
        zone_id = pulumi.Output.from_input(domain.hosted_zone_id)
    if domain.certificate_arn:
        certificate_arn = pulumi.Output.from_input(domain.certificate_arn)
    elif zone_id is not None:
        certificate_arn = issued_certificate(name, domain.name, zone_id, opts)
    else:
        raise ValueError("domain.name needs a hosted zone or a certificate (the config model refuses it otherwise)")
    return DomainNames(domain.name, certificate_arn, zone_id, name_servers)


def issued_certificate(
    name: str, host: str, zone_id: pulumi.Input[str], opts: pulumi.ResourceOptions
) -> pulumi.Output[str]:
    """An ACM certificate for ``host``, validated by a CNAME in ``zone_id``; its ARN once issued."""
    certificate = aws.acm.Certificate(
        f"{name}-certificate",
        domain_name=host,
        validation_method="DNS",
        # Replaced (another name) the Pulumi way, create first: ACM refuses to delete a certificate
        # a listener still uses, so the new one must be attached before the old one goes.
        opts=opts,
    )
    option = certificate.domain_validation_options.apply(lambda options: options[0])
    record = aws.route53.Record(
        f"{name}-certificate-validation",
        zone_id=zone_id,
        name=option.apply(lambda o: o.resource_record_name),
        type=option.apply(lambda o: o.resource_record_type),
        records=[option.apply(lambda o: o.resource_record_value)],
        ttl=VALIDATION_RECORD_TTL_SECONDS,
        # ACM derives the record from the name and account, so a re-issued certificate for the same
        # name asks for the record that already exists.
        allow_overwrite=True,
        opts=opts,
    )
    validation = aws.acm.CertificateValidation(
        f"{name}-certificate",
        certificate_arn=certificate.arn,
        validation_record_fqdns=[record.fqdn],
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(create=CERTIFICATE_VALIDATION_TIMEOUT))
        ),
    )
    return validation.certificate_arn


def alias_records(
    name: str,
    zone_id: pulumi.Input[str],
    host: str,
    target_name: pulumi.Input[str],
    target_zone_id: pulumi.Input[str],
    record_types: Sequence[str],
    opts: pulumi.ResourceOptions,
) -> list[aws.route53.Record]:
    """``<name>-alias-a`` (and ``-aaaa``): ``host`` as an alias of the target, following its health."""
    return [
        aws.route53.Record(
            f"{name}-alias-{record_type.lower()}",
            zone_id=zone_id,
            name=host,
            type=record_type,
            aliases=[
                aws.route53.RecordAliasArgs(name=target_name, zone_id=target_zone_id, evaluate_target_health=True)
            ],
            opts=opts,
        )
        for record_type in record_types
    ]
