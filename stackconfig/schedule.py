"""EventBridge Scheduler schedule expressions, parsed as the service parses them.

EventBridge Scheduler user guide, "Schedule types":

* ``rate(value unit)``: a positive whole number and ``minute``/``minutes``,
  ``hour``/``hours`` or ``day``/``days`` (singular exactly when the value is 1,
  as EventBridge requires);
* ``cron(minutes hours day-of-month month day-of-week year)``: six fields, with
  ``, - * /`` everywhere, ``? L W`` in day-of-month, ``? L #`` in day-of-week,
  and exactly one of day-of-month and day-of-week set to ``?``;
* ``at(yyyy-mm-ddThh:mm:ss)``: one invocation at that time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    """Names for the values low, low+1, ... (JAN-DEC, SUN-SAT)."""


CRON_FIELDS = (
    Field("minutes", 0, 59),
    Field("hours", 0, 23),
    Field("day-of-month", 1, 31),
    Field("month", 1, 12, MONTHS),
    Field("day-of-week", 1, 7, DAYS),
    Field("year", 1970, 2199),
)


@dataclass(frozen=True)
class Schedule:
    kind: str
    """``rate``, ``cron`` or ``at``."""
    rate_seconds: int | None = None
    """For ``rate``: the interval."""


def parse(expression: str) -> Schedule:
    """The schedule ``expression`` describes; ``ValueError`` says which part EventBridge would refuse."""
    match = re.fullmatch(r"(rate|cron|at)\((.*)\)", expression)
    if not match:
        raise ValueError("must be rate(<value> <unit>), cron(<6 fields>) or at(yyyy-mm-ddThh:mm:ss)")
    kind, body = match.groups()
    if kind == "rate":
        return Schedule("rate", rate_seconds=_rate(body))
    if kind == "cron":
        _cron(body)
        return Schedule("cron")
    _at(body)
    return Schedule("at")


def _rate(body: str) -> int:
    match = re.fullmatch(r"(\S+) (\S+)", body)
    if not match:
        raise ValueError("rate() takes a value and a unit separated by one space, e.g. rate(5 minutes)")
    value_text, unit = match.groups()
    if not re.fullmatch(r"[1-9][0-9]*", value_text):
        raise ValueError(f"rate value {value_text!r} must be a positive whole number")
    value = int(value_text)
    singular = unit.removesuffix("s")
    if singular not in RATE_UNITS:
        raise ValueError(f"rate unit {unit!r} is not allowed; allowed: minute(s), hour(s), day(s)")
    expected = singular if value == 1 else singular + "s"
    if unit != expected:
        raise ValueError(f"rate({value} {unit}): with the value {value} the unit must be {expected!r}")
    return value * RATE_UNITS[singular]


def _cron(body: str) -> None:
    fields = body.split(" ")
    if len(fields) != 6 or "" in fields:
        raise ValueError(
            f"cron() takes 6 fields separated by single spaces (minutes hours day-of-month month day-of-week year); "
            f"got {len([f for f in fields if f])}"
        )
    for spec, text in zip(CRON_FIELDS, fields, strict=True):
        _cron_field(spec, text)
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError("cron(): exactly one of day-of-month and day-of-week must be '?'")


def _cron_field(spec: Field, text: str) -> None:
    if text == "?":
        if spec.name not in ("day-of-month", "day-of-week"):
            raise ValueError(f"cron() {spec.name}: '?' is only allowed in day-of-month and day-of-week")
        return
    if spec.name == "day-of-month" and re.fullmatch(r"L|LW|[0-9]{1,2}W", text):
        if text.endswith("W") and text != "LW":
            _value(spec, text[:-1])
        return
    if spec.name == "day-of-week":
        if re.fullmatch(r"[0-9A-Za-z]{1,3}L|L", text):
            if text != "L":
                _value(spec, text[:-1])
            return
        if "#" in text:
            day, _, nth = text.partition("#")
            _value(spec, day)
            if not re.fullmatch(r"[1-5]", nth):
                raise ValueError(f"cron() day-of-week {text!r}: the week after '#' must be 1-5")
            return
    for item in text.split(","):
        _cron_item(spec, item, text)


def _cron_item(spec: Field, item: str, whole: str) -> None:
    base, slash, step = item.partition("/")
    if slash:
        if not re.fullmatch(r"[1-9][0-9]*", step) or int(step) > spec.high:
            raise ValueError(f"cron() {spec.name} {whole!r}: the step after '/' must be 1-{spec.high}")
    if base == "*":
        return
    start, dash, end = base.partition("-")
    low = _value(spec, start)
    if dash:
        high = _value(spec, end)
        if high < low:
            raise ValueError(f"cron() {spec.name} {whole!r}: the range {base} runs backwards")


def _value(spec: Field, text: str) -> int:
    if spec.names and text.upper() in spec.names:
        return spec.low + spec.names.index(text.upper())
    allowed = f"{spec.low}-{spec.high}" + (f" or {spec.names[0]}-{spec.names[-1]}" if spec.names else "")
    if not re.fullmatch(r"[0-9]+", text) or not spec.low <= int(text) <= spec.high:
        raise ValueError(f"cron() {spec.name}: {text!r} is not allowed; allowed: {allowed}")
    return int(text)


def _at(body: str) -> None:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", body):
            raise ValueError(body)
        datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise ValueError(f"at({body}) is not a date and time of the form yyyy-mm-ddThh:mm:ss") from None
