"""``preview/cost/prices.yaml`` loaded: list prices per region, each with the AWS page it comes from."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PRICES_PATH = Path(__file__).with_name("prices.yaml")


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    unit: str
    source: str
    approximate: bool


class PriceTable:
    """``preview/cost/prices.yaml``: list prices per region, each with its source page."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.as_of = str(document["as_of"])
        self.currency = document["currency"]
        self.hours_per_month = float(document["hours_per_month"])
        self.free_tiers: dict[str, int] = document["free_tiers"]
        self.defaults: dict[str, Any] = document["defaults"]
        self._entries: dict[str, dict[str, Any]] = document["prices"]

    @classmethod
    @functools.cache
    def load(cls, path: Path = PRICES_PATH) -> PriceTable:
        # libyaml's loader when present: the pure-Python one takes a tenth of a second here.
        return cls(yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))

    @property
    def regions(self) -> list[str]:
        """The regions every price covers: where a stack can run. A few entries also price a second
        region some resources live in (backup copies in us-west-2)."""
        covered = [set(entry["usd"]) for entry in self._entries.values()]
        return sorted(set.intersection(*covered)) if covered else []

    def keys(self) -> list[str]:
        return list(self._entries)

    def get(self, key: str, region: str) -> Price | None:
        entry = self._entries.get(key)
        if entry is None or region not in entry["usd"]:
            return None
        return Price(
            key, float(entry["usd"][region]), entry["unit"], entry["source"], region in entry.get("approximate", ())
        )
