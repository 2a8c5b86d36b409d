"""The report's number formats."""

from __future__ import annotations

from typing import Any

import pytest

from carbonsink.report.formatting import format_bytes, format_number, format_percent


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (12345.67, 1, "12,345.7"),
        (1234567.0, 0, "1,234,567"),
        (-0.04, 1, "0.0"),  # rounds to zero: no minus sign
        (-2.5, 1, "-2.5"),
        (None, 1, "—"),
        (float("nan"), 1, "—"),
        ("text", 1, "—"),
    ],
)
def test_format_number(value: Any, digits: int, expected: str) -> None:
    assert format_number(value, digits) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    # 999 B; 19,832 B = 19.832 kB; 12,345,678 B = 12.3 MB; 5.4e9 B = 5.4 GB (no TB step).
    [(999, "999 B"), (19_832, "19.8 kB"), (12_345_678, "12.3 MB"), (5_400_000_000, "5.4 GB")],
)
def test_format_bytes(size: int, expected: str) -> None:
    assert format_bytes(size) == expected


def test_format_percent() -> None:
    # 0.3264 → 32.64 % → one decimal 32.6 %.
    assert format_percent(0.3264) == "32.6 %"
    assert format_percent(None) == "—"
