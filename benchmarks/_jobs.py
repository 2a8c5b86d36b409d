"""Run one benchmark job in a fresh Python process (so its peak RSS is its own)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_job(code: str, *args: str) -> dict[str, float] | None:
    """Run ``code`` with ``args``; the job prints one JSON line last.

    Returns ``None`` when the job needs a module that is not installed (an
    optional peer), and raises with the job's error output otherwise.
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if result.returncode != 0:
        if "ModuleNotFoundError" in result.stderr:
            return None
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
