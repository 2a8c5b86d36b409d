"""Where the AGB intervals' width comes from: the corrected map totals inside and outside the AOA.

The coverage benchmark (``coverage_ledger.py``) counts how often an interval
holds the truth; this script says which part of the AGB error model is too
wide or too narrow. For each synthetic survey it runs the stages as
``carbonsink run`` does — without the spatial-block bootstrap, which a
corrected stratum does not use (docs/methodology.md §6.4) — and records, per
stratum and epoch, the model-assisted total over the cells inside the area of
applicability (map + correction, eq. 6.8a–b) and the map total over the cells
outside it (eq. 6.8c), each against the truth of the same cells, with the SEs
the ledger gives them and the share φ of the outside area both epochs hold
(eq. 6.8d). Printed: for the project and each stratum, the mean squared error
of each part over the mean of its variance, for each epoch's stock and for the
change — 1 when calibrated, below 1 too wide — and the change's mean z² with
independent epochs and with eq. 6.8d.

Each survey runs in its own process (``--workers`` at a time); its record is
kept in ``OUT/agb_errors_<seed>.npz``, so a rerun reuses what it measured.

    python benchmarks/diagnose_agb_errors.py --surveys /tmp/coverage --seeds 50 --out /tmp/diag

``--surveys`` is the output folder of ``coverage_ledger.py`` (its
``survey_<seed>`` folders with their truth).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STRATA = ("mudflat", "sedge", "reed", "miscanthus", "poplar")
#: The model source codes of the biomass map (carbonsink.biomass.agb_map.MODEL_SOURCE_CODES).
MODELS = (1, 2)

JOB = """
import sys, types
from pathlib import Path
import numpy as np, pandas as pd, xarray as xr
import carbonsink.biomass.bootstrap as bootstrap
import carbonsink.pipeline.stages.ledger as stage
from carbonsink.pipeline import run_survey

root, out = Path(sys.argv[1]), Path(sys.argv[2])
bootstrap.bootstrap_agb_totals = lambda *a, **k: types.SimpleNamespace(
    stratum_totals_t_dm=pd.DataFrame()
)
saved, state = {}, {"n": 0, "rc": None}
residual_corrections, outside_aoa_errors = stage.residual_corrections, stage.outside_aoa_errors


def corrections(ctx, strata, predicted_by, mapped, inside, models):
    state["rc"] = residual_corrections(ctx, strata, predicted_by, mapped, inside, models)
    return state["rc"]


def outside(ctx, strata, predicted_by, mapped, area, cells, models):
    n = state["n"]
    state["n"] += 1
    variances = outside_aoa_errors(ctx, strata, predicted_by, mapped, area, cells, models)
    if n < 2:  # the AGB of the first and last epochs (DOM comes after, when modelled)
        means, cov = state["rc"]
        epoch = ctx.survey.epochs[0 if n == 0 else -1].name
        with xr.open_dataset(root / "truth" / f"truth_{epoch}.nc") as truth:
            saved[f"truth_{n}"] = truth["agb_mg_ha"].values.astype(float) * area
        names = list(means)
        saved.update({
            f"strata_{n}": strata, f"outside_{n}": cells, f"mapped_{n}": mapped,
            f"area_{n}": area, f"source_{n}": predicted_by,
            f"names_{n}": np.array(names), f"correction_{n}": np.array([means[k] for k in names]),
            f"variance_{n}": np.diag(cov).copy(),
            f"outside_names_{n}": np.array(list(variances), dtype=str),
            f"outside_variance_{n}": np.array(list(variances.values()), dtype=float),
        })
        legend = ctx.survey.vegetation.by_code()
        saved["legend_codes"] = np.array(sorted(legend))
        saved["legend_names"] = np.array([legend[c] for c in sorted(legend)])
        if n == 1:
            np.savez_compressed(out, **saved)
            raise SystemExit(0)
    return variances


stage.residual_corrections, stage.outside_aoa_errors = corrections, outside
run_survey(root / "survey.toml")
"""


def _record(survey: Path, out: Path) -> None:
    if out.exists():
        return
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(JOB), str(survey), str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if not out.exists():
        raise RuntimeError(f"{survey}: {result.stderr[-2000:]}")


def _stratum_errors(path: Path) -> dict[str, dict[str, float]]:
    """Per stratum: the inside and outside errors and SEs of both epochs, and φ (eq. 6.8d)."""
    d = np.load(path)
    codes = dict(zip(d["legend_names"].tolist(), d["legend_codes"].tolist(), strict=True))
    out: dict[str, dict[str, float]] = {}
    for name in STRATA:
        row: dict[str, float] = {}
        cells = []
        for n in (0, 1):
            modelled = np.isin(d[f"source_{n}"], MODELS) & (d[f"strata_{n}"] == codes[name])
            away = modelled & d[f"outside_{n}"]
            near = modelled & ~d[f"outside_{n}"]
            mapped = np.nan_to_num(d[f"mapped_{n}"])
            truth = np.nan_to_num(d[f"truth_{n}"])
            names = d[f"names_{n}"].tolist()
            k = names.index(name) if name in names else None
            correction = 0.0 if k is None else float(d[f"correction_{n}"][k])
            variance = 0.0 if k is None else float(d[f"variance_{n}"][k])
            others = d[f"outside_names_{n}"].tolist()
            outside_var = (
                float(d[f"outside_variance_{n}"][others.index(name)]) if name in others else 0.0
            )
            row[f"raw_{n}"] = mapped[near].sum() - truth[near].sum()
            row[f"in_{n}"] = row[f"raw_{n}"] + correction
            row[f"out_{n}"] = mapped[away].sum() - truth[away].sum()
            row[f"v_in_{n}"] = variance
            row[f"v_out_{n}"] = outside_var
            cells.append(away)
        weight = d["area_0"] ** 2
        same = d["source_0"] == d["source_1"]
        w1, w2 = weight[cells[0]].sum(), weight[cells[1]].sum()
        row["phi"] = (
            float(weight[cells[0] & cells[1] & same].sum() / np.sqrt(w1 * w2))
            if w1 > 0 and w2 > 0
            else 0.0
        )
        out[name] = row
    return out


def _table(records: list[dict[str, dict[str, float]]]) -> None:
    def ratio(errors: np.ndarray, variances: np.ndarray) -> float:
        return float(np.mean(errors**2) / np.mean(variances)) if np.mean(variances) > 0 else np.nan

    print(
        f"{'':12} {'in 1':>6} {'in 2':>6} {'raw 1':>6} {'raw 2':>6} {'out 1':>6} {'out 2':>6} "
        f"{'Δ in':>6} {'Δ out':>6} {'Δ out φ':>8} {'Δ z² ind.':>10} {'Δ z² φ':>8}"
    )
    for label, strata in [("project", STRATA), *[(s, (s,)) for s in STRATA]]:

        def total(key: str, strata: tuple[str, ...] = strata) -> np.ndarray:
            return np.array([sum(r[s][key] for s in strata) for r in records])

        shared = np.array(
            [
                sum(2 * r[s]["phi"] * np.sqrt(r[s]["v_out_0"] * r[s]["v_out_1"]) for s in strata)
                for r in records
            ]
        )
        d_in, d_out = total("in_1") - total("in_0"), total("out_1") - total("out_0")
        v_in = total("v_in_0") + total("v_in_1")
        v_out = total("v_out_0") + total("v_out_1")
        judged = v_in + v_out > 0  # a stratum absent from a survey is not scored there
        z2 = (d_in + d_out)[judged] ** 2
        print(
            f"{label:12} {ratio(total('in_0'), total('v_in_0')):6.2f} "
            f"{ratio(total('in_1'), total('v_in_1')):6.2f} "
            f"{ratio(total('raw_0'), total('v_in_0')):6.2f} "
            f"{ratio(total('raw_1'), total('v_in_1')):6.2f} "
            f"{ratio(total('out_0'), total('v_out_0')):6.2f} "
            f"{ratio(total('out_1'), total('v_out_1')):6.2f} {ratio(d_in, v_in):6.2f} "
            f"{ratio(d_out, v_out):6.2f} {ratio(d_out, v_out - shared):8.2f} "
            f"{np.mean(z2 / (v_in + v_out)[judged]):10.2f} "
            f"{np.mean(z2 / (v_in + v_out - shared)[judged]):8.2f}"
        )
    print(
        "in/out e: mean squared error of the corrected totals inside the AOA / the map totals "
        "outside it at epoch e over the mean of the ledger's variance; raw e: the map totals "
        "inside the AOA without their correction, over the same variance; Δ: of the change; "
        "Δ z²: mean of (error of the change)² / its variance, independent epochs or eq. 6.8d"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--surveys", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seeds = [
        s for s in range(1, args.seeds + 1) if (args.surveys / f"survey_{s}" / "truth").is_dir()
    ]
    paths = [args.out / f"agb_errors_{s}.npz" for s in seeds]
    with ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(_record, [args.surveys / f"survey_{s}" for s in seeds], paths, timeout=None))
    print(f"{len(paths)} surveys ({args.surveys})")
    _table([_stratum_errors(p) for p in paths])
    return 0


if __name__ == "__main__":
    sys.exit(main())
