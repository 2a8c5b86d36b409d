"""The survey file's ``[vegetation]`` table: the class legend and each class's parameters.

Part of :mod:`carbonsink.config` (which re-exports these names); the defaults
are docs/methodology.md §2's.
"""

from __future__ import annotations

import types
import unicodedata
from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from carbonsink.config_base import FrozenModel as _Model
from carbonsink.io.files import file_name_slug

__all__ = ["DEFAULT_CLASSES", "VegetationClass", "VegetationSection"]


class VegetationClass(_Model):
    """Per-class parameters (docs/methodology.md §2, §4)."""

    #: Integer code of the class in class rasters.
    code: Annotated[int, Field(ge=0, le=254)]
    #: Carbon fraction of dry matter (IPCC 2006 default 0.47; range 0.44–0.49).
    carbon_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = 0.47
    #: Plausible range ``[low, high]`` of the carbon fraction, for the Monte Carlo;
    #: ``None``: 0.44–0.49 (IPCC 2006, docs/methodology.md §2) when it holds the value.
    carbon_fraction_range: tuple[float, float] | None = None
    #: Below-ground : above-ground biomass ratio (tagged [U] in docs/methodology.md).
    root_shoot: Annotated[float, Field(ge=0.0, le=20.0)] = 1.0
    #: Plausible range ``[low, high]`` of the root:shoot ratio, for the Monte Carlo;
    #: ``None``: half to twice the value [U].
    root_shoot_range: tuple[float, float] | None = None
    #: Standard error of a root:shoot ratio measured in the project (paired shoot
    #: harvests and root cores): the Monte Carlo then draws the ratio from a
    #: log-normal of mean ``root_shoot`` and this SD instead of from a plausible
    #: range (docs/methodology.md §2.1). ``None``: the ratio is not measured.
    root_shoot_se: Annotated[float, Field(gt=0.0)] | None = None
    #: CH4 flux in mg CH4 m⁻² d⁻¹ (annual mean); ``None`` = the profile's default factor.
    ch4_flux_mg_m2_d: float | None = None
    #: Standard deviation of the CH4 flux (mg CH4 m⁻² d⁻¹); ``None``: 50 % of it [U].
    ch4_flux_sd_mg_m2_d: Annotated[float, Field(ge=0.0)] | None = None
    #: N2O flux in mg N2O m⁻² d⁻¹; ``None`` = the profile's default factor.
    n2o_flux_mg_m2_d: float | None = None
    #: Standard deviation of the N2O flux (mg N2O m⁻² d⁻¹); ``None``: 50 % of it [U].
    n2o_flux_sd_mg_m2_d: Annotated[float, Field(ge=0.0)] | None = None
    #: Herbaceous vegetation (its peak standing crop varies from year to year);
    #: ``false`` for trees and shrubs.
    herbaceous: bool = True
    #: Between-year coefficient of variation of the peak standing crop of a
    #: herbaceous class, for the Monte Carlo (docs/methodology.md §2.2) [U].
    peak_biomass_cv: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2

    @model_validator(mode="after")
    def _ranges_hold_values(self) -> VegetationClass:
        for key, value, bounds in (
            ("carbon_fraction", self.carbon_fraction, self.carbon_fraction_range),
            ("root_shoot", self.root_shoot, self.root_shoot_range),
        ):
            if bounds is not None and not 0.0 <= bounds[0] <= value <= bounds[1]:
                raise ValueError(
                    f"{key}_range {list(bounds)} must be [low, high] with "
                    f"0 ≤ low ≤ {key} ({value:g}) ≤ high"
                )
        if self.root_shoot_se is not None:
            if self.root_shoot_range is not None:
                raise ValueError(
                    "root_shoot_se (a measured ratio's standard error) and root_shoot_range "
                    "(a plausible range) both say how uncertain the root:shoot ratio is: "
                    "give one of them"
                )
            if self.root_shoot == 0.0:
                raise ValueError(
                    "root_shoot_se is given for a root:shoot ratio of 0: a class without "
                    "roots has no measured ratio to be uncertain about; remove root_shoot_se"
                )
        return self


def _default_classes() -> dict[str, VegetationClass]:
    # Root:shoot defaults and ranges from docs/methodology.md §2 (reed 1.0 (0.5–3.0),
    # Miscanthus 0.5 (0.3–1.0), Carex 1.5 (0.8–4.0), poplar 0.24 (0.20–0.30)
    # IPCC 2006 Table 4.4); mudflat vegetation is
    # sparse pioneer herbs, given the herbaceous default 1.0; water has none.
    return {
        "water": VegetationClass(code=1, root_shoot=0.0, herbaceous=False),
        "mudflat": VegetationClass(code=2, root_shoot=1.0),
        "sedge": VegetationClass(code=3, root_shoot=1.5, root_shoot_range=(0.8, 4.0)),
        "reed": VegetationClass(code=4, root_shoot=1.0, root_shoot_range=(0.5, 3.0)),
        "miscanthus": VegetationClass(code=5, root_shoot=0.5, root_shoot_range=(0.3, 1.0)),
        "poplar": VegetationClass(
            code=6, root_shoot=0.24, root_shoot_range=(0.2, 0.3), herbaceous=False
        ),
    }


#: The default Dongting-type legend with its docs/methodology.md parameters.
DEFAULT_CLASSES: Mapping[str, VegetationClass] = types.MappingProxyType(_default_classes())


class VegetationSection(_Model):
    """``[vegetation]``: the class legend and per-class parameters."""

    classes: dict[str, VegetationClass] = Field(default_factory=_default_classes)

    @field_validator("classes")
    @classmethod
    def _unique_codes(cls, value: dict[str, VegetationClass]) -> dict[str, VegetationClass]:
        if not value:
            raise ValueError("at least one class is needed")
        slugs: dict[str, str] = {}
        for name in value:
            if not name.strip() or any(unicodedata.category(c).startswith("C") for c in name):
                raise ValueError(
                    f"class name {name!r} is empty or holds control characters: give every "
                    "class a printable name"
                )
            slug = file_name_slug(name)
            if not slug:
                raise ValueError(
                    f"class name {name!r} has no letter or digit: it names the class's output "
                    "layers, so give it at least one"
                )
            other = slugs.get(slug.casefold())
            if other is not None:
                raise ValueError(
                    f"classes {other!r} and {name!r} would name the same output files "
                    f"({slug!r}; file names ignore case on some systems): rename one"
                )
            slugs[slug.casefold()] = name
        seen: dict[int, str] = {}
        for name, params in value.items():
            if params.code in seen:
                raise ValueError(
                    f"classes {seen[params.code]!r} and {name!r} share code {params.code}; "
                    "give every class its own code"
                )
            seen[params.code] = name
        return value

    def by_code(self) -> dict[int, str]:
        """Class names by integer code."""
        return {params.code: name for name, params in self.classes.items()}
