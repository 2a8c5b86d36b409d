"""``carbonsink run``: every stage of every epoch, the accounting and every output (DESIGN.md §5).

Stages whose inputs have not changed are read back from a content-hashed
cache in ``OUT/.cache`` (the epoch stages and the AGB bootstrap, which are
the slow ones), so an interrupted or repeated run resumes where it stopped and
gives identical numbers for the same seed. Every file is written atomically.

The cache holds Python pickles of carbonsink's own results; it is read back
only from the output folder the run itself wrote, and each entry's name holds
the SHA-256 of everything it was computed from (carbonsink version, survey
settings, seed and the bytes of every input file), so a changed input is a
cache miss, never a stale result. Delete ``OUT/.cache`` (or run with
``--fresh``) to recompute everything.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from carbonsink import __version__, show_versions
from carbonsink.accounting.ledger import EpochInputs, Ledger
from carbonsink.config import Survey, load_survey
from carbonsink.errors import ConfigError, InputError
from carbonsink.grid import Grid
from carbonsink.io.writers import atomic_path, write_csv, write_json, write_layer_cogs, write_netcdf
from carbonsink.pipeline.accounts import (
    EpochResults,
    epoch_ledger_inputs,
    epoch_results,
    survey_ledger,
    survey_profile,
    write_ledger,
)
from carbonsink.pipeline.stages import ProgressCallback, local_executor, survey_grid

__all__ = [
    "CACHE_DIR",
    "RunResult",
    "StageRecord",
    "file_sha256",
    "grid_cube",
    "run_executor",
    "run_survey",
]

logger = logging.getLogger(__name__)

#: Folder of the stage cache inside the output folder.
CACHE_DIR = ".cache"
_T = TypeVar("_T")


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _key(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StageRecord:
    """One stage of a run: its name, wall time (s) and whether it came from the cache."""

    name: str
    seconds: float
    cached: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "seconds": round(self.seconds, 3), "cached": self.cached}


@dataclass
class RunResult:
    """What a run produced."""

    out_dir: Path
    ledger: Ledger
    results: list[EpochResults]
    manifest: dict[str, Any]
    written: list[Path] = field(default_factory=list)


class _StageCache:
    """Pickled stage results under ``OUT/.cache``, named by their content hash."""

    def __init__(self, folder: Path, *, enabled: bool) -> None:
        self.folder = folder
        self.enabled = enabled
        self.records: list[StageRecord] = []

    def get(self, name: str, key: str, compute: Callable[[], _T]) -> _T:
        path = self.folder / f"{name}-{key[:24]}.pkl"
        start = time.perf_counter()
        if self.enabled and path.is_file():
            with path.open("rb") as handle:
                value: _T = pickle.load(handle)  # our own cache, see the module doc
            self.records.append(StageRecord(name, time.perf_counter() - start, True))
            logger.info("stage %s: read from the cache (%s)", name, path.name)
            return value
        value = compute()
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, tmp.open("wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.records.append(StageRecord(name, time.perf_counter() - start, False))
        logger.info("stage %s: computed in %.1f s", name, time.perf_counter() - start)
        return value


@contextmanager
def run_executor(
    workers: int | None = None, scheduler: str | None = None
) -> Iterator[Executor | None]:
    """Where tiles and bootstrap replicates run (DESIGN.md §6).

    Parameters
    ----------
    workers
        ``None``: a local process pool of every core. ``1``: serially.
        ``N > 1``: a local Dask cluster of N single-threaded worker processes.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); excludes
        ``workers``.

    Notes
    -----
    The results do not depend on where the work runs: every unit of work
    (a LiDAR tile, a bootstrap replicate) has its own seed.
    """
    if scheduler is not None and workers is not None:
        raise ConfigError(
            "both --workers and --scheduler were given",
            fix="use --workers N for a local cluster or --scheduler ADDR for an existing one",
        )
    if scheduler is None and (workers is None or workers <= 1):
        with local_executor(workers) as executor:
            yield executor
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ConfigError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}",
                fix="start it (dask scheduler) or check the address, e.g. tcp://host:8786",
            ) from exc
        with client:
            yield client.get_executor()
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: never clashes with another cluster
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client.get_executor()


def _survey_inputs(survey: Survey, inputs: Sequence[Path] | None) -> list[Path]:
    if inputs is not None:
        return sorted({Path(p).resolve() for p in inputs})
    from carbonsink.preflight import check_survey

    report = check_survey(survey)
    if report.errors:
        raise InputError(
            "the survey has problems:\n" + "\n".join(f"  {e}" for e in report.errors),
            fix="run `carbonsink validate` on the survey and fix every error",
        )
    return sorted({Path(p).resolve() for p in report.checked})


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def run_survey(
    survey: Survey | Path,
    out_dir: Path,
    *,
    seed: int | None = None,
    resume: bool = True,
    pdf: bool = False,
    executor: Executor | None = None,
    inputs: Sequence[Path] | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Run a whole survey: stages, accounting, maps, cubes, tables, ledger, manifest, report.

    Parameters
    ----------
    survey
        The survey, or the path of its TOML file.
    out_dir
        Output folder (created); its layout is DESIGN.md §5.
    seed
        Seed of every random step (default: the survey's ``seed``).
    resume
        Reuse the finished stages in ``out_dir/.cache`` whose inputs are
        unchanged; ``False`` recomputes everything (and refreshes the cache).
    pdf
        Also write ``report.pdf`` (needs the ``pdf`` extra).
    executor
        Where LiDAR tiles and bootstrap replicates run (:func:`run_executor`).
    inputs
        The survey's input files (the preflight's ``checked`` list); found by
        running the preflight when not given.
    progress
        Called with ``(what, done, total)`` as the stages advance.

    Returns
    -------
    RunResult

    Raises
    ------
    InputError
        The preflight found errors (all listed), before any compute.
    """
    if not isinstance(survey, Survey):
        survey = load_survey(survey)
    if seed is not None:
        survey = survey.model_copy(
            update={"survey": survey.survey.model_copy(update={"seed": seed})}
        )
    if pdf:  # fail before any compute when the PDF renderer is missing
        from carbonsink.report.html import load_weasyprint

        load_weasyprint()
    files = _survey_inputs(survey, inputs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = _StageCache(out_dir / CACHE_DIR, enabled=resume)
    root = survey.source.parent.resolve() if survey.source is not None else None
    steps = len(survey.epochs) * 2 + 3
    done = 0

    def step(what: str) -> None:
        nonlocal done
        if progress is not None:
            progress(what, done, steps)
        done += 1

    start = time.perf_counter()
    hashes = {_relative(p, root): file_sha256(p) for p in files}
    settings = survey.model_dump(mode="json", exclude={"epochs", "accounting"})
    base = _key(__version__, settings, hashes)
    grid = survey_grid(survey)
    epochs = sorted(survey.epochs, key=lambda e: e.date)
    results: list[EpochResults] = []
    epoch_keys: list[str] = []
    for epoch in epochs:
        step(f"epoch {epoch.name}: imagery, LiDAR, biomass, soil")
        key = _key(base, "epoch", epoch.model_dump(mode="json"))
        epoch_keys.append(key)

        def compute_epoch(e: Any = epoch) -> EpochResults:
            return epoch_results(survey, e, grid, executor=executor, progress=progress)

        results.append(cache.get(f"epoch-{epoch.name}", key, compute_epoch))
    profile = survey_profile(survey)
    depth = float(profile.soil_depth_cm)
    strata_map = results[-1].cube.cube["landcover"].values
    ledger_inputs: list[EpochInputs] = []
    for result, key in zip(results, epoch_keys, strict=True):
        step(f"epoch {result.epoch.name}: AGB bootstrap")
        inputs_key = _key(key, epoch_keys[-1], "ledger-inputs", depth)

        def compute_inputs(r: EpochResults = result) -> EpochInputs:
            return epoch_ledger_inputs(
                survey, r, strata_map, soil_depth_cm=depth, executor=executor
            )

        ledger_inputs.append(
            cache.get(f"ledger-inputs-{result.epoch.name}", inputs_key, compute_inputs)
        )
    step("accounting")
    t0 = time.perf_counter()
    ledger = survey_ledger(survey, results, inputs=ledger_inputs)
    cache.records.append(StageRecord("accounting", time.perf_counter() - t0, False))
    step("maps, cubes and tables")
    t0 = time.perf_counter()
    written = write_ledger(ledger, out_dir)
    products = _write_products(survey, grid, results, ledger, out_dir)
    written += products.paths
    cache.records.append(StageRecord("outputs", time.perf_counter() - t0, False))
    manifest = {
        "carbonsink": __version__,
        "survey": _relative(survey.source.resolve(), root) if survey.source else None,
        "survey_sha256": _key(
            settings,
            [e.model_dump(mode="json") for e in epochs],
            survey.accounting.model_dump(mode="json"),
        ),
        "seed": survey.survey.seed,
        "inputs": [
            {
                "path": path,
                "size": (root / path if root else Path(path)).stat().st_size,
                "sha256": digest,
            }
            for path, digest in sorted(hashes.items())
        ],
        "versions": show_versions(),
        "stages": [r.to_dict() for r in cache.records],
        "outputs": sorted(p.relative_to(out_dir).as_posix() for p in written),
        "wall_seconds": round(time.perf_counter() - start, 3),
    }
    step("report")
    from carbonsink.pipeline.report_content import report_content
    from carbonsink.report.html import write_report

    content = report_content(survey, results, ledger, products.change, manifest)
    written += write_report(content, out_dir / "report.html", pdf=pdf)
    manifest["outputs"] = sorted(p.relative_to(out_dir).as_posix() for p in written)
    written.append(write_json(manifest, out_dir / "manifest.json"))
    if progress is not None:
        progress("done", steps, steps)
    return RunResult(
        out_dir=out_dir, ledger=ledger, results=results, manifest=manifest, written=written
    )


@dataclass(frozen=True)
class _Products:
    paths: list[Path]
    change: xr.Dataset | None


def _write_products(
    survey: Survey,
    grid: Grid,
    results: Sequence[EpochResults],
    ledger: Ledger,
    out_dir: Path,
) -> _Products:
    from carbonsink.pipeline.report_content import carbon_layers, change_layers

    written: list[Path] = []
    tables = out_dir / "tables"
    maps = out_dir / "maps"
    depth = float(ledger.profile.soil_depth_cm)
    layers_by_epoch = {}
    for result in results:
        name = result.epoch.name
        layers = carbon_layers(survey, result, pools=ledger.pools, soil_depth_cm=depth)
        layers_by_epoch[name] = layers
        cube = xr.merge(
            [
                result.cube.cube.drop_vars(["spatial_ref"], errors="ignore"),
                result.biomass.layers,
                *[m.drop_vars(["spatial_ref"], errors="ignore") for m in result.soc_maps.values()],
                layers,
            ],
            compat="override",
            combine_attrs="drop",
        )
        cube.attrs = {
            "title": f"carbonsink cube of epoch {name}",
            "epoch": name,
            "date": result.epoch.date.isoformat(),
            "Conventions": "CF-1.8",
        }
        written.append(write_netcdf(grid_cube(grid, cube), out_dir / f"cube_{name}.nc"))
        arrays = [
            grid.dataarray(
                cube[var].values,
                name=f"{var}_{name}",
                units=cube[var].attrs.get("units", "1"),
                long_name=cube[var].attrs.get("long_name", var),
                attrs={k: v for k, v in cube[var].attrs.items() if k.startswith("flag_")},
            )
            for var in (
                "landcover",
                "agb_mg_ha",
                "agb_lower_mg_ha",
                "agb_upper_mg_ha",
                "carbon_mg_ha",
                "soc_mg_ha",
                "soc_sd_mg_ha",
            )
        ]
        for array in arrays:
            if array.dtype == np.bool_:
                array.values = array.values.astype(np.uint8)
        written += write_layer_cogs(arrays, [maps / f"{a.name}.tif" for a in arrays])
        for model in result.biomass.candidates:
            written.append(
                write_csv(
                    model.cv.table,
                    tables / f"biomass_cv_{name}_{model.name}.csv",
                    float_format="%.6g",
                )
            )
        areas = result.cube.landcover.areas.table
        written.append(
            write_csv(
                areas, tables / f"landcover_areas_{name}.csv", index=True, float_format="%.6g"
            )
        )
        written.append(
            write_csv(
                result.cube.landcover.accuracy.confusion,
                tables / f"landcover_confusion_{name}.csv",
                index=True,
            )
        )
        written.append(
            write_csv(
                result.core_stocks,
                tables / f"core_stocks_{name}.csv",
                index=True,
                float_format="%.6g",
            )
        )
    change = None
    if len(results) > 1:
        change = change_layers(results[0], results[-1], layers_by_epoch, ledger)
        written.append(write_netcdf(grid_cube(grid, change), out_dir / "change.nc"))
        arrays = [
            grid.dataarray(
                change[v].values,
                name=v,
                units=change[v].attrs["units"],
                long_name=change[v].attrs["long_name"],
            )
            for v in ("removals_t_co2e_ha_yr", "removals_sd_t_co2e_ha_yr")
        ]
        written += write_layer_cogs(arrays, [maps / f"{a.name}.tif" for a in arrays])
    return _Products(paths=written, change=change)


def grid_cube(grid: Grid, dataset: xr.Dataset) -> xr.Dataset:
    """The dataset with the grid's CRS recorded the rioxarray/CF way."""
    import rioxarray  # noqa: F401

    out: xr.Dataset = dataset.rio.write_crs(grid.crs)
    with_transform: xr.Dataset = out.rio.write_transform(grid.transform)
    return with_transform
