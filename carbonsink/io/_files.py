"""Checks shared by the readers: the input file exists and is a file."""

from __future__ import annotations

import os
from pathlib import Path

from carbonsink.errors import InputError, InputNotFoundError

__all__ = ["existing_file"]


def existing_file(path: str | os.PathLike[str], *, what: str = "input file") -> Path:
    """Return ``path`` as a :class:`~pathlib.Path` if it names an existing file.

    Parameters
    ----------
    path
        The file to check.
    what
        How to name the file in the error message (``"raster"``, ``"point cloud"``).

    Raises
    ------
    InputNotFoundError
        When nothing exists at ``path``.
    InputError
        When ``path`` is a folder or another non-file.
    """
    file = Path(path)
    if not file.exists():
        raise InputNotFoundError(
            f"the {what} does not exist",
            path=file,
            fix="check the path (relative paths resolve against the survey file's folder)",
        )
    if not file.is_file():
        raise InputError(
            f"the {what} is not a file",
            path=file,
            fix="give the path of a file, not of a folder",
        )
    return file
