"""The public entry point of both topologies: the ALB with its domain, certificate and WAF (standard), the
HTTP API's custom domain (zero-scale), and the load balancer's access logs."""

from .http_api_domain import HttpApiDomain, HttpApiDomainArgs
from .load_balancer import FrontDoor, FrontDoorArgs, LoadBalancerTarget

__all__ = ["FrontDoor", "FrontDoorArgs", "HttpApiDomain", "HttpApiDomainArgs", "LoadBalancerTarget"]
