"""A copy of a LAS/LAZ file with new classes (``carbonsink lidar classify``)."""

from __future__ import annotations

import os
from pathlib import Path

import laspy
import numpy as np
import numpy.typing as npt

from carbonsink.errors import InputError, OutputError
from carbonsink.io.files import existing_file
from carbonsink.io.pointclouds import laspy_errors
from carbonsink.io.writers import atomic_path

__all__ = ["check_classified_path", "write_classification"]


def check_classified_path(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Refuse, before any work, an output that cannot hold the classified copy.

    Parameters
    ----------
    source
        The file to be read.
    out
        Where the copy goes: a ``.las`` or ``.laz`` file path, not a folder,
        not ``source``.

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    InputError
        ``out`` is the file read, a folder, or not a ``.las``/``.laz`` name.
    """
    src, dst = existing_file(source), Path(out)
    if dst.exists() and dst.resolve() == src.resolve():
        raise InputError(
            "the classified copy would overwrite the file read",
            path=dst,
            fix="write the classified cloud to another path",
        )
    if dst.is_dir():
        raise InputError(
            "the output is a folder", path=dst, fix="give a file name ending in .las or .laz"
        )
    if dst.suffix.lower() not in (".las", ".laz"):
        raise InputError(
            f"the output name ends in {dst.suffix or 'nothing'!r}, not .las or .laz",
            path=dst,
            fix="name the output e.g. classified.laz (LAZ) or classified.las",
        )
    return dst


def write_classification(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    classification: npt.NDArray[np.uint8],
) -> Path:
    """Write a copy of a LAS/LAZ file with new classes, every point in its place.

    Parameters
    ----------
    source
        The file read.
    out
        The copy (LAZ when it ends in ``.laz``); written atomically, never
        over ``source``.
    classification
        One ASPRS class per point of ``source``, in the file's order.

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    InputError
        ``out`` is refused (:func:`check_classified_path`), the file cannot
        be read, or the classes are not one per point or do not fit the point
        format (0–31 before LAS 1.4 point format 6).
    OutputError
        The copy cannot be written (nothing is left behind).
    """
    src, dst = existing_file(source), check_classified_path(source, out)
    with laspy_errors(src):
        las = laspy.read(src)
    classes = np.asarray(classification)
    if classes.shape != (len(las.points),):
        raise InputError(
            f"{classes.size} classes for {len(las.points)} points",
            path=src,
            fix="give one class per point, in the file's order",
        )
    if las.header.point_format.id < 6 and classes.size and int(classes.max()) > 31:
        raise InputError(
            f"class {int(classes.max())} does not fit point format {las.header.point_format.id}",
            path=src,
            fix="use classes 0-31, or a LAS 1.4 file of point format 6 or more",
        )
    las.classification = classes.astype(np.uint8)
    try:
        with atomic_path(dst) as tmp:
            las.write(tmp, do_compress=dst.suffix.lower() == ".laz")
    except (OSError, laspy.errors.LaspyException) as exc:
        raise OutputError(
            f"the classified cloud cannot be written ({exc})",
            path=dst,
            fix="check the folder exists and is writable, and that there is disk space",
        ) from exc
    return dst
