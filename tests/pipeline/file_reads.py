"""What the pipeline tests share: a spy on every pyogrio call that opens a given file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def spy_on_reads(patch: pytest.MonkeyPatch, target: Path) -> list[str]:
    """Record the name of every pyogrio call (read_dataframe, read_info, list_layers) on ``target``.

    Returns
    -------
    list of str
        Filled in as the calls happen (one entry per call on ``target``).
    """
    import pyogrio

    resolved = target.resolve()
    calls: list[str] = []
    for name in ("read_dataframe", "read_info", "list_layers"):
        original = getattr(pyogrio, name)

        def spy(path: Any, *args: Any, _call: Any = original, _name: str = name, **kw: Any) -> Any:
            if Path(path).resolve() == resolved:
                calls.append(_name)
            return _call(path, *args, **kw)

        patch.setattr(pyogrio, name, spy)
    return calls
