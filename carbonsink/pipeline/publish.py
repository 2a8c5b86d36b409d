"""Published outputs: a run's files appear in OUT as one complete set, or not at all.

A run writes every output into ``OUT/.staging`` (docs/design.md §5). Only
when the ledger, the report and the manifest are all there does
:meth:`Publication.publish` move them into place:

1. the plan — the staged files, and the files of the previous set that the
   new one does not replace (listed in the previous ``manifest.json``) — is
   written to the journal ``OUT/.publish.json`` (atomically);
2. the previous set's left-over files are removed, the staged files are
   renamed into OUT (same file system: each rename is atomic), the manifest
   last;
3. the staging folder and the journal are removed.

A run that fails or is killed before step 1 leaves the previous set as it
was: :meth:`Publication.discard` (or, after a SIGKILL, the next run's
:func:`recover`) removes the staging folder. One killed inside step 2 leaves
the journal, and :func:`recover` — called before anything else by the next
run — completes the publication from it, so a folder is only ever the
previous complete set or the new one. :func:`verify_outputs` checks a
folder against its manifest (sha256 of every file, ledger ↔ manifest link).
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from carbonsink.errors import OutputError
from carbonsink.io.writers import make_folder, write_json
from carbonsink.pipeline.outputs import OUTPUTS, OutputFolder, declared_output

__all__ = ["JOURNAL", "LOCK", "STAGING", "Publication", "recover", "verify_outputs"]

logger = logging.getLogger(__name__)

#: The folder inside OUT where a run writes its outputs before they are published.
STAGING = ".staging"
#: The lock of an output folder: held by the run writing to it.
LOCK = OUTPUTS["lock"].pattern
#: The publication's journal: present only while a complete set is being moved into place.
JOURNAL = OUTPUTS["publish_journal"].pattern


def recover(root: Path) -> list[str]:
    """Bring an output folder back to one complete set after an interrupted run.

    A journal left by a run killed while publishing is replayed (its staged
    set is complete, so the publication is finished); a staging folder
    without a journal is a run killed before it was complete, and is removed.

    Returns
    -------
    list of str
        What was done, one sentence each (also logged).
    """
    notes: list[str] = []
    journal = root / JOURNAL
    if journal.is_file():
        try:
            plan = json.loads(journal.read_text(encoding="utf-8"))
            files, remove = list(plan["files"]), list(plan["remove"])
        except (OSError, ValueError, KeyError, TypeError):
            files, remove = [], []  # written atomically: unreadable means tampered
        if files:
            _apply(root, files, remove)
            notes.append(
                f"completed the publication of the run interrupted while its {len(files)} "
                f"outputs were moved into place ({root})"
            )
        journal.unlink(missing_ok=True)
    staging = root / STAGING
    if staging.exists():
        shutil.rmtree(staging, ignore_errors=True)
        notes.append(
            f"removed the unfinished outputs of an interrupted run ({staging}); the "
            "published outputs were not touched"
        )
    for note in notes:
        logger.warning(note)
    return notes


class Publication:
    """The staging folder of one run in ``root``, and the publication of what it wrote there.

    Creating it takes the folder's lock (``root/.lock``: one run at a time
    in a folder), :func:`recover`\\ s the folder and makes an empty
    ``root/.staging``; :attr:`folder` names the files in it. :meth:`publish`
    and :meth:`discard` release the lock (a killed process releases it too).
    """

    def __init__(self, root: Path) -> None:
        self.root = make_folder(root)
        self._lock = FileLock(self.root / LOCK)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise OutputError(
                "another carbonsink run is writing to this output folder",
                path=self.root,
                fix="wait until it has finished, or give this run another --out folder",
            ) from None
        try:
            self.notes = recover(self.root)
            self.staging = self.root / STAGING
            self.staging.mkdir()
        except BaseException:
            self._lock.release()
            raise
        self.folder = OutputFolder(self.staging)

    def publish(self, written: Sequence[Path]) -> list[Path]:
        """Move the staged files into ``root`` as one set; return their final paths.

        Files of the previous set (its manifest's ``outputs``) that the new
        set does not have are removed, so nothing stale survives; files the
        previous manifest does not list (a user's own, a stage command's)
        are never touched.
        """
        try:
            files = sorted({self._relative(p) for p in written}, key=_manifest_last)
            remove = sorted(set(_previous_outputs(self.root)) - set(files))
            write_json({"files": files, "remove": remove}, self.root / JOURNAL)
            _apply(self.root, files, remove)
            (self.root / JOURNAL).unlink()
        finally:
            self._lock.release()
        logger.info("published %d outputs in %s", len(files), self.root)
        return [self.root / f for f in files]

    def discard(self) -> Path | None:
        """Remove the staging folder after a failed run; keep its log as ``run-failed.log``.

        Returns the failed run's log, when there is one.
        """
        try:
            log = self.folder.path("run_log")
            kept = None
            if log.is_file():
                kept = OutputFolder(self.root).path("run_failed_log")
                with contextlib.suppress(OSError):
                    log.replace(kept)
            shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            self._lock.release()
        return kept

    def _relative(self, path: Path) -> str:
        try:
            return Path(path).relative_to(self.staging).as_posix()
        except ValueError:
            raise OutputError(
                "an output was written outside the staging folder",
                path=path,
                fix="this is a bug in carbonsink: every output is written inside OUT/.staging",
            ) from None


def _manifest_last(relative: str) -> tuple[bool, str]:
    return (relative == OUTPUTS["manifest"].pattern, relative)


def _previous_outputs(root: Path) -> list[str]:
    """The published files of the set now in ``root`` (its manifest's outputs and itself).

    Only paths inside ``root`` that a declared output pattern matches are
    returned, whatever the manifest says.
    """
    manifest = root / OUTPUTS["manifest"].pattern
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8")).get("outputs", [])
        listed = [str(e["path"]) for e in entries]
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return []
    extra = [OUTPUTS[i].pattern for i in ("run_log", "run_failed_log")]
    return [p for p in [*listed, *extra] if declared_output(p) is not None]


def _apply(root: Path, files: Sequence[str], remove: Sequence[str]) -> None:
    """Remove the previous set's left-overs, rename the staged files into place (idempotent)."""
    staging = root / STAGING
    for relative in remove:
        if declared_output(relative) is not None:
            (root / relative).unlink(missing_ok=True)
    for relative in files:
        source, target = staging / relative, root / relative
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            source.replace(target)
    shutil.rmtree(staging, ignore_errors=True)
    for relative in remove:  # folders the removed files leave empty (maps/, tables/)
        parent = (root / relative).parent
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def verify_outputs(root: Path) -> list[str]:
    """Problems of an output folder against its manifest; empty when it is one complete set.

    Every output the manifest lists must exist with its size and sha256, and
    the ledger's ``run.run_sha256`` must equal the manifest's.
    """
    from carbonsink.pipeline.cache import file_sha256

    manifest_path = root / OUTPUTS["manifest"].pattern
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{manifest_path}: no readable manifest ({exc})"]
    problems = []
    if (root / JOURNAL).exists() or (root / STAGING).exists():
        problems.append(f"{root}: an interrupted run is not cleaned up (run again to recover)")
    for entry in manifest.get("outputs", []):
        path = root / str(entry.get("path"))
        if not path.is_file():
            problems.append(f"{path}: listed in the manifest, missing")
        elif entry.get("sha256") and file_sha256(path) != entry["sha256"]:
            problems.append(f"{path}: its sha256 differs from the manifest's")
    ledger_path = root / OUTPUTS["ledger"].pattern
    if ledger_path.is_file():
        try:
            ledger = json.loads(ledger_path.read_text(encoding="utf-8"))
            linked = ledger.get("run", {}).get("run_sha256")
        except (OSError, ValueError, AttributeError):
            linked = None
        if linked != manifest.get("run_sha256"):
            problems.append(f"{ledger_path}: its run_sha256 is not the manifest's")
    return problems
