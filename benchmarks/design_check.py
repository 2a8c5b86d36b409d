"""Check ``carbonsink design``'s predicted U against synthetic surveys of known truth (issue 21).

For each seed s = 1..N (small scale):

1. generate the two-epoch survey of seed s (``generate_survey(dir, seed=s, scale="small")``);
2. ``carbonsink design <dir>/survey.toml -o <seed>/design --target-u 20 --years Y
   --pair-sd 6.708``, Y the years from the second epoch (2025-09-18) to the
   generator's third (2028-09-20), the planning SD of a sample's relative difference
   between the OC methods that of the generator's labs, √(3² + 6²) % (CHN 3 %,
   dichromate 6 % per reading; ``carbonsink.synthetic.fieldwork.LAB_SD``);
3. generate the three-epoch survey of the same seed with the third epoch's cores and
   plots taken at the design's points and the design's number of samples measured by
   both OC methods (``generate_survey(..., epochs=3, design=<seed>/design/design.gpkg,
   method_pairs=<chosen pairs>)``), run ``carbonsink run`` on it and read the
   claim's realized U: ``ledger.json`` → ``project`` → ``uncertainty`` → ``used``
   (and ``monte_carlo``);
4. the same with the same numbers of cores and plots per stratum placed at RANDOM:
   uniform random cells (their centres, as the design's new sites) of the same strata
   of the last epoch's land-cover map of the design run — read from the design-point
   run's ``maps/landcover_2025.tif``, the same stage on the same 2025 inputs (the
   share of the design's points whose ``stratum`` that map confirms is recorded as
   ``map_agreement``) — inside the boundary, seeded by s, written as a design.gpkg
   of the same layout, with the same samples by both methods.

The table gives, per seed, the predicted U (design.json ``chosen.u``) and its 90 %
range over what the next net may turn out to be (``chosen.u_range90``, eq. 9.6), the
realized U with the design's points, their ratio and the realized U with random
points; the summary counts the seeds whose ratio lies in [0.75, 1.25] and those whose
realized U lies in the range, and compares the mean realized U of the design and of
random placement. The design's points in open
water in 2028 (the lake stands higher than on the 2025 imagery the design was made
from) are skipped by the generator with a warning; their number is recorded.

Each step runs in its own process (the generator through ``benchmarks/_jobs.py``,
the commands as ``python -m carbonsink``); each seed's row is appended to
``OUT/results.jsonl`` as soon as it is done, and ``--resume`` skips the seeds
already there and, within a seed, the steps whose outputs exist. A failed command
is a finding: its error (the last lines it printed) is recorded verbatim and the
next seed goes on. A seed takes ≈ 10 minutes on two cores.

    python benchmarks/design_check.py --seeds 5 --out /tmp/design_check
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _jobs import ROOT, run_job

#: Years from the second epoch to the generator's third: 1098 days.
YEARS = (dt.date(2028, 9, 20) - dt.date(2025, 9, 18)).days / 365.25
TARGET_U = 20.0
#: The SD of one sample's relative difference between the generator's OC labs, %:
#: √(3² + 6²) (CHN 3 %, dichromate 6 % per reading; fieldwork.LAB_SD).
PAIR_SD_PCT = math.hypot(3.0, 6.0)
#: The ratio realized / predicted U counted as a good prediction.
GOOD_RATIO = (0.75, 1.25)

GENERATE = """
import json, sys, time
from carbonsink.synthetic import generate_survey

out, seed, epochs, design = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
pairs = int(sys.argv[5])
start = time.perf_counter()
summary = generate_survey(
    out, seed=seed, scale="small", epochs=epochs, design=design or None, method_pairs=pairs
)
print(json.dumps({
    "skipped": len(summary.design_skipped),
    "seconds": time.perf_counter() - start,
}))
"""


class CommandError(RuntimeError):
    """A ``carbonsink`` command exited non-zero; the message is its last output lines."""


def carbonsink(log: Path, *args: str) -> float:
    """Run ``python -m carbonsink ARGS``, its output into ``log``; the seconds it took.

    Raises
    ------
    CommandError
        With the command and the last lines it printed, verbatim.
    """
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "carbonsink", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    log.write_text(
        f"$ carbonsink {' '.join(args)}\n{result.stdout}\n--- stderr ---\n{result.stderr}",
        encoding="utf-8",
    )
    if result.returncode != 0:
        lines = [ln for ln in (result.stdout + "\n" + result.stderr).splitlines() if ln.strip()]
        raise CommandError(
            f"carbonsink {args[0]} exited {result.returncode}: " + "\n".join(lines[-6:])
        )
    return time.perf_counter() - start


def generate(
    folder: Path, seed: int, *, epochs: int, design: Path | None, pairs: int = 0
) -> dict[str, Any]:
    """Generate a survey in a job of its own; ``skipped`` design points and seconds."""
    row = run_job(GENERATE, str(folder), str(seed), str(epochs), str(design or ""), str(pairs))
    if row is None:
        raise SystemExit("carbonsink is not importable")
    return row


def realized(out: Path) -> dict[str, Any]:
    """The claim's U (used and Monte Carlo), net and 90 % half-width from a run's ledger.json.

    The half-width is the cumulative one, t CO2e: ``(p95 − p5) / 2 × years`` of
    the project's net (the design's prediction is of the cumulative net).
    """
    ledger = json.loads((out / "ledger.json").read_text(encoding="utf-8"))
    project = ledger["project"]
    u = project["uncertainty"]
    net = project["net"]
    years = ledger["claim"]["years"]
    return {
        "u": u.get("used"),
        "u_monte_carlo": u.get("monte_carlo"),
        "net_t_co2e_yr": net["mean"],
        "net_t_co2e": net["mean"] * years,
        "half_width_t_co2e": (net["p95"] - net["p5"]) / 2 * years,
    }


def enrich(row: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Add what a seed's files tell beyond its row: nets and half-widths, and the truth.

    ``predicted_*`` from design.json (the design's net continues the measured
    trend), ``<kind>_*`` from each run's ledger.json, ``true_net_t_co2e`` from
    the three-epoch survey's ``truth/totals.json`` (the net over 2020–2028).
    Rows written before these fields existed are completed from the files.
    """
    design = folder / "design" / "design.json"
    if design.exists():
        chosen = json.loads(design.read_text(encoding="utf-8"))["chosen"]
        low, high = chosen["ner_ci90_t_co2e"]
        row["predicted_net_t_co2e"] = chosen["ner_t_co2e"]
        row["predicted_half_width_t_co2e"] = (high - low) / 2
        row["predicted_u_range"] = chosen.get("u_range90")
    for kind in ("design", "random"):
        ledger = folder / f"run_{kind}" / "ledger.json"
        if ledger.exists():
            got = realized(ledger.parent)
            row[f"{kind}_net_t_co2e"] = got["net_t_co2e"]
            row[f"{kind}_half_width_t_co2e"] = got["half_width_t_co2e"]
    totals = folder / "three_design" / "truth" / "totals.json"
    if totals.exists():
        sink = json.loads(totals.read_text(encoding="utf-8"))["sink"]
        row["true_net_t_co2e"] = sink["net_t_co2e_yr"] * sink["years"]
    if row.get("design_half_width_t_co2e") and row.get("predicted_half_width_t_co2e"):
        row["half_width_ratio"] = (
            row["design_half_width_t_co2e"] / row["predicted_half_width_t_co2e"]
        )
    return row


def random_design(
    design_dir: Path, run_out: Path, survey_dir: Path, seed: int, path: Path
) -> dict[str, Any]:
    """Write ``path``: as many cores and plots per stratum as the design, at random cells.

    The strata are the land-cover map of the design run's last epoch (2025),
    read from the design-point run's ``maps/landcover_2025.tif``; a random
    site is the centre of a cell drawn uniformly (without replacement) from
    the stratum's cells whose centre is inside the boundary. Returns the share
    of the design's points whose ``stratum`` the map confirms.
    """
    import tomllib

    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import rasterio
    import shapely

    chosen = json.loads((design_dir / "design.json").read_text(encoding="utf-8"))["chosen"]
    toml = tomllib.loads((survey_dir / "survey.toml").read_text(encoding="utf-8"))
    codes = {name: int(c["code"]) for name, c in toml["vegetation"]["classes"].items()}
    boundary = gpd.read_file(survey_dir / "boundary.geojson")
    with rasterio.open(run_out / "maps" / "landcover_2025.tif") as src:
        strata = src.read(1)
        transform, crs = src.transform, src.crs.to_string()
    area = boundary.to_crs(crs).union_all()
    rows, cols = np.indices(strata.shape)
    x, y = rasterio.transform.xy(transform, rows.ravel(), cols.ravel(), offset="center")
    x, y = np.asarray(x), np.asarray(y)
    inside = shapely.contains_xy(area, x, y).reshape(strata.shape)
    rng = np.random.default_rng([seed, 2028])
    agree, total = 0, 0
    for layer in ("cores", "plots"):
        points = gpd.read_file(design_dir / "design.gpkg", layer=layer).to_crs(crs)
        r, c = rasterio.transform.rowcol(
            transform, points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
        )
        mapped = strata[np.asarray(r), np.asarray(c)]
        agree += int((mapped == points["stratum"].map(codes).to_numpy()).sum())
        total += len(points)
        frames = []
        for stratum, n in sorted(chosen[layer].items()):
            if not n:
                continue
            cells = np.flatnonzero(inside.ravel() & (strata.ravel() == codes[stratum]))
            pick = rng.choice(cells, size=min(int(n), cells.size), replace=False)
            frames.append(
                pd.DataFrame(
                    {
                        "stratum": stratum,
                        "priority": np.arange(1, pick.size + 1),
                        "revisit": False,
                        "x": x[pick],
                        "y": y[pick],
                    }
                )
            )
        frame = pd.concat(frames, ignore_index=True)
        frame["stratum"] = frame["stratum"].astype("string")
        gpd.GeoDataFrame(
            frame, geometry=gpd.points_from_xy(frame["x"], frame["y"]), crs=crs
        ).to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    return {"map_agreement": agree / total if total else math.nan}


def check_seed(seed: int, root: Path, *, resume: bool) -> dict[str, Any]:
    """Steps 1–4 for one seed (each skipped under ``resume`` when its output exists)."""
    folder = root / f"seed_{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    row: dict[str, Any] = {"seed": seed, "years": YEARS}
    two, design_dir = folder / "two", folder / "design"
    if not (resume and (two / "survey.toml").exists()):
        row["generate_s"] = generate(two, seed, epochs=2, design=None)["seconds"]
    if not (resume and (design_dir / "design.json").exists()):
        row["design_s"] = carbonsink(
            folder / "design.log",
            "design",
            str(two / "survey.toml"),
            "-o",
            str(design_dir),
            "--target-u",
            f"{TARGET_U:g}",
            "--years",
            repr(YEARS),
            "--pair-sd",
            f"{PAIR_SD_PCT:.3f}",
        )
    record = json.loads((design_dir / "design.json").read_text(encoding="utf-8"))
    chosen = record["chosen"]
    row.update(
        predicted_u=chosen["u"],
        current_u=record["current"]["u"],
        reached=record["reached"],
        cores=sum(chosen["cores"].values()),
        plots=sum(chosen["plots"].values()),
        pairs=int(chosen.get("pairs", 0)),
        cores_by_stratum=chosen["cores"],
        plots_by_stratum=chosen["plots"],
        predicted_net_t_co2e=chosen.get("ner_t_co2e"),
        predicted_u_range=chosen.get("u_range90"),
    )
    for kind in ("design", "random"):
        survey, out = folder / f"three_{kind}", folder / f"run_{kind}"
        gpkg = design_dir / "design.gpkg" if kind == "design" else folder / "random.gpkg"
        if kind == "random" and not (resume and gpkg.exists()):
            gpkg.unlink(missing_ok=True)
            row.update(random_design(design_dir, folder / "run_design", two, seed, gpkg))
        if not (resume and (out / "ledger.json").exists()):
            made = generate(survey, seed, epochs=3, design=gpkg, pairs=row["pairs"])
            row[f"{kind}_skipped"] = made["skipped"]
            row[f"{kind}_run_s"] = carbonsink(
                folder / f"run_{kind}.log", "run", str(survey / "survey.toml"), "-o", str(out)
            )
        got = realized(out)
        row[f"{kind}_u"] = got["u"]
        row[f"{kind}_u_monte_carlo"] = got["u_monte_carlo"]
        row[f"{kind}_net_t_co2e_yr"] = got["net_t_co2e_yr"]
    if row.get("design_u") is not None and row.get("predicted_u"):
        row["ratio"] = row["design_u"] / row["predicted_u"]
    return enrich(row, folder)


def _pct(value: Any) -> str:
    return "—" if value is None or not math.isfinite(float(value)) else f"{100 * value:6.1f} %"


def _in_range(row: dict[str, Any]) -> bool | None:
    """Whether the realized U lies in the design's 90 % range (eq. 9.6; ``None``: ∞)."""
    bounds, got = row.get("predicted_u_range"), row.get("design_u")
    if bounds is None or got is None:
        return None
    low, high = (math.inf if b is None else b for b in bounds)
    return bool(low <= got <= high)


def _range_text(row: dict[str, Any]) -> str:
    bounds = row.get("predicted_u_range")
    if bounds is None:
        return "—"
    return "–".join("∞" if b is None else f"{100 * b:.0f} %" for b in bounds)


def summarise(rows: dict[int, dict[str, Any]]) -> int:
    """Print the table of every seed and the summary."""
    print(
        f"\n{'seed':>4}  {'predicted U':>11}  {'its 90 % range':>15}  {'realized U (design)':>19}"
        f"  {'ratio':>5}  {'realized U (random)':>19}  {'cores':>5}  {'plots':>5}  {'pairs':>5}  "
        f"{'MC U design':>11}  {'MC U random':>11}"
    )
    done = []
    for seed in sorted(rows):
        row = rows[seed]
        if "error" in row:
            print(f"{seed:>4}  FAILED: {row['error']}")
            continue
        done.append(row)
        ratio = row.get("ratio")
        print(
            f"{seed:>4}  {_pct(row['predicted_u']):>11}  {_range_text(row):>15}  "
            f"{_pct(row['design_u']):>19}  "
            f"{'—' if ratio is None else f'{ratio:5.2f}':>5}  {_pct(row['random_u']):>19}  "
            f"{row['cores']:>5}  {row['plots']:>5}  {row.get('pairs', 0):>5}  "
            f"{_pct(row['design_u_monte_carlo']):>11}  "
            f"{_pct(row['random_u_monte_carlo']):>11}"
        )
    if not done:
        print("no seed finished")
        return 1
    print("\nwhere U comes from: the cumulative 2020–2028 net (t CO2e) and its 90 % half-width")
    print(
        f"{'seed':>4}  {'net: predicted':>14}  {'realized':>8}  {'true':>8}  "
        f"{'half-width: predicted':>21}  {'realized':>8}  {'ratio':>5}  {'random':>8}"
    )
    for row in done:
        cells = [
            row.get(k)
            for k in (
                "predicted_net_t_co2e",
                "design_net_t_co2e",
                "true_net_t_co2e",
                "predicted_half_width_t_co2e",
                "design_half_width_t_co2e",
                "half_width_ratio",
                "random_half_width_t_co2e",
            )
        ]
        text = ["—" if v is None else f"{v:,.0f}" for v in cells]
        text[5] = "—" if cells[5] is None else f"{cells[5]:.2f}"
        print(
            f"{row['seed']:>4}  {text[0]:>14}  {text[1]:>8}  {text[2]:>8}  {text[3]:>21}  "
            f"{text[4]:>8}  {text[5]:>5}  {text[6]:>8}"
        )
    low, high = GOOD_RATIO
    good = sum(1 for r in done if r.get("ratio") is not None and low <= r["ratio"] <= high)
    design_u = [r["design_u"] for r in done if r["design_u"] is not None]
    random_u = [r["random_u"] for r in done if r["random_u"] is not None]
    print(f"\n{len(done)} seed(s): realized / predicted U within [{low}, {high}] in {good}")
    ratios = sorted(r["ratio"] for r in done if r.get("ratio") is not None)
    predicted = [r["predicted_u"] for r in done if r.get("ratio") is not None]
    realized_u = [r["design_u"] for r in done if r.get("ratio") is not None]
    if ratios:
        print(
            f"over the seeds: median ratio {statistics.median(ratios):.2f}; mean realized U "
            f"{100 * statistics.fmean(realized_u):.1f} % / mean predicted U "
            f"{100 * statistics.fmean(predicted):.1f} % = "
            f"{statistics.fmean(realized_u) / statistics.fmean(predicted):.2f}"
        )
    ranged = [r for r in done if _in_range(r) is not None]
    print(
        f"realized U inside the design's 90 % range (eq. 9.6) in "
        f"{sum(1 for r in ranged if _in_range(r))} of {len(ranged)}"
    )
    if design_u and random_u:
        print(
            f"mean realized U: design's points {100 * sum(design_u) / len(design_u):.1f} %, "
            f"random points {100 * sum(random_u) / len(random_u):.1f} %"
        )
    widths = [r for r in done if r.get("half_width_ratio") is not None]
    if widths:
        in_band = sum(1 for r in widths if low <= r["half_width_ratio"] <= high)
        design_w = [r["design_half_width_t_co2e"] for r in widths]
        random_w = [r.get("random_half_width_t_co2e") for r in widths]
        print(
            f"realized / predicted 90 % half-width (t CO2e) within [{low}, {high}] in "
            f"{in_band} of {len(widths)}; mean half-width: design's points "
            f"{sum(design_w) / len(design_w):,.0f}"
            + (
                f", random points {sum(w for w in random_w if w) / len(random_w):,.0f} t CO2e"
                if all(random_w)
                else ""
            )
        )
    agreement = [r["map_agreement"] for r in done if "map_agreement" in r]
    if agreement:
        print(
            "share of the design's points in the stratum the run's 2025 map gives them: "
            + ", ".join(f"{a:.3f}" for a in agreement)
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of surveys (seeds 1..N)")
    parser.add_argument("--out", type=Path, default=Path("design_check"), help="work folder")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="skip the seeds already in results, and the finished steps of the others",
    )
    args = parser.parse_args()
    root = args.out.resolve()
    root.mkdir(parents=True, exist_ok=True)
    results = root / "results.jsonl"
    done: dict[int, dict[str, Any]] = {}
    if args.resume and results.exists():
        for line in results.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if "error" not in row:
                done[int(row["seed"])] = enrich(row, root / f"seed_{row['seed']}")
    elif results.exists():
        results.unlink()
    for seed in range(1, args.seeds + 1):
        if seed in done:
            continue
        start = time.perf_counter()
        try:
            row = check_seed(seed, root, resume=args.resume)
        except RuntimeError as exc:  # a failed command or job is a finding: record it
            row = {"seed": seed, "error": str(exc).strip()}
        row["seconds"] = time.perf_counter() - start
        done[seed] = row
        with results.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        if "error" in row:
            print(f"seed {seed}: FAILED: {row['error']}", flush=True)
        else:
            print(
                f"seed {seed}: predicted U {_pct(row['predicted_u'])}, realized "
                f"{_pct(row['design_u'])} (ratio {row.get('ratio', math.nan):.2f}), random "
                f"{_pct(row['random_u'])}  ({row['seconds']:.0f} s)",
                flush=True,
            )
    return summarise(done)


if __name__ == "__main__":
    sys.exit(main())
