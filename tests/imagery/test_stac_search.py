"""`carbonsink imagery search` against a local STAC API (an HTTP server in the test)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from carbonsink.cli import main
from carbonsink.errors import InputError
from carbonsink.imagery.scenes import read_scene, read_scenes
from carbonsink.io.stac import read_stac
from carbonsink.io.stac_search import search_items
from carbonsink.pipeline import RunContext

DAYS = ("2020-09-10", "2020-09-20")


class _Api(BaseHTTPRequestHandler):
    """A STAC API with item search over the sample's 2020 scenes, and the files themselves."""

    files: Path
    searches: list[dict[str, Any]]

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: dict[str, Any]) -> None:
        self._send(json.dumps(value).encode(), "application/json")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def do_GET(self) -> None:
        if self.path in ("/", ""):
            search = f"{self.base}/search"
            self._json(
                {
                    "type": "Catalog",
                    "id": "local",
                    "stac_version": "1.0.0",
                    "description": "a test STAC API",
                    "conformsTo": [
                        "https://api.stacspec.org/v1.0.0/core",
                        "https://api.stacspec.org/v1.0.0/item-search",
                        "https://api.stacspec.org/v1.0.0/item-search#query",
                    ],
                    "links": [
                        {"rel": "self", "href": f"{self.base}/"},
                        {"rel": "root", "href": f"{self.base}/"},
                        {
                            "rel": "search",
                            "href": search,
                            "type": "application/geo+json",
                            "method": "POST",
                        },
                        {
                            "rel": "search",
                            "href": search,
                            "type": "application/geo+json",
                            "method": "GET",
                        },
                    ],
                }
            )
        elif self.path.startswith("/files/"):
            self._send((self.files / self.path.removeprefix("/files/")).read_bytes(), "image/tiff")
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.searches.append(body)
        features = []
        for day in DAYS:
            with rasterio.open(self.files / f"s2_{day}.tif") as src:
                names = src.descriptions
            features.append(
                {
                    "type": "Feature",
                    "stac_version": "1.0.0",
                    "id": f"S2A_{day}",
                    "geometry": None,
                    "properties": {"datetime": f"{day}T03:05:41Z", "eo:cloud_cover": 5.0},
                    "links": [],
                    "assets": {
                        "data": {
                            "href": f"{self.base}/files/s2_{day}.tif",
                            "type": "image/tiff; application=geotiff",
                            "roles": ["data"],
                            "eo:bands": [{"name": n} for n in names],
                        },
                        "thumbnail": {
                            "href": f"{self.base}/files/none.jpg",
                            "type": "image/jpeg",
                            "roles": ["thumbnail"],
                        },
                    },
                }
            )
        self._json({"type": "FeatureCollection", "features": features, "links": []})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api(sample_survey: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    searches: list[dict[str, Any]] = []
    handler = type(
        "Api", (_Api,), {"files": sample_survey.parent / "imagery", "searches": searches}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", searches
    server.shutdown()


def test_search_downloads_the_bands_and_writes_a_usable_collection(
    tmp_path: Path, sample_survey: Path, api: tuple[str, list[dict[str, Any]]]
) -> None:
    url, searches = api
    out = tmp_path / "stac" / "2020.json"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "imagery", "search", str(sample_survey), "-o", str(out), "--url", url,
                "--datetime", "2020-09-01/2020-09-30", "--max-cloud", "30",
            ]
        )  # fmt: skip
    assert info.value.code in (0, None)
    (search,) = searches
    assert search["collections"] == ["sentinel-2-l2a"]
    assert search["datetime"].startswith("2020-09-01") and "2020-09-30" in search["datetime"]
    assert search["query"] == {"eo:cloud_cover": {"lt": 30.0}}
    # The bbox is the boundary's extent in degrees (its GeoJSON is in WGS 84).
    boundary = json.loads((sample_survey.parent / "boundary.geojson").read_text(encoding="utf-8"))
    ring = np.array(boundary["features"][0]["geometry"]["coordinates"][0])
    expected = [ring[:, 0].min(), ring[:, 1].min(), ring[:, 0].max(), ring[:, 1].max()]
    assert search["bbox"] == pytest.approx(expected, abs=1e-7)

    # The written collection names the downloaded files (relative hrefs), not the thumbnails.
    written = json.loads(out.read_text(encoding="utf-8"))
    hrefs = [a["href"] for f in written["features"] for a in f["assets"].values()]
    assert hrefs == [f"2020/S2A_{day}/s2_{day}.tif" for day in DAYS]
    products = read_stac(out)
    assert [p.date.isoformat() for p in products if p.date] == list(DAYS)
    grid = RunContext.build(sample_survey).grid
    scenes = read_scenes(out, grid, sensor="sentinel-2-l2a")
    for day, scene in zip(DAYS, scenes, strict=True):
        direct = read_scene(sample_survey.parent / "imagery" / f"s2_{day}.tif", grid,
                            sensor="sentinel-2-l2a")  # fmt: skip
        assert np.array_equal(scene.reflectance.values, direct.reflectance.values, equal_nan=True)


def test_an_unreachable_api_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="the STAC API search failed") as caught:
        search_items(
            "http://127.0.0.1:9/",
            collection="sentinel-2-l2a",
            bbox=(113.0, 29.4, 113.1, 29.5),
            datetime="2020-09-01/2020-09-30",
        )
    assert "check the API URL" in str(caught.value)
