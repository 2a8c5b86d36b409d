"""The preflight's checks of point tables: schema, values, CRS and place of every row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import shapely
from pyproj import CRS

from carbonsink.config import (
    TableEntry,
)
from carbonsink.errors import CarbonSinkError
from carbonsink.io.soil_sheets import usable_layers
from carbonsink.io.tables import read_table, table_crs, table_points
from carbonsink.preflight.reporter import Reporter
from carbonsink.schemas import (
    MIN_METHOD_PAIRS,
    TABLE_SCHEMAS,
    check_table,
    header_place,
    rows_text,
)


class TableChecks(Reporter):
    """Checks of the survey's tables (plots, soil cores, land-cover samples, checkpoints)."""

    @staticmethod
    def read(entry: TableEntry, kind: str) -> pd.DataFrame:
        """The table of ``entry`` read as a table of ``kind`` (text columns, header aliases)."""
        return read_table(
            entry.path,
            text_columns=TABLE_SCHEMAS[kind].text_columns(),
            kind=kind,
            **entry.read_options(),
        )

    def check_table(self, entry: TableEntry, kind: str, where: str) -> None:
        path = entry.path
        self.progress(self.name(path))
        if not self.exists(path, where):
            return
        try:
            frame = self.read(entry, kind)
            blank_ok: tuple[str, ...] = ()
            if kind == "soil":  # as the soil stage takes it: replicates merged, gaps as chosen
                soil = self.survey.soil
                frame = usable_layers(
                    frame,
                    bulk_density_gaps=soil.bulk_density_gaps,
                    incomplete_cores=soil.incomplete_cores,
                    path=self.name(path),
                ).layers
                if soil.bulk_density_gaps == "pedotransfer":
                    blank_ok = ("bulk_density_g_cm3",)
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return
        known = self.class_names
        for problem in check_table(
            frame, kind, path=self.name(path), known_classes=known, may_be_blank=blank_ok
        ):
            self.add(problem)
        if kind == "landcover_samples":
            self.check_samples(frame, path)
        try:
            crs = table_crs(path, crs=entry.crs, layer=entry.layer)
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return
        if self.crs is None:
            return
        try:
            x, y = table_points(frame, crs=crs, target_crs=self.crs, path=path)
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return
        if self.boundary is None or len(x) == 0:
            return
        inside = shapely.contains_xy(self.boundary, x, y)
        lines = frame.index[~inside]
        if not inside.any():
            swapped = self.swapped_inside(frame, crs, path)
            if swapped:
                x_col, y_col = swapped
                self.error(
                    f"none of the {len(x)} points lies inside the project boundary, but with "
                    f"{x_col} and {y_col} swapped they do: the columns look swapped",
                    path=path,
                    where=f"{header_place(frame.attrs)} (header: {x_col}, {y_col})",
                    fix=f"swap the names of the {x_col} and {y_col} columns in the header "
                    f"({x_col} is the {'longitude' if crs.is_geographic else 'easting'})",
                )
                return
            self.error(
                f"none of the {len(x)} points lies inside the project boundary",
                path=path,
                fix=f"check the coordinates and the CRS ({crs.to_string()}) of {where}",
            )
        elif len(lines):
            self.warn(
                f"{len(lines)} of {len(x)} points lie outside the project boundary "
                "and will not be used",
                path=path,
                where=rows_text(frame.attrs, list(lines), most=8),
                fix="check their coordinates, or remove them",
            )

    def check_method_pairs(self, entry: TableEntry, where: str) -> None:
        """The samples by both methods: the table's schema and their number (eq. 3.3b)."""
        path = entry.path
        self.progress(self.name(path))
        if not self.exists(path, where):
            return
        try:
            frame = self.read(entry, "method_pairs")
        except CarbonSinkError as exc:
            self.failed(exc, path)
            return
        problems = check_table(frame, "method_pairs", path=self.name(path))
        for problem in problems:
            self.add(problem)
        if problems or "sample_id" not in frame.columns:
            return
        if self.survey.soil.method_bias_sd_pct <= 0:
            self.error(
                "[soil] method_pairs is given but method_bias_sd_pct is 0, which asserts that "
                "the two methods agree exactly",
                path=self.source,
                where="[soil].method_bias_sd_pct",
                fix="set method_bias_sd_pct to the bias's SD before these samples (a planning "
                "value such as 5), or remove method_pairs",
            )
        self.check_reference_method(frame, path)
        samples = frame["sample_id"].astype("string").str.strip().nunique()
        if samples < MIN_METHOD_PAIRS:
            self.error(
                f"{samples} sample(s) measured by both methods; at least {MIN_METHOD_PAIRS} are "
                "needed to estimate the bias and its spread",
                path=path,
                fix=f"measure at least {MIN_METHOD_PAIRS} samples by both methods, or remove "
                "[soil] method_pairs",
            )

    def check_reference_method(self, pairs: pd.DataFrame, path: Path) -> None:
        """The first epoch's soil names one method, and the samples are measured by it."""
        first = self.survey.epochs[0] if self.survey.epochs else None
        if first is None or first.soil is None or not first.soil.path.is_file():
            return
        try:
            soil = self.read(first.soil, "soil")
        except CarbonSinkError:
            return  # its own check reports it
        methods = (
            sorted({str(m).strip().lower() for m in soil["method"].dropna()})
            if "method" in soil.columns
            else []
        )
        if len(methods) != 1:
            self.error(
                "[soil] method_pairs calibrates a lab method against the first epoch's, but "
                f"epoch {first.name!r}'s soil table names {len(methods)} method(s)"
                + (f" ({', '.join(methods)})" if methods else ""),
                path=first.soil.path,
                fix="give the first epoch's soil table a method column with its one "
                "organic-carbon method (e.g. CHN)",
            )
            return
        named = {str(m).strip().lower() for m in pairs["method"].dropna()}
        if methods[0] not in named:
            self.error(
                f"the samples by both methods are measured by {' and '.join(sorted(named))}, "
                f"not by the first epoch's method {methods[0]!r}",
                path=path,
                fix="measure each sample by the first epoch's method and the later epochs' one",
            )

    def swapped_inside(self, frame: pd.DataFrame, crs: CRS, path: Path) -> tuple[str, str] | None:
        """The (x, y) column names when swapping them puts most points inside the boundary."""
        assert self.boundary is not None and self.crs is not None
        pairs = [("x", "y"), ("lon", "lat"), ("longitude", "latitude")]
        for x_col, y_col in pairs:
            if x_col in frame.columns and y_col in frame.columns:
                swapped = frame.rename(columns={x_col: y_col, y_col: x_col})
                try:
                    x, y = table_points(swapped, crs=crs, target_crs=self.crs, path=path)
                except CarbonSinkError:
                    return None
                inside = shapely.contains_xy(self.boundary, x, y)
                return (x_col, y_col) if inside.mean() > 0.5 else None
        return None

    def check_samples(self, frame: pd.DataFrame, path: Path) -> None:
        """Land-cover classes with fewer than 2 reference samples (accuracy and area need 2)."""
        if "class" not in frame.columns:
            return
        counts = frame["class"].astype("string").str.strip().value_counts()
        few = [
            f"{name} ({counts.get(name, 0)})"
            for name in self.survey.vegetation.classes
            if counts.get(name, 0) < 2
        ]
        if few:
            self.warn(
                f"land-cover class(es) with fewer than 2 reference samples: {', '.join(few)}; "
                "a class without one is mapped nowhere (0 ha), one with a single sample has no "
                "SE of its user's accuracy and a Jeffreys-prior area variance",
                path=path,
                fix="add reference samples of these classes (at least 2 each, better 20 or more), "
                "or remove classes that do not occur from [vegetation.classes]",
            )
