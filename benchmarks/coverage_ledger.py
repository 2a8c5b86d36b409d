"""Coverage of the ledger's 90 % intervals over many synthetic surveys (issue 15 acceptance).

For each seed this generates a small synthetic Junshan-like survey with known
truth (``carbonsink.synthetic``), runs every stage and the accounting exactly
as ``carbonsink run`` does, and checks whether the ledger's 90 % Monte Carlo
intervals contain the truth:

* the project's net sink (removals − CH4; the synthetic world has no N2O) and
  removals (``truth/totals.json``);
* each stratum's removals and each pool's change, project-wide and per
  stratum: the truth of a stratum is the true change of the cells the
  last epoch's land-cover map put in it
  (:func:`carbonsink.synthetic.scoring.stratum_sink`);
* each epoch's dead-organic-matter stock.

The ledger draws the carbon fraction, the root:shoot ratios and the CH4
fluxes from the priors the survey states. So that the count tests those
widths too, each survey's truth takes its values drawn from the same priors
(``generate_survey(..., draw_carbon_parameters=True)``,
:mod:`carbonsink.synthetic.carbon_world`); the inputs are those of the
stated-value world. In a world whose R is always the stated value, R's
log-SD of 0.37–0.54 (root:shoot ranges of docs/methodology.md §2) is width
that no survey's error ever uses, and the BGB intervals cover ~100 %.
``--stated-parameters`` runs that world instead.

A calibrated interval covers the truth in about 90 % of the surveys; the count
is binomial (SD 5 points at 30 surveys, 4 at 51), so 80–97 % is the acceptable
band. The table
printed at the end gives the coverage of every stratum and pool.

``--keep-inputs`` also saves each survey's ledger inputs (``ledger_inputs_<seed>.pkl``);
``--replay`` then rebuilds every ledger from the saved inputs with the current accounting
code and prints the same tables in seconds per survey — a change of the Monte Carlo's error
model is counted without rerunning the stages — and ``--replay --true-factors`` fixes CF
and R at each survey's truth (what is left is the error of the measured quantities and of
the mapped classes; docs/methodology.md §6.2).

Each seed runs in its own process (one at a time; each uses ``--workers``
processes for the bootstrap); results are appended to a JSON-lines file as
they come, so an interrupted run keeps what it measured and ``--resume``
skips the seeds already done.

    python benchmarks/coverage_ledger.py --seeds 30 --out /tmp/coverage

``--epochs 3`` generates three-epoch surveys (2020, 2025, 2028): the net is then
the cumulative one, and each monitoring period's net (docs/methodology.md §5.2)
is counted too.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from _jobs import run_job

JOB = """
import json, sys, tempfile, time
from pathlib import Path
from carbonsink.pipeline import local_executor, run_survey
from carbonsink.synthetic import generate_survey

seed, workers, root = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
drawn = sys.argv[4] == "drawn"
start = time.perf_counter()
epochs = int(sys.argv[6])
summary = generate_survey(
    root / f"survey_{seed}", seed=seed, scale="small", draw_carbon_parameters=drawn, epochs=epochs
)
generated = time.perf_counter()
if sys.argv[5] == "keep":  # the ledger's inputs, for --replay
    import pickle
    import carbonsink.pipeline.stages.ledger as stage

    build = stage.build_ledger

    def keeping(*args, **kwargs):
        (root / f"ledger_inputs_{seed}.pkl").write_bytes(pickle.dumps((args, kwargs)))
        return build(*args, **kwargs)

    stage.build_ledger = keeping
with local_executor(workers) as executor:
    run = run_survey(summary.survey_path, executor=executor)
ledger = run.ledger
totals = json.loads((summary.out_dir / "truth" / "totals.json").read_text())
from carbonsink.synthetic.scoring import BIOMASS_POOLS, stratum_sink, stratum_stocks
strata_map = run.results[-1].cube.cube["landcover"].values
by_stratum = stratum_sink(
    summary.out_dir / "truth",
    strata_map,
    run.context.cell_area_ha.values,
    run.context.survey.vegetation.by_code(),
    pools=list(ledger.pools),
)
sys.path.insert(0, "benchmarks")
from coverage_ledger import ledger_row
truth = {
    "totals": totals,
    "strata": by_stratum,
    "stocks": {
        epoch: stratum_stocks(
            summary.out_dir / "truth",
            epoch,
            strata_map,
            run.context.cell_area_ha.values,
            run.context.survey.vegetation.by_code(),
            pools=[p for p in ledger.pools if p in BIOMASS_POOLS],
        )
        for epoch, _ in ledger.epochs
    },
}
row = {"seed": seed, "world": "drawn" if drawn else "stated", "epochs": epochs, "truth": truth}
row.update(ledger_row(ledger, truth))
row["generate_s"] = generated - start
row["account_s"] = time.perf_counter() - generated
print(json.dumps(row))
"""


def ledger_row(ledger: Any, truth: dict[str, Any]) -> dict[str, Any]:
    """A survey's result row: each of the ledger's 90 % intervals beside its truth.

    ``truth`` holds the survey's ``totals`` (``truth/totals.json``), ``strata``
    (:func:`carbonsink.synthetic.scoring.stratum_sink`) and ``stocks`` per epoch
    (:func:`carbonsink.synthetic.scoring.stratum_stocks`).
    """
    strata = {}
    for stratum, row in ledger.strata.iterrows():
        truth_row = truth["strata"][str(stratum)]
        chain = ledger.chains[str(stratum)]
        entry = {
            "removals": [truth_row["removals_t_co2e_yr"], chain.removals.p5, chain.removals.p95],
            "tradable": chain.tradable_t_co2e_yr,
        }
        for pool in ledger.pools:
            entry[pool] = [truth_row[pool], row[f"d_{pool}_p5_t_c_yr"], row[f"d_{pool}_p95_t_c_yr"]]
        strata[str(stratum)] = entry
    stocks = {
        epoch: {
            stratum: {
                pool: [truth_pools[pool], est.mean, *est.ci90]
                for pool in truth_pools
                for est in [ledger.stock_summaries[epoch][pool].get(stratum)]
                if est is not None
            }
            for stratum, truth_pools in truth["stocks"][epoch].items()
        }
        for epoch, _ in ledger.epochs
    }
    totals = truth["totals"]
    chain = ledger.chains["total"]
    dom = {
        epoch: {
            "truth": totals["epochs"][epoch]["stocks_t_c"]["dom_c"],
            "ci90": list(ledger.stock_summaries[epoch]["dom"]["total"].ci90),
        }
        for epoch, _ in ledger.epochs
        if "dom" in ledger.pools
    }
    sink = totals["sink"]
    # Each monitoring period's net (t CO2e, not per year) beside the truth's.
    periods = [
        [truth_period["net_t_co2e_yr"] * truth_period["years"], *period.ner.ci90]
        for period, truth_period in zip(
            ledger.periods.get("total", ()), totals.get("periods", ()), strict=False
        )
    ]
    return {
        "periods": periods,
        "truth_net": sink["net_t_co2e_yr"],
        "truth_removals": sink["removals_t_co2e_yr"],
        "truth_d_soc": sink["delta_c_t_c_yr"]["soc_0_100"],
        "truth_d_veg": sink["delta_c_t_c_yr"]["veg_c"],
        "net_mean": chain.net.mean,
        "net_p5": chain.net.p5,
        "net_p95": chain.net.p95,
        "removals_mean": chain.removals.mean,
        "removals_p5": chain.removals.p5,
        "removals_p95": chain.removals.p95,
        "d_soc": float(ledger.strata.loc["total", "d_soc_0_100_t_c_yr"]),
        "d_veg": float(ledger.strata.loc["total", ["d_agb_t_c_yr", "d_bgb_t_c_yr"]].sum()),
        "tradable_t_co2e_yr": chain.tradable_t_co2e_yr,
        "dom": dom,
        "strata": strata,
        "stocks": stocks,
        "years": ledger.years,
    }


def _replay(folder: Path, *, true_factors: bool = False) -> dict[int, dict[str, Any]]:
    """Rows of the surveys in ``folder`` with their ledgers rebuilt by the current code.

    A run with ``--keep-inputs`` saved each survey's ledger inputs (the epochs'
    aggregates, class parameters, profile, seed, error covariances) and its
    truth: a change of the accounting alone (the Monte Carlo's error model) is
    then counted over the same surveys in seconds per survey instead of
    rerunning every stage. ``true_factors`` fixes every class's carbon
    fraction and root:shoot ratio at the survey's drawn truth
    (:func:`carbonsink.synthetic.carbon_world.draw_carbon_world`): what is left
    of each interval is the error of the measured quantities and of the
    classes the maps give them, without the factors' priors.
    """
    import dataclasses
    import pickle

    from carbonsink.accounting.distributions import Fixed
    from carbonsink.accounting.ledger import build_ledger
    from carbonsink.synthetic.carbon_world import draw_carbon_world

    rows: dict[int, dict[str, Any]] = {}
    for line in (folder / "results.jsonl").read_text().splitlines():
        old = json.loads(line)
        kept = folder / f"ledger_inputs_{old['seed']}.pkl"
        if "error" in old:
            rows[int(old["seed"])] = old
            continue
        if "truth" not in old or not kept.exists():
            print(f"seed {old['seed']}: no kept inputs in {folder} (run with --keep-inputs)")
            continue
        args, kwargs = pickle.loads(kept.read_bytes())
        if true_factors:
            if old["world"] != "drawn":
                raise SystemExit("--true-factors needs a run whose truth drew its factors")
            world = draw_carbon_world(int(old["seed"]))
            args = (
                args[0],
                {
                    name: dataclasses.replace(
                        params,
                        carbon_fraction=Fixed(world.carbon_fraction),
                        root_shoot=Fixed(world.root_shoot[name]),
                    )
                    for name, params in args[1].items()
                },
                *args[2:],
            )
        row = {"seed": old["seed"], "world": old["world"], "truth": old["truth"]}
        row.update(ledger_row(build_ledger(*args, **kwargs), old["truth"]))
        rows[int(old["seed"])] = row
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="number of surveys (seeds 1..N)")
    parser.add_argument("--workers", type=int, default=2, help="bootstrap processes per survey")
    parser.add_argument("--out", type=Path, default=Path("coverage_ledger"), help="work folder")
    parser.add_argument("--resume", action="store_true", help="skip seeds already in results")
    parser.add_argument(
        "--stated-parameters",
        action="store_true",
        help="truth with the stated CF, R and CH4 fluxes (default: drawn from their priors)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        choices=(2, 3),
        default=2,
        help="epochs of each survey; with 3, each monitoring period's coverage too",
    )
    parser.add_argument(
        "--keep-inputs",
        action="store_true",
        help="save each survey's ledger inputs and truth in the work folder, for --replay",
    )
    parser.add_argument(
        "--replay",
        action="store_true",
        help="rebuild the ledgers of a --keep-inputs run with the current accounting code "
        "and count their coverage (no stage is rerun)",
    )
    parser.add_argument(
        "--true-factors",
        action="store_true",
        help="with --replay: every class's CF and R fixed at the survey's truth (a diagnosis)",
    )
    args = parser.parse_args()
    results_path = args.out / "results.jsonl"
    if args.true_factors and not args.replay:
        parser.error("--true-factors goes with --replay")
    if args.replay:
        if not results_path.exists():
            print(f"{results_path} does not exist: run with --keep-inputs first")
            return 1
        return _summarise(_replay(args.out, true_factors=args.true_factors))
    args.out.mkdir(parents=True, exist_ok=True)
    done: dict[int, dict[str, Any]] = {}
    world = "stated" if args.stated_parameters else "drawn"
    if args.resume and results_path.exists():
        for line in results_path.read_text().splitlines():
            row = json.loads(line)
            if row.get("world", "drawn") != world or row.get("epochs", 2) != args.epochs:
                print(
                    f"{results_path} holds {row.get('world')} worlds of {row.get('epochs', 2)} "
                    "epochs: resume with those"
                )
                return 1
            done[int(row["seed"])] = row
    elif results_path.exists():
        results_path.unlink()
    for seed in range(1, args.seeds + 1):
        if seed in done:
            continue
        t0 = time.perf_counter()
        try:
            row = run_job(
                JOB,
                str(seed),
                str(args.workers),
                str(args.out.resolve()),
                world,
                "keep" if args.keep_inputs else "",
                str(args.epochs),
            )
        except RuntimeError as exc:  # a failed survey is a finding: record it, go on
            row = {"seed": seed, "error": str(exc).strip().splitlines()[-1]}
        if row is None:
            print("carbonsink is not importable", file=sys.stderr)
            return 1
        done[seed] = row
        with results_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        if "error" in row:
            print(f"seed {seed:2d}: FAILED: {row['error']}", flush=True)
            continue
        inside = row["net_p5"] <= row["truth_net"] <= row["net_p95"]
        print(
            f"seed {seed:2d}: net {row['net_mean']:8.1f} [{row['net_p5']:8.1f}, "
            f"{row['net_p95']:8.1f}] truth {row['truth_net']:8.1f} "
            f"{'inside' if inside else 'OUTSIDE'}  ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    return _summarise(done)


def _summarise(done: dict[int, dict[str, Any]]) -> int:
    """Print the coverage of the net, removals, DOM stocks and every stratum and pool."""
    failed = [done[s] for s in sorted(done) if "error" in done[s]]
    rows = [done[s] for s in sorted(done) if "error" not in done[s]]
    for row in failed:
        print(f"seed {row['seed']} failed: {row['error']}")
    n = len(rows)
    if n == 0:
        print("no survey finished")
        return 1
    net_in = sum(r["net_p5"] <= r["truth_net"] <= r["net_p95"] for r in rows)
    rem_in = sum(r["removals_p5"] <= r["truth_removals"] <= r["removals_p95"] for r in rows)
    half = [(r["net_p95"] - r["net_p5"]) / 2 for r in rows]
    err = [r["net_mean"] - r["truth_net"] for r in rows]
    rmse = (sum(e * e for e in err) / n) ** 0.5
    print(f"\n{n} surveys")
    print(f"net sink: 90 % interval covers the truth in {net_in}/{n} = {net_in / n:.0%}")
    print(f"removals: 90 % interval covers the truth in {rem_in}/{n} = {rem_in / n:.0%}")
    print(
        f"net: mean error {sum(err) / n:+.1f}, RMSE {rmse:.1f}, mean 90 % half-width "
        f"{sum(half) / n:.1f} t CO2e/yr (half-width / (1.645 × RMSE) = "
        f"{sum(half) / n / (1.645 * rmse):.2f}; 1 means calibrated)"
    )
    dom = [d for r in rows for d in r.get("dom", {}).values()]
    if dom:
        dom_in = sum(d["ci90"][0] <= d["truth"] <= d["ci90"][1] for d in dom)
        print(
            f"dead organic matter stock (per epoch): 90 % interval covers the truth in "
            f"{dom_in}/{len(dom)} = {dom_in / len(dom):.0%}"
        )
    for k in range(max(len(r.get("periods", ())) for r in rows) if rows else 0):
        cells = [r["periods"][k] for r in rows if len(r.get("periods", ())) > k]
        inside = sum(low <= truth <= high for truth, low, high in cells)
        print(
            f"monitoring period {k + 1}: its net's 90 % interval covers the truth in "
            f"{inside}/{len(cells)} = {inside / len(cells):.0%}"
        )
    outside_band = _coverage_table(rows)
    _stock_table(rows)
    if not 0.80 <= net_in / n <= 0.97:
        outside_band.insert(0, "total/net")
    print(
        "acceptance band 80–97 % (the net, every stratum's removals and every pool):",
        "PASS" if not outside_band else "FAIL: " + ", ".join(outside_band),
    )
    return 0


#: A stratum's term whose truth and interval ends are all within ±1 t/yr (CO2e for the
#: removals, C for a pool) is immaterial to any claim: counted apart, "negligible".
NEGLIGIBLE = 1.0

#: Width (t/yr) under which an interval is a pool held at zero change: ledgers before the
#: held strata's errors were copied between epochs drew them ~1e-5 t/yr apart (rounding).
HELD_WIDTH = 1e-3

#: Fewest surveys with an estimate of a term for its coverage to be judged against the band.
MIN_JUDGED = 10


def _coverage_table(rows: list[dict]) -> list[str]:
    """Coverage of every stratum's removals and every pool's change, stratum by stratum.

    An interval of zero width (< :data:`HELD_WIDTH` t/yr) is a pool the ledger holds at
    zero change on purpose (a stratum without soil cores, no biomass mapped): it is not an
    estimate, so it is counted apart — "held" — with how often its truth was
    negative (zero was then not conservative). A term whose truth and interval
    are all within ±:data:`NEGLIGIBLE` t/yr (open water: ~0 t in every pool) is
    counted apart too. The second table is the 90th percentile of
    |truth − interval centre| / half-width over the surveys: 1 for a
    calibrated interval, below 1 too wide, above 1 too narrow.

    Returns the ``stratum/term`` cells whose coverage is outside the 80–97 % band.
    """
    if not rows or "strata" not in rows[0]:
        return []
    strata = list(rows[0]["strata"])
    terms = [k for k in rows[0]["strata"][strata[0]] if k != "tradable"]
    print(f"\ncoverage of the 90 % intervals over {len(rows)} surveys (inside / estimated)")
    print(f"{'stratum':12s}" + "".join(f"{t:>16s}" for t in terms))
    held_notes = []
    outside_band: list[str] = []
    calibration: dict[str, list[str]] = {}
    pooled: list[bool] = []
    chance = 0.0
    for stratum in strata:
        cells = []
        for term in terms:
            hits, held, negative, negligible, z = [], 0, 0, 0, []
            for r in rows:
                truth, low, high = r.get("strata", {}).get(stratum, {}).get(term, [0.0, 0.0, 0.0])
                if stratum not in r.get("strata", {}):
                    continue
                if high - low < HELD_WIDTH:
                    held += 1
                    negative += truth < -1e-9
                    continue
                if max(abs(truth), abs(low), abs(high)) < NEGLIGIBLE:
                    negligible += 1
                    continue
                hits.append(low <= truth <= high)
                z.append(abs(truth - (low + high) / 2) / ((high - low) / 2))
            share = sum(hits) / len(hits) if hits else float("nan")
            flag = "" if not hits or 0.80 <= share <= 0.97 else "*"
            if flag and len(hits) < MIN_JUDGED:
                flag = "†"
            elif flag:
                outside_band.append(f"{stratum}/{term}")
            if len(hits) >= MIN_JUDGED:
                pooled += hits
                chance += _outside_band_chance(len(hits))
            cells.append(f"{sum(hits):3d}/{len(hits):<3d}{share:5.0%}{flag:1s}" if hits else "n/a")
            z.sort()
            calibration.setdefault(stratum, []).append(
                f"{z[min(len(z) - 1, int(0.9 * len(z)))]:.2f}" if z else "n/a"
            )
            if held:
                held_notes.append(f"{stratum}/{term}: held in {held} (truth < 0 in {negative})")
            if negligible:
                held_notes.append(f"{stratum}/{term}: negligible in {negligible}")
        print(f"{stratum:12s}" + "".join(f"{c:>16s}" for c in cells))
    print(
        f"* outside the 80–97 % band; † fewer than {MIN_JUDGED} surveys estimated it (a "
        "coverage share of so few is no test)"
    )
    if held_notes:
        print("counted apart: " + "; ".join(held_notes))
    if pooled:
        print(
            f"pooled over the judged cells: {sum(pooled)}/{len(pooled)} = "
            f"{sum(pooled) / len(pooled):.1%} inside; were every interval calibrated (90 %), "
            f"{chance:.1f} cells would fall outside the band by chance alone"
        )
    print("\n90th percentile of |truth − centre| / half-width (1 = calibrated)")
    print(f"{'stratum':12s}" + "".join(f"{t:>16s}" for t in terms))
    for stratum, cells in calibration.items():
        print(f"{stratum:12s}" + "".join(f"{c:>16s}" for c in cells))
    return outside_band


def _outside_band_chance(n: int, p: float = 0.90) -> float:
    """P(a calibrated cell's count over n surveys is outside 80–97 %): binomial(n, p) tails."""
    from scipy.stats import binom

    low = math.ceil(0.80 * n - 1e-9)  # fewest hits inside the band
    high = math.floor(0.97 * n + 1e-9)  # most hits inside the band
    return float(binom.cdf(low - 1, n, p) + binom.sf(high, n, p))


#: The standard normal's 95th percentile: a 90 % half-width over it is an SD.
Z95 = 1.6448536269514722


def _stock_table(rows: list[dict]) -> None:
    """How each epoch's biomass stock errs against its interval, and how the epochs' errors move.

    The change of a pool is the difference of two epochs' stocks, so a change
    interval that is too wide or too narrow is either an epoch's stock
    interval that is, or an error correlation between the epochs that the
    ledger's draws do not have. Per stratum and pool this prints the mean of
    z² = ((truth − centre) / SD)² over the surveys, SD = half-width / 1.645 (1
    for a calibrated interval; the change's beside the stocks'), and the
    correlation of the two epochs' errors (estimate − truth) over the surveys
    beside the one the ledger's intervals imply,
    ρ = (SD₁² + SD₂² − (years × SD_Δ)²) / (2 SD₁ SD₂).
    """
    rows = [r for r in rows if "stocks" in r and len(r["stocks"]) >= 2]
    if len(rows) < 3:
        return
    epochs = list(rows[0]["stocks"])
    first, last = epochs[0], epochs[-1]
    print(
        f"\nbiomass stocks {first} and {last}: mean z² of the stocks and of the change "
        "(1 = calibrated), and the epochs' error correlation over the surveys vs the ledger's"
    )
    print(
        f"{'stratum/pool':20s}{'z² ' + first:>12s}{'z² ' + last:>12s}{'z² change':>12s}"
        f"{'ρ surveys':>12s}{'ρ ledger':>12s}"
    )
    for stratum in rows[0]["stocks"][last]:
        for pool in rows[0]["stocks"][last][stratum]:
            z1, z2, zc, e1, e2, implied = [], [], [], [], [], []
            for r in rows:
                a = r["stocks"][first].get(stratum, {}).get(pool)
                b = r["stocks"][last].get(stratum, {}).get(pool)
                c = r.get("strata", {}).get(stratum, {}).get(pool)
                if a is None or b is None or c is None:
                    continue
                sd1, sd2 = (a[3] - a[2]) / 2 / Z95, (b[3] - b[2]) / 2 / Z95
                sdc = (c[2] - c[1]) / 2 / Z95
                if min(sd1, sd2, sdc) < 1e-9 or max(abs(v) for v in a + b) < NEGLIGIBLE:
                    continue
                z1.append(((a[0] - (a[2] + a[3]) / 2) / sd1) ** 2)
                z2.append(((b[0] - (b[2] + b[3]) / 2) / sd2) ** 2)
                zc.append(((c[0] - (c[1] + c[2]) / 2) / sdc) ** 2)
                e1.append(a[1] - a[0])
                e2.append(b[1] - b[0])
                years = r["years"]
                implied.append((sd1**2 + sd2**2 - (years * sdc) ** 2) / (2 * sd1 * sd2))
            if len(z1) < MIN_JUDGED:
                continue
            n = len(z1)
            m1, m2 = sum(e1) / n, sum(e2) / n
            cov = sum((x - m1) * (y - m2) for x, y in zip(e1, e2, strict=True)) / (n - 1)
            v1 = sum((x - m1) ** 2 for x in e1) / (n - 1)
            v2 = sum((y - m2) ** 2 for y in e2) / (n - 1)
            rho = cov / (v1 * v2) ** 0.5 if v1 > 0 and v2 > 0 else float("nan")
            print(
                f"{stratum + '/' + pool:20s}{sum(z1) / n:12.2f}{sum(z2) / n:12.2f}"
                f"{sum(zc) / n:12.2f}{rho:12.2f}{sum(implied) / n:12.2f}"
            )


if __name__ == "__main__":
    raise SystemExit(main())
