"""Benchmark of the LiDAR chain against the time laspy needs just to decode the file.

For each cloud it measures, each in a fresh subprocess (so peak RSS is that
job's own):

* ``decode``: ``laspy.read`` of the whole file (the physical floor: every
  point must be decoded once); the ratios are to this time;
* ``decode, the chain's layers``: ``laspy.read`` of only the LAZ layers the
  chain decodes (``carbonsink.io.point_chunks.CHAIN_LAYERS``; the same as the
  whole file for point formats before 6), printed with the chain's ratio to
  it, so that what the chain gains by skipping layers is in view;
* ``chain``: :func:`carbonsink.lidar.processing.process_lidar` — read, water
  detection, SMRF ground, DTM, heights, CHM and area-based metrics on a 10 m
  grid in the file's own CRS;
* peers when installed (``pip install -e ".[bench]"``): whitebox-workflows 2
  (``improved_ground_point_filter`` + ``lidar_tin_gridding`` of a 1 m DTM) and
  cloth-simulation-filter (ground only, from the decoded points).

It prints wall times, peak RSS and the ratios to the decode time.

Clouds: the synthetic survey generator's ``medium`` scale (one LAZ of about 7
million points per epoch), a dense small drone cloud (5 million synthetic
points over 5 ha, 100 pts/m², written once to the cache) and
``../shared/data/lidar/PDAL_lone-star.laz``
(PDAL test data, 518,862 points; its header's EPSG:4326 is wrong, so a
projected CRS is given). ``--large`` also generates the ``large`` scale (two
files of about 20 million points per epoch, ~4 minutes) and reports the
chain's peak RSS on one of them (target: under 1 GB).

Usage::

    python benchmarks/bench_lidar.py [--large] [--cache DIR] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _jobs import run_job

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "lidar"

_DECODE_LAYERS = """
import json, resource, sys, time
import laspy
from carbonsink.io.point_chunks import CHAIN_LAYERS
start = time.perf_counter()
las = laspy.read(sys.argv[1], decompression_selection=CHAIN_LAYERS)
n = len(las.points)
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "points": n, "rss_mb": rss}))
"""

_DECODE = """
import json, resource, sys, time
import laspy
start = time.perf_counter()
las = laspy.read(sys.argv[1])
n = len(las.points)
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "points": n, "rss_mb": rss}))
"""

_CHAIN = """
import json, resource, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from carbonsink.grid import Grid
from carbonsink.io.pointclouds import read_lidar_info
from carbonsink.lidar.processing import process_lidar
from carbonsink.pipeline.allocator import tune_allocator
import rioxarray  # imported untimed, as laspy is for the decode (the merge's dataset needs it)
tune_allocator()  # as the CLI does for every command
path, crs, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
info = read_lidar_info(path, crs=crs)
b = info.bounds
grid = Grid.from_bounds((b[0], b[1], b[2], b[3]), crs=crs, resolution=10.0)
out = tempfile.mkdtemp()
surfaces = {"dtm_path": out + "/dtm.tif", "chm_path": out + "/chm.tif"}  # streamed, as the CLI
start = time.perf_counter()
if workers > 1:
    with ProcessPoolExecutor(workers) as pool:
        result = process_lidar([path], grid, crs=crs, executor=pool, **surfaces)
else:
    result = process_lidar([path], grid, crs=crs, **surfaces)
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_mb": max(rss, children), "tiles": len(result.qa),
                  "ground_fraction": float((result.qa.points * result.qa.ground_fraction).sum()
                                           / result.qa.points.sum())}))
"""

_WHITEBOX = """
import json, os, resource, sys, tempfile, time
import whitebox_workflows as wbw
wbe = wbw.WbEnvironment()
tmp = tempfile.mkdtemp()
start = time.perf_counter()
ground = os.path.join(tmp, "ground.laz")
wbe.lidar.filtering_classification.improved_ground_point_filter(
    input=sys.argv[1], classify=True, output=ground)
wbe.lidar.interpolation_gridding.lidar_tin_gridding(
    input=ground, resolution=1.0, interpolation_parameter="elevation",
    excluded_classes=[0, 1, 3, 4, 5, 6, 7, 9, 18], output=os.path.join(tmp, "dtm.tif"))
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_mb": rss}))
"""

_CSF = """
import json, resource, sys, time
import laspy, numpy as np, CSF
start = time.perf_counter()
las = laspy.read(sys.argv[1])
xyz = np.column_stack([las.x, las.y, las.z])
csf = CSF.CSF()
csf.params.cloth_resolution = 1.0
csf.setPointCloud(xyz)
ground, off = CSF.VecInt(), CSF.VecInt()
csf.do_filtering(ground, off, exportCloth=False)
seconds = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_mb": rss}))
"""


def _best(code: str, *args: str, repeat: int = 2) -> dict[str, float] | None:
    runs = [run_job(code, *args) for _ in range(repeat)]
    if any(r is None for r in runs):
        return None
    return min(runs, key=lambda r: r["seconds"])  # type: ignore[arg-type,return-value]


def _generate(cache: Path, scale: str) -> Path:
    folder = cache / f"junshan_{scale}"
    if not (folder / "survey.toml").is_file():
        print(f"generating the {scale} synthetic survey in {folder} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "carbonsink",
                "-q",
                "sample-data",
                str(folder),
                "--scale",
                scale,
            ],
            check=True,
            cwd=ROOT,
        )
    return folder


def _dense_cloud(cache: Path) -> Path:
    """A dense small drone cloud: 5 M points over 5 ha (250 × 200 m, 100 pts/m²).

    Gently sloping ground with 2 m undulations, reed and sedge beds 0.5–3 m
    tall over two thirds of the area (their returns spread through the
    canopy, a fifth reaching the ground), written as LAZ in UTM 49N. The shape
    the LiDAR chain's per-tile costs are most exposed to: many points per
    grid cell and little area.
    """
    path = cache / "dense_drone_5M.laz"
    if path.is_file():
        return path
    import laspy
    import numpy as np
    from pyproj import CRS

    rng = np.random.default_rng(2026)
    n = 5_000_000
    x0, y0 = 408_000.0, 3_253_000.0
    x = x0 + rng.uniform(0.0, 250.0, n)
    y = y0 + rng.uniform(0.0, 200.0, n)
    ground = 25.0 + 0.004 * (x - x0) + np.sin((x - x0) / 40.0) * np.cos((y - y0) / 30.0)
    canopy = np.clip(1.5 + 1.5 * np.sin((x - x0) / 23.0 + (y - y0) / 17.0), 0.0, None)
    vegetated = canopy > 0.5
    reaches_ground = ~vegetated | (rng.uniform(size=n) < 0.2)
    z = ground + np.where(reaches_ground, 0.0, canopy * rng.uniform(0.3, 1.0, n))
    z = z + rng.normal(0.0, 0.02, n)
    header = laspy.LasHeader(point_format=6, version="1.4")
    header.offsets = [x0, y0, 0.0]
    header.scales = [0.001, 0.001, 0.001]
    header.add_crs(CRS.from_epsg(32649))
    las = laspy.LasData(header)
    las.x, las.y, las.z = x, y, z
    las.intensity = rng.integers(200, 2000, n).astype(np.uint16)
    las.return_number = np.ones(n, dtype=np.uint8)
    las.number_of_returns = np.ones(n, dtype=np.uint8)
    las.gps_time = np.sort(rng.uniform(0.0, 600.0, n))
    las.write(path)
    return path


def bench_file(label: str, path: Path, crs: str, workers: int, *, peers: bool = True) -> None:
    decode = _best(_DECODE, str(path))
    assert decode is not None
    layers = _best(_DECODE_LAYERS, str(path))
    assert layers is not None
    chain = _best(_CHAIN, str(path), crs, str(workers))
    assert chain is not None
    floor = decode["seconds"]
    print(f"\n== {label}: {path.name}, {int(decode['points']):,} points")
    print(f"  laspy decode            {floor:8.2f} s   peak RSS {decode['rss_mb']:7.0f} MB")
    print(
        f"  laspy decode, layers    {layers['seconds']:8.2f} s   peak RSS"
        f" {layers['rss_mb']:7.0f} MB   (the chain's layers only)"
    )
    print(
        f"  carbonsink chain        {chain['seconds']:8.2f} s   peak RSS {chain['rss_mb']:7.0f} MB"
        f"   ratio {chain['seconds'] / floor:5.1f}x decode   ({int(chain['tiles'])} tiles,"
        f" workers={workers}, ground {chain['ground_fraction']:.1%});"
        f" {chain['seconds'] / layers['seconds']:.1f}x the chain's layers"
    )
    if not peers:
        print("  (peers skipped: whitebox-workflows needs ~0.7 GB per million points)")
        return
    for name, code in (("whitebox-workflows", _WHITEBOX), ("cloth-simulation-filter", _CSF)):
        peer = _best(code, str(path), repeat=1)
        if peer is None:
            print(f"  {name:<23} not installed (pip install -e '.[bench]')")
            continue
        print(
            f"  {name:<23} {peer['seconds']:8.2f} s   peak RSS {peer['rss_mb']:7.0f} MB"
            f"   ratio {peer['seconds'] / floor:5.1f}x decode"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--large", action="store_true", help="also measure peak RSS on a ~20-million-point file"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "carbonsink-bench",
        help="where generated surveys are kept between runs",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="process pool size for tiles (default: all cores, as the CLI)",
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)

    medium = _generate(args.cache, "medium")
    path = max((medium / "lidar" / "2025").glob("*.laz"), key=lambda p: p.stat().st_size)
    bench_file("synthetic survey, medium scale", path, "EPSG:4547", args.workers)

    dense = _dense_cloud(args.cache)
    bench_file("dense small drone cloud (synthetic, 100 pts/m²)", dense, "EPSG:32649", args.workers)

    lone_star = SHARED / "PDAL_lone-star.laz"
    if lone_star.is_file():
        bench_file("real drone cloud (PDAL test data)", lone_star, "EPSG:32614", args.workers)
    else:
        print(f"\n{lone_star} is absent: real-data benchmark skipped")

    if args.large:
        large = _generate(args.cache, "large")
        big = max((large / "lidar" / "2025").glob("*.laz"), key=lambda p: p.stat().st_size)
        bench_file(
            "synthetic survey, large scale (memory)", big, "EPSG:4547", args.workers, peers=False
        )


if __name__ == "__main__":
    main()
