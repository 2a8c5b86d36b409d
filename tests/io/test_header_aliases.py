"""Tests for Chinese column headers (carbonsink.io.header_aliases) and GBK CSV files."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest

from carbonsink.errors import InputError
from carbonsink.io.header_aliases import ALIASES, canonical_name
from carbonsink.io.tables import read_table
from carbonsink.schemas import TABLE_SCHEMAS, check_table
from tests.conftest import PROJECT_ROOT
from tests.workbooks import write_workbook

SOIL = TABLE_SCHEMAS["soil"].text_columns()


def _csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("header", "kind", "column"),
    [
        ("有机质(g/kg)", "soil", "om_g_kg"),
        ("有机质（g/kg）", "soil", "om_g_kg"),  # full-width brackets
        ("有机质 (g·kg⁻¹)", "soil", "om_g_kg"),
        ("有机质【g kg-1】", "soil", "om_g_kg"),
        ("有机质(%)", "soil", "om_pct"),
        ("有机质（％）", "soil", "om_pct"),
        ("有机质/%", "soil", "om_pct"),  # a unit without brackets
        ("有机碳(%)", "soil", "soc_pct"),
        ("有机碳(g/kg)", "soil", "soc_pct"),
        ("容重", "soil", "bulk_density_g_cm3"),
        ("容重(g/cm³)", "soil", "bulk_density_g_cm3"),
        ("土壤容重 (g cm-3)", "soil", "bulk_density_g_cm3"),
        ("深度上限(cm)", "soil", "depth_top_cm"),
        ("深度下限（cm）", "soil", "depth_bottom_cm"),
        ("样点编号", "soil", "core_id"),
        ("样点编号", "plots", "plot_id"),
        ("样方编号", "plots", "plot_id"),
        ("经度", "soil", "lon"),
        ("纬度(°)", "plots", "lat"),
        ("经度", None, "lon"),
        ("地上生物量(g/m²)", "plots", "agb_g_m2"),
        ("样方面积(m2)", "plots", "size_m2"),
        ("高程(m)", "checkpoints", "z"),
        ("地类", "landcover_samples", "class"),
        # Not aliases: kept as written.
        ("经度误差", "soil", "经度误差"),
        ("样点编号", None, "样点编号"),
        ("有机质(g/kg)", "plots", "有机质(g/kg)"),
        ("soc_pct", "soil", "soc_pct"),
    ],
)
def test_headers_become_schema_columns(header: str, kind: str | None, column: str) -> None:
    assert canonical_name(header, kind) == column


def test_a_soil_workbook_with_chinese_headers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    header = ["样点编号", "经度", "纬度", "土层(cm)", "容重(g/cm3)", "有机碳（g/kg）", "有机质(%)"]
    path = write_workbook(
        tmp_path / "soil.xlsx",
        {
            "土壤": {
                1: header,
                2: ["C1", 113.07, 29.40, "0-10", 0.99, 25, 4.3],
                3: ["C1", 113.07, 29.40, "10～20cm", 1.2, 13.1, None],
            }
        },
    )
    with caplog.at_level("INFO", logger="carbonsink"):
        frame = read_table(path, kind="soil", text_columns=SOIL)
    assert list(frame.columns) == [
        "core_id",
        "lon",
        "lat",
        "depth_top_cm",
        "depth_bottom_cm",
        "bulk_density_g_cm3",
        "soc_pct",
        "om_pct",
    ]
    assert list(frame["depth_top_cm"]) == [0, 10]
    assert list(frame["depth_bottom_cm"]) == [10, 20]
    # g/kg ÷ 10 = %: 25 g/kg = 2.5 %, 13.1 g/kg = 1.31 %.
    assert list(frame["soc_pct"]) == [2.5, 1.31]
    assert frame.loc[2, "om_pct"] == 4.3 and np.isnan(frame.loc[3, "om_pct"])
    assert check_table(frame, "soil", path=path.name) == []
    assert "soil.xlsx: read the columns '样点编号' as core_id" in caplog.text
    assert "'有机碳（g/kg）' ÷ 10 as soc_pct" in caplog.text


def test_messages_about_a_renamed_column_name_its_header(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "soil.csv",
        "core_id,x,y,depth_top_cm,depth_bottom_cm,bulk_density_g_cm3,有机碳(g/kg)\n"
        "C1,1,2,0,10,1.1,25\nC1,1,2,10,20,1.1,12,5\n".replace("12,5", '"12,5"'),
    )
    frame = read_table(path, kind="soil", text_columns=SOIL)
    assert frame.loc[2, "soc_pct"] == 2.5
    assert frame.loc[3, "soc_pct"] == "12,5"  # not a number: left as written for the schema
    problem = check_table(frame, "soil", path=path.name)[0]
    assert problem.where == "line 3"
    assert "soc_pct (column '有机碳(g/kg)' ÷ 10) is not a number ('12,5')" in problem.message
    assert "in %" not in (problem.fix or "")  # the user writes g/kg in that column


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("有机质", "does not say in which unit"),
        ("有机碳", "does not say in which unit"),
        ("有机质(mg/kg)", "in 'mg/kg'; carbonsink reads it in g/kg"),
        ("深度上限(m)", "in 'm'; carbonsink reads it in cm"),
        ("容重(kg/m³)", "in 'kg/m3'; carbonsink reads it in g/cm3 or t/m3 (→ bulk_density_g_cm3)"),
    ],
)
def test_a_header_without_its_unit_or_with_another_unit_is_refused(
    tmp_path: Path, header: str, message: str
) -> None:
    path = _csv(tmp_path / "soil.csv", f"core_id,x,y,{header}\nC1,1,2,30\n")
    with pytest.raises(InputError, match=re.escape(message)) as err:
        read_table(path, kind="soil")
    assert err.value.problem.where == "line 1"
    assert header in str(err.value)


def test_an_alias_beside_its_column_is_refused_naming_both(tmp_path: Path) -> None:
    path = write_workbook(
        tmp_path / "soil.xlsx",
        {"土壤": {1: ["core_id", "有机碳(%)", "soc_pct"], 2: ["C1", 2.5, 2.5]}},
    )
    with pytest.raises(
        InputError, match=r"columns '有机碳\(%\)' and 'soc_pct' both give soc_pct"
    ) as err:
        read_table(path, kind="soil")
    assert err.value.problem.where == "sheet '土壤', row 1"
    twice = _csv(tmp_path / "two.csv", "有机碳(%),有机碳(g/kg)\n2.5,25\n")
    with pytest.raises(InputError, match="both give soc_pct"):
        read_table(twice, kind="soil")
    split = _csv(tmp_path / "split.csv", "土层(cm),depth_top_cm\n0-10,0\n")
    with pytest.raises(InputError, match="both give depth_top_cm"):
        read_table(split, kind="soil")


@pytest.mark.parametrize(
    ("header", "values", "message"),
    [
        ("土层(cm)", ["0-10", "10", "20-30"], "'10'"),
        ("土层", ["0-10cm", "10-20"], "each value ending in cm"),
        # Typed into a General cell, 1-10 becomes a date (10 January or 1 October).
        ("土层(cm)", ["0-1", dt.datetime(2024, 1, 10), "10-20"], "turned some ranges into dates"),
    ],
)
def test_depth_ranges_that_are_not_ranges_name_their_rows(
    tmp_path: Path, header: str, values: list[object], message: str
) -> None:
    rows: dict[int, list[object]] = {1: ["core_id", header]}
    rows.update({row: ["C1", value] for row, value in enumerate(values, start=2)})
    path = write_workbook(tmp_path / "soil.xlsx", {"土壤": rows})
    with pytest.raises(InputError, match=message) as err:
        read_table(path, kind="soil")
    assert err.value.problem.where == "sheet '土壤', row 3"


def test_a_gbk_csv_with_chinese_headers_reads_with_its_encoding(tmp_path: Path) -> None:
    # 样 in GBK is D1 F9: D1 opens a UTF-8 character but F9 cannot continue it, so the
    # file is not UTF-8 from line 1 on.
    text = (
        "样方编号,经度,纬度,地上生物量(g/m2),样方面积(m2),植被类型\n"
        "P1,113.07,29.40,936.4,1,芦苇\nP2,113.08,29.41,343.6,1,苔草\n"
    )
    path = _csv(tmp_path / "plots.csv", text, "gbk")
    with pytest.raises(InputError, match="not UTF-8") as err:
        read_table(path, kind="plots")
    assert err.value.problem.where == "line 1"
    assert 'encoding = "gbk"' in (err.value.problem.fix or "")
    frame = read_table(path, kind="plots", encoding="gbk", text_columns=("plot_id",))
    assert list(frame.columns) == ["plot_id", "lon", "lat", "agb_g_m2", "size_m2", "veg_class"]
    assert list(frame["veg_class"]) == ["芦苇", "苔草"]
    assert list(frame["agb_g_m2"]) == [936.4, 343.6]
    assert list(frame.index) == [2, 3]
    assert list(read_table(path, encoding="GB18030")["植被类型"]) == ["芦苇", "苔草"]


def test_encodings_that_do_not_fit_the_file(tmp_path: Path) -> None:
    path = _csv(tmp_path / "plots.csv", "plot_id,veg_class\nP1,苔草\n")
    with pytest.raises(InputError, match="unknown text encoding 'gkb'"):
        read_table(path, encoding="gkb")
    bom = _csv(tmp_path / "bom.csv", "\ufeffplot_id\nP1\n")
    with pytest.raises(InputError, match="UTF-8 byte-order mark"):
        read_table(bom, encoding="gbk")
    assert list(read_table(bom, encoding="utf-8")["plot_id"]) == ["P1"]
    latin = _csv(tmp_path / "latin.csv", "a\n\xff\xff\n", "latin-1")
    with pytest.raises(InputError, match="not gbk text") as err:
        read_table(latin, encoding="gbk")
    assert err.value.problem.where == "line 2"


def test_every_alias_is_in_the_design_document() -> None:
    # docs/design.md §3 lists the aliases for the users: each name and each unit.
    text = (PROJECT_ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text[text.index("### Chinese column headers") :]
    for alias in ALIASES:
        for name in alias.names:
            assert name in section, name
        for target in alias.units.values():
            for column in target.columns:
                assert f"`{column}`" in section, column


def test_no_name_serves_two_aliases_in_one_kind() -> None:
    for kind in TABLE_SCHEMAS:
        names = [
            name
            for alias in ALIASES
            if alias.kinds is None or kind in alias.kinds
            for name in alias.names
        ]
        assert len(names) == len(set(names)), kind
