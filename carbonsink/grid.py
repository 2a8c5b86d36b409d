"""The analysis grid: CRS, transform, shape, cell areas, boundary mask and tiles.

Every per-pixel layer of a survey lives on one :class:`Grid`, derived from the
project boundary and the resolution and snapped to multiples of the
resolution, so that grids built from the same CRS and resolution always align.
Large grids are processed in :class:`Tile` s with a halo, and tile results are
cropped back to the tile core and merged without seams (docs/design.md §4).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr
from affine import Affine
from pyproj import CRS, Proj, Transformer
from shapely.geometry.base import BaseGeometry

from carbonsink.crs import as_crs, require_projected_crs
from carbonsink.errors import CRSError, GridError
from carbonsink.units import M2_PER_HA

__all__ = ["Grid", "Tile"]

#: Largest distance between the nodes where the areal scale factor is evaluated.
_AREA_LATTICE_SPACING_M = 2000.0


@dataclass(frozen=True)
class Tile:
    """A rectangular block of the grid with a halo around it.

    ``core`` and ``halo`` are ``(row_off, col_off, height, width)`` windows in
    grid cells; the halo window is clipped at the grid edges.
    """

    id: str
    row: int
    col: int
    core: tuple[int, int, int, int]
    halo: tuple[int, int, int, int]

    @property
    def core_slices(self) -> tuple[slice, slice]:
        """Slices of the core in full-grid array coordinates."""
        r, c, h, w = self.core
        return slice(r, r + h), slice(c, c + w)

    @property
    def halo_slices(self) -> tuple[slice, slice]:
        """Slices of the halo window in full-grid array coordinates."""
        r, c, h, w = self.halo
        return slice(r, r + h), slice(c, c + w)

    @property
    def crop(self) -> tuple[slice, slice]:
        """Slices that crop an array computed on the halo window back to the core."""
        r, c, h, w = self.core
        hr, hc, _, _ = self.halo
        return slice(r - hr, r - hr + h), slice(c - hc, c - hc + w)


@dataclass(frozen=True)
class Grid:
    """A north-up analysis grid in a projected CRS with square cells.

    Parameters
    ----------
    crs
        Projected CRS with metre axes.
    transform
        Affine transform of the upper-left cell corner: ``(res, 0, x0, 0, -res, y0)``.
    width, height
        Number of columns and rows.
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "crs", require_projected_crs(self.crs))
        t = self.transform
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0 or not math.isclose(t.a, -t.e):
            raise GridError(
                f"the grid transform {tuple(t)[:6]} is not north-up with square cells",
                fix="build the grid with Grid.from_bounds or Grid.from_boundary",
            )
        if self.width < 1 or self.height < 1:
            raise GridError(
                f"the grid has {self.height} x {self.width} cells",
                fix="check that the boundary is not empty and the resolution is not "
                "larger than the area",
            )

    # ----------------------------------------------------------------- creation
    @classmethod
    def from_bounds(
        cls,
        bounds: tuple[float, float, float, float],
        *,
        crs: Any,
        resolution: float,
    ) -> Grid:
        """The smallest grid snapped to multiples of ``resolution`` that covers ``bounds``.

        Parameters
        ----------
        bounds
            ``(xmin, ymin, xmax, ymax)`` in ``crs`` units (metres).
        crs
            Projected analysis CRS.
        resolution
            Cell size in metres.
        """
        if not (resolution > 0 and math.isfinite(resolution)):
            raise GridError(
                f"resolution {resolution!r} m is not a positive number",
                fix="set [survey].resolution to a cell size in metres, e.g. 10.0",
            )
        xmin, ymin, xmax, ymax = (float(v) for v in bounds)
        if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)) or (
            xmax <= xmin or ymax <= ymin
        ):
            raise GridError(
                f"bounds {bounds} do not enclose an area",
                fix="check that the boundary polygon is valid and in the stated CRS",
            )
        # Snap outwards; the tolerance (in cells) keeps bounds that already sit on
        # a multiple of the resolution from growing by one cell through round-off.
        # It must exceed the relative rounding error of ``v / resolution`` for
        # projected coordinates (up to ~1e7 m) and sub-metre cells: |v/res| can
        # reach 1e8-1e9, whose spacing between doubles is ~1e-8-1e-7, so 1e-9
        # was too small. 1e-6 cells is 10 µm for 10 m cells.
        eps = 1e-6
        x0 = math.floor(xmin / resolution + eps) * resolution
        y1 = math.ceil(ymax / resolution - eps) * resolution
        x1 = math.ceil(xmax / resolution - eps) * resolution
        y0 = math.floor(ymin / resolution + eps) * resolution
        width = max(1, round((x1 - x0) / resolution))
        height = max(1, round((y1 - y0) / resolution))
        transform = Affine(resolution, 0.0, x0, 0.0, -resolution, y1)
        return cls(crs=as_crs(crs), transform=transform, width=width, height=height)

    @classmethod
    def from_boundary(cls, boundary: BaseGeometry, *, crs: Any, resolution: float) -> Grid:
        """The snapped grid that covers a boundary geometry given in ``crs``."""
        if boundary.is_empty:
            raise GridError(
                "the project boundary is empty",
                fix="give a boundary file with at least one polygon",
            )
        return cls.from_bounds(boundary.bounds, crs=crs, resolution=resolution)

    # --------------------------------------------------------------- geometry
    @property
    def resolution(self) -> float:
        """Cell size in metres."""
        return float(self.transform.a)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` in cells, i.e. ``(rows, cols)``."""
        return self.height, self.width

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the outer cell edges."""
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)

    @property
    def x(self) -> npt.NDArray[np.float64]:
        """Cell-centre x coordinates, west to east."""
        t = self.transform
        return t.c + t.a * (np.arange(self.width, dtype=np.float64) + 0.5)

    @property
    def y(self) -> npt.NDArray[np.float64]:
        """Cell-centre y coordinates, north to south."""
        t = self.transform
        return t.f + t.e * (np.arange(self.height, dtype=np.float64) + 0.5)

    @property
    def nominal_cell_area_ha(self) -> float:
        """Cell area in the projected plane, ``resolution² / 10,000`` ha."""
        return self.resolution**2 / M2_PER_HA

    @cached_property
    def cell_area_ha(self) -> npt.NDArray[np.float64]:
        """True (ellipsoidal) area of every cell in hectares, shape ``(height, width)``.

        Notes
        -----
        A projection distorts areas by its areal scale factor *k_a* (e.g.
        UTM: 0.9992–1.0016 across a zone). The true area of a cell is its
        plane area divided by *k_a* at the cell centre (Snyder 1987, *Map
        Projections — A Working Manual*, USGS PP 1395, eq. 4-9). *k_a* is
        evaluated on a coarse lattice (nodes at most 2 km apart, at least 33
        per axis) and interpolated bilinearly. *k_a* varies smoothly: for
        Transverse Mercator its curvature is about 2/R² ≈ 5e-14 m⁻², so linear
        interpolation over 2 km errs by at most (2000²/8) × 5e-14 ≈ 2.5e-8.
        """
        k = self._areal_scale()
        return np.asarray(self.nominal_cell_area_ha / k, dtype=np.float64)

    def _areal_scale(self) -> npt.NDArray[np.float64]:
        # A fixed 33 x 33 lattice spaced nodes up to ~20 km apart on a UTM-zone
        # wide grid, where interpolation erred by > 1e-6; cap the spacing instead.
        max_spacing_cells = max(1.0, _AREA_LATTICE_SPACING_M / self.resolution)
        n_r = min(self.height, max(33, math.ceil((self.height - 1) / max_spacing_cells) + 1))
        n_c = min(self.width, max(33, math.ceil((self.width - 1) / max_spacing_cells) + 1))
        rows = np.linspace(0, self.height - 1, n_r)
        cols = np.linspace(0, self.width - 1, n_c)
        t = self.transform
        xs = t.c + t.a * (cols + 0.5)
        ys = t.f + t.e * (rows + 0.5)
        gx, gy = np.meshgrid(xs, ys)
        to_geo = Transformer.from_crs(self.crs, self.crs.geodetic_crs, always_xy=True)
        lon, lat = to_geo.transform(gx, gy)
        try:
            factors = Proj(self.crs).get_factors(lon, lat)
            coarse = np.asarray(factors.areal_scale, dtype=np.float64)
        except Exception:  # a projection without factors: fall back to the plane
            coarse = np.ones_like(gx)
        if not np.all(np.isfinite(coarse)):
            coarse = np.ones_like(gx)
        all_rows = np.arange(self.height, dtype=np.float64)
        all_cols = np.arange(self.width, dtype=np.float64)
        along_cols = np.stack([np.interp(all_cols, cols, row) for row in coarse])
        full = np.stack([np.interp(all_rows, rows, col) for col in along_cols.T], axis=1)
        return np.asarray(full, dtype=np.float64)

    def index(
        self, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Row and column of the cells containing points ``(x, y)``.

        Points outside the grid get row/col outside ``[0, height)``/``[0, width)``;
        use :meth:`contains` to test.
        """
        t = self.transform
        col = np.floor((np.asarray(x, dtype=np.float64) - t.c) / t.a).astype(np.int64)
        row = np.floor((np.asarray(y, dtype=np.float64) - t.f) / t.e).astype(np.int64)
        return row, col

    def contains(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each point lies inside the grid's outer bounds."""
        row, col = self.index(x, y)
        return (row >= 0) & (row < self.height) & (col >= 0) & (col < self.width)

    def boundary_mask(
        self, boundary: BaseGeometry, *, all_touched: bool = False
    ) -> npt.NDArray[np.bool_]:
        """``True`` for cells inside the boundary (cell centre inside, or any touch)."""
        from rasterio.features import geometry_mask

        if boundary.is_empty:
            return np.zeros(self.shape, dtype=bool)
        outside = geometry_mask(
            [boundary],
            out_shape=self.shape,
            transform=self.transform,
            all_touched=all_touched,
            invert=False,
        )
        return np.asarray(~outside, dtype=np.bool_)

    # ------------------------------------------------------------------ tiles
    def tiles(self, *, size: int = 512, halo: int = 0) -> Iterator[Tile]:
        """Tiles of at most ``size`` × ``size`` cells with ``halo`` cells around each.

        Tiles are yielded row by row; ids ``"r{row:04d}c{col:04d}"`` depend only
        on the grid shape and ``size``, so they are the same on every run.
        The cores partition the grid: each cell belongs to exactly one core.
        """
        if size < 1 or halo < 0:
            raise GridError(
                f"tile size {size} and halo {halo} cells are not valid",
                fix="use a tile size of at least 1 cell and a halo of at least 0 cells",
            )
        for ti, r0 in enumerate(range(0, self.height, size)):
            h = min(size, self.height - r0)
            for tj, c0 in enumerate(range(0, self.width, size)):
                w = min(size, self.width - c0)
                hr0 = max(0, r0 - halo)
                hc0 = max(0, c0 - halo)
                hr1 = min(self.height, r0 + h + halo)
                hc1 = min(self.width, c0 + w + halo)
                yield Tile(
                    id=f"r{ti:04d}c{tj:04d}",
                    row=ti,
                    col=tj,
                    core=(r0, c0, h, w),
                    halo=(hr0, hc0, hr1 - hr0, hc1 - hc0),
                )

    def window_grid(self, window: tuple[int, int, int, int]) -> Grid:
        """The sub-grid for a ``(row_off, col_off, height, width)`` window."""
        r, c, h, w = window
        t = self.transform
        return Grid(
            crs=self.crs,
            transform=Affine(t.a, 0.0, t.c + c * t.a, 0.0, t.e, t.f + r * t.e),
            width=w,
            height=h,
        )

    def tile_grid(self, tile: Tile, *, with_halo: bool = True) -> Grid:
        """The sub-grid of a tile, with or without its halo."""
        return self.window_grid(tile.halo if with_halo else tile.core)

    def buffered_bounds(self, distance: float) -> tuple[float, float, float, float]:
        """The grid bounds grown by ``distance`` metres on every side."""
        xmin, ymin, xmax, ymax = self.bounds
        return (xmin - distance, ymin - distance, xmax + distance, ymax + distance)

    # ----------------------------------------------------------------- xarray
    def coords(self) -> dict[str, xr.DataArray]:
        """``x``/``y`` cell-centre coordinates with CF attributes."""
        return {
            "y": xr.DataArray(
                self.y,
                dims="y",
                attrs={"units": "m", "standard_name": "projection_y_coordinate", "axis": "Y"},
            ),
            "x": xr.DataArray(
                self.x,
                dims="x",
                attrs={"units": "m", "standard_name": "projection_x_coordinate", "axis": "X"},
            ),
        }

    def dataset(self, attrs: dict[str, Any] | None = None) -> xr.Dataset:
        """An empty :class:`xarray.Dataset` on this grid with its CRS recorded (rioxarray)."""
        import rioxarray  # noqa: F401  (registers the .rio accessor)

        ds = xr.Dataset(coords=self.coords(), attrs=dict(attrs or {}))
        out: xr.Dataset = ds.rio.write_crs(self.crs.to_wkt()).rio.write_transform(self.transform)
        return out

    def dataarray(
        self,
        values: npt.ArrayLike,
        *,
        name: str,
        units: str,
        long_name: str,
        attrs: dict[str, Any] | None = None,
    ) -> xr.DataArray:
        """Wrap a ``(height, width)`` array as a DataArray on this grid with units.

        The array is wrapped, not copied (rioxarray's ``write_crs`` and
        ``write_transform`` copy unless told otherwise: two copies of a
        regional survey's 1 m DTM were 2.3 GB).
        """
        import rioxarray  # noqa: F401

        arr = np.asarray(values) if not hasattr(values, "chunks") else values
        shape = tuple(getattr(arr, "shape", ()))
        if shape != self.shape:
            raise GridError(
                f"layer {name!r} has shape {shape}, the grid is {self.shape}",
                fix="compute the layer on this grid (Grid.shape is (rows, cols))",
            )
        da = xr.DataArray(
            arr,
            dims=("y", "x"),
            coords=self.coords(),
            name=name,
            attrs={"units": units, "long_name": long_name, **(attrs or {})},
        )
        da.rio.write_crs(self.crs.to_wkt(), inplace=True)
        da.rio.write_transform(self.transform, inplace=True)
        return da

    @classmethod
    def from_xarray(cls, obj: xr.DataArray | xr.Dataset) -> Grid:
        """Recover the grid of a DataArray/Dataset made by :meth:`dataarray`/:meth:`dataset`."""
        import rioxarray  # noqa: F401

        crs = obj.rio.crs
        if crs is None:
            raise CRSError(
                "the xarray object has no CRS",
                fix="write one with .rio.write_crs() or build it with Grid.dataset()",
            )
        return cls(
            crs=as_crs(crs),
            transform=obj.rio.transform(),
            width=int(obj.sizes["x"]),
            height=int(obj.sizes["y"]),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Grid):
            return NotImplemented
        return (
            self.crs == other.crs
            and tuple(self.transform) == tuple(other.transform)
            and self.shape == other.shape
        )

    def __hash__(self) -> int:
        # Equal grids must hash equal. ``CRS.__eq__`` compares CRSs for
        # equivalence, and equivalent CRSs can have different WKT (e.g. after a
        # round trip through rioxarray), so the CRS is left out of the hash.
        return hash((tuple(self.transform), self.shape))

    def __repr__(self) -> str:
        code = self.crs.to_epsg()
        name = f"EPSG:{code}" if code else self.crs.name
        return (
            f"Grid({name}, {self.resolution:g} m, {self.height} x {self.width} cells, "
            f"bounds={tuple(round(b, 3) for b in self.bounds)})"
        )
