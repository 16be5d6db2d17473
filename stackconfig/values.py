"""Strict scalar types for the config model: values as Pulumi writes them, bounds in every message.

The Pulumi CLI hands the program top-level values as text and structured values
as JSON, so a number or a boolean may arrive as either. Both spellings are read
exactly as Pulumi writes them (``true``/``false``, ``30``, ``0.5``) and nothing
else: no ``"yes"``, no ``"1_000"``, no ``"010"``, no infinities, no text where a
number belongs (pydantic's lax mode would take most of these).

Each builder returns an ``Annotated`` type whose check raises ``ValueError`` with
the bound or the allowed values in its message. Messages never carry the value
itself: the loader appends it when it is safe to echo (see ``problems.shown``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator

from .problems import did_you_mean, kind_of, listing

E = TypeVar("E", bound=StrEnum)

_INTEGER = re.compile(r"^-?(0|[1-9][0-9]*)$")
_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
TRUE, FALSE = ("true", "True"), ("false", "False")
"""The spellings ``pulumi.Config.get_bool`` accepts."""


def _integer(value: Any) -> int:
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise ValueError(f"must be a whole number, not {kind_of(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise ValueError("must be a whole number")
    if isinstance(value, str) and _INTEGER.match(value):
        return int(value)
    if isinstance(value, str) and re.match(r"^-?0[0-9]+$", value):
        raise ValueError("must be a whole number without leading zeros")
    raise ValueError("must be a whole number")


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None or isinstance(value, list | dict):
        raise ValueError(f"must be a number, not {kind_of(value)}")
    if isinstance(value, str):
        if value.strip().lower().lstrip("+-.") in ("inf", "infinity", "nan"):
            raise ValueError("must be a finite number")
        if not _DECIMAL.match(value):
            raise ValueError("must be a number")
        value = float(value)
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValueError("must be true or false")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be text, not a number; put it in quotes")
    raise ValueError(f"must be text, not {kind_of(value)}")


Bool = Annotated[bool, BeforeValidator(_boolean)]
Text = Annotated[str, BeforeValidator(_text)]


def _figure(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _span(low: float, high: float, unit: str) -> str:
    return f"{_figure(low)} to {_figure(high)}{f' {unit}' if unit else ''}"


def whole(low: int, high: int, unit: str = "", why: str = "") -> Any:
    """A whole number in ``[low, high]``; ``why`` says where the bound comes from."""

    def check(value: Any) -> int:
        number = _integer(value)
        if not low <= number <= high:
            reason = f" ({why})" if why else ""
            raise ValueError(f"{number} is out of range; allowed: {_span(low, high, unit)}{reason}")
        return number

    return Annotated[int, BeforeValidator(check)]


def number(low: float, high: float, unit: str = "", why: str = "", above_low: bool = False) -> Any:
    """A finite number in ``[low, high]`` (``(low, high]`` with ``above_low``)."""

    def check(value: Any) -> float:
        figure = _number(value)
        if figure > high or figure < low or (above_low and figure == low):
            reason = f" ({why})" if why else ""
            lower = f"above {_figure(low)}" if above_low else _figure(low)
            raise ValueError(
                f"{_figure(figure)} is out of range; allowed: {lower} to {_figure(high)}{f' {unit}' if unit else ''}"
                f"{reason}"
            )
        return float(figure)

    return Annotated[float, BeforeValidator(check)]


def one_of_numbers(allowed: Iterable[int], why: str = "") -> Any:
    """A whole number from a fixed list (for example CloudWatch's retention days)."""
    allowed = tuple(allowed)

    def check(value: Any) -> int:
        number = _integer(value)
        if number not in allowed:
            reason = f" ({why})" if why else ""
            raise ValueError(f"{number} is not allowed; allowed: {listing(allowed)}{reason}")
        return number

    return Annotated[int, BeforeValidator(check)]


def choice(enum: type[E]) -> Any:
    """One of an enum's values, spelled exactly."""
    values = [member.value for member in enum]

    def check(value: Any) -> E:
        if isinstance(value, enum):
            return value
        if not isinstance(value, str):
            raise ValueError(f"must be one of {listing(values)}, not {kind_of(value)}")
        if value not in values:
            raise ValueError(f"not allowed;{did_you_mean(value, values)} allowed: {listing(values)}")
        return enum(value)

    return Annotated[enum, BeforeValidator(check)]


def text(check: Callable[[str], str | None] | None = None, *, min_length: int = 0, max_length: int = 256) -> Any:
    """Text between ``min_length`` and ``max_length`` characters; ``check`` returns a problem or None."""

    def validate(value: str) -> str:
        if len(value) < min_length:
            raise ValueError("must not be empty" if min_length == 1 else f"needs at least {min_length} characters")
        if len(value) > max_length:
            raise ValueError(f"is {len(value)} characters; allowed: at most {max_length}")
        problem = check(value) if check else None
        if problem:
            raise ValueError(problem)
        return value

    return Annotated[str, BeforeValidator(_text), AfterValidator(validate)]


def matching(pattern: str, description: str, *, max_length: int = 256) -> Any:
    """Text matching ``pattern``; the message says ``description`` instead of the regular expression."""
    compiled = re.compile(pattern)

    def check(value: str) -> str | None:
        return None if compiled.fullmatch(value) else f"must be {description}"

    return text(check, min_length=1, max_length=max_length)
