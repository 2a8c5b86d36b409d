"""Drone LiDAR point clouds simulated over part of the landscape, written as LAZ tiles.

Acquisition model. A drone flies back and forth along the long side of a
rotated rectangular strip (covering a few per cent of the project area —
``ScaleSpec.lidar_cover_fraction`` — not aligned to the boundary) in 60 m
wide swaths at 70 m above ground; the scanner sweeps
across each strip, so pulses lie on a jittered lattice at the survey's pulse
density, in acquisition order (strip, sweep, pulse — which is also what makes
the LAZ files compress well). Each pulse, at the 10 m cell it falls in:

* **water** (open water at the flight date): a single return with
  probability 0.12 (water absorbs the near-infrared pulse, so returns are
  sparse), at the lake level with 8 mm noise;
* **land**: the pulse hits the canopy with probability ``fc = 1 − exp(−0.5
  LAI)``. A hit yields one vegetation return near the canopy top (``H ×
  Beta(6, 1.3)``), a second one inside tall canopies (reed, miscanthus,
  poplar) with probability 0.55 and, in poplar, a low understorey return with
  probability 0.4; the pulse then still reaches the ground with probability
  ``p × exp(−0.5 LAI)`` (``p`` = 0.3 in marsh grass, 0.9 under poplar crowns).
  A pulse that misses the canopy returns from the ground with probability
  0.97. Ground returns lie on the true terrain (bilinear in the 10 m
  elevation) with 3 cm noise. Dense marsh grass therefore hides the ground.

Returns of a pulse are ordered by height (``return_number`` 1 … n of
``number_of_returns`` n). Every point is stored with classification 1
(unassigned): the pipeline must find the ground itself. The *true* kind of
each return is in the ``user_data`` byte: **0 ground, 1 vegetation, 2
water**. Intensities are an 8-bit reflectivity (0–255), as many drone
scanners record it: bright mud, darker wet mud and vegetation, dark water.

Coordinates are transformed with pyproj from EPSG:32649 to CGCS2000 /
3-degree Gauss-Kruger CM 114E (EPSG:4547), easting/northing order; heights
stay on the Yellow Sea 1985 datum. Scale 0.01 m on every axis. Epoch 2020 is
LAS 1.2, point format 3, *without* any CRS record (the survey entry supplies
it); epoch 2025 is LAS 1.4, point format 6, with an OGC WKT CRS VLR. Points
are generated and written in chunks through laspy's streaming writer, so
memory stays bounded whatever the survey size; headers carry the flight date
and a fixed software name so the files are byte-identical for a seed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import laspy
import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from scipy import ndimage
from shapely.geometry import Polygon

from carbonsink.io.writers import atomic_path
from carbonsink.synthetic.landscape import ANALYSIS_CRS, EpochTruth, Landscape
from carbonsink.synthetic.parameters import CLASS_BY_NAME
from carbonsink.synthetic.random_fields import named_stream

__all__ = [
    "LIDAR_CRS",
    "RETURN_GROUND",
    "RETURN_VEGETATION",
    "RETURN_WATER",
    "FlightConditions",
    "LidarSummary",
    "cell_position",
    "ground_at",
    "write_lidar",
]

FloatArray = npt.NDArray[np.float64]

#: CRS of the LiDAR tiles: CGCS2000 / 3-degree Gauss-Kruger CM 114E.
LIDAR_CRS: Final = "EPSG:4547"
#: ``user_data`` value of a true ground return.
RETURN_GROUND: Final = 0
#: ``user_data`` value of a true vegetation return.
RETURN_VEGETATION: Final = 1
#: ``user_data`` value of a true water-surface return.
RETURN_WATER: Final = 2

_STRIP_WIDTH_M: Final = 60.0
_FLYING_HEIGHT_M: Final = 70.0
_PULSE_RATE_HZ: Final = 240_000.0
_CHUNK_PULSES: Final = 400_000
_WATER_RETURN_P: Final = 0.12
_GROUND_NOISE_M: Final = 0.03
_WATER_NOISE_M: Final = 0.008
_SCALE_M: Final = 0.01
_SOFTWARE: Final = "carbonsink synthetic survey"
#: GPS epoch (1980-01-06) and leap seconds GPS − UTC since 2017.
_GPS_EPOCH: Final = dt.datetime(1980, 1, 6, tzinfo=dt.UTC)
_GPS_LEAP_S: Final = 18.0


@dataclass(frozen=True)
class FlightConditions:
    """What the flight meets besides the landscape (defaults: the survey's flights).

    Attributes
    ----------
    water_return_p
        Probability that a pulse over water returns (0.12: a sparse, absorbing
        surface; a low drone flight over calm or turbid water returns from most
        pulses, e.g. 0.73 = 0.75 × the land's 0.97).
    flood_m
        Water stands this much above the epoch's level on the flight date:
        land lower than it is flooded. A pulse that would have reached the
        ground there returns from the water surface instead (with the odds
        ``water_return_p / 0.97``); vegetation returns below the surface are
        gone, so reed and grass taller than the water stand emergent in it.
    dense_reed
        Reed beds are closed: every pulse over reed hits the canopy and none
        reaches the ground, so a bed wider than the ground filter's window has
        no ground return inside it.
    """

    water_return_p: float = _WATER_RETURN_P
    flood_m: float = 0.0
    dense_reed: bool = False


@dataclass(frozen=True)
class LidarSummary:
    """What was written for one epoch.

    Parameters
    ----------
    paths
        LAZ tiles, in file-name order.
    point_count
        Total points over all tiles.
    returns_by_kind
        Point counts by true kind (``"ground"``, ``"vegetation"``, ``"water"``).
    """

    paths: tuple[Path, ...]
    point_count: int
    returns_by_kind: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class _Block:
    origin: FloatArray  # first corner, UTM
    u: FloatArray  # unit vector along the flight lines
    v: FloatArray  # unit vector across them
    length_u: float
    length_v: float


def _block_geometry(block: Polygon) -> _Block:
    corners = np.asarray(block.exterior.coords)[:4]
    du, dv = corners[1] - corners[0], corners[3] - corners[0]
    lu, lv = float(np.hypot(*du)), float(np.hypot(*dv))
    if lu < lv:
        du, dv, lu, lv = dv, du, lv, lu
    return _Block(corners[0], du / lu, dv / lv, lu, lv)


def _tile_edges(block: Polygon, tiles: tuple[int, int]) -> tuple[FloatArray, FloatArray]:
    """Tile edges in EPSG:4547: the block's bounding box split into ``tiles`` parts."""
    to_lidar = Transformer.from_crs(ANALYSIS_CRS, LIDAR_CRS, always_xy=True)
    ring = np.asarray(block.exterior.segmentize(10.0).coords)
    x, y = to_lidar.transform(ring[:, 0], ring[:, 1])
    x0, x1 = math.floor(min(x) / 10) * 10, math.ceil(max(x) / 10) * 10
    y0, y1 = math.floor(min(y) / 10) * 10, math.ceil(max(y) / 10) * 10
    xs = np.round(np.linspace(x0, x1, tiles[0] + 1) / 10) * 10
    ys = np.round(np.linspace(y0, y1, tiles[1] + 1) / 10) * 10
    return xs, ys


def _pulses(
    block: _Block, density: float, rng: np.random.Generator
) -> Iterator[tuple[FloatArray, FloatArray, FloatArray, FloatArray, npt.NDArray[np.int64]]]:
    """Yield chunks of pulses: x, y (UTM), scan angle (deg), GPS offset (s), flight line."""
    spacing = 1.0 / math.sqrt(density)
    n_strips = math.ceil(block.length_v / _STRIP_WIDTH_M)
    n_sweeps = int(block.length_u / spacing)
    pulse_index = 0
    for strip in range(n_strips):
        width = min(_STRIP_WIDTH_M, block.length_v - strip * _STRIP_WIDTH_M)
        n_across = max(1, int(width / spacing))
        across = (np.arange(n_across) + 0.5) * spacing
        sweeps_per_chunk = max(1, _CHUNK_PULSES // n_across)
        for first in range(0, n_sweeps, sweeps_per_chunk):
            sweeps = np.arange(first, min(n_sweeps, first + sweeps_per_chunk))
            if strip % 2 == 1:  # the drone flies back
                sweeps = n_sweeps - 1 - sweeps
            along = (sweeps + 0.5) * spacing
            order = np.where((sweeps % 2 == 0)[:, None], across[None, :], across[::-1][None, :])
            a = np.repeat(along, n_across) + rng.normal(0.0, 0.015, sweeps.size * n_across)
            nominal = order.ravel()
            c = nominal + rng.normal(0.0, 0.015, sweeps.size * n_across)
            v = strip * _STRIP_WIDTH_M + c
            xy = block.origin + np.outer(a, block.u) + np.outer(v, block.v)
            angle = np.degrees(np.arctan((nominal - width / 2) / _FLYING_HEIGHT_M))
            n = a.size
            gps = (pulse_index + np.arange(n)) / _PULSE_RATE_HZ + 60.0 * strip
            pulse_index += n
            yield xy[:, 0], xy[:, 1], angle, gps, np.full(n, strip + 1, dtype=np.int64)


def _gps_offset(date: dt.date) -> float:
    """Adjusted standard GPS time (GPS seconds − 1e9) at 10:00 Beijing time on ``date``."""
    start = dt.datetime(date.year, date.month, date.day, 2, 0, tzinfo=dt.UTC)
    return (start - _GPS_EPOCH).total_seconds() + _GPS_LEAP_S - 1e9


def cell_position(
    landscape: Landscape, x: npt.ArrayLike, y: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Fractional row and column of ``(x, y)`` on the landscape grid, 0 at the first cell centre."""
    grid = landscape.landscape_grid
    xs: FloatArray = np.asarray(x, dtype=np.float64)
    ys: FloatArray = np.asarray(y, dtype=np.float64)
    row_f: FloatArray = (grid.transform.f - ys) / grid.resolution - 0.5
    col_f: FloatArray = (xs - grid.transform.c) / grid.resolution - 0.5
    return row_f, col_f


def ground_at(epoch: EpochTruth, row_f: FloatArray, col_f: FloatArray) -> FloatArray:
    """The true ground the simulated returns lie on: the epoch's elevation, bilinear (m)."""
    z = ndimage.map_coordinates(epoch.elevation_m, [row_f, col_f], order=1, mode="nearest")
    return np.asarray(z, dtype=np.float64)


def _returns(
    landscape: Landscape,
    epoch: EpochTruth,
    x: FloatArray,
    y: FloatArray,
    rng: np.random.Generator,
    conditions: FlightConditions,
) -> dict[str, npt.NDArray]:
    """Simulate the returns of pulses at ``(x, y)``; one row per return, pulse order kept."""
    grid = landscape.landscape_grid
    row_f, col_f = cell_position(landscape, x, y)
    row = np.clip(np.floor(row_f + 0.5).astype(np.int64), 0, grid.height - 1)
    col = np.clip(np.floor(col_f + 0.5).astype(np.int64), 0, grid.width - 1)
    ground_z = ground_at(epoch, row_f, col_f)
    classes = epoch.class_code[row, col]
    height = epoch.canopy_height_m[row, col]
    lai = epoch.lai[row, col]
    fc = epoch.fractional_cover[row, col]
    n = x.size
    water = classes == CLASS_BY_NAME["water"].code
    poplar = classes == CLASS_BY_NAME["poplar"].code
    tall = height >= 1.5
    water_return_p = conditions.water_return_p
    if conditions.dense_reed:  # a closed bed: always hit, never through
        reed = classes == CLASS_BY_NAME["reed"].code
        fc = np.where(reed, 1.0, fc)

    hit = (rng.random(n) < fc) & ~water
    penetration = np.where(poplar, 0.9, 0.3)
    if conditions.dense_reed:
        penetration = np.where(reed, 0.0, penetration)
    ground = ~water & np.where(
        hit, rng.random(n) < penetration * np.exp(-0.5 * lai), rng.random(n) < 0.97
    )
    second = hit & tall & (rng.random(n) < 0.55)
    under = hit & poplar & (rng.random(n) < 0.4)
    water_ret = water & (rng.random(n) < water_return_p)

    slots_z = np.full((n, 4), -np.inf)
    slots_kind = np.zeros((n, 4), dtype=np.uint8)
    top = height * rng.beta(6.0, 1.3, n)
    slots_z[hit, 0] = (ground_z + np.maximum(top, 0.02))[hit]
    slots_kind[:, 0] = RETURN_VEGETATION
    crown = np.where(
        poplar, height * (0.45 + 0.5 * rng.beta(2.0, 2.0, n)), height * rng.beta(2.5, 2.5, n)
    )
    slots_z[second, 1] = (ground_z + crown)[second]
    slots_kind[:, 1] = RETURN_VEGETATION
    slots_z[under, 2] = (ground_z + rng.uniform(0.3, 1.5, n))[under]
    slots_kind[:, 2] = RETURN_VEGETATION
    slots_z[ground, 3] = (ground_z + rng.normal(0.0, _GROUND_NOISE_M, n))[ground]
    slots_kind[ground, 3] = RETURN_GROUND
    slots_z[water_ret, 3] = epoch.spec.water_level_m + rng.normal(
        0.0, _WATER_NOISE_M, int(water_ret.sum())
    )
    slots_kind[water_ret, 3] = RETURN_WATER
    if conditions.flood_m > 0:
        _flood(slots_z, slots_kind, ground_z, epoch.spec.water_level_m + conditions.flood_m,
               water_return_p, rng)  # fmt: skip

    order = np.argsort(-slots_z, axis=1, kind="stable")
    slots_z = np.take_along_axis(slots_z, order, axis=1)
    slots_kind = np.take_along_axis(slots_kind, order, axis=1)
    valid = np.isfinite(slots_z)
    count = valid.sum(axis=1)
    rank = np.cumsum(valid, axis=1)
    pulse = np.broadcast_to(np.arange(n)[:, None], (n, 4))[valid]
    kind = slots_kind[valid]
    wet = epoch.wetness[row, col][pulse]
    level = np.select(
        [kind == RETURN_GROUND, kind == RETURN_VEGETATION],
        [rng.normal(125.0 - 50.0 * wet, 5.0), rng.normal(75.0, 6.0, kind.size)],
        rng.normal(15.0, 2.0, kind.size),
    )
    intensity = np.clip(np.rint(level), 1, 255).astype(np.uint16)
    return {
        "pulse": pulse,
        "z": slots_z[valid],
        "kind": kind,
        "return_number": rank[valid].astype(np.uint8),
        "number_of_returns": count[pulse].astype(np.uint8),
        "intensity": intensity,
    }


def _flood(
    slots_z: FloatArray,
    slots_kind: npt.NDArray[np.uint8],
    ground_z: FloatArray,
    level: float,
    water_return_p: float,
    rng: np.random.Generator,
) -> None:
    """Flood the land below ``level`` in place (:class:`FlightConditions` ``flood_m``).

    Returns below the level are dropped. A flooded pulse that reached the
    ground, or whose every return is now under water, returns from the water
    surface (8 mm noise) with the odds ``water_return_p / 0.97``; a water
    return of the lake rises to the level; a pulse that returned nothing
    still returns nothing.
    """
    n = ground_z.size
    flooded = ground_z < level
    keep = rng.random(n) < min(1.0, water_return_p / 0.97)
    noise = rng.normal(0.0, _WATER_NOISE_M, n)
    had = np.isfinite(slots_z).any(axis=1)
    last = np.isfinite(slots_z[:, 3])
    was_water = flooded & last & (slots_kind[:, 3] == RETURN_WATER)
    was_ground = flooded & last & (slots_kind[:, 3] == RETURN_GROUND)
    slots_z[flooded[:, None] & (slots_z < level)] = -np.inf
    drowned = flooded & had & ~np.isfinite(slots_z).any(axis=1)
    surface = was_water | ((was_ground | drowned) & keep)
    slots_z[surface, 3] = level + noise[surface]
    slots_kind[surface, 3] = RETURN_WATER


def _header(epoch: EpochTruth, *, modern: bool, offsets: tuple[float, float]) -> laspy.LasHeader:
    if modern:
        header = laspy.LasHeader(point_format=6, version="1.4")
        header.add_crs(CRS.from_user_input(LIDAR_CRS))
    else:
        header = laspy.LasHeader(point_format=3, version="1.2")
    header.scales = np.array([_SCALE_M, _SCALE_M, _SCALE_M])
    header.offsets = np.array([offsets[0], offsets[1], 0.0])
    header.creation_date = epoch.spec.date
    header.system_identifier = "synthetic drone LiDAR"
    header.generating_software = _SOFTWARE
    header.global_encoding.gps_time_type = laspy.header.GpsTimeType.STANDARD
    return header


def write_lidar(
    landscape: Landscape,
    epoch: EpochTruth,
    *,
    out_dir: Path,
    pulse_density_m2: float,
    tiles: tuple[int, int],
    progress: Callable[[float], None] | None = None,
    conditions: FlightConditions | None = None,
) -> LidarSummary:
    """Simulate and write one epoch's LiDAR tiles, streaming chunk by chunk.

    Parameters
    ----------
    landscape
        The true landscape.
    epoch
        The epoch flown; its ``lidar_block`` is the covered area.
    out_dir
        Folder of the tiles (``lidar/<epoch>``).
    pulse_density_m2
        Emitted pulses per m².
    tiles
        ``(columns, rows)`` of tiles the block's EPSG:4547 bounding box is split into.
    progress
        Called with the fraction of pulses simulated.
    conditions
        Water return odds, flooding and closed reed beds of the flight
        (default: the survey's, :class:`FlightConditions`).

    Returns
    -------
    LidarSummary
        Paths and point counts.
    """
    conditions = conditions or FlightConditions()
    modern = epoch.spec.name != "2020"
    block = _block_geometry(epoch.lidar_block)
    xs, ys = _tile_edges(epoch.lidar_block, tiles)
    to_lidar = Transformer.from_crs(ANALYSIS_CRS, LIDAR_CRS, always_xy=True)
    rng = named_stream(landscape.seed, f"lidar.{epoch.spec.name}")
    gps0 = _gps_offset(epoch.spec.date)
    total_pulses = int(block.length_u * math.sqrt(pulse_density_m2)) * sum(
        max(
            1,
            int(
                min(_STRIP_WIDTH_M, block.length_v - k * _STRIP_WIDTH_M)
                * math.sqrt(pulse_density_m2)
            ),
        )
        for k in range(math.ceil(block.length_v / _STRIP_WIDTH_M))
    )
    writers: dict[tuple[int, int], laspy.LasWriter] = {}
    paths: dict[tuple[int, int], Path] = {}
    kinds = np.zeros(3, dtype=np.int64)
    done = 0
    with contextlib.ExitStack() as stack:
        for px, py, angle, gps, line in _pulses(block, pulse_density_m2, rng):
            ret = _returns(landscape, epoch, px, py, rng, conditions)
            pulse = ret["pulse"]
            lx, ly = to_lidar.transform(px[pulse], py[pulse])
            lx, ly = np.asarray(lx), np.asarray(ly)
            tx = np.clip(np.searchsorted(xs, lx, side="right") - 1, 0, tiles[0] - 1)
            ty = np.clip(np.searchsorted(ys, ly, side="right") - 1, 0, tiles[1] - 1)
            kinds += np.bincount(ret["kind"], minlength=3)
            for key in sorted(set(zip(tx.tolist(), ty.tolist(), strict=True))):
                sel = (tx == key[0]) & (ty == key[1])
                if key not in writers:
                    name = f"junshan_{epoch.spec.name}_{int(xs[key[0]])}_{int(ys[key[1]])}.laz"
                    path = out_dir / name
                    tmp = stack.enter_context(atomic_path(path))
                    header = _header(
                        epoch,
                        modern=modern,
                        offsets=(float(xs[key[0]]), float(ys[key[1]])),
                    )
                    writers[key] = stack.enter_context(
                        laspy.open(
                            tmp,
                            mode="w",
                            header=header,
                            do_compress=True,
                            laz_backend=laspy.LazBackend.Lazrs,
                        )
                    )
                    paths[key] = path
                writer = writers[key]
                record = laspy.ScaleAwarePointRecord.zeros(int(sel.sum()), header=writer.header)
                record.x = lx[sel]
                record.y = ly[sel]
                record.z = ret["z"][sel]
                record.intensity = ret["intensity"][sel]
                record.return_number = ret["return_number"][sel]
                record.number_of_returns = ret["number_of_returns"][sel]
                record.classification = np.ones(int(sel.sum()), dtype=np.uint8)
                record.user_data = ret["kind"][sel]
                record.point_source_id = line[pulse][sel].astype(np.uint16)
                record.gps_time = gps0 + gps[pulse][sel]
                scan_angle = angle[pulse][sel]
                if modern:
                    record.scan_angle = np.rint(scan_angle / 0.006).astype(np.int16)
                else:
                    record.scan_angle_rank = np.rint(scan_angle).astype(np.int8)
                writer.write_points(record)
            done += px.size
            if progress is not None:
                progress(min(1.0, done / max(total_pulses, 1)))
    names = ("ground", "vegetation", "water")
    return LidarSummary(
        paths=tuple(sorted(paths.values())),
        point_count=int(kinds.sum()),
        returns_by_kind=tuple((names[i], int(kinds[i])) for i in range(3)),
    )
