"""The public entry point of a standard stack: the load balancer, its listeners and access logs."""

from .load_balancer import FrontDoor, FrontDoorArgs, LoadBalancerTarget

__all__ = ["FrontDoor", "FrontDoorArgs", "LoadBalancerTarget"]
