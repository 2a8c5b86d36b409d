"""Landsat MTL parsing (format only); the real MTL is read in tests/imagery/test_sensors.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonsink.errors import InputError, InputNotFoundError
from carbonsink.io.landsat_mtl import parse_mtl, read_mtl


def test_parse_mtl_groups_and_types() -> None:
    text = 'GROUP = A\n  GROUP = B\n    X = "s"\n    Y = 2.0E-05\n    N = 7\n  END_GROUP = B\n'
    text += "  D = 2015-08-04\nEND_GROUP = A\nEND\n"
    assert parse_mtl(text) == {"A": {"B": {"X": "s", "Y": 2e-5, "N": 7}, "D": "2015-08-04"}}
    with pytest.raises(InputError, match="does not close"):
        parse_mtl("GROUP = A\nEND_GROUP = B\n")
    with pytest.raises(InputError, match="never closed"):
        parse_mtl("GROUP = A\n")


def test_bad_line_names_the_line() -> None:
    with pytest.raises(InputError, match="not KEY = value") as info:
        parse_mtl("GROUP = A\n  just words\nEND_GROUP = A\n")
    assert info.value.problem.where == "line 2"


def test_missing_mtl_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="MTL file does not exist"):
        read_mtl(tmp_path / "nothing_MTL.txt")
