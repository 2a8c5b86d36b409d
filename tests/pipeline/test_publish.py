"""Published outputs: one complete set or the previous one (docs/design.md §5, issue 16 item 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from carbonsink.errors import OutputError
from carbonsink.pipeline.cache import file_sha256
from carbonsink.pipeline.publish import JOURNAL, STAGING, Publication, recover, verify_outputs


def _stage(publication: Publication, files: dict[str, str], run_sha: str = "r1") -> list[Path]:
    """Write a set of outputs (path → text) and its manifest into the staging folder."""
    written = []
    for relative, text in files.items():
        path = publication.staging / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if relative == "ledger.json":
            text = json.dumps({"value": text, "run": {"run_sha256": run_sha}})
        path.write_text(text, encoding="utf-8")
        written.append(path)
    manifest = {
        "run_sha256": run_sha,
        "outputs": [
            {"path": p.relative_to(publication.staging).as_posix(), "sha256": file_sha256(p)}
            for p in written
        ],
    }
    path = publication.staging / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return [*written, path]


def _publish(root: Path, files: dict[str, str], run_sha: str = "r1") -> list[Path]:
    publication = Publication(root)
    return publication.publish(_stage(publication, files, run_sha))


def _snapshot(root: Path) -> dict[str, bytes]:
    """The folder's files but its lock (and any other dot-file: internal)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.relative_to(root).parts[0].startswith(".")
    }


FIRST = {
    "ledger.json": "one",
    "report.html": "<p>one</p>",
    "cube_2020.nc": "a",
    "cube_2025.nc": "b",
    "maps/agb_mg_ha_2025.tif": "m",
    "change.nc": "c",
}


def test_publish_moves_the_staged_set_into_place_and_verifies(tmp_path: Path) -> None:
    paths = _publish(tmp_path, FIRST)
    assert [p.relative_to(tmp_path).as_posix() for p in paths][-1] == "manifest.json"
    assert all(p.is_file() for p in paths)
    assert not (tmp_path / STAGING).exists() and not (tmp_path / JOURNAL).exists()
    assert verify_outputs(tmp_path) == []


def test_a_new_set_leaves_no_stale_file_of_the_previous_one(tmp_path: Path) -> None:
    # The first run had two epochs; the second has one: its second-epoch cube, change
    # file and map must not survive beside the new ledger.
    _publish(tmp_path, FIRST)
    (tmp_path / "notes.txt").write_text("the user's own file", encoding="utf-8")
    _publish(tmp_path, {"ledger.json": "two", "report.html": "2", "cube_2020.nc": "a2"}, "r2")
    assert sorted(_snapshot(tmp_path)) == [
        "cube_2020.nc",
        "ledger.json",
        "manifest.json",
        "notes.txt",
        "report.html",
    ]
    assert not (tmp_path / "maps").exists()  # left empty by the removed map
    assert verify_outputs(tmp_path) == []


def test_a_discarded_run_leaves_the_previous_set_byte_for_byte(tmp_path: Path) -> None:
    _publish(tmp_path, FIRST)
    before = _snapshot(tmp_path)
    publication = Publication(tmp_path)
    _stage(publication, {"ledger.json": "half", "run.log": "log of the failed run"})
    kept = publication.discard()
    assert kept == tmp_path / "run-failed.log"
    assert kept.read_text(encoding="utf-8") == "log of the failed run"
    after = _snapshot(tmp_path)
    assert after.pop("run-failed.log") == b"log of the failed run"
    assert after == before
    assert not (tmp_path / STAGING).exists()
    # The next complete run removes the failed run's log with the previous set.
    _publish(tmp_path, {"ledger.json": "three"}, "r3")
    assert not (tmp_path / "run-failed.log").exists()


def test_a_run_killed_before_publishing_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    _publish(tmp_path, FIRST)
    before = _snapshot(tmp_path)
    publication = Publication(tmp_path)
    _stage(publication, {"ledger.json": "killed"})  # then SIGKILL: no discard
    notes = recover(tmp_path)
    assert len(notes) == 1 and "interrupted run" in notes[0]
    assert _snapshot(tmp_path) == before
    assert verify_outputs(tmp_path) == []


@pytest.mark.parametrize("moved", [0, 1, 3, 6])
def test_a_run_killed_while_publishing_is_completed_from_its_journal(
    tmp_path: Path, moved: int
) -> None:
    # Kill inside step 2 after `moved` of the 7 renames: the journal is there, so the
    # next run's recover() finishes the move and the folder is the new complete set.
    _publish(tmp_path, FIRST)
    second = {"ledger.json": "two", "report.html": "2", "cube_2020.nc": "a2", "change.nc": "c2"}
    publication = Publication(tmp_path)
    staged = _stage(publication, second, "r2")
    files = sorted(p.relative_to(publication.staging).as_posix() for p in staged)
    files = [f for f in files if f != "manifest.json"] + ["manifest.json"]
    remove = ["cube_2025.nc", "maps/agb_mg_ha_2025.tif"]
    (tmp_path / JOURNAL).write_text(json.dumps({"files": files, "remove": remove}))
    for relative in remove[: min(moved, 2)]:
        (tmp_path / relative).unlink()
    for relative in files[:moved]:
        (publication.staging / relative).replace(tmp_path / relative)
    notes = recover(tmp_path)
    assert any("completed the publication" in n for n in notes)
    assert verify_outputs(tmp_path) == []
    ledger = json.loads((tmp_path / "ledger.json").read_text(encoding="utf-8"))
    assert ledger["value"] == "two"
    assert not (tmp_path / "cube_2025.nc").exists()


def test_a_hostile_manifest_never_makes_a_publish_delete_outside_files(tmp_path: Path) -> None:
    root = tmp_path / "out"
    outside = tmp_path / "precious.txt"
    outside.write_text("keep", encoding="utf-8")
    (root).mkdir()
    (root / "survey.toml").write_text("keep", encoding="utf-8")
    (root / "manifest.json").write_text(
        json.dumps(
            {
                "outputs": [
                    {"path": "../precious.txt"},
                    {"path": str(outside)},
                    {"path": "survey.toml"},
                    {"path": "maps/../../precious.txt"},
                ]
            }
        )
    )
    _publish(root, {"ledger.json": "x"})
    assert outside.read_text(encoding="utf-8") == "keep"
    assert (root / "survey.toml").read_text(encoding="utf-8") == "keep"


def test_one_run_at_a_time_writes_to_a_folder(tmp_path: Path) -> None:
    first = Publication(tmp_path)
    with pytest.raises(OutputError, match="another carbonsink run"):
        Publication(tmp_path)
    assert first.staging.is_dir()  # the refused run did not touch the first one's staging
    first.publish(_stage(first, {"ledger.json": "one"}))
    Publication(tmp_path).discard()  # free again once the first has published


def test_verify_outputs_names_a_changed_or_missing_file(tmp_path: Path) -> None:
    _publish(tmp_path, FIRST)
    (tmp_path / "report.html").write_text("edited", encoding="utf-8")
    (tmp_path / "change.nc").unlink()
    problems = verify_outputs(tmp_path)
    assert any("report.html" in p and "sha256" in p for p in problems)
    assert any("change.nc" in p and "missing" in p for p in problems)
    ledger = tmp_path / "ledger.json"
    ledger.write_text(json.dumps({"run": {"run_sha256": "other"}}), encoding="utf-8")
    assert any("run_sha256" in p for p in verify_outputs(tmp_path))
