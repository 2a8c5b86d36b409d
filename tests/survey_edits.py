"""Edits of a copied survey's ``survey.toml`` for end-to-end tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import SAMPLE_SURVEY

#: The fewest AGB bootstrap replicates a survey may ask (``[biomass] bootstrap_replicates``).
QUICK_REPLICATES = 20


def quick_bootstrap(toml: Path) -> None:
    """Ask the AGB bootstrap for 20 replicates instead of the default 200.

    For end-to-end runs whose tests check what the run records (warnings, periods,
    evidence), not the size of the AGB error: the bootstrap is about 40 % of a sample
    run's time (200 replicates × 0.1 s per epoch and stratum group).
    """
    text = toml.read_text(encoding="utf-8")
    assert "[biomass]" not in text, f"{toml} has a [biomass] table already"
    toml.write_text(
        f"{text.rstrip()}\n\n[biomass]\nbootstrap_replicates = {QUICK_REPLICATES}\n",
        encoding="utf-8",
    )


def without_lidar(toml: Path) -> None:
    """Take the LiDAR files and the terrain checkpoints out of every epoch.

    For end-to-end runs whose tests read the accounting (periods, reversals,
    the errors the epochs share), which the imagery model's map feeds as well:
    the LiDAR chain, its model and its bootstrap are half of a synthetic
    survey's run.
    """
    text = toml.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if not line.startswith(("lidar =", "checkpoints ="))]
    assert len(kept) < len(text.splitlines()), f"{toml} names no LiDAR"
    toml.write_text("\n".join(kept) + "\n", encoding="utf-8")


def quick_sample(folder: Path) -> Path:
    """Copy the sample survey (without its truth) into ``folder`` asking 20 bootstrap
    replicates (:func:`quick_bootstrap`); return the copy's ``survey.toml``."""
    shutil.copytree(SAMPLE_SURVEY.parent, folder, ignore=shutil.ignore_patterns("truth"))
    quick_bootstrap(folder / "survey.toml")
    return folder / "survey.toml"
