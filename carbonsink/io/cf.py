"""CF-1.8 attributes of the NetCDF files carbonsink writes.

Inside carbonsink a layer's ``units`` say what the amount is of, as people
write it: ``Mg DM/ha``, ``Mg C/ha``, ``t CO2e/ha/yr``. CF requires units that
UDUNITS-2 parses, where ``C`` would read as coulomb and ``DM`` does not parse;
so a NetCDF file gets the UDUNITS form (``Mg ha-1``), the substance goes into
``long_name`` ("above-ground biomass (dry matter)"), and the original label
is kept as ``units_label`` for people and plots (docs/design.md §5).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import xarray as xr

from carbonsink.errors import OutputError

__all__ = ["CF_UNITS", "cf_dataset", "cf_variable_attrs", "flag_codes"]

#: Our unit labels → (UDUNITS-2 units, what the amount is of). 1 t = 1 Mg.
CF_UNITS: Final[Mapping[str, tuple[str, str | None]]] = {
    "Mg DM/ha": ("Mg ha-1", "dry matter"),
    "Mg C/ha": ("Mg ha-1", "carbon"),
    "Mg C ha-1": ("Mg ha-1", "carbon"),
    "Mg C/ha/yr": ("Mg ha-1 yr-1", "carbon"),
    "(Mg C/ha)^2": ("Mg2 ha-2", "carbon"),
    "t CO2e/ha/yr": ("Mg ha-1 yr-1", "CO2 equivalent"),
    "t CO2e/yr": ("Mg yr-1", "CO2 equivalent"),
    "t CO2e": ("Mg", "CO2 equivalent"),
    "t C": ("Mg", "carbon"),
    "t DM": ("Mg", "dry matter"),
    "g/m²": ("g m-2", None),
    "g/cm³": ("g cm-3", None),
    "g/kg": ("g kg-1", None),
    "cm/yr": ("cm yr-1", None),
    "m²": ("m2", None),
    "%": ("percent", None),
    "volume fraction": ("1", "volume fraction"),
}


def cf_variable_attrs(attrs: Mapping[str, Any], dtype: np.dtype[Any]) -> dict[str, Any]:
    """A variable's attributes as CF wants them; the input is not changed.

    Parameters
    ----------
    attrs
        The variable's attributes (``units``, ``long_name``, ``flag_values`` …).
    dtype
        The variable's data type, which ``flag_values`` must share (CF §3.5).

    Returns
    -------
    dict
        ``units`` in UDUNITS-2 form with ``units_label`` the original label and
        the substance added to ``long_name``, where :data:`CF_UNITS` knows the
        label; ``flag_values`` cast to ``dtype``.

    Raises
    ------
    OutputError
        A flag value that is not a whole number or does not fit ``dtype``.
    """
    out = dict(attrs)
    label = out.get("units")
    if isinstance(label, str) and label in CF_UNITS:
        units, substance = CF_UNITS[label]
        out["units"] = units
        out["units_label"] = label
        long_name = str(out.get("long_name", "")).strip()
        if substance is not None and substance not in long_name:
            out["long_name"] = f"{long_name} ({substance})" if long_name else substance
    if "flag_values" in out:
        codes = np.asarray(flag_codes(out["flag_values"]), dtype=np.int64)
        kind = np.dtype(np.int8) if dtype == np.bool_ else np.dtype(dtype)
        stored: npt.NDArray[Any] = codes.astype(kind)
        if not np.array_equal(stored.astype(np.int64), codes):
            raise OutputError(
                f"flag_values {codes.tolist()} do not fit the layer's {kind.name} cells",
                fix="store the class layer in an integer type that holds every class code",
            )
        out["flag_values"] = stored
    return out


def flag_codes(values: Any) -> list[int]:
    """The integer codes of ``flag_values``: an array, a list or a string (``"1 2"``, ``"[1, 2]"``).

    Raises
    ------
    OutputError
        A value that is not a whole number.
    """
    if isinstance(values, str):
        items: list[Any] = values.replace(",", " ").strip("[] ").split()
    else:
        items = np.atleast_1d(np.asarray(values)).tolist()
    codes = []
    for item in items:
        number = float(item)
        if not number.is_integer():
            raise OutputError(
                f"flag value {item!r} is not a whole number",
                fix="give integer class codes in flag_values",
            )
        codes.append(int(number))
    return codes


def cf_dataset(dataset: xr.Dataset, *, source: str) -> xr.Dataset:
    """A shallow copy of ``dataset`` with CF-1.8 attributes on it and every variable.

    Parameters
    ----------
    dataset
        The Dataset to be written; its arrays are shared, not copied.
    source
        What made it, e.g. ``"carbonsink 0.1.0"`` (the global ``source``).

    Returns
    -------
    xarray.Dataset
        With ``Conventions = "CF-1.8"`` and ``source`` (unless given) and
        :func:`cf_variable_attrs` applied to every data variable.
    """
    out = dataset.copy(deep=False)
    for name in out.data_vars:
        variable = out.variables[name]
        # A class layer held as floats (NaN outside) is written as its encoding's integers.
        stored = np.dtype(variable.encoding.get("dtype", variable.dtype))
        variable.attrs = cf_variable_attrs(variable.attrs, stored)
    out.attrs = {"Conventions": "CF-1.8", "source": source, **out.attrs}
    return out
