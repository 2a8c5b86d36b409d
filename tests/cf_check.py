"""The CF checker (``cfchecker``, the NCAS CF-Checker) run on a NetCDF file, offline.

It needs the UDUNITS-2 C library (Debian ``libudunits2-0``, installed by
``.ci/run``) and three XML tables it would otherwise download: the standard
name table comes from ``compliance-checker``'s package data (version 93); the
area-type and region tables are given empty, which is stricter than the real
ones (any ``area_type`` or ``region`` in a file would be an error), and
carbonsink writes neither.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_EMPTY_TABLE = (
    '<?xml version="1.0"?>\n<{root}><version_number>0</version_number><date>none</date></{root}>\n'
)


def cf_messages(path: Path, scratch: Path) -> dict[str, list[str]]:
    """Every ERROR and WARN of cfchecker on ``path`` (checked as CF-1.8), by category.

    Skips the test, with the reason, when cfchecker or UDUNITS-2 is missing.
    """
    try:
        from cfchecker.cfchecks import CFChecker, CFVersion
    except (ImportError, FileNotFoundError) as error:  # cfunits raises the latter
        pytest.skip(
            f"the CF checker is unavailable ({error}): pip install -e '.[test]' and "
            "apt-get install libudunits2-0 (.ci/run does both)"
        )
    import compliance_checker

    names = Path(compliance_checker.__file__).parent / "data" / "cf-standard-name-table.xml"
    area = scratch / "area-type-table.xml"
    region = scratch / "standardized-region-list.xml"
    area.write_text(_EMPTY_TABLE.format(root="area_type_table"), encoding="utf-8")
    region.write_text(_EMPTY_TABLE.format(root="standardized_region_list"), encoding="utf-8")
    checker = CFChecker(
        cfStandardNamesXML=str(names),
        cfAreaTypesXML=str(area),
        cfRegionNamesXML=str(region),
        version=CFVersion((1, 8)),
        silent=True,
    )
    results = checker.checker(str(path))
    found: dict[str, list[str]] = {"ERROR": [], "WARN": []}
    for where, messages in [("global", results["global"]), *results["variables"].items()]:
        for category in found:
            found[category] += [f"{where}: {m}" for m in messages.get(category, [])]
    return found
