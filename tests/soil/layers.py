"""Hand-made soil tables for the core-stock tests."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def core_layers(
    rows: list[tuple[str, float, float, float, float]], **extra: Sequence[object]
) -> pd.DataFrame:
    """Layers (core_id, top, bottom, soc_pct, bd) at one place, index = CSV lines."""
    frame = pd.DataFrame(
        rows,
        columns=["core_id", "depth_top_cm", "depth_bottom_cm", "soc_pct", "bulk_density_g_cm3"],
    )
    frame.insert(1, "x", 500_000.0)
    frame.insert(2, "y", 3_250_000.0)
    for name, values in extra.items():
        frame[name] = pd.Series(list(values), index=frame.index)
    frame.index = pd.Index(range(2, len(frame) + 2), name="line")
    return frame
