"""Number and text formats of the report, also its Jinja2 filters.

Every format shows a missing value (``None``, NaN, not a number) as an em dash
(:data:`MISSING`).
"""

from __future__ import annotations

import math
from typing import Any, Final

__all__ = [
    "MISSING",
    "format_bytes",
    "format_interval",
    "format_number",
    "format_percent",
]

#: How the report shows a missing value.
MISSING: Final = "—"


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_number(value: Any, digits: int = 1) -> str:
    """``12345.67`` → ``"12,345.7"``: thousands separators, fixed decimals, ``—`` for none.

    ``None``, NaN and non-numbers give an em dash; a value that rounds to
    zero is shown without a minus sign.
    """
    number = _as_float(value)
    if number is None:
        return MISSING
    text = f"{number:,.{digits}f}"
    if text.startswith("-") and not any(ch in "123456789" for ch in text):
        text = text[1:]
    return text


def format_percent(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.3265`` → ``"32.6 %"`` (``—`` for none)."""
    number = _as_float(value)
    if number is None:
        return MISSING
    return f"{format_number(100.0 * number, digits)} %"


def format_interval(pair: Any, digits: int = 1) -> str:
    """A (low, high) pair as ``"1,234.5 – 2,345.6"`` (``—`` unless a pair is given)."""
    if pair is None or len(pair) != 2:
        return MISSING
    return f"{format_number(pair[0], digits)} – {format_number(pair[1], digits)}"


def format_bytes(value: Any) -> str:
    """A file size in decimal units: ``19832`` → ``"19.8 kB"`` (B, kB, MB, GB; ``—`` for none)."""
    number = _as_float(value)
    if number is None:
        return MISSING
    if abs(number) < 1000.0:
        return f"{number:,.0f} B"
    for unit in ("kB", "MB"):
        number /= 1000.0
        if abs(number) < 1000.0:
            return f"{number:,.1f} {unit}"
    return f"{number / 1000.0:,.1f} GB"
