"""Methodology profiles: data files that set the accounting rules of a credit claim.

A profile (docs/methodology.md §5) chooses the uncertainty rule family and its
allowable uncertainty, the GWP set, the buffer and leakage percentages, the
carbon pools and the soil depth, and the default CH4/N2O factors it provides.
Five are built in, as TOML files shipped in ``carbonsink/accounting/profiles/``
(each commented with its sources): ``vm0033``, ``ar-tool14``, ``lower-bound``,
``local-voluntary`` and ``gold-standard-wetlands``. A user can pass a profile
file of their own, and the survey's ``[accounting]`` section may override
``gwp``, ``buffer_pct`` and ``leakage_pct``; :func:`load_profile` applies such
overrides and records them
in :attr:`MethodologyProfile.overrides`, so the ledger shows both values.
"""

from __future__ import annotations

import difflib
import logging
import os
import typing
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from carbonsink.accounting.non_co2 import GwpSet
from carbonsink.accounting.pools import POOLS
from carbonsink.accounting.uncertainty_rules import UncertaintyRule
from carbonsink.errors import ConfigError
from carbonsink.io.toml_documents import read_package_toml, read_toml_file
from carbonsink.units import T_HA_YR_PER_MG_M2_D

__all__ = [
    "BUFFER_BASES",
    "BUILTIN_PROFILES",
    "UNCERTAINTY_SOURCES",
    "BufferBase",
    "GasFactors",
    "HerbaceousBiomass",
    "MethodologyProfile",
    "ProfileOverride",
    "UncertaintySource",
    "list_profiles",
    "load_profile",
]

logger = logging.getLogger(__name__)

#: The built-in profiles, in the order ``carbonsink profiles`` lists them.
BUILTIN_PROFILES: Final[tuple[str, ...]] = (
    "vm0033",
    "ar-tool14",
    "lower-bound",
    "local-voluntary",
    "gold-standard-wetlands",
)
#: The key of :attr:`MethodologyProfile.default_factors` that applies to every class.
DEFAULT_CLASS_KEY: Final = "default"
_PACKAGE: Final = "carbonsink.accounting"
_FOLDER: Final = "profiles"
#: Fields :func:`load_profile` fills in; a profile file may not set them.
_LOADER_KEYS: Final = frozenset({"origin", "sha256", "overrides"})
_OVERRIDABLE: Final = ("gwp", "buffer_pct", "leakage_pct")

#: What a profile's buffer percentage is taken of: the stock-change part of
#: the net, not uncertainty-adjusted and without non-CO2 (VM0033 v2.1 eq. 94),
#: or the uncertainty-adjusted net (docs/methodology.md §5.2).
BufferBase = Literal["stock-change", "adjusted-net"]
BUFFER_BASES: Final[tuple[str, ...]] = typing.get_args(BufferBase)
HerbaceousBiomass = Literal["credited", "steady-state"]
#: Pool groups a 100-year cap can apply to: the soil organic carbon pool, and the
#: biomass pools (AGB, BGB, dead organic matter).
CapGroup = Literal["soil", "biomass"]
#: Which relative half-width U the ``vm0033`` and ``ar-tool14`` rules use: the
#: Monte Carlo interval of the net, VM0033 eq. 87–91 (of the stocks and sources,
#: per pool and stratum, combined as independent errors — a stock is known far
#: better than a change, so this alone under-deducts), or the larger of the two.
UncertaintySource = Literal["monte-carlo", "vm0033-equations", "conservative"]
UNCERTAINTY_SOURCES: Final[tuple[str, ...]] = typing.get_args(UncertaintySource)

Percent = Annotated[float, Field(ge=0.0, le=100.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class GasFactors(_Model):
    """Default non-CO2 emission factors of a profile for one class (or all classes).

    ``None`` means the profile has no default: the flux must then come from the
    survey (``[vegetation.classes.*]``) — CH4 is never silently zero.
    """

    #: CH4 emission, t CH4 ha⁻¹ yr⁻¹.
    ch4_t_ha_yr: NonNegative | None = None
    #: N2O emission, t N2O ha⁻¹ yr⁻¹.
    n2o_t_ha_yr: NonNegative | None = None
    #: Where the factors come from (citation and tag).
    source: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _some_factor(self) -> GasFactors:
        if self.ch4_t_ha_yr is None and self.n2o_t_ha_yr is None:
            raise ValueError("give ch4_t_ha_yr, n2o_t_ha_yr or both (or drop the entry)")
        return self

    @property
    def ch4_mg_m2_d(self) -> float | None:
        """The CH4 factor in mg CH4 m⁻² d⁻¹ (t ha⁻¹ yr⁻¹ ÷ 365e-5), or ``None``."""
        return None if self.ch4_t_ha_yr is None else self.ch4_t_ha_yr / T_HA_YR_PER_MG_M2_D

    @property
    def n2o_mg_m2_d(self) -> float | None:
        """The N2O factor in mg N2O m⁻² d⁻¹ (t ha⁻¹ yr⁻¹ ÷ 365e-5), or ``None``."""
        return None if self.n2o_t_ha_yr is None else self.n2o_t_ha_yr / T_HA_YR_PER_MG_M2_D


class ProfileOverride(_Model):
    """One setting of the profile replaced by the survey's ``[accounting]`` section."""

    key: Literal["gwp", "buffer_pct", "leakage_pct"]
    profile_value: str | float
    survey_value: str | float


class MethodologyProfile(_Model):
    """The accounting rules of one methodology (docs/methodology.md §4–§6).

    Unknown keys are errors (with the nearest valid key); every value is
    range-checked. Instances are frozen: use :func:`load_profile` to get one
    with the survey's overrides applied.
    """

    #: Short identifier (the file stem for the built-ins), e.g. ``"vm0033"``.
    name: Annotated[str, Field(min_length=1)]
    #: One-line title.
    title: Annotated[str, Field(min_length=1)]
    #: What the profile is for and where it does not apply.
    description: Annotated[str, Field(min_length=1)]
    #: Citation of the methodology and tools the settings come from.
    source: Annotated[str, Field(min_length=1)]
    #: Uncertainty rule family applied to the net (the other two are shown too).
    uncertainty_rule: UncertaintyRule
    #: Allowable relative half-width, % of the mean, at ``confidence`` (vm0033 rule).
    allowable_uncertainty_pct: Annotated[float, Field(gt=0.0, le=100.0)]
    #: Confidence level of the interval the rules use (0.90 = the 5th–95th percentiles).
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.90
    #: The U the ``vm0033`` and ``ar-tool14`` rules use: ``"monte-carlo"`` (the
    #: net's interval), ``"vm0033-equations"`` (eq. 87–91) or ``"conservative"``
    #: (the larger; docs/methodology.md §5.3).
    uncertainty_source: UncertaintySource = "conservative"
    #: Percentile of the Monte Carlo draws credited by the lower-bound rule.
    lower_bound_percentile: Annotated[float, Field(gt=0.0, le=50.0)] = 5.0
    #: IPCC GWP set for CH4 and N2O (docs/methodology.md §4).
    gwp: GwpSet
    #: Non-permanence buffer, % of :attr:`buffer_base`.
    buffer_pct: Percent
    #: What the buffer is taken of: ``"stock-change"`` (VM0033 eq. 94, the
    #: stock part of the net, not uncertainty-adjusted, without CH4/N2O) or
    #: ``"adjusted-net"`` (the net after the uncertainty deduction).
    buffer_base: BufferBase = "adjusted-net"
    #: Herbaceous live biomass (AGB, BGB): ``"credited"`` (its change counts,
    #: with the between-year variability of the peak) or ``"steady-state"``
    #: (VM0033 lets it be: its gains are not credited, its losses are;
    #: docs/methodology.md §2.2).
    herbaceous_biomass: HerbaceousBiomass = "credited"
    #: Pool groups whose cumulative claim may not exceed the project's 100-year
    #: benefit (VM0033 v2.1 eq. 86; docs/methodology.md eq. 5.21), stated in the
    #: survey's ``[accounting] benefit_100yr_t_co2e``: ``"soil"``, ``"biomass"``.
    #: Empty: no cap.
    hundred_year_cap: tuple[CapGroup, ...] = ()
    #: Leakage, % of the gross removals.
    leakage_pct: Percent
    #: When leakage is zero, or where the percentage comes from.
    leakage_note: str = ""
    #: Carbon pools counted: keys of the pool registry
    #: (:data:`~carbonsink.accounting.pools.POOLS`: ``agb``, ``bgb``, ``dom``, ``soc``).
    pools: Annotated[tuple[str, ...], Field(min_length=1)]
    #: Soil organic carbon depth counted, cm.
    soil_depth_cm: Literal[30, 100]
    #: How the profile treats CH4 and N2O (what must be measured, which defaults exist).
    non_co2_note: str = ""
    #: Default CH4/N2O factors by vegetation class name; the key ``"default"``
    #: applies to every class without its own entry.
    default_factors: dict[str, GasFactors] = Field(default_factory=dict)
    #: ``"built-in"`` or the absolute path of the profile file (set by the loader).
    origin: str = "built-in"
    #: SHA-256 of the profile file's bytes (set by the loader; empty when built in code).
    sha256: str = ""
    #: Settings replaced by the survey's ``[accounting]`` section (set by the loader).
    overrides: tuple[ProfileOverride, ...] = ()

    @field_validator("pools")
    @classmethod
    def _canonical_pools(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [p for p in value if p not in POOLS]
        if unknown:
            raise ValueError(
                f"unknown pool(s) {', '.join(map(repr, unknown))}; valid: {', '.join(POOLS)}"
            )
        repeated = sorted({p for p in value if value.count(p) > 1})
        if repeated:
            raise ValueError(f"pools repeated: {', '.join(repeated)}; list each pool once")
        return tuple(p for p in POOLS if p in value)

    @model_validator(mode="after")
    def _rule_consistent(self) -> MethodologyProfile:
        if self.uncertainty_rule == "ar-tool14" and abs(self.confidence - 0.90) > 1e-9:
            raise ValueError(
                "the ar-tool14 discount table is defined on the 90 % confidence interval; "
                f"set confidence = 0.90 (got {self.confidence})"
            )
        return self

    @property
    def allowable_uncertainty(self) -> float:
        """Allowable relative half-width as a fraction (20 % → 0.20)."""
        return self.allowable_uncertainty_pct / 100.0

    def factors_for(self, class_name: str) -> GasFactors | None:
        """The profile's default CH4/N2O factors for a vegetation class.

        Parameters
        ----------
        class_name
            A class of the survey legend, e.g. ``"sedge"``.

        Returns
        -------
        GasFactors or None
            The class's own entry, else the ``"default"`` entry, else ``None``
            (no default: the flux must be configured or measured).
        """
        found = self.default_factors.get(class_name)
        return found if found is not None else self.default_factors.get(DEFAULT_CLASS_KEY)

    def in_language(self) -> MethodologyProfile:
        """The profile with its texts in the active language (:mod:`carbonsink.i18n`).

        The built-in profiles' title, description and notes are in the
        message catalog (:func:`extract_profile_texts`); a text the catalog
        does not hold — a profile file of the user's own — stays as written.
        Citations (``source``) and every setting are unchanged.
        """
        from carbonsink.i18n import gettext

        return self.model_copy(
            update={f: gettext(getattr(self, f)) for f in TRANSLATED_TEXTS if getattr(self, f)}
        )

    def settings(self) -> dict[str, Any]:
        """The profile as plain JSON-ready values (for the ledger and the CLI)."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------- loading
#: The profile texts people read in the report, translated when the catalog has them.
TRANSLATED_TEXTS: Final = ("title", "description", "leakage_note", "non_co2_note")


def extract_profile_texts(
    fileobj: typing.BinaryIO, keywords: Any, comment_tags: Any, options: Any
) -> typing.Iterator[tuple[int, None, str, list[str]]]:
    """Babel extractor of a profile file's :data:`TRANSLATED_TEXTS` (``babel.cfg``).

    Yields ``(line, function, message, comments)`` as Babel's extractors do,
    the line being that of the text's key.
    """
    import tomllib

    text = fileobj.read().decode("utf-8")
    document = tomllib.loads(text)
    lines = text.splitlines()
    for key in TRANSLATED_TEXTS:
        value = document.get(key)
        if isinstance(value, str) and value:
            line = next((i for i, t in enumerate(lines, 1) if t.startswith(f"{key} =")), 1)
            yield line, None, value, []


def list_profiles() -> list[MethodologyProfile]:
    """The built-in profiles, in the order of :data:`BUILTIN_PROFILES`.

    Returns
    -------
    list of MethodologyProfile
        ``vm0033``, ``ar-tool14``, ``lower-bound``, ``local-voluntary``.
    """
    return [_load_builtin(name) for name in BUILTIN_PROFILES]


def load_profile(
    name_or_path: str | PathLike[str],
    *,
    overrides: Mapping[str, str | float | None] | None = None,
    relative_to: str | PathLike[str] | None = None,
) -> MethodologyProfile:
    """Load a built-in profile by name, or a user's profile TOML file.

    Parameters
    ----------
    name_or_path
        A built-in name (``vm0033``, ``ar-tool14``, ``lower-bound``,
        ``local-voluntary``; a built-in name always means the built-in), or the
        path of a profile file.
    overrides
        The survey's ``[accounting]`` settings ``gwp``, ``buffer_pct`` and
        ``leakage_pct``; those not ``None`` replace the profile's and are
        recorded in :attr:`MethodologyProfile.overrides`.
    relative_to
        Folder a relative profile path resolves against (the survey's folder);
        default the current directory.

    Returns
    -------
    MethodologyProfile
        The validated profile with ``origin``, ``sha256`` and ``overrides`` set.

    Raises
    ------
    ConfigError
        For an unknown name (listing the built-ins), a missing or unreadable
        file, invalid TOML, an unknown key (naming the nearest valid key) or an
        invalid value; the message names the file and the key.
    """
    text = os.fspath(name_or_path)
    if text in BUILTIN_PROFILES:
        profile = _load_builtin(text)
    else:
        path = Path(text).expanduser()
        if not path.is_absolute() and relative_to is not None:
            path = Path(relative_to) / path
        if path.is_file():
            profile = _load_file(path)
        elif path.suffix == "" and len(path.parts) == 1:
            close = difflib.get_close_matches(text, BUILTIN_PROFILES, n=1, cutoff=0.5)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            raise ConfigError(
                f"unknown methodology profile {text!r}",
                fix=f"{hint}use a built-in profile ({', '.join(BUILTIN_PROFILES)}) or the "
                "path of a profile .toml file",
            )
        else:
            raise ConfigError(
                "the profile file does not exist",
                path=path,
                fix="give the path of a profile .toml file (relative paths resolve against the "
                f"survey's folder) or a built-in profile: {', '.join(BUILTIN_PROFILES)}",
            )
    if overrides is not None:
        profile = _apply_overrides(profile, overrides)
    return profile


def _load_builtin(name: str) -> MethodologyProfile:
    raw, digest = read_package_toml(_PACKAGE, _FOLDER, f"{name}.toml")
    return _validate(raw, digest, label=f"{_FOLDER}/{name}.toml (built-in)", origin="built-in")


def _load_file(path: Path) -> MethodologyProfile:
    raw, digest = read_toml_file(path)
    return _validate(raw, digest, label=str(path), origin=str(path.resolve()))


def _validate(raw: dict[str, Any], digest: str, *, label: str, origin: str) -> MethodologyProfile:
    reserved = sorted(_LOADER_KEYS & raw.keys())
    if reserved:
        raise ConfigError(
            f"key {reserved[0]!r} is set by carbonsink when it loads a profile, not by the file",
            path=label,
            where=reserved[0],
            fix=f"remove {reserved[0]!r}; overrides belong in the survey's [accounting] section",
        )
    try:
        profile = MethodologyProfile.model_validate(raw)
    except ValidationError as exc:
        raise _config_error(exc, label) from None
    logger.debug("loaded methodology profile %s from %s", profile.name, label)
    return profile.model_copy(update={"origin": origin, "sha256": digest})


def _apply_overrides(
    profile: MethodologyProfile, overrides: Mapping[str, str | float | None]
) -> MethodologyProfile:
    unknown = sorted(set(overrides) - set(_OVERRIDABLE))
    if unknown:
        raise ConfigError(
            f"profile setting(s) {', '.join(unknown)} cannot be overridden by the survey",
            where="[accounting]",
            fix=f"override only {', '.join(_OVERRIDABLE)}; copy the profile file to change more",
        )
    recorded: list[ProfileOverride] = []
    for key in _OVERRIDABLE:
        survey_value = overrides.get(key)
        if survey_value is None:
            continue
        recorded.append(
            ProfileOverride(key=key, profile_value=getattr(profile, key), survey_value=survey_value)
        )
    if not recorded:
        return profile
    logger.info(
        "profile %s: survey overrides %s",
        profile.name,
        ", ".join(f"{o.key} {o.profile_value} -> {o.survey_value}" for o in recorded),
    )
    updated = profile.model_dump()
    updated.update({o.key: o.survey_value for o in recorded})
    updated["overrides"] = (*profile.overrides, *recorded)
    try:
        return MethodologyProfile.model_validate(updated)
    except ValidationError as exc:
        raise _config_error(exc, "[accounting] overrides of the survey") from None


def _config_error(exc: ValidationError, label: str) -> ConfigError:
    problems = [_describe(err) for err in exc.errors()]
    if len(problems) == 1:
        where, message, fix = problems[0]
        return ConfigError(message, path=label, where=where, fix=fix)
    lines = "\n".join(f"  - {where}: {message} — fix: {fix}" for where, message, fix in problems)
    return ConfigError(
        f"{len(problems)} problems in the profile file:\n{lines}",
        path=label,
        where=problems[0][0],
        fix="correct each key listed above",
    )


def _describe(err: Mapping[str, Any]) -> tuple[str, str, str]:
    loc: tuple[int | str, ...] = tuple(
        p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function")))
    )
    where = ".".join(str(p) if isinstance(p, str) else f"[{p + 1}]" for p in loc) or "top level"
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        valid = _valid_keys(loc[:-1])
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
        fix = f'did you mean "{close[0]}"?' if close else "remove it"
        if valid:
            fix += f" Valid keys here: {', '.join(sorted(valid))}"
        return where, f"unknown key {key!r}", fix
    if kind == "missing":
        return where, "required key is missing", f"add `{loc[-1]} = ...` (see the built-in files)"
    message = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    shown = "" if isinstance(value, Mapping | list) or value is None else f" (got {value!r})"
    return where, f"{message}{shown}", "correct this value"


def _valid_keys(loc: Sequence[int | str]) -> list[str]:
    model: type[BaseModel]
    if len(loc) == 0:
        model = MethodologyProfile
    elif len(loc) == 2 and loc[0] == "default_factors":
        model = GasFactors
    else:
        return []
    return [name for name in model.model_fields if name not in _LOADER_KEYS]
