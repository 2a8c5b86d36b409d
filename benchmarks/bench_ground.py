"""Benchmark of the ground filter: real clouds against their producers' classes, synthetic
flights against their true return kinds.

Real clouds (``../shared/data/lidar``, skipped when absent): PDAL's test files,
whose class 2 is their producers' ground. Printed: Cohen's kappa, precision
and recall of the chain's ground (water detection, then SMRF with the
canopy-floor test, docs/methodology.md §8.1–8.2) and, beside them, of SMRF as
published (the canopy-floor test off) and PDAL 2.8 ``filters.smrf``'s kappa on
the same files with its defaults (measured once, outside this script: 0.95,
0.80, 0.61 — the bar).

Synthetic flights: the sample survey's seed at the small scale, epoch 2025,
flown under :class:`carbonsink.synthetic.lidar.FlightConditions` — as
surveyed (water returns sparse, 12 % of pulses); water as dense as 75 % of the
land's (0.73); the same with the water 0.5 m higher (flooded land, grass and
reed emergent in it); and closed reed beds (no pulse reaches the ground in
reed). Printed per flight: ground precision and recall against the true kind
(``user_data`` 0), water returns labelled ground, the water found, and the
reed's canopy returns labelled ground, with and without the canopy-floor
test (SMRF step 6); then the 1 m DTM of its ground against the true ground on
land, bias and RMSE of the cells holding ground and of the filled ones (the
fill's stated error, docs/methodology.md §8.2).

The marsh terrain before and after the checkpoint correction
(docs/methodology.md §8.8): the sample survey run as ``carbonsink run`` does
(or an existing run's output folder, ``--run``), each epoch's DTM cell means
against the true cell elevations per land class — bias and RMSE, raw and
corrected, and the heights' gap to the true canopy
(:func:`carbonsink.synthetic.scoring.dtm_scores`).

Usage::

    python benchmarks/bench_ground.py [--run OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from carbonsink.imagery.accuracy import accuracy_report
from carbonsink.io.pointclouds import PointChunk, read_points
from carbonsink.lidar.ground import SMRFParameters, smrf
from carbonsink.lidar.surfaces import terrain_model
from carbonsink.lidar.water import detect_water
from carbonsink.synthetic.landscape import EpochTruth, Landscape, build_landscape
from carbonsink.synthetic.lidar import (
    FlightConditions,
    cell_position,
    ground_at,
    write_lidar,
)
from carbonsink.synthetic.parameters import CLASS_BY_NAME, SCALES
from carbonsink.synthetic.scoring import dtm_scores

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "lidar"
#: file, CRS to read in metres, CRS override, PDAL 2.8 filters.smrf kappa.
REAL = [
    ("PDAL_4_6_crop.las", "EPSG:26913", None, 0.95),
    ("PDAL_warsaw_small.las", "EPSG:2180", "EPSG:2180", 0.80),
    ("PDAL_hexbin-crop.las", "EPSG:32642", None, 0.61),
]
FLIGHTS = {
    "as surveyed": FlightConditions(),
    "dense water (0.73)": FlightConditions(water_return_p=0.73),
    "dense water, flooded +0.5 m": FlightConditions(water_return_p=0.73, flood_m=0.5),
    "closed reed beds": FlightConditions(dense_reed=True),
}
SEED = 20240830
SAMPLE = ROOT / "sample_data" / "junshan"


def agreement(ground: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """Cohen's kappa, precision and recall of a ground mask against a reference mask.

    :func:`carbonsink.imagery.accuracy.accuracy_report` with the classes
    ground / not ground: precision is ground's user's accuracy, recall its
    producer's.
    """
    report = accuracy_report(ground, reference, classes=[True, False])
    return (
        report.kappa,
        float(report.users_accuracy[True]),
        float(report.producers_accuracy[True]),
    )


def _chain(points: PointChunk, *, floor: bool = True) -> tuple[np.ndarray, np.ndarray]:
    water = detect_water(points.x, points.y, points.z, intensity=points.intensity)
    params = SMRFParameters() if floor else SMRFParameters(floor_roughness=np.inf)
    return smrf(points.x, points.y, points.z, params=params, eligible=~water).ground, water


def real_clouds() -> None:
    if not SHARED.is_dir():
        print(f"real clouds: skipped ({SHARED} is absent)")
        return
    print("real clouds, ground against the files' class 2")
    print(
        f"{'file':24} {'kappa':>7} {'prec.':>7} {'recall':>7} {'SMRF as published':>20} {'PDAL':>6}"
    )
    for name, target, override, pdal in REAL:
        points = read_points(SHARED / name, target_crs=target, crs=override)
        reference = points.classification == 2
        kappa, precision, recall = agreement(_chain(points)[0], reference)
        plain = agreement(_chain(points, floor=False)[0], reference)[0]
        print(f"{name:24} {kappa:7.3f} {precision:7.3f} {recall:7.4f} {plain:20.3f} {pdal:6.2f}")


def _true_class(
    landscape: Landscape, epoch: EpochTruth, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """The epoch's true class of the landscape cell holding each (x, y)."""
    grid = landscape.landscape_grid
    row_f, col_f = cell_position(landscape, x, y)
    row = np.clip(np.floor(row_f + 0.5).astype(np.int64), 0, grid.height - 1)
    col = np.clip(np.floor(col_f + 0.5).astype(np.int64), 0, grid.width - 1)
    return np.asarray(epoch.class_code[row, col])


def _terrain_errors(
    landscape: Landscape, epoch: EpochTruth, points: PointChunk, ground: np.ndarray
) -> dict[str, str]:
    """The flight's 1 m DTM against the true ground on land, and in the reed beds.

    Formatted columns: bias and RMSE (m) of the land cells holding ground
    returns and of the land cells the fill gave a value (with their count);
    of the reed cells with returns, the filled ones' bias and RMSE and how
    many are filled and left undefined (NaN: beyond the fill's reach).
    """
    x0, y0 = math.floor(points.x.min()), math.floor(points.y.min())
    x1, y1 = math.ceil(points.x.max()), math.ceil(points.y.max())
    dtm, filled = terrain_model(
        points.x[ground], points.y[ground], points.z[ground], bounds=(x0, y0, x1, y1)
    )
    height, width = dtm.values.shape
    cx, cy = np.meshgrid(x0 + 0.5 + np.arange(width), y1 - 0.5 - np.arange(height))
    row_f, col_f = cell_position(landscape, cx.ravel(), cy.ravel())
    error = dtm.values - ground_at(epoch, row_f, col_f).reshape(height, width)
    classes = _true_class(landscape, epoch, cx.ravel(), cy.ravel()).reshape(height, width)
    land = classes != CLASS_BY_NAME["water"].code
    returns = np.zeros((height, width), dtype=np.int64)
    np.add.at(
        returns,
        (
            np.clip((y1 - points.y).astype(np.int64), 0, height - 1),
            np.clip((points.x - x0).astype(np.int64), 0, width - 1),
        ),
        1,
    )
    reed = (classes == CLASS_BY_NAME["reed"].code) & (returns > 0)

    def score(cells: np.ndarray) -> str:
        e = error[cells]
        return f"{e.mean():+7.3f} {np.sqrt(np.mean(e**2)):6.3f}" if e.size else f"{'—':>7} {'—':>6}"

    known = np.isfinite(error)
    return {
        "measured": score(land & known & ~filled),
        "filled": f"{int((land & known & filled).sum()):8d} " + score(land & known & filled),
        "reed": score(reed & known & filled)
        + f" {int((reed & known & filled).sum()):7d} {int((reed & ~known).sum()):7d}"
        + f" of {int(reed.sum())}",
    }


def synthetic_flights() -> None:
    spec = SCALES["small"]
    landscape = build_landscape(SEED, spec)
    epoch = landscape.epochs[-1]
    reed_code = CLASS_BY_NAME["reed"].code
    print(f"\nsynthetic flights (seed {SEED}, small scale, epoch {epoch.spec.name})")
    header = (
        f"{'flight':30} {'points':>9} {'prec.':>7} {'recall':>7} {'water→ground':>13} "
        f"{'water found':>12} {'reed canopy→ground':>19} {'without step 6':>15} {'s':>5}"
    )
    print(header)
    terrain: dict[str, dict[str, str]] = {}
    for label, conditions in FLIGHTS.items():
        with tempfile.TemporaryDirectory() as folder:
            summary = write_lidar(
                landscape,
                epoch,
                out_dir=Path(folder),
                pulse_density_m2=spec.pulse_density_m2,
                tiles=spec.lidar_tiles,
                conditions=conditions,
            )
            points = PointChunk.concat(
                [read_points(path, target_crs="EPSG:32649") for path in summary.paths]
            )
        start = time.perf_counter()
        ground, water = _chain(points)
        seconds = time.perf_counter() - start
        kind = points.user_data
        _, precision, recall = agreement(ground, kind == 0)
        reed = (_true_class(landscape, epoch, points.x, points.y) == reed_code) & (kind == 1)
        plain = _chain(points, floor=False)[0]
        n_water = int(np.sum(kind == 2))
        found = float(np.mean(water[kind == 2])) if n_water else float("nan")
        print(
            f"{label:30} {kind.size:9d} {precision:7.3f} {recall:7.4f} "
            f"{int(np.sum(ground & (kind == 2))):6d} of {n_water:<5d} {found:12.3f} "
            f"{int(np.sum(ground & reed)):8d} of {int(reed.sum()):<8d} "
            f"{int(np.sum(plain & reed)):15d} {seconds:5.1f}"
        )
        terrain[label] = _terrain_errors(landscape, epoch, points, ground)
    print("\n1 m DTM against the true ground (m; before any checkpoint correction)")
    print(
        f"{'flight':30} {'land: measured':>14} {'':6} {'filled':>8} {'bias':>7} {'RMSE':>6}"
        f" {'reed: filled':>13} {'':6} {'cells':>7} {'undef.':>7}"
    )
    for label, columns in terrain.items():
        print(f"{label:30} {columns['measured']:>21} {columns['filled']} {columns['reed']}")


def marsh_terrain(run: Path | None) -> None:
    import xarray as xr

    from carbonsink.config import load_survey
    from carbonsink.pipeline import run_survey

    with tempfile.TemporaryDirectory() as folder:
        if run is None:
            run = Path(folder) / "out"
            print("\nrunning the sample survey for its terrain ...", flush=True)
            run_survey(SAMPLE / "survey.toml", run)
        ledger = json.loads((run / "ledger.json").read_text())
        legend = load_survey(SAMPLE / "survey.toml").vegetation.by_code()
        print("\nmarsh terrain against the truth, before and after the checkpoint correction (m)")
        for epoch, block in ledger["lidar"].items():
            check = block["dtm_check"]
            removed = {
                c: v["bias_m"] for c, v in (check.get("classes") or {}).items() if v["corrected"]
            }
            with (
                xr.open_dataset(run / f"cube_{epoch}.nc") as cube,
                xr.open_dataset(SAMPLE / "truth" / f"truth_{epoch}.nc") as truth,
            ):
                scores = dtm_scores(cube, truth, legend, removed)
            print(f"epoch {epoch} ({check['status']}, {check.get('points', 0)} checkpoints)")
            print(scores.round(3).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, help="an existing run of the sample survey")
    args = parser.parse_args()
    real_clouds()
    synthetic_flights()
    marsh_terrain(args.run)


if __name__ == "__main__":
    main()
