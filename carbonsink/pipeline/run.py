"""The one orchestrator: every stage of every epoch, the accounting, and (when asked) every output.

:func:`run_survey` is both ``carbonsink run`` and the notebooks' API: with an
output folder it writes the cubes, maps, tables, ledger, manifest and report
(docs/design.md §5) and keeps finished stages in a content-hashed cache so a
repeated or interrupted run resumes; without one it only computes and
returns the results. Either way the same seed gives the same numbers.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from functools import partial
from os import PathLike
from pathlib import Path
from typing import Any

import xarray as xr

from carbonsink import __version__, i18n, show_versions
from carbonsink.accounting.ledger import Ledger
from carbonsink.accounting.simulation import EpochInputs, years_between
from carbonsink.config import Survey, load_survey
from carbonsink.errors import OutputError
from carbonsink.i18n import Message, deferred
from carbonsink.io.writers import write_json
from carbonsink.pipeline.allocator import release_free_memory, tune_allocator
from carbonsink.pipeline.cache import StageCache, code_fingerprint, content_key, file_sha256
from carbonsink.pipeline.context import ProgressCallback, RunContext
from carbonsink.pipeline.outputs import OUTPUTS, OutputFolder
from carbonsink.pipeline.products import write_change_products, write_epoch_products
from carbonsink.pipeline.publish import Publication
from carbonsink.pipeline.stages.epoch import EpochResults, epoch_results
from carbonsink.pipeline.stages.ledger import epoch_ledger_inputs, survey_ledger, write_ledger
from carbonsink.pipeline.stages.ledger_arguments import LedgerArguments, ledger_arguments
from carbonsink.pipeline.stages.logged import LoggedLine, capture
from carbonsink.pipeline.stages.report import epoch_carbon_layers, report_content
from carbonsink.preflight import PreflightReport, check_survey

__all__ = ["RunResult", "run_survey"]

#: What the survey's settings hash leaves out: the epochs and the accounting (hashed on
#: their own) and the report's language, which changes no number.
_PRESENTATION: dict[str, Any] = {"epochs": True, "accounting": True, "survey": {"language"}}
#: ``[biomass]`` settings only the ledger inputs' stage reads (the AGB bootstrap): in its key,
#: not the epochs' (asking for the comparison bootstrap recomputes no map).
_LEDGER_INPUT_SETTINGS = {"bootstrap_replicates", "bootstrap_trees", "bootstrap_comparison"}

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a run computed (and wrote).

    Attributes
    ----------
    context
        The run's context (survey, grid, seed, profile).
    results
        Each epoch's stage results, earliest first.
    ledger
        The accounting.
    carbon
        Epoch name → per-pixel carbon of the counted pools (with SDs).
    change
        Per-pixel change and removals between the first and last epochs
        (``None`` for one epoch).
    out_dir
        The output folder, ``None`` when nothing was written.
    manifest
        The run manifest (``manifest.json``), ``None`` when nothing was written.
    written
        Every file written.
    ledger_inputs
        Each epoch's aggregates on the change strata with its AGB bootstrap
        (:func:`~carbonsink.pipeline.stages.ledger.epoch_ledger_inputs`).
    logged
        (where, lines) of the WARNING lines the stages logged: with
        ``ledger_inputs``, what :func:`~carbonsink.pipeline.stages.ledger.survey_ledger`
        needs to build the ledger again (another language, another profile)
        without recomputing a stage.
    ledger_arguments
        What the ledger was built from: the inputs with their SOC totals, the
        SOC blocks and the errors the epochs share
        (:func:`~carbonsink.pipeline.stages.ledger_arguments.ledger_arguments`);
        the sampling design starts from them instead of kriging the cores again.
    """

    context: RunContext
    results: list[EpochResults]
    ledger: Ledger
    carbon: dict[str, xr.Dataset]
    change: xr.Dataset | None
    out_dir: Path | None = None
    manifest: dict[str, Any] | None = None
    written: list[Path] = field(default_factory=list)
    ledger_inputs: list[EpochInputs] = field(default_factory=list)
    logged: list[tuple[Message, tuple[LoggedLine, ...]]] = field(default_factory=list)
    ledger_arguments: LedgerArguments | None = None


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def run_survey(
    survey: Survey | str | PathLike[str],
    out_dir: str | PathLike[str] | None = None,
    *,
    seed: int | None = None,
    resume: bool = True,
    pdf: bool = False,
    language: str | None = None,
    executor: Executor | None = None,
    preflight: PreflightReport | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Run a whole survey: stages, accounting and — with ``out_dir`` — every output.

    Parameters
    ----------
    survey
        The survey, or the path of its TOML file.
    out_dir
        Output folder (created; layout in docs/design.md §5); ``None``
        computes without writing anything (the notebooks' use). The outputs
        and ``run.log`` are written in ``out_dir/.staging`` and published
        as one set when complete (:mod:`carbonsink.pipeline.publish`): a
        failed run leaves the previous outputs as they were.
    seed
        Seed of every random step (default: the survey's ``seed``); the same
        number means the same thing from the command line and the library.
    resume
        Reuse the finished stages in ``out_dir/.cache`` whose inputs are
        unchanged; ``False`` recomputes everything (and refreshes the cache).
    pdf
        Also write ``report.pdf`` (needs the ``pdf`` extra).
    language
        Language of the report (``en``, ``zh-CN``; default: the survey's
        ``[survey] language``). It changes no number and no hash of the run.
    executor
        Where LiDAR tiles and bootstrap replicates run
        (:func:`~carbonsink.pipeline.executors.run_executor`).
    preflight
        The survey's preflight report, when already made (its grid and
        boundary are reused); made here otherwise.
    progress
        Called with ``(what, done, total)`` as the stages advance.

    Returns
    -------
    RunResult

    Raises
    ------
    InputError
        The preflight found errors (all listed), before any compute.

    Notes
    -----
    The run sets glibc's mmap and trim thresholds of this process and, through
    ``MALLOC_*`` variables in ``os.environ``, of the processes it starts
    (:func:`~carbonsink.pipeline.allocator.tune_allocator`; values already set are kept).
    """
    tune_allocator()
    if not isinstance(survey, Survey):
        survey = load_survey(survey)
    if language is not None:
        chosen = i18n.check_language(language)
        survey = survey.model_copy(
            update={"survey": survey.survey.model_copy(update={"language": chosen})}
        )
    if pdf:  # fail before any compute when the PDF renderer is missing
        from carbonsink.report.html import load_weasyprint

        load_weasyprint()
    report = preflight if preflight is not None else check_survey(survey)
    ctx = RunContext.build(
        survey, seed=seed, executor=executor, progress=progress, preflight=report
    )
    publication = None if out_dir is None else Publication(Path(out_dir))
    if publication is not None:
        try:  # after the publication has removed what a killed run left
            check_space(publication.root, ctx)
        except BaseException:
            publication.discard()
            raise
        # Scratch shared by the units of work (an absolute path: a cluster's workers have
        # their own working folders), removed with the staging folder.
        ctx = replace(ctx, workdir=publication.staging.resolve() / "work")
    try:
        with _run_log(publication):
            cache = StageCache(
                None if publication is None else OutputFolder(publication.root), enabled=resume
            )
            run = _run(ctx, report, publication, cache, pdf=pdf)
        if publication is not None:
            assert run.manifest is not None
            staged = publication.folder
            run.written.append(staged.path("run_log"))
            run.manifest["outputs"] = _described(staged, run.written)
            run.written.append(write_json(run.manifest, staged.path("manifest")))
            run.written = publication.publish(run.written)
            run.out_dir = publication.root
            cache.prune()
    except BaseException as exc:
        if publication is None:
            raise
        log = publication.discard()
        logger.error(
            "the run did not finish: nothing was published, the outputs in %s are "
            "those of the last complete run (if any)%s",
            publication.root,
            f"; this run's log is {log}" if log else "",
        )
        if isinstance(exc, Exception) and _disk_full(exc, publication.root):
            raise OutputError(
                f"the disk of the output folder is full ({_megabytes(publication.root)} MB free; "
                f"this run needs about {_needed_bytes(ctx) / 1e6:,.0f} MB): nothing was "
                "published, the previous outputs are as they were",
                path=publication.root,
                fix="free some space on that disk, or give the run another --out folder",
            ) from exc
        raise
    ctx.report("done", 1, 1)
    return run


#: Bytes a run writes per grid cell and epoch, outputs and stage cache together (the sample
#: survey: 10.6 MB of outputs and 13.4 MB of cache for 2 epochs of 25,545 cells, 470 B).
BYTES_PER_CELL_EPOCH = 500


#: Bytes of the LiDAR point buckets per point of an epoch's files: a 15-byte record
#: (lidar.tiling.Codec), plus up to half as many again for the points of the tiles' halos.
BUCKET_BYTES_PER_POINT = 23


def _needed_bytes(ctx: RunContext) -> int:
    """Outputs and stage cache, plus the point buckets of the epoch with the most points
    (``OUT/.staging/work``; an epoch's buckets go before the next epoch's are written)."""
    from carbonsink.io.pointclouds import read_lidar_info

    points = [
        sum(
            read_lidar_info(path, crs=entry.crs).point_count
            for entry in epoch.lidar
            for path in entry.files()
        )
        for epoch in ctx.epochs
    ]
    buckets = max(points, default=0) * BUCKET_BYTES_PER_POINT
    return ctx.grid.width * ctx.grid.height * len(ctx.epochs) * BYTES_PER_CELL_EPOCH + buckets


def _megabytes(root: Path) -> str:
    return f"{shutil.disk_usage(root).free / 1e6:,.1f}"


def check_space(root: Path, ctx: RunContext) -> None:
    """Refuse to start when the output folder's disk cannot hold the run (estimated).

    The estimate is :data:`BYTES_PER_CELL_EPOCH` per grid cell and epoch, plus the
    LiDAR point buckets (:data:`BUCKET_BYTES_PER_POINT` per point of the epoch with
    the most).

    Raises
    ------
    OutputError
        Less space is free than the estimate (the folder, both numbers and the fix).
    """
    existing = root
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    needed = _needed_bytes(ctx)
    if free < needed:
        raise OutputError(
            f"the disk of the output folder has {free / 1e6:,.1f} MB free; this run needs "
            f"about {needed / 1e6:,.0f} MB (outputs, stage cache and LiDAR point buckets of "
            f"{len(ctx.epochs)} epoch(s) of {ctx.grid.width:,} × {ctx.grid.height:,} cells)",
            path=root,
            fix="free some space on that disk, or give the run another --out folder",
        )


def _disk_full(exc: BaseException, root: Path) -> bool:
    """Whether a failure is the disk running out: ENOSPC/EDQUOT in its chain, or < 1 MB left.

    HDF5 and GDAL report a full disk without an errno, hence the free-space test.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        seen = seen.__cause__ or seen.__context__
    try:
        return shutil.disk_usage(root).free < 1_000_000
    except OSError:
        return False


@contextlib.contextmanager
def _run_log(publication: Publication | None) -> Iterator[None]:
    """Log the package at INFO into the staged ``run.log`` while the run computes."""
    if publication is None:
        yield
        return
    handler = logging.FileHandler(publication.folder.path("run_log"), encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("carbonsink")
    previous_level = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(min(previous_level or logging.INFO, logging.INFO))
    try:
        for note in publication.notes:
            logger.warning(note)
        yield
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous_level)
        handler.close()


def _run(
    ctx: RunContext,
    report: PreflightReport,
    publication: Publication | None,
    cache: StageCache,
    *,
    pdf: bool,
) -> RunResult:
    """Every stage, the accounting and (into the staging folder) every output but the manifest."""
    survey = ctx.survey
    root = survey.source.parent.resolve() if survey.source is not None else None
    epochs = ctx.epochs
    steps = len(epochs) * 2 + 3
    done = 0

    def step(what: str) -> None:
        nonlocal done
        ctx.report(what, done, steps)
        done += 1

    start = time.perf_counter()
    files = sorted({Path(p).resolve() for p in report.checked})
    hashes = {_relative(p, root): file_sha256(p) for p in files}
    base = _stage_key(ctx, hashes)
    logged: list[tuple[Message, tuple[LoggedLine, ...]]] = []
    epoch_keys: list[str] = []
    stages = [(f"epoch-{e.name}", capture(partial(epoch_results, ctx, e))) for e in epochs]
    held: list[tuple[EpochResults, tuple[LoggedLine, ...]] | None] = []
    for epoch, (stage, compute) in zip(epochs, stages, strict=True):
        step(f"epoch {epoch.name}: imagery, LiDAR, biomass, soil")
        key = content_key(base, "epoch", epoch.model_dump(mode="json"))
        epoch_keys.append(key)
        held.append(cache.get(stage, key, compute))
        if epoch is not epochs[-1] and cache.stored(stage, key):
            # Let go once cached, and read back when every epoch is done: the next
            # epoch's stage does not run beside this one's cube.
            held[-1] = None
        # What the stage freed goes back to the kernel, not kept in its threads' arenas
        # (the 213 km² generator survey's second epoch: 3.4 GB peak → 2.65 GB with both).
        release_free_memory()
    results: list[EpochResults] = []
    for epoch, (stage, compute), key, value in zip(epochs, stages, epoch_keys, held, strict=True):
        result, lines = cache.reread(stage, key, compute) if value is None else value
        results.append(result)
        logged.append((deferred("epoch {name}", name=epoch.name), lines))
    del held
    strata_map = results[-1].cube.cube["landcover"].values
    ledger_inputs: list[EpochInputs] = []
    for result, key in zip(results, epoch_keys, strict=True):
        step(f"epoch {result.epoch.name}: AGB bootstrap")
        inputs_key = _inputs_key(ctx, key, epoch_keys[-1])
        inputs, lines = cache.get(
            f"ledger-inputs-{result.epoch.name}",
            inputs_key,
            capture(partial(epoch_ledger_inputs, ctx, result, strata_map)),
        )
        ledger_inputs.append(inputs)
        logged.append((deferred("epoch {name} AGB bootstrap", name=result.epoch.name), lines))
    step("accounting")
    ledger, arguments = cache.timed(
        "accounting", partial(_ledger_in_language, ctx, results, ledger_inputs, logged)
    )
    record = _run_record(ctx, hashes, root)
    ledger = replace(
        ledger,
        extra={
            **ledger.extra,
            "run": {"run_sha256": record["run_sha256"], "manifest": OUTPUTS["manifest"].pattern},
        },
    )
    carbon = {r.epoch.name: epoch_carbon_layers(ctx, r, ledger) for r in results}
    change = None
    if len(results) > 1:
        from carbonsink.accounting.stocks import change_layers

        first, last = results[0].epoch, results[-1].epoch
        change = change_layers(
            carbon[first.name],
            carbon[last.name],
            years=years_between(first.date, last.date),
            epochs=(first.name, last.name),
        )
    run = RunResult(
        context=ctx,
        results=results,
        ledger=ledger,
        carbon=carbon,
        change=change,
        ledger_inputs=ledger_inputs,
        logged=logged,
        ledger_arguments=arguments,
    )
    if publication is not None:
        _write_outputs(
            run, publication.folder, cache, record=record, pdf=pdf, step=step, start=start
        )
        assert run.manifest is not None
        run.manifest["wall_seconds"] = round(time.perf_counter() - start, 3)
    return run


def _ledger_in_language(
    ctx: RunContext,
    results: list[EpochResults],
    inputs: list[EpochInputs],
    logged: list[tuple[Message, tuple[LoggedLine, ...]]],
) -> tuple[Ledger, LedgerArguments]:
    """The run's ledger, its sentences written by the accounting in the survey's language,
    and the arguments it was built from (the SOC blocks, the errors the epochs share).

    The uncertainty rules' explanations are translated (docs/design.md §7, Languages);
    numbers, keys and codes are the same in every language.
    """
    with i18n.language(ctx.survey.survey.language):
        depth = float(ctx.profile.soil_depth_cm)
        arguments = ledger_arguments(ctx, results, inputs, depth=depth)
        return survey_ledger(ctx, results, logged=logged, arguments=arguments), arguments


def _stage_key(ctx: RunContext, hashes: dict[str, str]) -> str:
    """The key every cached stage of a run derives from: code, settings, inputs and seed.

    The settings leave out the epochs (each epoch's stages add their own) and the
    accounting (not a stage input), and the report's language, which changes no number.
    """
    exclude = {**_PRESENTATION, "biomass": _LEDGER_INPUT_SETTINGS}
    settings = ctx.survey.model_dump(mode="json", exclude=exclude)
    return content_key(__version__, code_fingerprint(), settings, hashes, ctx.seed)


def _inputs_key(ctx: RunContext, epoch_key: str, last_epoch_key: str) -> str:
    """The key of an epoch's ledger inputs: its epoch's, the last epoch's (the strata),
    the profile's depth and pools, and the bootstrap's settings."""
    return content_key(
        epoch_key,
        last_epoch_key,
        "ledger-inputs",
        float(ctx.profile.soil_depth_cm),
        list(ctx.profile.pools),
        ctx.survey.biomass.model_dump(mode="json", include=_LEDGER_INPUT_SETTINGS),
    )


def _run_record(ctx: RunContext, hashes: dict[str, str], root: Path | None) -> dict[str, Any]:
    """What a run is computed from — code version, survey, seed, input files — and its sha256.

    ``run_sha256`` is :func:`~carbonsink.pipeline.cache.content_key` of the
    other four entries (the JSON of the list, sorted keys): the ledger
    carries it, so a ledger and a manifest can be matched.
    """
    survey = ctx.survey
    record: dict[str, Any] = {
        "carbonsink": __version__,
        "survey": _relative(survey.source.resolve(), root) if survey.source else None,
        "survey_sha256": content_key(
            survey.model_dump(mode="json", exclude=_PRESENTATION),
            [e.model_dump(mode="json") for e in ctx.epochs],
            survey.accounting.model_dump(mode="json"),
        ),
        "seed": ctx.seed,
        "inputs": [
            {
                "path": path,
                "size": (root / path if root else Path(path)).stat().st_size,
                "sha256": digest,
            }
            for path, digest in sorted(hashes.items())
        ],
    }
    record["run_sha256"] = content_key(
        record["carbonsink"], record["survey_sha256"], record["seed"], record["inputs"]
    )
    return record


def _write_outputs(
    run: RunResult,
    folder: OutputFolder,
    cache: StageCache,
    *,
    record: dict[str, Any],
    pdf: bool,
    step: Any,
    start: float,
) -> None:
    """Ledger, cubes, maps, tables and report of a run in ``folder``, and the manifest's content.

    The report shows the run time up to the report; the manifest the whole run's.
    """
    from carbonsink.pipeline.gis_project import write_gis_project  # matplotlib: lazily
    from carbonsink.report.html import write_report

    ctx = run.context
    step("maps, cubes and tables")

    def products() -> list[Path]:
        written = write_ledger(run.ledger, folder)
        for result in run.results:
            written += write_epoch_products(ctx, result, run.carbon[result.epoch.name], folder)
        if run.change is not None:
            written += write_change_products(ctx, run.change, folder)
        return written + write_gis_project(ctx, run.results, folder, written)

    written = cache.timed("outputs", products)
    manifest: dict[str, Any] = {
        **record,
        "versions": show_versions(),
        "stages": [r.to_dict() for r in cache.records],
        "outputs": _described(folder, written),
        "wall_seconds": round(time.perf_counter() - start, 3),
    }
    step("report")
    content = report_content(ctx, run.results, run.ledger, run.carbon, run.change, manifest)
    written += write_report(
        content,
        folder.path("report_html"),
        pdf_path=folder.path("report_pdf") if pdf else None,
    )
    run.manifest = manifest
    run.written = written


def _described(folder: OutputFolder, written: Sequence[Path]) -> list[dict[str, Any]]:
    """The manifest's ``outputs``: each file's path, output kind, size (bytes) and sha256."""
    return sorted(
        (
            {**folder.describe(p), "bytes": p.stat().st_size, "sha256": file_sha256(p)}
            for p in written
        ),
        key=lambda entry: str(entry["path"]),
    )
