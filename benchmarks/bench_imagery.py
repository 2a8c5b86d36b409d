"""Benchmark: spectral indices of a large multiband raster, against the time to read it.

A generated Sentinel-2-L2A-like GeoTIFF of ``SIZE × SIZE`` cells and 10 bands
(uint16, tiled 512, band descriptions B02…B12, default 10,000 × 10,000, i.e.
2 GB of pixels) is processed in two jobs, each in a fresh subprocess so
peak RSS is that job's own:

* ``floor``: rasterio reads the bands the indices need, block by block (each
  pixel decoded once) — the physical floor of any index computation;
* ``indices``: carbonsink reads the scene lazily (:func:`read_scene` with
  dask chunks), computes NDVI, EVI, MNDWI and NDRE
  (:func:`compute_index`) and writes them as Cloud-Optimized GeoTIFFs
  strip by strip, all four from one read of each strip (:func:`write_layer_cogs`).

It prints wall times, peak RSS, and the ratio of the two times. Target of
issue 4: peak RSS ≤ 2 GB for the indices job.

Usage::

    python benchmarks/bench_imagery.py [--size 10000] [--cache DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _jobs import run_job

BANDS = ("B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12")
INDICES = ("ndvi", "evi", "mndwi", "ndre")
#: Bands read for INDICES (blue, green, red, rededge1, nir, swir1).
NEEDED = ("B02", "B03", "B04", "B05", "B08", "B11")

_GENERATE = """
import sys
import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window
path, size = sys.argv[1], int(sys.argv[2])
bands = {bands!r}
base = np.array([500, 700, 600, 1200, 2500, 3000, 3300, 3400, 2200, 1400], dtype=np.float32)
profile = dict(driver="GTiff", width=size, height=size, count=len(bands), dtype="uint16",
               crs="EPSG:32649", transform=from_origin(600000.0, 3300000.0, 10.0, 10.0),
               nodata=0, tiled=True, blockxsize=512, blockysize=512)
rng = np.random.default_rng(1)
with rasterio.open(path, "w", **profile) as dst:
    for i, name in enumerate(bands, start=1):
        dst.set_band_description(i, name)
    for row in range(0, size, 512):
        h = min(512, size - row)
        yy = (row + np.arange(h, dtype=np.float32))[:, None]
        xx = np.arange(size, dtype=np.float32)[None, :]
        # Smooth fields per band (vegetation and water patterns) plus noise:
        # DN = (reflectance + 0.1) × 10000 as in processing baseline ≥ 04.00.
        pattern = 0.5 + 0.5 * np.sin(xx / 370.0) * np.cos(yy / 530.0)
        noise = rng.integers(0, 40, size=(h, size), dtype=np.int32)
        for i in range(len(bands)):
            dn = 1000 + base[i] * (0.4 + pattern) + noise
            dst.write(dn.astype(np.uint16), i + 1, window=Window(0, row, size, h))
print("{{}}")
"""

_FLOOR = """
import json, resource, sys, time
import numpy as np
import rasterio
path = sys.argv[1]
needed = {needed!r}
start = time.perf_counter()
total = 0.0
with rasterio.open(path) as src:
    indexes = [src.descriptions.index(b) + 1 for b in needed]
    for _, window in src.block_windows(1):
        block = src.read(indexes, window=window)
        total += float(block[:, 0, 0].sum())
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rss_mb": rss}}))
"""

_INDICES = """
import json, resource, sys, time
import rasterio
from carbonsink.grid import Grid
from carbonsink.imagery.indices import compute_index
from carbonsink.imagery.scenes import read_scene
from carbonsink.io.writers import write_layer_cogs
path, out = sys.argv[1], sys.argv[2]
with rasterio.open(path) as src:
    bounds = tuple(src.bounds)
grid = Grid.from_bounds(bounds, crs="EPSG:32649", resolution=10.0)
start = time.perf_counter()
scene = read_scene(path, grid, sensor="sentinel-2-l2a", chunks=1024,
                   bands=["blue", "green", "red", "rededge1", "nir", "swir1"])
names = {indices!r}
write_layer_cogs([compute_index(n, scene.reflectance) for n in names],
                 [f"{{out}}/{{n}}.tif" for n in names])
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "rss_mb": rss}}))
"""


def _run(code: str, *args: str) -> dict[str, float]:
    result = run_job(code, *args)
    if result is None:
        raise RuntimeError("a module the benchmark needs is missing: pip install -e .")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000, help="raster side in cells")
    parser.add_argument("--cache", type=Path, help="keep the generated raster here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.cache or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        raster = folder / f"s2_like_{args.size}.tif"
        if not raster.is_file():
            start = time.perf_counter()
            _run(_GENERATE.format(bands=BANDS), str(raster), str(args.size))
            print(f"generated {raster.name} in {time.perf_counter() - start:.0f} s")
        out = Path(scratch) / "indices"
        out.mkdir()
        floor = _run(_FLOOR.format(needed=NEEDED), str(raster))
        ours = _run(_INDICES.format(indices=INDICES), str(raster), str(out))
        pixels = args.size * args.size
        print(f"raster: {args.size} x {args.size} x {len(BANDS)} bands uint16 ({pixels:,} cells)")
        print(
            f"floor   (rasterio block read of {len(NEEDED)} bands): {floor['seconds']:7.1f} s, "
            f"peak RSS {floor['rss_mb']:6.0f} MB"
        )
        print(
            f"indices ({', '.join(INDICES)} -> COG):             {ours['seconds']:7.1f} s, "
            f"peak RSS {ours['rss_mb']:6.0f} MB"
        )
        print(f"ratio indices / floor: {ours['seconds'] / floor['seconds']:.2f}x")
        verdict = "yes" if ours["rss_mb"] <= 2048 else "NO"
        print(f"peak RSS {ours['rss_mb']:.0f} MB <= 2048 MB (2 GB): {verdict}")


if __name__ == "__main__":
    main()
