"""Formats only, no science: rasters, point clouds, tables, vectors and atomic writers.

GDAL keeps a block cache whose default size is 5 % of the machine's RAM (1.2 GB
on 24 GB, 3.2 GB on 64 GB): on a large machine that alone would break the
memory bounds of docs/design.md §6. Unless the user has set ``GDAL_CACHEMAX``,
carbonsink sets it to 256 MB before GDAL's first read (GDAL reads the option
once, when the cache is first used).
"""

import os

#: GDAL block cache used when the environment does not set GDAL_CACHEMAX, in MB.
DEFAULT_GDAL_CACHEMAX_MB = 256

os.environ.setdefault("GDAL_CACHEMAX", str(DEFAULT_GDAL_CACHEMAX_MB))
