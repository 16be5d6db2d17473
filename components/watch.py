"""What a component asks Monitoring to watch: alarms and dashboard graphs as plain typed values.

Each component builds its :class:`Watch` next to the resources it watches, from the names and
dimensions it knows, and only for what exists (no alarm on a function not created yet).
Monitoring owns the alert topic, the dashboard layout and the budget, and renders what it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pulumi

PERIOD_SECONDS = 300
"""Alarms evaluate 5-minute periods unless said otherwise: SQS, RDS and ECS publish every minute,
and five of them smooth a single slow sample without hiding a real problem for long."""


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class MissingData(StrEnum):
    """What an alarm makes of a period without data (CloudWatch ``TreatMissingData``)."""

    NOT_BREACHING = "notBreaching"
    BREACHING = "breaching"
    IGNORE = "ignore"
    """Keep the current state."""
    MISSING = "missing"
    """Go to INSUFFICIENT_DATA."""


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric of one resource."""

    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]

    def line(self, **options: Any) -> list[Any]:
        """A dashboard metric line: namespace, name, dimension name/value pairs, rendering options."""
        line: list[Any] = [self.namespace, self.name]
        for dimension, value in self.dimensions.items():
            line += [dimension, value]
        return [*line, options] if options else line

    def sum_query(self, query_id: str) -> Query:
        """An alarm query term: this metric's sum per alarm period, an input to an expression."""
        return Query(query_id, metric=self)


@dataclass(frozen=True)
class Query:
    """One term of a metric-math alarm: a metric, or an expression over other terms."""

    id: str
    metric: Metric | None = None
    stat: str = "Sum"
    period: int = PERIOD_SECONDS
    expression: str | None = None
    label: str | None = None
    return_data: bool = False
    """The one term whose value the alarm compares with its threshold."""

    def line(self) -> list[Any]:
        """The same term on a dashboard graph (hidden unless it is the returned value)."""
        if self.metric is not None:
            return self.metric.line(id=self.id, visible=False)
        return [{"expression": self.expression, "id": self.id, "label": self.label, "visible": self.return_data}]


def expression(query_id: str, text: str, label: str, *, returned: bool = False) -> Query:
    return Query(query_id, expression=text, label=label, return_data=returned)


@dataclass(frozen=True)
class Alarm:
    """An alarm that pages the alert topic, with its one-line runbook (docs/monitoring.md)."""

    key: str
    """The alarm's name without the stack prefix; unique in the stack."""
    severity: Severity
    summary: str
    runbook: str
    comparison: str
    threshold: float
    evaluation_periods: int
    treat_missing_data: MissingData
    metric: Metric | None = None
    statistic: str | None = None
    extended_statistic: str | None = None
    queries: tuple[Query, ...] = ()
    """Metric math instead of ``metric``."""
    period: int = PERIOD_SECONDS
    evaluate_low_sample_count_percentiles: str | None = None
    essential: bool = False
    """It reports lost work or failed requests. A stack that keeps only the essential alarms
    (zero-scale: each alarm metric costs $0.10 a month of a $10 budget) keeps this one."""

    @property
    def description(self) -> str:
        return f"{self.severity.upper()}: {self.summary} Runbook: {self.runbook} (docs/monitoring.md, {self.key})"


@dataclass(frozen=True)
class Graph:
    """A dashboard time series graph; graphs of the same title are drawn as one."""

    title: str
    lines: tuple[list[Any], ...]
    stat: str = "Average"
    threshold: float | None = None
    """Drawn as a horizontal annotation."""
    threshold_label: str = "alarm"
    width: int = 8


@dataclass(frozen=True)
class Watch:
    """Everything one component asks Monitoring to watch."""

    alarms: tuple[Alarm, ...] = ()
    graphs: tuple[Graph, ...] = ()

    def __add__(self, other: Watch) -> Watch:
        return Watch(self.alarms + other.alarms, self.graphs + other.graphs)
