"""carbonsink: measure a wetland's carbon sink and turn it into an auditable credit claim.

The survey file is loaded with :func:`load_survey`, checked with
:func:`preflight`, and laid on an analysis :class:`Grid`.
"""

from __future__ import annotations

import logging
import platform
from importlib import metadata

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Every library of ``[project] dependencies`` and of the ``pdf`` extra
#: (tests/test_cli.py checks that none is missing).
_LIBRARIES = (
    "numpy",
    "scipy",
    "pandas",
    "rasterio",
    "pyproj",
    "shapely",
    "pyogrio",
    "geopandas",
    "laspy",
    "lazrs",
    "scikit-learn",
    "quantile-forest",
    "skops",
    "opencv-python-headless",
    "threadpoolctl",
    "xarray",
    "rioxarray",
    "dask",
    "distributed",
    "netCDF4",
    "pydantic",
    "typer",
    "click",
    "rich",
    "matplotlib",
    "jinja2",
    "filelock",
    "pystac",
    "pystac-client",
    "openpyxl",
    "babel",
    "weasyprint",
)


def show_versions() -> dict[str, str]:
    """Versions of Python, carbonsink, GDAL, PROJ and the libraries it uses (for provenance)."""
    versions = {
        "python": platform.python_version(),
        "carbonsink": __version__,
        "platform": platform.platform(),
    }
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        import rasterio

        versions["gdal"] = rasterio.__gdal_version__
    except ImportError:  # pragma: no cover - rasterio is a dependency
        pass
    try:
        import pyproj

        versions["proj"] = pyproj.proj_version_str
    except ImportError:  # pragma: no cover
        pass
    return versions


from carbonsink.config import Survey, load_survey  # noqa: E402
from carbonsink.errors import CarbonSinkError  # noqa: E402
from carbonsink.grid import Grid  # noqa: E402

__all__ = [
    "CarbonSinkError",
    "Grid",
    "Survey",
    "__version__",
    "load_survey",
    "preflight",
    "show_versions",
]


def __getattr__(name: str) -> object:
    # The preflight imports every reader; load it on first use only.
    if name == "preflight":
        from carbonsink.preflight import preflight

        return preflight
    raise AttributeError(f"module 'carbonsink' has no attribute {name!r}")
