"""Report figures: PNG bytes, reproducible, drawn the right way up and in the right colours."""

from __future__ import annotations

import io
import struct

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import xarray as xr
from matplotlib.image import imread

from carbonsink.grid import Grid
from carbonsink.report import figures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk (bytes 16–24)."""
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _pixels(png: bytes) -> npt.NDArray[np.float64]:
    return np.asarray(imread(io.BytesIO(png), format="png"), dtype=np.float64)[..., :3]


def _has_colour(png: bytes, hex_colour: str, tol: float = 1.5 / 255) -> bool:
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return bool((np.abs(_pixels(png) - rgb).max(axis=-1) <= tol).any())


@pytest.fixture(scope="module")
def grid() -> Grid:
    # 300 m × 200 m at 10 m: 30 columns, 20 rows.
    return Grid.from_bounds((500_000, 3_250_000, 500_300, 3_250_200), crs=32649, resolution=10.0)


@pytest.fixture(scope="module")
def inside(grid: Grid) -> xr.DataArray:
    rows, cols = np.mgrid[0:20, 0:30]
    ellipse = ((rows - 9.5) / 9) ** 2 + ((cols - 14.5) / 14) ** 2 <= 1
    return grid.dataarray(ellipse, name="inside_boundary", units="1", long_name="inside")


@pytest.fixture(scope="module")
def soc(grid: Grid, inside: xr.DataArray) -> xr.DataArray:
    rng = np.random.default_rng(0)
    values = np.where(inside.values, 80 + 20 * rng.random((20, 30)), np.nan)
    return grid.dataarray(values, name="soc_mg_ha", units="Mg C/ha", long_name="SOC stock")


def test_map_figure_is_a_png_of_the_figure_size(soc: xr.DataArray, inside: xr.DataArray) -> None:
    png = figures.map_figure(soc, title="SOC", inside=inside)
    # The map figure is 6.0 in × 4.6 in at 200 dpi (print quality): 1200 × 920 pixels.
    assert _size(png) == (1200, 920)


def test_map_figure_is_deterministic(soc: xr.DataArray, inside: xr.DataArray) -> None:
    first = figures.map_figure(soc, title="SOC", cmap="YlOrBr", inside=inside)
    second = figures.map_figure(soc, title="SOC", cmap="YlOrBr", inside=inside)
    assert first == second


def test_map_figure_draws_south_up_layers_north_up(soc: xr.DataArray) -> None:
    # The same cells with rows stored south to north (y ascending) must give the same map.
    south_up = soc.isel(y=slice(None, None, -1))
    assert south_up["y"].values[0] < south_up["y"].values[-1]
    assert figures.map_figure(south_up, title="SOC", vmin=80, vmax=100) == figures.map_figure(
        soc, title="SOC", vmin=80, vmax=100
    )


def test_map_figure_shows_the_colour_limits(soc: xr.DataArray) -> None:
    # Every cell at 95 with limits 0..100 is the viridis colour at 0.95; with limits 90..95
    # it saturates to the top colour of the map (viridis(1.0) = #fde725).
    flat = soc.copy(data=np.full(soc.shape, 95.0))
    assert _has_colour(figures.map_figure(flat, title="flat", vmin=90, vmax=95), "#fde725")


def test_map_figure_refuses_a_layer_that_is_not_a_map(soc: xr.DataArray) -> None:
    with pytest.raises(ValueError, match="dims"):
        figures.map_figure(soc.isel(y=0), title="profile")


def test_colour_limits_are_robust_percentiles() -> None:
    # 0, 1, ..., 100: the 2nd and 98th percentiles (linear interpolation at
    # positions 0.02 × 100 = 2 and 0.98 × 100 = 98) are 2 and 98; NaN is ignored.
    values = np.append(np.arange(101.0), np.nan)
    assert figures.colour_limits([values]) == pytest.approx((2.0, 98.0))


def test_colour_limits_are_shared_by_layers() -> None:
    # Two halves of 0..100 give the limits of the whole.
    assert figures.colour_limits([np.arange(51.0), np.arange(51.0, 101.0)]) == pytest.approx(
        (2.0, 98.0)
    )


def test_colour_limits_centred_are_symmetric() -> None:
    # linspace(-1, 3, 101): P2 = -1 + 0.02 × 4 = -0.92, P98 = -1 + 0.98 × 4 = 2.92;
    # symmetric about 0: ±2.92.
    assert figures.colour_limits([np.linspace(-1, 3, 101)], centre=0.0) == pytest.approx(
        (-2.92, 2.92)
    )


def test_colour_limits_of_constant_and_empty_layers() -> None:
    # A constant 5 is padded by 10 % (0.5) on each side; no finite value gives 0..1.
    assert figures.colour_limits([np.full(4, 5.0)]) == pytest.approx((4.5, 5.5))
    assert figures.colour_limits([np.full(4, np.nan)]) == (0.0, 1.0)


def test_class_colours_known_and_unknown() -> None:
    colours = figures.class_colours(["Water", "saltmarsh", "reed", "cropland"])
    # Known classes (case-insensitive) get their own colour; the others take
    # tab10's first and second colours, #1f77b4 and #ff7f0e, in order.
    assert colours == [
        figures.CLASS_COLOURS["water"],
        "#1f77b4",
        figures.CLASS_COLOURS["reed"],
        "#ff7f0e",
    ]


@pytest.mark.parametrize("deficiency", [None, "deuteranomaly", "protanomaly", "tritanomaly"])
def test_every_pair_of_class_colours_stays_distinct_for_the_colour_blind(
    deficiency: str | None,
) -> None:
    # Machado et al. (2009)'s simulation at full severity (colorspacious), distances in
    # CAM02-UCS: a ΔE of 10 or more reads as two different colours at a glance. The old
    # palette's reed and miscanthus were 4.2 apart for a protanope.
    import itertools

    from colorspacious import deltaE
    from matplotlib.colors import to_rgb

    space: object = (
        "sRGB1"
        if deficiency is None
        else {"name": "sRGB1+CVD", "cvd_type": deficiency, "severity": 100}
    )
    rgb = {name: np.array(to_rgb(colour)) for name, colour in figures.CLASS_COLOURS.items()}
    distances = {
        (a, b): float(deltaE(rgb[a], rgb[b], input_space=space))
        for a, b in itertools.combinations(rgb, 2)
    }
    assert min(distances.values()) >= 10.0, min(distances.items(), key=lambda kv: kv[1])


def _landcover(grid: Grid, codes: npt.NDArray[np.integer]) -> xr.DataArray:
    return grid.dataarray(
        codes.astype(np.uint8),
        name="landcover",
        units="1",
        long_name="land-cover class",
        attrs={"flag_values": [1, 2, 3, 4], "flag_meanings": "water mudflat sedge reed"},
    )


def test_class_map_uses_the_class_colours(grid: Grid, inside: xr.DataArray) -> None:
    # Left half water (1), right half reed (4): both colours are drawn, sedge's is only
    # in the legend patch (so it is present too), and the fill value 255 is blank.
    codes = np.where(np.arange(30)[None, :] < 15, 1, 4) * np.ones((20, 1), dtype=int)
    codes[0, 0] = 255
    png = figures.class_map_figure(_landcover(grid, codes), title="classes", inside=inside)
    assert _has_colour(png, figures.CLASS_COLOURS["water"])
    assert _has_colour(png, figures.CLASS_COLOURS["reed"])
    assert png == figures.class_map_figure(_landcover(grid, codes), title="classes", inside=inside)


def test_class_map_needs_a_legend(grid: Grid) -> None:
    layer = _landcover(grid, np.ones((20, 30), dtype=int))
    layer.attrs = {"units": "1"}
    with pytest.raises(ValueError, match="flag_values"):
        figures.class_map_figure(layer, title="classes")


def test_class_map_refuses_a_legend_of_unequal_lengths(grid: Grid) -> None:
    layer = _landcover(grid, np.ones((20, 30), dtype=int))
    layer.attrs = {"flag_values": "1 2", "flag_meanings": "water"}
    with pytest.raises(ValueError, match="2 flag_values but 1 flag_meanings"):
        figures.class_map_figure(layer, title="classes")


def _predictions() -> pd.DataFrame:
    observed = np.array([5.0, 10.0, 15.0, 20.0, 30.0])
    predicted = observed * 0.9 + 1.0
    return pd.DataFrame(
        {
            "observed": observed,
            "predicted": predicted,
            "lower": predicted - 4,
            "upper": predicted + 5,
        }
    )


def test_predicted_observed_is_a_deterministic_png() -> None:
    png = figures.predicted_observed_figure(_predictions(), title="imagery")
    # 5.0 in × 4.8 in at 200 dpi.
    assert _size(png) == (1000, 960)
    assert png == figures.predicted_observed_figure(_predictions(), title="imagery")


def test_predicted_observed_without_predictions() -> None:
    empty = _predictions().iloc[:0]
    assert figures.predicted_observed_figure(empty, title="none").startswith(PNG_SIGNATURE)


def test_predicted_observed_needs_its_columns() -> None:
    with pytest.raises(ValueError, match="upper"):
        figures.predicted_observed_figure(_predictions().drop(columns="upper"), title="x")


def _cores(extrapolated: list[bool]) -> pd.DataFrame:
    n = len(extrapolated)
    return pd.DataFrame(
        {
            "x": np.linspace(500_050, 500_250, n),
            "y": np.linspace(3_250_050, 3_250_150, n),
            "soc_mg_ha": np.linspace(82, 98, n),
            "extrapolated": extrapolated,
        },
        index=pd.Index([f"C{i}" for i in range(n)], name="core_id"),
    )


def _red_pixels(png: bytes) -> int:
    rgb = _pixels(png)
    return int(((rgb[..., 0] > 0.9) & (rgb[..., 1] < 0.2) & (rgb[..., 2] < 0.2)).sum())


def test_cores_over_map_marks_extrapolated_cores(soc: xr.DataArray, inside: xr.DataArray) -> None:
    # Extrapolated cores have a red edge (and a red legend triangle, drawn in both maps);
    # the YlOrBr map and normal cores have no pure red: only the second map has more.
    none = figures.cores_over_map_figure(soc, _cores([False] * 4), title="cores", inside=inside)
    one = figures.cores_over_map_figure(
        soc, _cores([False, True, False, False]), title="cores", inside=inside
    )
    assert _red_pixels(one) > _red_pixels(none) > 0
    assert one == figures.cores_over_map_figure(
        soc, _cores([False, True, False, False]), title="cores", inside=inside
    )


def test_cores_over_map_needs_its_columns(soc: xr.DataArray) -> None:
    with pytest.raises(ValueError, match="extrapolated"):
        figures.cores_over_map_figure(
            soc, _cores([False]).drop(columns="extrapolated"), title="cores"
        )


def test_net_histogram_is_a_deterministic_png() -> None:
    draws = np.random.default_rng(1).normal(100.0, 20.0, 5000)

    def draw() -> bytes:
        return figures.net_histogram_figure(
            draws, ci90=(67.0, 133.0), estimate=100.0, adjusted=90.0, rule="vm0033"
        )

    png = draw()
    # 7.0 in × 3.8 in at 200 dpi.
    assert _size(png) == (1400, 760)
    assert png == draw()


def test_net_histogram_of_no_finite_draws() -> None:
    png = figures.net_histogram_figure(
        np.full(3, np.nan), ci90=(0.0, 1.0), estimate=0.5, adjusted=0.0, rule="lower-bound"
    )
    assert png.startswith(PNG_SIGNATURE)
