"""The idle monthly cost of what a stack declares: the estimate, the rules per type, the price table."""

from .estimate import CostEstimate, CostLine, JobCost, PriceTable, estimate, spot_share

__all__ = ["CostEstimate", "CostLine", "JobCost", "PriceTable", "estimate", "spot_share"]
