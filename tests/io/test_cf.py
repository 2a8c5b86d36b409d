"""CF-1.8 attributes of the NetCDF files (issue 20): UDUNITS units, flags of the data's type."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from carbonsink.errors import OutputError
from carbonsink.grid import Grid
from carbonsink.io.cf import CF_UNITS, cf_dataset, cf_variable_attrs, flag_codes
from carbonsink.io.writers import write_netcdf
from carbonsink.units import G_M2_PER_MG_HA
from tests.cf_check import cf_messages

GRID = Grid.from_bounds(
    (500_000.0, 3_250_000.0, 500_070.0, 3_250_050.0), crs="EPSG:32649", resolution=10.0
)


def test_a_label_becomes_udunits_units_with_the_substance_in_the_long_name() -> None:
    attrs = {"units": "Mg DM/ha", "long_name": "above-ground biomass"}
    out = cf_variable_attrs(attrs, np.dtype(np.float32))
    assert out == {
        "units": "Mg ha-1",
        "units_label": "Mg DM/ha",
        "long_name": "above-ground biomass (dry matter)",
    }
    assert attrs == {"units": "Mg DM/ha", "long_name": "above-ground biomass"}  # unchanged
    # The substance is not repeated when the long name already says it.
    soc = cf_variable_attrs(
        {"units": "Mg C/ha", "long_name": "soil organic carbon"}, np.dtype("f4")
    )
    assert soc["long_name"] == "soil organic carbon" and soc["units"] == "Mg ha-1"
    # Units CF already accepts are left alone, with no label beside them.
    assert cf_variable_attrs({"units": "m", "long_name": "height"}, np.dtype("f4")) == {
        "units": "m",
        "long_name": "height",
    }


def test_flag_values_take_the_type_of_the_stored_data() -> None:
    flags = {"flag_values": np.array([1, 2, 3], dtype=np.int64), "flag_meanings": "a b c"}
    out = cf_variable_attrs(flags, np.dtype(np.uint8))
    assert out["flag_values"].dtype == np.uint8 and list(out["flag_values"]) == [1, 2, 3]
    # netCDF has no boolean: a bool layer is stored as int8, and so are its flags.
    out = cf_variable_attrs({"flag_values": [0, 1], "flag_meanings": "no yes"}, np.dtype(bool))
    assert out["flag_values"].dtype == np.int8
    # A GeoTIFF tag's string form is read too; a code the cells cannot hold is refused.
    assert flag_codes("[1, 2, 6]") == [1, 2, 6] and flag_codes("1 2 6") == [1, 2, 6]
    with pytest.raises(OutputError, match=r"\[1, 300\] do not fit the layer's uint8"):
        cf_variable_attrs({"flag_values": [1, 300]}, np.dtype(np.uint8))
    with pytest.raises(OutputError, match=r"'2\.5' is not a whole number"):
        flag_codes("1 2.5")


def test_cf_dataset_sets_the_conventions_and_shares_the_arrays() -> None:
    values = np.arange(35, dtype=np.float32).reshape(5, 7)
    ds = GRID.dataset(attrs={"title": "t"})
    ds["agb"] = GRID.dataarray(values, name="agb", units="Mg DM/ha", long_name="biomass")
    out = cf_dataset(ds, source="carbonsink test")
    assert out.attrs == {"Conventions": "CF-1.8", "source": "carbonsink test", "title": "t"}
    assert out["agb"].attrs["units"] == "Mg ha-1" and ds["agb"].attrs["units"] == "Mg DM/ha"
    assert np.shares_memory(out["agb"].values, ds["agb"].values)


@pytest.fixture(scope="module")
def cfunits() -> object:
    try:
        import cfunits
    except (ImportError, FileNotFoundError) as error:
        pytest.skip(f"cfunits needs UDUNITS-2 ({error}): apt-get install libudunits2-0")
    return cfunits


def test_every_mapped_label_is_valid_udunits(cfunits: object) -> None:
    Units = cfunits.Units  # type: ignore[attr-defined]
    for label, (units, _) in CF_UNITS.items():
        assert Units(units).isvalid, (label, units)
    # The conversions the labels mean, by hand: 1 Mg/ha = 1e6 g / 1e4 m² = 100 g/m²
    # (carbonsink.units.G_M2_PER_MG_HA); a tonne is a megagram; per year is a flux.
    one = np.array([1.0])
    to_g_m2 = Units.conform(one, Units("Mg ha-1"), Units("g m-2"))
    assert to_g_m2[0] == pytest.approx(G_M2_PER_MG_HA)
    assert Units.conform(one, Units("Mg"), Units("t"))[0] == pytest.approx(1.0)
    assert Units("Mg ha-1 yr-1").equivalent(Units("kg m-2 s-1"))
    # "Mg C/ha" read by UDUNITS itself would be megagram·coulomb per hectare:
    assert Units("Mg C/ha").isvalid and not Units("Mg C/ha").equivalent(Units("Mg ha-1"))


def test_a_written_cube_of_every_kind_of_layer_passes_the_cf_checker(tmp_path: Path) -> None:
    values = np.linspace(0.0, 40.0, 35, dtype=np.float32).reshape(5, 7)
    classes = (np.arange(35) % 3 + 1).astype(np.float32).reshape(5, 7)
    classes[0, 0] = np.nan  # outside: a class layer held as floats, stored as uint8
    ds = GRID.dataset(attrs={"title": "every kind of layer"})
    ds["soc"] = GRID.dataarray(values, name="soc", units="Mg C/ha", long_name="SOC stock")
    ds["soc_var"] = GRID.dataarray(values, name="soc_var", units="(Mg C/ha)^2", long_name="var")
    ds["removals"] = GRID.dataarray(
        values, name="removals", units="t CO2e/ha/yr", long_name="removals"
    )
    ds["agb"] = GRID.dataarray(values, name="agb", units="Mg DM/ha", long_name="biomass")
    ds["landcover"] = GRID.dataarray(
        classes,
        name="landcover",
        units="1",
        long_name="land-cover class",
        attrs={"flag_values": np.array([1, 2, 3]), "flag_meanings": "water reed poplar"},
    )
    ds["landcover"].encoding = {"dtype": "uint8", "_FillValue": 255}
    ds["inside"] = GRID.dataarray(values > 5, name="inside", units="1", long_name="inside")
    path = write_netcdf(ds, tmp_path / "cube.nc")
    found = cf_messages(path, tmp_path)
    assert found["ERROR"] == [] and found["WARN"] == [], found
    with xr.open_dataset(path) as back:
        assert back["landcover"].attrs["flag_values"].dtype == np.uint8
        assert back["removals"].attrs["long_name"] == "removals (CO2 equivalent)"
