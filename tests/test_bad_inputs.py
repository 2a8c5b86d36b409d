"""A corpus of broken copies of the sample survey (issue 16 item 8).

Each case breaks one thing the way field teams, labs and downloads do, runs
``carbonsink validate`` on it (in this process, through the CLI's entry
point) and asserts that it exits 2 — or 0 with a warning where the input is
usable — with one message that names the file (and the line, band or core),
without a traceback, and without writing anything. A few cases also go
through ``carbonsink run``, which must stop in its preflight before creating
the output folder.

The sample's large files (imagery, point clouds) are hard links into the
copy; a case that changes one replaces the link with a file of its own first,
so the sample is never touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from carbonsink.cli import main
from tests.conftest import PROJECT_ROOT
from tests.scene_edits import set_scl
from tests.workbooks import csv_as_workbook

SAMPLE = PROJECT_ROOT / "sample_data" / "junshan"
S2_2020 = "imagery/s2_2020-09-10.tif"
S2_2025 = ("imagery/s2_2025-09-13.tif", "imagery/s2_2025-09-23.tif")


def _clouded(*names: str) -> Callable[[Path], None]:
    """SCL 9 (cloud, high probability) on every pixel of those scenes (own copies)."""

    def change(survey: Path) -> None:
        for name in names:
            set_scl(_own(survey / name), 9)

    return change


def _copy_survey(target: Path) -> Path:
    def link_or_copy(src: str, dst: str) -> str:
        if Path(src).suffix.lower() in (".tif", ".laz"):
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)
        return dst

    shutil.copytree(
        SAMPLE, target, ignore=shutil.ignore_patterns("truth"), copy_function=link_or_copy
    )
    return target


def _own(path: Path) -> Path:
    """Make ``path`` a file of the copy's own (not a hard link into the sample)."""
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data)
    return path


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path.name, old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")


#: An edit of a table: changes the frame in place, or returns a new one.
Change = Callable[[pd.DataFrame], pd.DataFrame | None]


def _table(path: Path, change: Change) -> None:
    """Rewrite a CSV through ``change`` (which edits the frame, or returns a new one)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    changed = change(frame)
    (frame if changed is None else changed).to_csv(path, index=False)


def _cell(column: str, row: int, value: str) -> Callable[[pd.DataFrame], None]:
    def change(frame: pd.DataFrame) -> None:
        frame.loc[row, column] = value

    return change


def _laz(survey: Path, epoch: str = "2020") -> Path:
    return _own(sorted((survey / "lidar" / epoch).glob("*.laz"))[0])


def _keep_one(kind: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Keep the first sample of a class, drop the others."""

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(index=frame.index[frame["class"] == kind][1:])

    return change


def _rewrite_tif(path: Path, *, names: bool = True, fill: bool = False, **changes: object) -> None:
    """Rewrite a GeoTIFF with profile changes (band names kept unless ``names=False``; every
    pixel the nodata value when ``fill``)."""
    import rasterio

    _own(path)
    with rasterio.open(path) as src:
        profile = {**src.profile, **changes}
        data = src.read()
        descriptions = src.descriptions
        if fill:
            data[:] = src.nodata
    path.unlink()
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data[: int(profile["count"])])
        for i, name in enumerate(descriptions[: int(profile["count"])], start=1):
            if name and names:
                dst.set_band_description(i, name)


@dataclass(frozen=True)
class Case:
    """One broken survey: what is done to a copy, and what the message must name."""

    id: str
    breaks: Callable[[Path], None]
    names: tuple[str, ...]  # substrings of the output: the file, and the line/band/core
    exit_code: int = 2
    quick: bool = True


def _survey(old: str, new: str) -> Callable[[Path], None]:
    return lambda s: _edit(s / "survey.toml", old, new)


def _csv(
    name: str, change: Callable[[pd.DataFrame], pd.DataFrame | None]
) -> Callable[[Path], None]:
    return lambda s: _table(s / name, change)


def _text(name: str, text: str | bytes) -> Callable[[Path], None]:
    def write(s: Path) -> None:
        path = s / name
        if path.exists():
            path.unlink()
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")

    return write


def _raw(name: str, old: bytes, new: bytes) -> Callable[[Path], None]:
    def change(s: Path) -> None:
        path = s / name
        data = path.read_bytes()
        assert old in data
        path.write_bytes(data.replace(old, new, 1))

    return change


def _shift_points(name: str, column: str, by: float) -> Callable[[Path], None]:
    def change(frame: pd.DataFrame) -> None:
        frame[column] = (frame[column].astype(float) + by).map(repr)

    return _csv(name, change)


def _truncate(path_of: Callable[[Path], Path], keep: float) -> Callable[[Path], None]:
    def change(s: Path) -> None:
        path = path_of(s)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return change


def _flip_middle(path_of: Callable[[Path], Path]) -> Callable[[Path], None]:
    def change(s: Path) -> None:
        path = path_of(s)
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        for i in range(middle, middle + 2000):
            data[i] ^= 0x5A
        path.write_bytes(bytes(data))

    return change


def _drop_column(name: str, column: str) -> Callable[[Path], None]:
    def change(frame: pd.DataFrame) -> None:
        del frame[column]

    return _csv(name, change)


def _swap_header(name: str, first: str, second: str) -> Callable[[Path], None]:
    def change(s: Path) -> None:
        path = s / name
        lines = path.read_text(encoding="utf-8").splitlines()
        header = lines[0].split(",")
        i, j = header.index(first), header.index(second)
        header[i], header[j] = header[j], header[i]
        lines[0] = ",".join(header)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return change


def _line(name: str, line: int, text: str) -> Callable[[Path], None]:
    def change(s: Path) -> None:
        path = s / name
        lines = path.read_text(encoding="utf-8").splitlines()
        lines[line - 1] = text
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return change


def _boundary(geometry: dict[str, object]) -> Callable[[Path], None]:
    def change(s: Path) -> None:
        doc = json.loads((s / "boundary.geojson").read_text(encoding="utf-8"))
        doc["features"][0]["geometry"] = geometry
        (s / "boundary.geojson").write_text(json.dumps(doc), encoding="utf-8")

    return change


def _bowtie(s: Path) -> None:
    doc = json.loads((s / "boundary.geojson").read_text(encoding="utf-8"))
    geometry = doc["features"][0]["geometry"]
    ring = (
        geometry["coordinates"][0]
        if geometry["type"] == "Polygon"
        else geometry["coordinates"][0][0]
    )
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    bow = [[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]
    _boundary({"type": "Polygon", "coordinates": [bow]})(s)


#: The soil table's columns as a Chinese lab report heads them (docs/design.md §3).
SOIL_ZH = {
    "core_id": "样点编号",
    "lon": "经度",
    "lat": "纬度",
    "depth_top_cm": "深度上限(cm)",
    "depth_bottom_cm": "深度下限(cm)",
    "bulk_density_g_cm3": "容重(g/cm³)",
    "soc_pct": "有机碳(%)",
    "method": "测定方法",
    "date": "采样日期",
}
SOIL_2020 = 'soil = { path = "soil_2020.csv", crs = "EPSG:4326" }'


def _soil_workbook(
    entry: str, cells: dict[tuple[int, str], object] | None = None
) -> Callable[[Path], None]:
    """The 2020 soil table as sheet 土壤 of soil_2020.xlsx with Chinese headers; ``entry``
    holds the survey entry's keys after its path."""

    def change(s: Path) -> None:
        csv_as_workbook(
            s / "soil_2020.csv", s / "soil_2020.xlsx", sheet="土壤", headers=SOIL_ZH, cells=cells
        )
        _edit(s / "survey.toml", SOIL_2020, f'soil = {{ path = "soil_2020.xlsx"{entry} }}')

    return change


def _gbk_plots(s: Path) -> None:
    """plots_2020.csv with Chinese headers, saved as GBK, and its entry saying so."""
    path = s / "plots_2020.csv"
    text = path.read_text(encoding="utf-8")
    header, rest = text.split("\n", 1)
    names = {"plot_id": "样方编号", "lon": "经度", "lat": "纬度", "size_m2": "样方面积(m2)"}
    header = ",".join(names.get(n, n) for n in header.split(","))
    path.write_bytes(f"{header}\n{rest}".encode("gbk"))
    _edit(s / "survey.toml", 'crs = "EPSG:4490" }', 'crs = "EPSG:4490", encoding = "gbk" }')


CASES = [
    # ---------------------------------------------------------------- the survey file
    Case("toml-syntax", _survey('name = "2020"', 'name = "2020'), ("survey.toml", "line")),
    Case(
        "unknown-key", _survey("[soil]\n", "[soil]\ndepth_cm = 30\n"), ("survey.toml", "depth_cm")
    ),
    Case(
        "bad-date", _survey('date = "2020-09-15"', 'date = "2020-13-15"'), ("survey.toml", "date")
    ),
    Case(
        "epoch-escapes", _survey('name = "2020"', 'name = "../../x"'), ("survey.toml", "epoch name")
    ),
    Case("epoch-slash", _survey('name = "2020"', 'name = "2020/21"'), ("survey.toml", "file name")),
    Case(
        "flux-default",
        _survey("n2o_flux_mg_m2_d = 0.0  # the synthetic world emits no N2O\n", ""),
        ("survey.toml", "[vegetation.classes]", "N2O flux of class(es) water", "default-flux"),
        exit_code=0,
    ),
    Case(
        "flux-missing",
        _survey("ch4_flux_mg_m2_d = 2.0\n", ""),
        ("survey.toml", "[vegetation.classes.water].ch4_flux_mg_m2_d", "no default factor"),
    ),
    Case(
        "resolution-text",
        _survey("resolution = 10.0", 'resolution = "ten"'),
        ("survey.toml", "resolution"),
    ),
    Case(
        "resolution-negative",
        _survey("resolution = 10.0", "resolution = -10.0"),
        ("survey.toml", "resolution"),
    ),
    Case(
        "unknown-crs", _survey('crs = "EPSG:32649"', 'crs = "EPSG:99999"'), ("survey.toml", "99999")
    ),
    Case(
        "unknown-sensor",
        _survey('sensor = "sentinel-2-l2a"', 'sensor = "sentinel-3"'),
        ("survey.toml", "sentinel-3"),
    ),
    Case(
        "unknown-profile",
        _survey("[soil]\n", '[accounting]\nprofile = "vm9999"\n\n[soil]\n'),
        ("vm9999",),
    ),
    Case("class-code-twice", _survey("code = 2", "code = 1"), ("survey.toml", "share code")),
    Case(
        "boundary-missing",
        _survey('boundary = "boundary.geojson"', 'boundary = "bondary.geojson"'),
        ("bondary.geojson",),
    ),
    Case(
        "imagery-missing", _survey("s2_2020-09-10.tif", "s2_2020-09-11.tif"), ("s2_2020-09-11.tif",)
    ),
    Case(
        "lidar-glob-empty", _survey("lidar/2020/*.laz", "lidar/2021/*.laz"), ("lidar/2021/*.laz",)
    ),
    Case("plots-missing", _survey('"plots_2020.csv"', '"plot_2020.csv"'), ("plot_2020.csv",)),
    Case("soil-missing", _survey('"soil_2025.csv"', '"soils_2025.csv"'), ("soils_2025.csv",)),
    # ---------------------------------------------------------------- the boundary
    Case(
        "boundary-not-json",
        _text("boundary.geojson", '{"type": "FeatureCollection", "features": ['),
        ("boundary.geojson",),
    ),
    Case(
        "boundary-a-point",
        _boundary({"type": "Point", "coordinates": [113.07, 29.40]}),
        ("boundary.geojson", "polygon"),
    ),
    Case("boundary-twisted", _bowtie, ("boundary.geojson", "Self-intersection", "feature 1")),
    Case(
        "boundary-elsewhere",
        _boundary(
            {
                "type": "Polygon",
                "coordinates": [[[116.0, 39.9], [116.1, 39.9], [116.1, 40.0], [116.0, 39.9]]],
            }
        ),
        ("overlap",),
    ),
    # ---------------------------------------------------------------- the tables
    Case(
        "plots-gbk",
        _text(
            "plots_2020.csv",
            "plot_id,lon,lat,agb_g_m2,size_m2,veg_class,date\nP1,113.07,29.40,10,1,苔草,2020-09-14\n".encode(
                "gbk"
            ),
        ),
        ("plots_2020.csv", "UTF-8", "line 2", 'encoding = "gbk"'),
    ),
    Case("plots-gbk-declared", _gbk_plots, ("0 warning(s)",), exit_code=0),
    Case(
        "plots-xls",
        lambda s: (
            (s / "plots_2020.csv").rename(s / "plots_2020.xls"),
            _survey('"plots_2020.csv"', '"plots_2020.xls"')(s),
        ),
        ("plots_2020.xls", "Excel 97–2003", "save it as an Excel workbook (.xlsx)"),
    ),
    Case(
        "soil-xlsx-bad-row-12",
        _soil_workbook(', crs = "EPSG:4326", sheet = "土壤"', {(12, "bulk_density_g_cm3"): -0.4}),
        ("soil_2020.xlsx", "sheet '土壤', row 12", "bulk_density_g_cm3", "-0.4"),
    ),
    Case(
        "soil-xlsx-unknown-sheet",
        _soil_workbook(', crs = "EPSG:4326", sheet = "soil"'),
        ("soil_2020.xlsx", "no sheet 'soil'", "'土壤'"),
    ),
    Case(
        "soil-xlsx-no-crs",
        _soil_workbook(""),
        ("soil_2020.xlsx", "spreadsheet (.xlsx) carries no CRS", 'crs = "EPSG:'),
    ),
    Case(
        "soil-carbon-without-unit",
        _line(
            "soil_2020.csv",
            1,
            "core_id,lon,lat,depth_top_cm,depth_bottom_cm,bulk_density_g_cm3,有机碳,method,date",
        ),
        ("soil_2020.csv", "line 1", "'有机碳' does not say in which unit", "有机碳(%)"),
    ),
    Case("plots-empty", _text("plots_2020.csv", ""), ("plots_2020.csv", "empty")),
    Case(
        "plots-header-only",
        _text("plots_2020.csv", "plot_id,lon,lat,agb_g_m2,size_m2,veg_class,date\n"),
        ("plots_2020.csv", "line 2"),
    ),
    Case(
        "plots-duplicate-column",
        _line("plots_2020.csv", 1, "plot_id,lon,lat,agb_g_m2,agb_g_m2,size_m2,veg_class,date"),
        ("plots_2020.csv", "line 1", "agb_g_m2"),
    ),
    Case(
        "plots-no-agb", _drop_column("plots_2020.csv", "agb_g_m2"), ("plots_2020.csv", "agb_g_m2")
    ),
    Case(
        "plots-agb-text",
        _csv("plots_2020.csv", _cell("agb_g_m2", 4, "n/a?")),
        ("plots_2020.csv", "line 6", "agb_g_m2"),
    ),
    Case(
        "plots-agb-negative",
        _csv("plots_2020.csv", _cell("agb_g_m2", 2, "-12.5")),
        ("plots_2020.csv", "line 4", "agb_g_m2"),
    ),
    Case(
        "plots-decimal-comma",
        _csv("plots_2020.csv", _cell("agb_g_m2", 0, "936,4")),
        ("plots_2020.csv", "line 2", "decimal comma"),
    ),
    Case(
        "plots-semicolons",
        lambda s: _edit(s / "plots_2020.csv", ",", ";", count=10**6),
        ("plots_2020.csv", "semicolons"),
    ),
    Case(
        "plots-swapped-lonlat",
        _swap_header("plots_2020.csv", "lon", "lat"),
        ("plots_2020.csv", "look swapped", "line 1"),
    ),
    Case(
        "plots-extra-field",
        _line(
            "plots_2020.csv",
            3,
            "P2020-002,113.0651183,29.4092438,343.6,,1.0,sedge,2020-09-15,extra",
        ),
        ("plots_2020.csv", "line 3"),
    ),
    Case(
        "plots-open-quote",
        _line("plots_2020.csv", 3, 'P2020-002,"113.0651183,29.4092438,343.6,,1.0,sedge,2020-09-15'),
        ("plots_2020.csv", "line"),
    ),
    Case(
        "plots-unknown-class",
        _csv("plots_2020.csv", _cell("veg_class", 1, "rede")),
        ("plots_2020.csv", "line 3", "rede"),
    ),
    Case(
        "plots-duplicate-id",
        _csv("plots_2020.csv", _cell("plot_id", 1, "P2020-001")),
        ("plots_2020.csv", "P2020-001"),
    ),
    Case(
        "plots-all-outside",
        _shift_points("plots_2020.csv", "lon", 1.0),
        ("plots_2020.csv", "inside the project boundary"),
    ),
    Case(
        "plots-size-zero",
        _csv("plots_2020.csv", _cell("size_m2", 0, "0")),
        ("plots_2020.csv", "line 2", "size_m2"),
    ),
    Case(
        "plots-no-lat",
        _csv("plots_2020.csv", _cell("lat", 6, "")),
        ("plots_2020.csv", "line 8", "lat"),
    ),
    Case(
        "soil-layer-upside-down",
        _csv("soil_2020.csv", _cell("depth_top_cm", 1, "25")),
        ("soil_2020.csv", "line 3", "depth_top_cm"),
    ),
    Case(
        "soil-bulk-density-zero",
        _csv("soil_2020.csv", _cell("bulk_density_g_cm3", 2, "0")),
        ("soil_2020.csv", "line 4", "bulk_density_g_cm3"),
    ),
    Case(
        "soil-bulk-density-huge",
        _csv("soil_2020.csv", _cell("bulk_density_g_cm3", 2, "12")),
        ("soil_2020.csv", "line 4", "bulk_density_g_cm3"),
    ),
    Case(
        "soil-soc-over-100",
        _csv("soil_2020.csv", _cell("soc_pct", 3, "140")),
        ("soil_2020.csv", "line 5", "soc_pct"),
    ),
    Case(
        "soil-soc-comma",
        _csv("soil_2020.csv", _cell("soc_pct", 3, "0,96")),
        ("soil_2020.csv", "line 5", "decimal comma"),
    ),
    Case(
        "soil-no-depth",
        _drop_column("soil_2020.csv", "depth_bottom_cm"),
        ("soil_2020.csv", "depth_bottom_cm"),
    ),
    Case(
        "soil-overlapping-layers",
        _csv("soil_2020.csv", _cell("depth_top_cm", 2, "15")),
        ("soil_2020.csv", "C2020-01"),
    ),
    Case(
        "soil-unknown-method",
        _csv("soil_2020.csv", _cell("method", 0, "guess")),
        ("soil_2020.csv", "line 2", "guess"),
    ),
    Case(
        "samples-no-class",
        _drop_column("landcover_2020.csv", "class"),
        ("landcover_2020.csv", "class"),
    ),
    Case(
        "samples-swapped-xy",
        _swap_header("landcover_2020.csv", "x", "y"),
        ("landcover_2020.csv", "look swapped"),
    ),
    Case(
        "samples-unknown-class",
        _csv("landcover_2020.csv", _cell("class", 0, "lotus")),
        ("landcover_2020.csv", "line 2", "lotus"),
    ),
    Case(
        "samples-one-poplar",
        _csv(
            "landcover_2025.csv",
            _keep_one("poplar"),
        ),
        ("landcover_2025.csv", "poplar (1)"),
        exit_code=0,
    ),
    Case(
        "samples-all-outside",
        _shift_points("landcover_2020.csv", "x", 100_000.0),
        ("landcover_2020.csv", "inside the project boundary"),
    ),
    # ---------------------------------------------------------------- imagery
    Case("imagery-not-a-raster", _text(S2_2020, "this is not a GeoTIFF"), ("s2_2020-09-10.tif",)),
    Case("imagery-truncated", _truncate(lambda s: _own(s / S2_2020), 0.3), ("s2_2020-09-10.tif",)),
    Case(
        "imagery-one-band",
        lambda s: _rewrite_tif(s / S2_2020, count=1, names=False),
        ("s2_2020-09-10.tif", "none of the bands"),
    ),
    Case(
        "imagery-all-fill",
        lambda s: _rewrite_tif(s / S2_2020, fill=True),
        ("s2_2020-09-10.tif", "band 1", "no valid pixel over the project"),
    ),
    Case(
        "imagery-no-scl",
        lambda s: _rewrite_tif(s / S2_2020, count=10),
        ("s2_2020-09-10.tif", "SCL"),
        exit_code=0,
    ),
    Case(
        "imagery-clouded",
        _clouded(S2_2025[1]),
        ("s2_2025-09-23.tif", "band SCL", "every pixel over the project", "scene-dropped"),
        exit_code=0,
    ),
    Case(
        "imagery-epoch-clouded",
        _clouded(*S2_2025),
        ("survey.toml", "every scene of epoch '2025' is wholly clouded"),
    ),
    Case(
        "imagery-elsewhere",
        lambda s: _rewrite_tif(
            s / S2_2020, transform=__import__("rasterio").Affine(10, 0, 200_000, 0, -10, 4_000_000)
        ),
        ("s2_2020-09-10.tif", "overlap"),
    ),
    # ---------------------------------------------------------------- point clouds
    Case("laz-truncated", _truncate(_laz, 0.5), ("junshan_2020_", "truncated")),
    Case(
        "laz-not-las",
        lambda s: _laz(s).write_bytes(b"PK\x03\x04 not a point cloud" * 20),
        ("junshan_2020_",),
    ),
    Case("laz-empty-file", lambda s: _laz(s).write_bytes(b""), ("junshan_2020_",)),
    Case(
        "laz-damaged-chunk",
        _flip_middle(_laz),
        ("junshan_2020_", "decoding stops after"),
        quick=False,
    ),
    Case(
        "laz-wrong-crs",
        _survey(
            'lidar = [{ path = "lidar/2020/*.laz", crs = "EPSG:4547" }]',
            'lidar = [{ path = "lidar/2020/*.laz", crs = "EPSG:32650" }]',
        ),
        ("junshan_2020_",),
    ),
]


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    code = exit_info.value.code
    return int(code) if isinstance(code, int) else 0, captured.out + captured.err


def test_the_corpus_has_at_least_fifty_cases() -> None:
    assert len(CASES) >= 50
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_broken_survey_gets_one_clear_message(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    survey = _copy_survey(tmp_path / "survey")
    case.breaks(survey)
    before = _listing(tmp_path)
    args = ["validate", *(["--quick"] if case.quick else []), str(survey / "survey.toml")]
    code, output = _cli(capsys, *args)
    assert code == case.exit_code, output
    flat = re.sub(r"\s+", " ", output)
    for name in case.names:
        assert name in flat, (name, output)
    assert "Traceback" not in output and "internal error" not in output
    assert _listing(tmp_path) == before  # nothing written, nothing changed
    assert (SAMPLE / "survey.toml").read_text(encoding="utf-8").count("[[epochs]]") == 2


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if c.id in {"toml-syntax", "plots-agb-text", "laz-truncated", "imagery-one-band"}
    ],
    ids=lambda c: c.id,
)
def test_run_stops_in_its_preflight_and_writes_nothing(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    survey = _copy_survey(tmp_path / "survey")
    case.breaks(survey)
    out = tmp_path / "out"
    code, output = _cli(capsys, "run", str(survey / "survey.toml"), "--out", str(out))
    assert code == 2, output
    assert case.names[0] in re.sub(r"\s+", " ", output)
    assert "Traceback" not in output
    assert not out.exists()
