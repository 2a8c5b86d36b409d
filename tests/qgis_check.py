"""A QGIS project loaded by QGIS itself (Debian ``python3-qgis``), headless.

:func:`load_in_qgis` runs this file with QGIS's Python (``/usr/bin/python3``,
or ``$CARBONSINK_QGIS_PYTHON``) as a script: it opens the project with
``QgsProject.read``, lists every layer (valid or not, its CRS as QGIS
understands it and the CRS its data provider reads from the file, renderer,
feature count, group) and renders the project's visible layers at its saved
extent (the project's default view) with ``QgsMapRendererParallelJob`` into a
PNG. The report comes back as JSON. The test that calls it skips, with the reason, when QGIS is not
installed (``.ci/run`` installs it).

The script part imports only QGIS and the standard library: QGIS's Python
has neither carbonsink nor pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

QGIS_PYTHON = os.environ.get("CARBONSINK_QGIS_PYTHON", "/usr/bin/python3")


def load_in_qgis(project: Path, png: Path | None = None) -> dict[str, Any]:
    """What QGIS makes of ``project`` (and its rendering into ``png`` when given)."""
    import pytest

    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(
            f"QGIS's Python ({QGIS_PYTHON}) cannot import qgis.core: apt-get install "
            "python3-qgis (or set CARBONSINK_QGIS_PYTHON)"
        )
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": "/tmp"}
    environment.pop("PYTHONPATH", None)
    result = subprocess.run(
        [QGIS_PYTHON, __file__, str(project), str(png) if png else ""],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def gdal_category_names(raster: Path) -> list[str]:
    """The category names GDAL reads for band 1 of ``raster`` (QGIS's own GDAL, 3.6)."""
    import pytest

    # gdalinfo's JSON (the bindings' GetCategoryNames returns None in GDAL 3.6).
    script = (
        "import json, sys; from osgeo import gdal; "
        "info = gdal.Info(sys.argv[1], format='json'); "
        "print(json.dumps(info['bands'][0].get('categories') or []))"
    )
    result = subprocess.run(
        [QGIS_PYTHON, "-c", script, str(raster)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0 and "osgeo" in result.stderr:
        pytest.skip(f"{QGIS_PYTHON} has no GDAL bindings: apt-get install python3-gdal")
    assert result.returncode == 0, result.stderr
    names: list[str] = json.loads(result.stdout)
    return names


def _main(project_path: str, png_path: str) -> dict[str, Any]:  # pragma: no cover - QGIS side
    from qgis.core import (  # type: ignore[import-not-found]
        QgsApplication,
        QgsMapRendererParallelJob,
        QgsMapSettings,
        QgsProject,
        QgsRasterLayer,
        QgsVectorLayer,
    )
    from qgis.PyQt.QtCore import QSize  # type: ignore[import-not-found]

    app = QgsApplication([], False)
    app.initQgis()
    try:
        project = QgsProject.instance()
        read = project.read(project_path)
        root = project.layerTreeRoot()
        layers = []
        for node in root.findLayers():
            layer = node.layer()
            parent = node.parent()
            entry: dict[str, Any] = {
                "name": node.name(),
                "group": parent.name() if parent is not root else "",
                "visible": node.isVisible(),
                "valid": bool(layer is not None and layer.isValid()),
            }
            if layer is not None:
                provider = layer.dataProvider()
                entry.update(
                    kind="raster" if isinstance(layer, QgsRasterLayer) else "vector",
                    crs=layer.crs().authid(),
                    crs_valid=layer.crs().isValid(),
                    provider_crs=provider.crs().authid() if provider is not None else "",
                    source=layer.source(),
                )
                if isinstance(layer, QgsRasterLayer):
                    renderer = layer.renderer()
                    entry["renderer"] = renderer.type() if renderer else None
                    if entry["renderer"] == "paletted":
                        entry["classes"] = [
                            [int(c.value), c.label, c.color.name()] for c in renderer.classes()
                        ]
                    elif entry["renderer"] == "singlebandpseudocolor":
                        shader = renderer.shader().rasterShaderFunction()
                        entry["ramp"] = [
                            [item.value, item.label, item.color.name()]
                            for item in shader.colorRampItemList()
                        ]
                elif isinstance(layer, QgsVectorLayer):
                    entry["renderer"] = layer.renderer().type() if layer.renderer() else None
                    entry["features"] = layer.featureCount()
            layers.append(entry)
        view = project.viewSettings().defaultViewExtent()
        report: dict[str, Any] = {
            "read": bool(read),
            "view_extent": [view.xMinimum(), view.yMinimum(), view.xMaximum(), view.yMaximum()],
            "title": project.title(),
            "crs": project.crs().authid(),
            "groups": [g.name() for g in root.findGroups()],
            "layers": layers,
        }
        if png_path:
            settings = QgsMapSettings()
            visible = [n.layer() for n in root.findLayers() if n.isVisible() and n.layer()]
            settings.setLayers(visible)
            settings.setDestinationCrs(project.crs())
            settings.setOutputSize(QSize(1200, 900))
            settings.setExtent(view)
            job = QgsMapRendererParallelJob(settings)
            job.start()
            job.waitForFinished()
            image = job.renderedImage()
            report["rendered"] = bool(image.save(png_path, "PNG"))
            report["rendered_layers"] = [layer.name() for layer in visible]
        return report
    finally:
        app.exitQgis()


if __name__ == "__main__":  # pragma: no cover - run by QGIS's Python
    print(json.dumps(_main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")))
