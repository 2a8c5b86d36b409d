"""Edits of a copied survey's ``survey.toml`` for end-to-end tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import SAMPLE_SURVEY

#: The fewest AGB bootstrap replicates a survey may ask (``[biomass] bootstrap_replicates``).
QUICK_REPLICATES = 20


def quick_bootstrap(toml: Path, *, compare: bool = False) -> None:
    """Ask the AGB bootstrap for 20 replicates instead of the default 200.

    For end-to-end runs whose tests check what the run records (warnings, periods,
    evidence), not the size of the AGB error. By default the bootstrap fits
    replicates only for strata without a residual correction (none in the sample);
    ``compare`` asks them for every stratum (``bootstrap_comparison``), which at 200
    replicates would be about 40 % of a sample run's time.
    """
    text = toml.read_text(encoding="utf-8")
    assert "[biomass]" not in text, f"{toml} has a [biomass] table already"
    extra = "bootstrap_comparison = true\n" if compare else ""
    toml.write_text(
        f"{text.rstrip()}\n\n[biomass]\nbootstrap_replicates = {QUICK_REPLICATES}\n{extra}",
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


def quick_sample(folder: Path, *, compare: bool = False) -> Path:
    """Copy the sample survey (without its truth) into ``folder`` asking 20 bootstrap
    replicates (:func:`quick_bootstrap`, ``compare`` as there); return the copy's
    ``survey.toml``."""
    shutil.copytree(SAMPLE_SURVEY.parent, folder, ignore=shutil.ignore_patterns("truth"))
    quick_bootstrap(folder / "survey.toml", compare=compare)
    return folder / "survey.toml"
