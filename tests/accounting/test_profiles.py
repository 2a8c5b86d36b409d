"""Tests of the methodology profiles (built-in files, user files, overrides, CLI)."""

from __future__ import annotations

import fnmatch
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from carbonsink.accounting.pools import POOLS
from carbonsink.accounting.profiles import (
    BUILTIN_PROFILES,
    MethodologyProfile,
    list_profiles,
    load_profile,
)
from carbonsink.accounting.uncertainty_rules import UNCERTAINTY_RULES
from carbonsink.cli import main
from carbonsink.errors import ConfigError
from tests.conftest import PROJECT_ROOT

VALID_USER_PROFILE = """
name = "my-programme"
title = "A local programme"
description = "Test profile"
source = "the programme's rules, 2024"
uncertainty_rule = "vm0033"
allowable_uncertainty_pct = 30.0
confidence = 0.95
gwp = "AR6"
buffer_pct = 12.5
leakage_pct = 2.0
pools = ["soc", "agb"]
soil_depth_cm = 100

[default_factors.sedge]
ch4_t_ha_yr = 0.05
source = "site chamber study"
"""


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out + captured.err


def write(tmp_path: Path, text: str, name: str = "profile.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ built-ins
@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_each_builtin_loads(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name  # the file's name matches its stem
    assert profile.origin == "built-in"
    assert len(profile.sha256) == 64
    assert profile.uncertainty_rule in UNCERTAINTY_RULES
    assert set(profile.pools) <= set(POOLS)
    assert profile.overrides == ()
    assert profile.source and profile.description


def test_builtin_settings_follow_methodology() -> None:
    vm = load_profile("vm0033")
    # docs/methodology.md §5: VM0033 allowable 20 % at 90 %; buffer planning default 15 %
    assert (vm.uncertainty_rule, vm.allowable_uncertainty, vm.confidence) == (
        "vm0033",
        pytest.approx(0.20),
        pytest.approx(0.90),
    )
    assert vm.buffer_pct == 15.0
    assert vm.soil_depth_cm == 100
    # docs/methodology.md §4: VM0033 freshwater N2O 0.000864 t N2O/ha/yr; no CH4 default
    factors = vm.factors_for("sedge")
    assert factors is not None
    assert factors.n2o_t_ha_yr == pytest.approx(0.000864)
    assert factors.ch4_t_ha_yr is None
    # in mg m⁻² d⁻¹: 0.000864 t = 864,000 mg over 10,000 m² and 365 d → 86.4 / 365 = 0.236712
    assert factors.n2o_mg_m2_d == pytest.approx(86.4 / 365.0)
    assert factors.ch4_mg_m2_d is None
    assert load_profile("ar-tool14").uncertainty_rule == "ar-tool14"
    assert load_profile("ar-tool14").factors_for("sedge") is None
    lower = load_profile("lower-bound")
    assert (lower.uncertainty_rule, lower.lower_bound_percentile) == ("lower-bound", 5.0)
    # Only the lower-bound profile holds herbaceous biomass in steady state (eq. 2.4).
    assert lower.herbaceous_biomass == "steady-state"
    assert load_profile("vm0033").herbaceous_biomass == "credited"


def test_list_profiles_order() -> None:
    assert [p.name for p in list_profiles()] == [
        "vm0033",
        "ar-tool14",
        "lower-bound",
        "local-voluntary",
        "gold-standard-wetlands",
    ]


def test_gold_standard_profile_buffers_the_stock_change_only() -> None:
    # 20 % compliance buffer of the removals by stock change; CH4 has no default.
    gs = load_profile("gold-standard-wetlands")
    assert (gs.buffer_pct, gs.buffer_base) == (20.0, "stock-change")
    assert gs.factors_for("sedge") is None
    assert gs.pools == ("agb", "bgb", "dom", "soc")


def test_profile_files_are_package_data() -> None:
    folder = resources.files("carbonsink.accounting").joinpath("profiles")
    found = sorted(item.name for item in folder.iterdir() if item.name.endswith(".toml"))
    assert found == sorted(f"{name}.toml" for name in BUILTIN_PROFILES)
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["carbonsink"]
    for name in found:
        assert any(fnmatch.fnmatch(f"accounting/profiles/{name}", p) for p in patterns), name


def test_builtin_files_carry_source_comments() -> None:
    folder = resources.files("carbonsink.accounting").joinpath("profiles")
    for name in BUILTIN_PROFILES:
        text = folder.joinpath(f"{name}.toml").read_text(encoding="utf-8")
        comments = [line for line in text.splitlines() if line.startswith("#")]
        assert len(comments) >= 5, name
        assert "[U]" in text or "[V]" in text, name


# ----------------------------------------------------------------- user files
def test_user_file_loads_with_relative_path(tmp_path: Path) -> None:
    path = write(tmp_path, VALID_USER_PROFILE)
    profile = load_profile("profile.toml", relative_to=tmp_path)
    assert profile.name == "my-programme"
    assert profile.origin == str(path.resolve())
    assert profile.pools == ("agb", "soc")  # canonical order
    sedge = profile.factors_for("sedge")
    assert sedge is not None and sedge.ch4_t_ha_yr == pytest.approx(0.05)
    assert profile.factors_for("reed") is None  # no "default" entry


def test_unknown_key_names_key_and_nearest(tmp_path: Path) -> None:
    path = write(tmp_path, VALID_USER_PROFILE.replace("buffer_pct", "buffer_pc"))
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    text = str(info.value)
    assert str(path) in text
    assert "buffer_pc" in text
    assert 'did you mean "buffer_pct"' in text


def test_unknown_nested_key(tmp_path: Path) -> None:
    path = write(tmp_path, VALID_USER_PROFILE.replace("ch4_t_ha_yr", "ch4_t_ha"))
    with pytest.raises(ConfigError, match=r"default_factors\.sedge\.ch4_t_ha.*ch4_t_ha_yr"):
        load_profile(path)


def test_every_problem_is_listed(tmp_path: Path) -> None:
    text = VALID_USER_PROFILE.replace('"AR6"', '"AR3"').replace("12.5", "120.0")
    with pytest.raises(ConfigError) as info:
        load_profile(write(tmp_path, text))
    message = str(info.value)
    assert "2 problems" in message
    assert "gwp" in message and "buffer_pct" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('["soc", "agb"]', '["soc", "leaves"]', "pools"),
        ('["soc", "agb"]', '["soc", "soc"]', "repeated"),
        ("soil_depth_cm = 100", "soil_depth_cm = 50", "soil_depth_cm"),
        ('uncertainty_rule = "vm0033"', 'uncertainty_rule = "ar-tool14"', "90 %"),
        ('name = "my-programme"\n', "", "name"),
        ("ch4_t_ha_yr = 0.05\n", "", "ch4_t_ha_yr, n2o_t_ha_yr"),
        ("title =", "overrides = []\ntitle =", "overrides"),
        ("title =", "title = = ", "TOML"),
    ],
    ids=["pool", "repeated-pool", "depth", "ar-at-95", "missing", "no-factor", "reserved", "toml"],
)
def test_invalid_values(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in VALID_USER_PROFILE
    path = write(tmp_path, VALID_USER_PROFILE.replace(old, new, 1))
    with pytest.raises(ConfigError, match=expected) as info:
        load_profile(path)
    assert str(path) in str(info.value)


def test_unknown_name_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='did you mean "vm0033"'):
        load_profile("vm033")
    with pytest.raises(ConfigError, match="does not exist"):
        load_profile(tmp_path / "absent.toml")


# ------------------------------------------------------------------ overrides
def test_survey_overrides_applied_and_recorded() -> None:
    # The survey's [accounting] section as the pipeline passes it: unset keys are None.
    overrides = {"gwp": "AR6", "buffer_pct": 25.0, "leakage_pct": None}
    profile = load_profile("vm0033", overrides=overrides)
    assert profile.gwp == "AR6"
    assert profile.buffer_pct == 25.0
    assert profile.leakage_pct == 0.0  # not overridden: the file's value
    recorded = {o.key: (o.profile_value, o.survey_value) for o in profile.overrides}
    # the vm0033 file has gwp AR5 and buffer 15 %
    assert recorded == {"gwp": ("AR5", "AR6"), "buffer_pct": (15.0, 25.0)}


def test_no_overrides_when_survey_sets_none() -> None:
    overrides = {"gwp": None, "buffer_pct": None, "leakage_pct": None}
    profile = load_profile("ar-tool14", overrides=overrides)
    assert profile.overrides == ()
    assert profile == load_profile("ar-tool14")


def test_only_three_settings_can_be_overridden() -> None:
    with pytest.raises(ConfigError, match="soil_depth_cm cannot be overridden"):
        load_profile("vm0033", overrides={"soil_depth_cm": 30.0})


def test_profile_is_frozen() -> None:
    profile = load_profile("vm0033")
    with pytest.raises(ValueError, match="frozen"):
        profile.buffer_pct = 0.0  # type: ignore[misc]
    assert isinstance(profile, MethodologyProfile)


# ------------------------------------------------------------------------ CLI
def test_cli_lists_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["profiles"], capsys)
    assert code == 0
    for name in BUILTIN_PROFILES:
        assert name in out
    assert "AR5" in out and "15 %" in out


def test_cli_shows_one_profile(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["profiles", "vm0033"], capsys)
    assert code == 0
    assert "0.000864" in out
    assert "allowable_uncertainty_pct" in out


def test_cli_shows_a_user_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["profiles", str(write(tmp_path, VALID_USER_PROFILE))], capsys)
    assert code == 0
    assert "my-programme" in out and "chamber" in out


def test_cli_unknown_name_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["profiles", "gold-standard"], capsys)
    assert code == 2
    assert "unknown methodology profile" in out
    for name in BUILTIN_PROFILES:
        assert name in out
    assert "Traceback" not in out


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_a_builtin_profile_speaks_the_runs_language(name: str) -> None:
    # Issue 20: the built-in profiles' title, description and notes are in the catalog
    # (babel.cfg's profile extractor reads them from the TOML files); in Chinese they are
    # the catalog's, every setting and citation unchanged.
    from carbonsink import i18n
    from carbonsink.accounting.profiles import TRANSLATED_TEXTS

    profile = load_profile(name)
    with i18n.language("zh-CN"):
        chinese = profile.in_language()
    catalog = i18n.translations("zh-CN")
    for key in TRANSLATED_TEXTS:
        text = getattr(profile, key)
        if text:
            assert getattr(chinese, key) == catalog.gettext(text) != text, key
    changed = {k for k, v in chinese.model_dump().items() if v != profile.model_dump()[k]}
    assert changed <= set(TRANSLATED_TEXTS)
    assert profile.in_language() == profile  # English: as written


def test_a_user_profile_keeps_its_own_words_in_every_language(tmp_path: Path) -> None:
    from carbonsink import i18n

    profile = load_profile(write(tmp_path, VALID_USER_PROFILE))
    with i18n.language("zh-CN"):
        assert profile.in_language() == profile


def test_the_profile_extractor_yields_the_texts_at_their_lines() -> None:
    from carbonsink.accounting.profiles import extract_profile_texts

    path = resources.files("carbonsink") / "accounting" / "profiles" / "vm0033.toml"
    with path.open("rb") as handle:
        found = list(extract_profile_texts(handle, None, None, None))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert found[0][2] == "VCS VM0033 v2.1 style (20 % at 90 %)"
    assert {lines[n - 1].split(" =")[0] for n, _, _, _ in found} == {
        "title",
        "description",
        "leakage_note",
        "non_co2_note",
    }
