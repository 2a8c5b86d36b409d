"""Landsat ``*_MTL.txt`` metadata files: ``KEY = value`` lines nested in GROUPs.

Format only: :func:`parse_mtl` turns the text into nested dicts; the science
that uses the coefficients is in :mod:`carbonsink.imagery.sensors`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from carbonsink.errors import InputError, InputNotFoundError

__all__ = ["parse_mtl", "read_mtl"]

_MTL_LINE = re.compile(r"^\s*(?P<key>[A-Za-z0-9_]+)\s*=\s*(?P<value>.*?)\s*$")


def _mtl_value(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text  # unquoted dates and times stay text


def parse_mtl(text: str, *, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Parse Landsat MTL metadata text into nested dicts (one per GROUP).

    Quoted values become ``str``, numbers ``int`` or ``float``; unquoted
    dates stay ``str``.

    Raises
    ------
    InputError
        When a line is not ``KEY = value`` or the groups do not nest.
    """
    root: dict[str, Any] = {}
    stack: list[tuple[str, dict[str, Any]]] = [("", root)]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.strip() == "END":
            continue
        match = _MTL_LINE.match(line)
        if match is None:
            raise InputError(
                f"line {line.strip()!r} is not KEY = value",
                path=path,
                where=f"line {number}",
                fix="give the scene's original *_MTL.txt file",
            )
        key, value = match["key"], match["value"]
        if key == "GROUP":
            group: dict[str, Any] = {}
            stack[-1][1][value] = group
            stack.append((value, group))
        elif key == "END_GROUP":
            if len(stack) == 1 or stack[-1][0] != value:
                raise InputError(
                    f"END_GROUP = {value} does not close an open group",
                    path=path,
                    where=f"line {number}",
                    fix="give the scene's original *_MTL.txt file",
                )
            stack.pop()
        else:
            stack[-1][1][key] = _mtl_value(value)
    if len(stack) != 1:
        raise InputError(
            f"group {stack[-1][0]} is never closed",
            path=path,
            fix="give the scene's complete *_MTL.txt file",
        )
    return root


def read_mtl(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a Landsat ``*_MTL.txt`` metadata file (see :func:`parse_mtl`)."""
    file = Path(path)
    if not file.is_file():
        raise InputNotFoundError(
            "the Landsat MTL file does not exist",
            path=file,
            fix="give the *_MTL.txt file delivered with the scene",
        )
    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read the MTL file ({exc})", path=file) from exc
    return parse_mtl(text, path=file)
