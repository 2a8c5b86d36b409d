"""The command line's conventions (issue 20): help, global flags, -q, --json, logs, progress."""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.progress import Progress
from typer.main import get_command
from typer.testing import CliRunner

from carbonsink.cli import app
from carbonsink.cli._console import step_progress
from carbonsink.cli._conventions import hoist_global_flags
from tests.conftest import PROJECT_ROOT, SAMPLE_SURVEY

runner = CliRunner()


def _commands() -> Iterator[tuple[list[str], object]]:
    """Every command of the tree, with the words that call it."""
    root = get_command(app)

    def walk(command: object, words: list[str]) -> Iterator[tuple[list[str], object]]:
        children = getattr(command, "commands", None)
        if children is None:
            yield words, command
            return
        for name, child in children.items():
            yield from walk(child, [*words, name])

    yield from walk(root, [])


COMMANDS = [words for words, _ in _commands()]


def test_the_tree_has_every_command() -> None:
    assert ["run"] in COMMANDS and ["soil", "map"] in COMMANDS and ["lidar", "metrics"] in COMMANDS
    assert ["design"] in COMMANDS
    assert len(COMMANDS) == 17


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_help_names_arguments_in_capitals_and_shows_no_flag_types(words: list[str]) -> None:
    result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    usage = result.output.splitlines()[0]
    assert usage.startswith(f"Usage: carbonsink {' '.join(words)} [OPTIONS]")
    assert "{" not in usage and "<bool>" not in result.output
    # An argument is a capital metavar, in the usage line and in the Arguments list.
    for piece in usage.split()[3 + len(words) :]:
        assert re.fullmatch(r"\[?[A-Z_]+\]?(\.\.\.)?", piece), usage


def test_run_usage_and_a_flag_without_a_type() -> None:
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "120"})
    assert result.output.splitlines()[0] == "Usage: carbonsink run [OPTIONS] SURVEY"
    (pdf,) = [line for line in result.output.splitlines() if line.strip().startswith("--pdf")]
    assert pdf.split()[:2] == ["--pdf", "Also"]


def test_help_text_with_brackets_is_not_eaten_as_markup() -> None:
    result = runner.invoke(app, ["soil", "map", "--help"], env={"COLUMNS": "200"})
    assert "(one of [soil] depths_cm)" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "s.toml", "-q"], ["-q", "run", "s.toml"]),
        (["-q", "run", "s.toml"], ["-q", "run", "s.toml"]),
        (["soil", "map", "s.toml", "--debug", "-vv"], ["--debug", "-vv", "soil", "map", "s.toml"]),
        (["run", "s.toml", "-o", "out", "--quiet"], ["--quiet", "run", "s.toml", "-o", "out"]),
        # After "--" every word is an argument, even one spelt like a flag.
        (["verify", "--", "-q"], ["verify", "--", "-q"]),
        # "-w" and "-o" are the subcommand's own options, not global ones.
        (["run", "s.toml", "-w", "2"], ["run", "s.toml", "-w", "2"]),
        # Short flags combine; --version is global too.
        (["run", "s.toml", "-qv"], ["-qv", "run", "s.toml"]),
        (["run", "--version"], ["--version", "run"]),
    ],
)
def test_global_flags_move_in_front_of_the_subcommand(args: list[str], expected: list[str]) -> None:
    assert hoist_global_flags(args) == expected


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_no_command_has_an_option_spelt_like_a_global_flag(words: list[str]) -> None:
    # Global flags are moved in front of the command wherever they stand, so a command's
    # own option of the same spelling could never be reached.
    from carbonsink.cli._conventions import GLOBAL_FLAGS

    command = {" ".join(w): c for w, c in _commands()}[" ".join(words)]
    for param in getattr(command, "params", []):
        spellings = set(getattr(param, "opts", [])) | set(getattr(param, "secondary_opts", []))
        assert not spellings & (GLOBAL_FLAGS | {"-q", "-v"}), (words, spellings)


def test_global_flags_after_the_subcommand_are_accepted(tmp_path: Path) -> None:
    absent = str(tmp_path / "absent.toml")
    for flags in (["-q"], ["-v"], ["-vv"], ["-qv"], ["--debug"], ["--quiet", "--debug"]):
        result = runner.invoke(app, ["validate", absent, *flags])
        assert result.exit_code != 0
        assert "No such option" not in result.output, flags


def test_validate_json_lists_every_problem_with_file_line_and_fix(tmp_path: Path) -> None:
    import shutil

    survey = tmp_path / "junshan"
    shutil.copytree(SAMPLE_SURVEY.parent, survey, ignore=shutil.ignore_patterns("lidar", "truth"))
    plots = survey / "plots_2020.csv"
    lines = plots.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    column = header.index("agb_g_m2")
    row = lines[3].split(",")
    row[column] = "lots"
    lines[3] = ",".join(row)
    plots.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(survey / "survey.toml"), "--quick", "--json"])
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["errors"] >= 1
    assert document["errors"] + document["warnings"] == len(document["problems"])
    (found,) = [p for p in document["problems"] if p["file"] and "plots_2020.csv" in p["file"]]
    assert found["severity"] == "error" and found["fix"]
    # Line 4 of the file: the header is line 1, the edited row the third below it.
    assert found["line"] == 4, found
    assert "agb_g_m2" in found["message"]


def test_validate_json_of_a_good_survey() -> None:
    result = runner.invoke(app, ["validate", str(SAMPLE_SURVEY), "--quick", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["errors"] == 0
    # The sample's grid: 131 x 195 cells of 10 m (sample_data/junshan/README.md).
    assert (document["grid"]["height"], document["grid"]["width"]) == (131, 195)
    assert document["grid"]["resolution_m"] == 10.0
    assert any(path.endswith("plots_2020.csv") for path in document["checked"])


def _requirement_names() -> set[str]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["pdf"],
    ]
    names = set()
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        assert name is not None
        names.add(name.group(0).lower().replace("_", "-"))
        if "[lazrs]" in requirement:
            names.add("lazrs")
    return names


def test_versions_json_names_every_library_the_project_needs() -> None:
    result = runner.invoke(app, ["versions", "--json"])
    assert result.exit_code == 0, result.output
    found = {name.lower().replace("_", "-") for name in json.loads(result.stdout)}
    missing = _requirement_names() - found
    assert not missing, f"versions does not report {sorted(missing)}"
    assert {"carbonsink", "python", "gdal", "proj"} <= found


def test_profiles_explain_their_tags_and_print_factors_plainly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from carbonsink.cli._console import answer

    monkeypatch.setattr(answer, "width", 240)  # no cell wrapped: the texts are whole
    result = runner.invoke(app, ["profiles", "vm0033"])
    assert result.exit_code == 0, result.output
    text = re.sub(r"\s+", " ", result.output)
    assert "[V] read in the cited source" in text and "[U] uncertain" in text
    assert "CH4 not given (configure it)" in text and "CH4 -" not in text
    assert "N2O 0.000864 t/ha/yr" in text


def test_main_leaves_no_flag_behind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from carbonsink.cli import main
    from carbonsink.cli._console import state, stdout

    with pytest.raises(SystemExit):
        main(["validate", str(tmp_path / "absent.toml"), "-q", "--debug"])
    assert (state.quiet, state.debug, stdout.quiet) == (False, False, False)
    capsys.readouterr()


def test_logs_are_one_unwrapped_line_each_when_piped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from carbonsink.cli import _configure_logging

    _configure_logging(0, False)
    path = "/a/very/long/" + "folder/" * 30 + "plots_2020.csv"
    logging.getLogger("carbonsink.test").warning("could not read %s: check its encoding", path)
    err = capsys.readouterr().err
    assert err == f"WARNING could not read {path}: check its encoding\n"
    # The handler writes to the stderr of the moment, not to the one it was made with.
    import io
    import sys

    swapped = io.StringIO()
    saved, sys.stderr = sys.stderr, swapped
    try:
        logging.getLogger("carbonsink.test").warning("later")
    finally:
        sys.stderr = saved
    assert swapped.getvalue() == "WARNING later\n"


def test_the_run_progress_shows_step_k_of_n() -> None:
    with Progress(disable=True) as progress:
        task = progress.add_task("run", total=1.0)
        update = step_progress(progress, task)
        shown = []
        for what, done, total in [
            ("epoch 2020: imagery, LiDAR, biomass, soil", 0, 7),
            ("2020: LiDAR", 2, 4),  # a stage's own progress: the bar stays on step 1
            ("SOC map made", 4, 4),
            ("epoch 2025: imagery, LiDAR, biomass, soil", 1, 7),
            ("report", 6, 7),
            ("done", 1, 1),
        ]:
            update(what, done, total)
            (state,) = progress.tasks
            shown.append((state.description, round(state.percentage, 1)))
    assert shown == [
        ("step 1 of 7: epoch 2020: imagery, LiDAR, biomass, soil", 0.0),
        ("step 1 of 7: 2020: LiDAR", 0.0),
        ("step 1 of 7: SOC map made", 0.0),
        ("step 2 of 7: epoch 2025: imagery, LiDAR, biomass, soil", 14.3),  # 1 of 7 done
        ("step 7 of 7: report", 85.7),  # 6 of 7 done
        ("done", 100.0),
    ]
