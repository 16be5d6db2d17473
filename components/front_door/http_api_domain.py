"""HttpApiDomain: zero-scale's public entry point, the API's own name on the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from stackconfig.model import DomainConfig

from ..context import StackContext
from .domain import DomainNames, alias_records, domain_names

API_DOMAIN_RECORD_TYPES = ("A", "AAAA")
"""The regional domain is dual-stack, so it answers on IPv4 and IPv6."""
HTTP_API_TLS_POLICY = "TLS_1_2"
"""The only policy API Gateway offers a regional HTTP API domain: TLS 1.2 and 1.3."""


@dataclass
class HttpApiDomainArgs:
    """Inputs of :class:`HttpApiDomain`."""

    context: StackContext
    domain: DomainConfig
    """``name`` must be set."""
    api_id: pulumi.Input[str]
    stage_name: pulumi.Input[str] | None
    """The stage serving the API; None until the api image is released (then no mapping yet)."""


class HttpApiDomain(pulumi.ComponentResource):
    """``domain.name`` on zero-scale's HTTP API.

    Creates the hosted zone (``domain.zoneName``) and the ACM certificate validated in it (unless
    ``domain.certificateArn`` names one), the regional, dual-stack custom domain (TLS 1.2+), the
    mapping of its root to the API's ``$default`` stage once that stage exists, and the alias A and
    AAAA records of the name (when a zone is known).

    No WAF: AWS WAF does not attach to HTTP APIs. The stage's throttling (``api.throttleRatePerSecond``,
    ``api.throttleBurst``) and the function's reserved concurrency bound what a flood can cost, and
    ``execute-api`` stays HTTPS-only. HSTS is the application's to send on this topology.
    """

    domain_name: str
    hosted_zone_id: pulumi.Output[str] | None
    names: DomainNames
    url: str

    def __init__(self, name: str, args: HttpApiDomainArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flowbuilder:index:HttpApiDomain", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        names = domain_names(name, args.domain, child)
        if names is None:
            raise ValueError("HttpApiDomain needs domain.name")
        custom = aws.apigatewayv2.DomainName(
            f"{name}-api-domain",
            domain_name=names.name,
            domain_name_configuration=aws.apigatewayv2.DomainNameDomainNameConfigurationArgs(
                certificate_arn=names.certificate_arn,
                endpoint_type="REGIONAL",
                security_policy=HTTP_API_TLS_POLICY,
                ip_address_type="dualstack",
            ),
            opts=child,
        )
        if args.stage_name is not None:
            aws.apigatewayv2.ApiMapping(
                f"{name}-api-domain",
                api_id=args.api_id,
                domain_name=custom.id,
                stage=args.stage_name,
                opts=child,
            )
        if names.zone_id is not None:
            configuration = custom.domain_name_configuration
            alias_records(
                f"{name}-api",
                names.zone_id,
                names.name,
                configuration.apply(lambda c: c.target_domain_name),
                configuration.apply(lambda c: c.hosted_zone_id),
                API_DOMAIN_RECORD_TYPES,
                child,
            )
        self.domain_name = names.name
        self.hosted_zone_id = names.zone_id
        self.names = names
        self.url = f"https://{names.name}"
        self.register_outputs(
            {
                "domain_name": self.domain_name,
                "hosted_zone_id": self.hosted_zone_id,
                "certificate_arn": names.certificate_arn,
                "url": self.url,
            }
        )
