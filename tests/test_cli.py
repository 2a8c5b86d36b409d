"""Tests of the command line (exit codes, messages, no tracebacks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from carbonsink import __version__
from carbonsink.cli import main
from tests.conftest import PROJECT_ROOT


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out + captured.err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"carbonsink {__version__}"


def test_python_dash_m_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "carbonsink", "--version"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_missing_survey_is_bad_input_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_main(["validate", str(tmp_path / "absent.toml")], capsys)
    assert code == 2
    assert "does not exist" in out
    assert "Traceback" not in out


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["validate"], capsys)
    assert code == 2
    assert "Missing argument" in out


def test_quiet_and_verbose_flags_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for flag in ("-q", "-v", "-vv"):
        code, _ = run_main([flag, "validate", str(tmp_path / "absent.toml")], capsys)
        assert code == 2


def test_internal_error_exit_1_and_debug_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import carbonsink.preflight

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(carbonsink.preflight, "preflight", explode)
    code, out = run_main(["validate", str(tmp_path / "s.toml")], capsys)
    assert code == 1
    assert "internal error" in out and "boom" in out
    assert "Traceback" not in out
    code, out = run_main(["--debug", "validate", str(tmp_path / "s.toml")], capsys)
    assert code == 1
    assert "Traceback" in out


def test_versions_lists_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["versions"], capsys)
    assert code == 0
    for name in ("carbonsink", "rasterio", "laspy", "gdal", "proj"):
        assert name in out


def test_sample_data_command_writes_a_valid_survey(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_main(["sample-data", str(tmp_path / "j"), "--seed", "7"], capsys)
    assert code == 0, out
    survey = tmp_path / "j" / "survey.toml"
    assert survey.is_file()
    code, out = run_main(["validate", str(survey)], capsys)
    assert code == 0, out
