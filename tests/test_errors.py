"""Tests for carbonsink.errors: message format, builtin bases, preflight collection."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from carbonsink.errors import (
    CarbonSinkError,
    ConfigError,
    CRSError,
    GridError,
    InputError,
    InputNotFoundError,
    ModelError,
    OutputError,
    PreflightError,
    Problem,
    SurveyFileError,
)


# ------------------------------------------------------------------- Problem
def test_problem_message_has_path_where_and_fix() -> None:
    p = Problem(
        "bulk_density_g_cm3 is -0.4",
        path="cores.csv",
        where="line 12",
        fix="give a positive bulk density",
    )
    assert (
        str(p)
        == "cores.csv, line 12: bulk_density_g_cm3 is -0.4 — fix: give a positive bulk density"
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "bad"),
        ({"path": "a.tif"}, "a.tif: bad"),
        ({"where": "band 3"}, "band 3: bad"),
        ({"fix": "do x"}, "bad — fix: do x"),
        ({"path": "a.tif", "fix": "do x"}, "a.tif: bad — fix: do x"),
    ],
)
def test_problem_message_leaves_out_missing_parts(kwargs: dict[str, str], expected: str) -> None:
    assert str(Problem("bad", **kwargs)) == expected


def test_problem_default_severity_is_error() -> None:
    assert Problem("x").severity == "error"


# -------------------------------------------------------------- exceptions
def test_error_message_and_attributes() -> None:
    err = InputError(
        "band 3 is all nodata", path=Path("imagery/s2.tif"), where="band 3", fix="re-export"
    )
    assert str(err) == "imagery/s2.tif, band 3: band 3 is all nodata — fix: re-export"
    assert err.path == Path("imagery/s2.tif")
    assert err.problem.where == "band 3"
    assert err.problem.fix == "re-export"
    assert err.problem.severity == "error"
    assert CarbonSinkError("no path").path is None


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (ConfigError, ValueError),
        (InputError, ValueError),
        (InputNotFoundError, FileNotFoundError),
        (InputNotFoundError, OSError),
        (InputNotFoundError, InputError),
        (CRSError, ValueError),
        (GridError, ValueError),
        (ModelError, RuntimeError),
        (OutputError, OSError),
    ],
)
def test_builtin_inheritance(cls: type[CarbonSinkError], builtin: type[Exception]) -> None:
    assert issubclass(cls, CarbonSinkError)
    assert issubclass(cls, builtin)
    # Callers who catch the builtin keep working, and the message is intact
    # (OSError has its own __str__; it must not mangle ours).
    with pytest.raises(builtin) as info:
        raise cls("what is wrong", path="f.txt", where="line 1", fix="fix it")
    assert str(info.value) == "f.txt, line 1: what is wrong — fix: fix it"


def test_preflight_collects_all_error_problems() -> None:
    problems = [
        Problem("crs missing", path="survey.toml", where="[survey].crs", fix="set crs"),
        Problem("few plots", path="plots.csv", severity="warning"),
        Problem("file absent", path="cores.csv", fix="give the file"),
    ]
    err = PreflightError(problems)
    # Every problem is kept (warnings too) ...
    assert err.problems == tuple(problems)
    text = str(err)
    # ... the two errors are both listed, one line each, with path/where/fix ...
    assert "2 problem(s)" in text
    assert "  - survey.toml, [survey].crs: crs missing — fix: set crs" in text
    assert "  - cores.csv: file absent — fix: give the file" in text
    # ... the warning is not listed as a problem stopping the run.
    assert "few plots" not in text
    assert "carbonsink validate" in text
    assert isinstance(err, CarbonSinkError)


def test_survey_file_error_lists_every_problem() -> None:
    problems = [
        Problem("unknown key 'dept'", where="[soil].dept", fix="did you mean 'depth'?"),
        Problem("resolution is -10", where="[survey].resolution"),
    ]
    err = SurveyFileError(problems, path="survey.toml")
    assert isinstance(err, ConfigError) and isinstance(err, ValueError)
    assert err.problems == tuple(problems)
    assert err.path == Path("survey.toml")
    text = str(err)
    assert text.startswith("survey.toml: 2 problem(s) in the survey file:")
    assert "  - [soil].dept: unknown key 'dept' — fix: did you mean 'depth'?" in text
    assert "  - [survey].resolution: resolution is -10" in text


def test_preflight_accepts_any_sequence() -> None:
    err = PreflightError(p for p in [Problem("a"), Problem("b")])  # type: ignore[arg-type]
    assert len(err.problems) == 2


@pytest.mark.parametrize(
    "err",
    [
        ConfigError("bad key", path="survey.toml", where="[soil].depth", fix="use cm"),
        InputNotFoundError("missing", path="a.las", fix="check the path"),
        OutputError("disk full", path="out/x.tif"),
        ModelError("too few plots"),
        PreflightError([Problem("a", path="x.csv"), Problem("w", severity="warning")]),
        SurveyFileError([Problem("unknown key", where="[soil].dept")], path="survey.toml"),
    ],
)
def test_errors_survive_pickling(err: CarbonSinkError) -> None:
    # Errors raised in dask/multiprocessing workers are pickled to the caller.
    # Default exception pickling calls cls(*args) with the formatted message, which
    # PreflightError(problems) could not take (it iterated the string's characters).
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is type(err)
    assert str(clone) == str(err)
    assert clone.problem == err.problem


@pytest.mark.parametrize(
    "err",
    [
        InputNotFoundError("missing", path="a.las", fix="check the path"),
        OutputError("disk full", path="out/x.tif"),
        InputError("bad value", path="p.csv", where="line 3", fix="use a number"),
    ],
)
def test_errors_survive_tblib_pickling(err: CarbonSinkError) -> None:
    # dask.distributed installs tblib's exception pickling, which rebuilt errors that
    # inherit OSError with ValueError.__new__ and failed ("is not safe").
    from tblib import pickling_support

    pickling_support.install(type(err))
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is type(err)
    assert clone.problem == err.problem
    if isinstance(err, PreflightError | SurveyFileError):
        assert clone.problems == err.problems
