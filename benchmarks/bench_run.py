"""Benchmark of ``carbonsink run`` on synthetic surveys of growing area: time, memory, cache.

For each scale and seed it generates the survey (``carbonsink sample-data
DIR --scale S --seed N``, kept in ``--cache`` between runs) and runs
``carbonsink run SURVEY -o OUT --fresh`` in a subprocess with the default
settings, sampling the memory of the whole process tree (the run and its
worker processes) every 0.2 s. It prints, per run:

* the survey's area (its boundary, km²) and whether the run succeeded (the
  error's last line when not);
* wall time and time per km² (from ``medium`` up it should stay roughly
  constant: linear in area);
* peak memory of the process tree — the sum of the processes' proportional
  set sizes (PSS: a page shared by forked workers counts once in all) at the
  worst sample — and the peak RSS of its largest process (MiB);
* the stage cache (``OUT/.cache``) against the published outputs, and their ratio;
* with ``--stages``: the peak RSS of the largest process during each stage the
  run log times (``stage NAME: computed in S s``), so that the stage to make
  bounded next is named by measurement.

Targets of issue 19: ``large`` in ≤ 5 min and ≤ 2 GB peak RSS on 2 cores;
the cache ≤ 2× the outputs.

Usage::

    python benchmarks/bench_run.py [--scales small medium large] [--seeds 1 2 3]
                                   [--cache DIR] [--keep] [--stages]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RunFigures:
    """What one ``carbonsink run`` cost."""

    scale: str
    seed: int
    area_km2: float
    seconds: float
    tree_pss_mib: float
    process_rss_mib: float
    cache_mib: float
    outputs_mib: float
    error: str | None
    stages: tuple[tuple[str, float, float], ...] = ()
    outside: tuple[float, str] | None = None


def _carbonsink(*args: str) -> list[str]:
    return [sys.executable, "-m", "carbonsink", *args]


def generate(cache: Path, scale: str, seed: int) -> Path:
    """The survey file of a generated survey (generated once per cache folder)."""
    folder = cache / f"junshan_{scale}_{seed}"
    survey = folder / "survey.toml"
    if not survey.is_file():
        print(f"generating the {scale} survey, seed {seed}, in {folder} ...", flush=True)
        command = ["-q", "sample-data", str(folder), "--scale", scale, "--seed", str(seed)]
        subprocess.run(_carbonsink(*command), check=True, cwd=ROOT)
    return survey


def boundary_km2(survey: Path) -> float:
    """Area of the survey's boundary polygons, km² (in the survey's CRS)."""
    import geopandas as gpd

    with survey.open("rb") as handle:
        section = tomllib.load(handle)["survey"]
    boundary = gpd.read_file(survey.parent / section["boundary"])
    if boundary.crs is None:  # the survey names it
        boundary = boundary.set_crs(section.get("boundary_crs", "EPSG:4326"))
    boundary = boundary.to_crs(section["crs"])
    return float(boundary.area.sum()) / 1e6


def folder_mib(path: Path) -> float:
    """Size of the files under ``path``, MiB."""
    if not path.exists():
        return 0.0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _tree_memory(process: psutil.Process) -> tuple[float, float]:
    """Summed PSS and largest RSS (MiB) of a process and its descendants now."""
    pss, rss = [], []
    for member in [process, *process.children(recursive=True)]:
        try:
            info = member.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        pss.append(info.pss)
        rss.append(info.rss)
    return sum(pss) / 2**20, max(rss, default=0) / 2**20


def run_once(survey: Path, scale: str, seed: int, out: Path) -> RunFigures:
    """Run the survey once from scratch, sampling the memory of the process tree."""
    command = _carbonsink("-q", "run", str(survey), "-o", str(out), "--fresh")
    log = out.with_name(out.name + ".log")
    start = time.perf_counter()
    samples: list[tuple[float, float, float]] = []
    with log.open("wb") as sink:  # a file, not a pipe: a long run's warnings never block it
        child = subprocess.Popen(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
        tree_peak, process_peak = _watch(child, samples)
    seconds = time.perf_counter() - start
    error = None
    if child.returncode != 0:
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        error = f"exit {child.returncode}: {lines[-1] if lines else '(no message)'}"
    cache = folder_mib(out / ".cache")
    return RunFigures(
        scale=scale,
        seed=seed,
        area_km2=boundary_km2(survey),
        seconds=seconds,
        tree_pss_mib=tree_peak,
        process_rss_mib=process_peak,
        cache_mib=cache,
        outputs_mib=folder_mib(out) - cache,
        error=error,
        stages=stage_peaks(out / "run.log", samples),
        outside=peak_outside_stages(out / "run.log", samples),
    )


_STAGE = re.compile(
    r"^(\S+ \S+) INFO carbonsink\.pipeline\.cache: stage (\S+): computed in ([\d.]+) s"
)


def _timed_lines(run_log: Path) -> list[tuple[float, str, re.Match[str] | None]]:
    """The run log's lines: their time (epoch seconds), what they say, and their stage match."""
    if not run_log.is_file():
        return []
    out = []
    for line in run_log.read_text(encoding="utf-8").splitlines():
        match = _LINE_TIME.match(line)
        if match:
            when = dt.datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append((when, f"{match[3]}: {match[4]}", _STAGE.match(line)))
    return out


def stage_peaks(
    run_log: Path, samples: list[tuple[float, float, float]]
) -> tuple[tuple[str, float, float], ...]:
    """Each timed stage of a run: its name, seconds and the largest process's peak RSS (MiB).

    A stage's window is the ``computed in S s`` line's time less S; the
    samples are ``(epoch seconds, tree PSS, largest RSS)``.
    """
    out = []
    for end, _, stage in _timed_lines(run_log):
        if stage is not None:
            seconds = float(stage[3])
            inside = [rss for t, _, rss in samples if end - seconds <= t <= end]
            out.append((stage[2], seconds, max(inside, default=float("nan"))))
    return tuple(out)


_LINE_TIME = re.compile(r"^(\S+ \S+) (\w+) (\S+): (.{0,70})")


def peak_outside_stages(
    run_log: Path, samples: list[tuple[float, float, float]]
) -> tuple[float, str] | None:
    """The largest process's peak RSS (MiB) outside the timed stages, and the run log's
    last line before it (what the run was doing then); ``None`` without samples there."""
    lines = _timed_lines(run_log)
    windows = [(t - float(stage[3]), t) for t, _, stage in lines if stage is not None]
    outside = [(rss, t) for t, _, rss in samples if not any(a <= t <= b for a, b in windows)]
    if not outside or not lines:
        return None
    rss, when = max(outside)
    before = [text for t, text, _ in lines if t <= when]
    return rss, before[-1] if before else "(before the first log line)"


def _watch(
    child: subprocess.Popen[bytes], samples: list[tuple[float, float, float]]
) -> tuple[float, float]:
    """Peak summed PSS and largest RSS (MiB) of a running process tree, every 0.2 s.

    Sampling misses spikes shorter than the interval: the peaks are lower bounds.
    Each sample ``(time, tree PSS, largest RSS)`` is appended to ``samples``.
    """
    watched = psutil.Process(child.pid)
    tree_peak = process_peak = 0.0
    while child.poll() is None:
        try:
            tree, largest = _tree_memory(watched)
        except psutil.NoSuchProcess:
            break
        tree_peak, process_peak = max(tree_peak, tree), max(process_peak, largest)
        samples.append((time.time(), tree, largest))
        time.sleep(0.2)
    child.wait()
    return tree_peak, process_peak


def print_table(rows: list[RunFigures]) -> None:
    print(
        f"\n{'scale':<8}{'seed':>5}{'km²':>8}{'wall s':>9}{'s/km²':>8}{'tree PSS MiB':>14}"
        f"{'max RSS MiB':>13}{'cache MiB':>11}{'outputs MiB':>13}{'cache/out':>11}  result"
    )
    for r in rows:
        ratio = r.cache_mib / r.outputs_mib if r.outputs_mib > 0 else float("nan")
        per_km2 = r.seconds / r.area_km2 if r.area_km2 > 0 else float("nan")
        print(
            f"{r.scale:<8}{r.seed:>5}{r.area_km2:>8.1f}{r.seconds:>9.1f}"
            f"{per_km2:>8.2f}{r.tree_pss_mib:>14.0f}{r.process_rss_mib:>13.0f}"
            f"{r.cache_mib:>11.1f}{r.outputs_mib:>13.1f}{ratio:>11.2f}  {r.error or 'ok'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", nargs="+", default=["small", "medium"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1])
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "carbonsink-bench",
        help="where generated surveys are kept between runs",
    )
    parser.add_argument("--keep", action="store_true", help="keep the runs' output folders")
    parser.add_argument(
        "--stages", action="store_true", help="print each stage's time and peak memory"
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for scale in args.scales:
        for seed in args.seeds:
            survey = generate(args.cache, scale, seed)
            out = args.cache / f"run_{scale}_{seed}"
            figures = run_once(survey, scale, seed, out)
            rows.append(figures)
            print_table(rows[-1:])
            if args.stages:
                for name, seconds, rss in figures.stages:
                    print(f"    stage {name:<28}{seconds:>8.1f} s{rss:>9.0f} MiB largest process")
                if figures.outside is not None:
                    rss, doing = figures.outside
                    print(f"    outside the stages: {rss:.0f} MiB largest process, after: {doing}")
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
                out.with_name(out.name + ".log").unlink(missing_ok=True)
    print_table(rows)


if __name__ == "__main__":
    main()
