"""TOML documents: parse, hash, clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from carbonsink.errors import ConfigError
from carbonsink.io.toml_documents import parse_toml, read_package_toml, read_toml_file


def test_parse_returns_the_dict_and_the_sha256_of_the_bytes() -> None:
    data = b'name = "x"\nbuffer_pct = 15\n'
    raw, digest = parse_toml(data, label="p.toml")
    assert raw == {"name": "x", "buffer_pct": 15}
    assert digest == hashlib.sha256(data).hexdigest()


def test_bad_bytes_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"p\.toml.*not UTF-8"):
        parse_toml(b"name = \xff\n", label="p.toml")
    with pytest.raises(ConfigError, match=r"p\.toml.*not valid TOML"):
        parse_toml(b"name = = 1\n", label="p.toml")
    with pytest.raises(ConfigError, match="cannot read the file"):
        read_toml_file(tmp_path / "missing.toml")


def test_package_data_is_found() -> None:
    raw, _ = read_package_toml("carbonsink.accounting", "profiles", "vm0033.toml")
    assert raw["name"] == "vm0033"
