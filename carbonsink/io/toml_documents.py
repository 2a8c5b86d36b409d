"""TOML documents (methodology profiles): bytes in, a dict and the bytes' sha256 out.

Format only: what the keys mean is checked by the caller (e.g.
:mod:`carbonsink.accounting.profiles`).
"""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from carbonsink.errors import ConfigError

__all__ = ["parse_toml", "read_package_toml", "read_toml_file"]


def parse_toml(data: bytes, *, label: str) -> tuple[dict[str, Any], str]:
    """Decode UTF-8 TOML bytes into a dict, with the sha256 of the bytes.

    Raises
    ------
    ConfigError
        The bytes are not UTF-8 or not valid TOML; ``label`` names the file.
    """
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"the file is not UTF-8 text ({exc.reason})",
            path=label,
            fix="save the file as UTF-8",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"the file is not valid TOML: {exc}",
            path=label,
            fix="correct the TOML syntax",
        ) from None
    return raw, hashlib.sha256(data).hexdigest()


def read_toml_file(path: Path) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML file (see :func:`parse_toml`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the file ({exc.strerror or exc})",
            path=path,
            fix="check the path and its permissions",
        ) from None
    return parse_toml(data, label=str(path))


def read_package_toml(package: str, *parts: str) -> tuple[dict[str, Any], str]:
    """Read and parse a TOML data file shipped inside a package."""
    resource = resources.files(package).joinpath(*parts)
    return parse_toml(resource.read_bytes(), label="/".join(parts) + " (built-in)")
