"""Benchmark of the SOC map (local kriging) against the k-d tree neighbour search alone.

A 2000 × 2000 grid of 10 m cells (4 million cells, 20 km × 20 km) is mapped
from 500 random cores, each job in a fresh subprocess so that its peak RSS
(``resource.getrusage(...).ru_maxrss``) is its own:

* ``floor``: the 32-nearest-core query of every cell with
  :class:`scipy.spatial.cKDTree`, tile by tile as :func:`predict_soc` does it
  (the part no local kriging can skip), plus writing four float32 output
  layers;
* ``ordinary kriging``: :func:`carbonsink.soil.soc_map.predict_soc` with a
  fitted spherical variogram, 32 neighbours;
* ``regression kriging``: the same with two covariates (a float64 elevation
  layer and an integer class layer, one-hot encoded), both held in memory;
* ``pykrige loop`` (when pykrige is installed): pykrige's ``n_closest_points``
  loop backend — the alternative the module's docstring compares with — on a
  100 × 100-cell window, its time per cell scaled to the 4 million cells.

It prints wall times, peak RSS, the ratios to the floor, and whether every
carbonsink job stayed under the 2 GB peak-RSS target.

Usage::

    python benchmarks/bench_soil.py [--size 2000] [--cores 500]
"""

from __future__ import annotations

import argparse
import textwrap

from _jobs import run_job

TARGET_RSS_MB = 2048.0

_SETUP = """
import json, resource, sys, time
import numpy as np
size, n_cores = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(20240830)
x0, y0, res = 700_000.0, 3_250_000.0, 10.0
extent = size * res
x = x0 + rng.uniform(0, extent, n_cores)
y = y0 + rng.uniform(0, extent, n_cores)

def elevation(px, py):
    # A lake-shore-like gradient with ~3 km undulations, metres.
    s = (px - x0) / extent
    return 24.0 + 8.0 * s + 0.8 * np.sin((py - y0) / 500.0) * np.cos((px - x0) / 700.0)

def classes(z):
    return np.digitize(z, [25.9, 27.6, 30.2]).astype(np.int8) + 2   # 2..5

def soc(px, py):
    z = elevation(px, py)
    effect = np.array([0, 0, -8.0, 6.0, 3.0, 0.0])[classes(z)]
    smooth = 6.0 * np.sin((px - x0) / 900.0 + 1.0) * np.sin((py - y0) / 1100.0)
    return 55.0 - 2.0 * (z - 27.0) + effect + smooth + rng.normal(0, 4.0, px.size)

values = soc(x, y)

def report(seconds, **extra):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss_mb": rss, **extra}))
"""

_FLOOR = """
from scipy.spatial import cKDTree
from carbonsink.grid import Grid
grid = Grid.from_bounds((x0, y0, x0 + extent, y0 + extent), crs="EPSG:32649", resolution=res)
start = time.perf_counter()
tree = cKDTree(np.column_stack([x, y]))
outputs = [np.full(grid.shape, np.nan, dtype=np.float32) for _ in range(4)]
for tile in grid.tiles(size=256):
    rs, cs = tile.core_slices
    gx, gy = np.meshgrid(grid.x[cs], grid.y[rs])
    dist, idx = tree.query(np.column_stack([gx.ravel(), gy.ravel()]), k=32)
    for out in outputs:
        out[rs, cs] = dist[:, 0].reshape(gx.shape)
report(time.perf_counter() - start)
"""

_PREDICT = """
import xarray as xr
from carbonsink.grid import Grid
from carbonsink.soil.soc_map import predict_soc
method = sys.argv[3]
grid = Grid.from_bounds((x0, y0, x0 + extent, y0 + extent), crs="EPSG:32649", resolution=res)
covariates = None
if method == "regression-kriging":
    gx, gy = np.meshgrid(grid.x, grid.y)
    z = elevation(gx, gy)
    del gx, gy
    covariates = xr.Dataset(
        {"elevation_m": (("y", "x"), z), "class": (("y", "x"), classes(z))},
        coords={"y": grid.y, "x": grid.x},
    )
    del z
start = time.perf_counter()
ds = predict_soc(x, y, values, grid, covariates=covariates, method=method)
seconds = time.perf_counter() - start
pred = ds["soc_0_30_mg_ha"].values
report(seconds, mean=float(np.nanmean(pred)), finite=int(np.isfinite(pred).sum()),
       range_m=float(ds.attrs["variogram_range_m"]))
"""

_PYKRIGE = """
from pykrige.ok import OrdinaryKriging
window = 100
xs = x0 + res * (np.arange(window) + 0.5)
ys = y0 + extent - res * (np.arange(window) + 0.5)
ok = OrdinaryKriging(x, y, values, variogram_model="spherical")
start = time.perf_counter()
ok.execute("grid", xs, ys, backend="loop", n_closest_points=32)
seconds = time.perf_counter() - start
report(seconds * size * size / window**2, window_seconds=seconds)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=2000, help="grid side in cells")
    parser.add_argument("--cores", type=int, default=500, help="number of random cores")
    args = parser.parse_args()
    size, cores = str(args.size), str(args.cores)

    floor = run_job(textwrap.dedent(_SETUP) + textwrap.dedent(_FLOOR), size, cores)
    assert floor is not None
    base = floor["seconds"]
    print(f"== SOC map: {args.size} x {args.size} cells of 10 m from {args.cores} cores")
    print(
        f"  floor: k-d tree 32-NN query + output  {base:8.2f} s   "
        f"peak RSS {floor['rss_mb']:7.0f} MB"
    )
    peaks = []
    for label, method in (
        ("ordinary kriging", "ordinary-kriging"),
        ("regression kriging", "regression-kriging"),
    ):
        job = run_job(textwrap.dedent(_SETUP) + textwrap.dedent(_PREDICT), size, cores, method)
        assert job is not None
        peaks.append(job["rss_mb"])
        print(
            f"  carbonsink {label:<26} {job['seconds']:8.2f} s   peak RSS {job['rss_mb']:7.0f} MB"
            f"   ratio {job['seconds'] / base:5.1f}x floor   (variogram range "
            f"{job['range_m']:.0f} m, {int(job['finite']):,} cells, mean {job['mean']:.1f} Mg C/ha)"
        )
    peer = run_job(textwrap.dedent(_SETUP) + textwrap.dedent(_PYKRIGE), size, cores)
    if peer is None:
        print("  pykrige loop backend                   not installed (pip install pykrige)")
    else:
        print(
            f"  pykrige loop, 32 NN (scaled)           {peer['seconds']:8.2f} s"
            f"   ratio {peer['seconds'] / base:5.1f}x floor   "
            f"({peer['window_seconds']:.2f} s for a 100 x 100 window)"
        )
    worst = max(peaks)
    verdict = "yes" if worst < TARGET_RSS_MB else "NO"
    print(f"  peak RSS {worst:.0f} MB < {TARGET_RSS_MB:.0f} MB (2 GB): {verdict}")


if __name__ == "__main__":
    main()
