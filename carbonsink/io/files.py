"""Checks shared by the readers and writers: the input file exists, which layer of a
vector file to read, and whether a name can become part of a file name."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from carbonsink.errors import InputError, InputNotFoundError

#: A GDAL virtual path into an archive: ``/vsizip/{/data/x.zip}/inner/b.jp2``.
_VIRTUAL = re.compile(r"^/vsi(?:zip|tar)/\{(?P<archive>[^}]+)\}/(?P<member>.+)$")

__all__ = [
    "FILE_NAME_RULE",
    "choose_layer",
    "existing_file",
    "file_name_problem",
    "file_name_slug",
    "list_layers",
]

_SAFE_NAME = re.compile(r"[^\W_][\w.-]*")
_UNSAFE_RUN = re.compile(r"[^\w.-]+")
#: What a name that becomes part of a file name may hold (epochs, models, class slugs).
FILE_NAME_RULE = (
    "letters (of any script), digits, '.', '_' and '-', starting with a letter or digit"
)


def file_name_problem(value: str) -> str | None:
    """Why ``value`` cannot be part of a file name, or ``None`` when it can.

    A name that becomes part of an output file name (an epoch called
    ``2025``, a class called ``reed``) must stay inside its folder on every
    system: no path separators, no ``..``, no spaces, nothing that starts
    with a dot (:data:`FILE_NAME_RULE`).
    """
    if _SAFE_NAME.fullmatch(value) and ".." not in value:
        return None
    return f"{value!r} cannot be part of a file name: use {FILE_NAME_RULE}"


def file_name_slug(name: str) -> str:
    """The part of a file or layer name that stands for ``name`` (a class name, say).

    ``name`` itself when it can be part of a file name; else its NFKC form
    with every run of other characters (spaces, ``/``, ``\\``, punctuation)
    turned into ``_`` and ``._-`` stripped from both ends: ``"芦苇 reed"`` →
    ``"芦苇_reed"``, ``"Carex/sedge"`` → ``"Carex_sedge"``. Empty when ``name``
    has no letter or digit (the caller refuses it).
    """
    if file_name_problem(name) is None:
        return name
    slug = _UNSAFE_RUN.sub("_", unicodedata.normalize("NFKC", name)).strip("._-")
    while ".." in slug:
        slug = slug.replace("..", ".")
    return slug if file_name_problem(slug) is None else ""


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

    Notes
    -----
    A GDAL path into an archive, ``/vsizip/{archive}/member`` or
    ``/vsitar/{archive}/member`` (:mod:`carbonsink.io.products`), exists when
    the archive lists the member.
    """
    file = Path(path)
    virtual = _VIRTUAL.match(str(path))
    if virtual is not None:
        from carbonsink.io.products import archive_members

        archive = Path(virtual["archive"])
        if not archive.is_file() or virtual["member"] not in archive_members(archive):
            raise InputNotFoundError(
                f"the {what} {virtual['member']!r} is not in the archive",
                path=archive,
                fix="download the product again (the archive may be incomplete)",
            )
        return file
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


def list_layers(file: Path) -> list[str]:
    """Names of the layers of an OGR vector file (GeoPackage, GeoJSON, ...)."""
    import pyogrio

    try:
        return [str(name) for name in pyogrio.list_layers(file)[:, 0]]
    except Exception as exc:  # pyogrio raises DataSourceError and GDAL errors
        raise InputError(
            f"the file cannot be read as vector data ({exc})",
            path=file,
            fix="give a GeoPackage (.gpkg), GeoJSON or shapefile (or a UTF-8 CSV for tables)",
        ) from exc


def choose_layer(file: Path, layer: str | None) -> str:
    """The layer to read: ``layer`` if the file has it, else the only layer.

    Raises
    ------
    InputError
        When ``layer`` does not exist, or the file has several layers and
        none is named.
    """
    layers = list_layers(file)
    if layer is not None:
        if layer not in layers:
            raise InputError(
                f"the file has no layer {layer!r} (its layers: {', '.join(layers)})",
                path=file,
                fix="name one of the layers listed",
            )
        return layer
    if not layers:
        raise InputError("the file holds no layer", path=file, fix="export the file again")
    if len(layers) > 1:
        raise InputError(
            f"the file holds {len(layers)} layers ({', '.join(layers)}) and none was chosen",
            path=file,
            fix='name the layer to use (layer = "..." in the survey entry; on the command '
            "line, the file's layer option)",
        )
    return layers[0]
