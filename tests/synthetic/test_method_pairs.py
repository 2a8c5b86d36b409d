"""The generator's soil samples measured by both organic-carbon methods (``method_pairs=N``)."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from carbonsink.errors import ConfigError
from carbonsink.soil.method_calibration import calibrate_methods
from carbonsink.synthetic import SurveySummary, generate_survey
from tests.synthetic.conftest import SEED, digests

N = 300


@pytest.fixture(scope="module")
def paired(tmp_path_factory: pytest.TempPathFactory) -> SurveySummary:
    return generate_survey(tmp_path_factory.mktemp("paired"), seed=SEED, method_pairs=N)


def test_only_the_table_its_survey_line_and_readme_note_are_added(
    paired: SurveySummary, survey: SurveySummary
) -> None:
    with_pairs, without = digests(paired.out_dir), digests(survey.out_dir)
    assert set(with_pairs) - set(without) == {"method_pairs.csv"}
    changed = {k for k in without if with_pairs[k] != without[k]}
    assert changed == {"survey.toml", "README.md"}
    readme = (paired.out_dir / "README.md").read_text(encoding="utf-8")
    assert f"**Samples by both methods** (`method_pairs={N}`" in readme
    text = (paired.out_dir / "survey.toml").read_text(encoding="utf-8")
    plain = (survey.out_dir / "survey.toml").read_text(encoding="utf-8")
    added = [line for line in text.splitlines() if line not in plain.splitlines()]
    assert len(added) == 1 and added[0].startswith('method_pairs = { path = "method_pairs.csv" }')
    assert tomllib.loads(text)["soil"]["method_pairs"] == {"path": "method_pairs.csv"}


def test_the_samples_measure_the_worlds_bias(paired: SurveySummary) -> None:
    table = pd.read_csv(paired.out_dir / "method_pairs.csv", dtype={"sample_id": str})
    assert len(table) == 2 * N
    chn = table[table["method"] == "CHN"].set_index("sample_id")
    dichromate = table[table["method"] == "dichromate"].set_index("sample_id")
    assert chn.index.equals(dichromate.index) and chn.index.is_unique
    assert chn["om_g_kg"].isna().all() and dichromate["soc_pct"].isna().all()
    assert set(chn["depth_top_cm"]) <= {0, 10, 20, 30, 50, 70}
    world = json.loads((paired.out_dir / "truth" / "totals.json").read_text(encoding="utf-8"))
    bias = world["soil_world"]["lab_method_bias"]
    # d_i = (1 + b)(1 + 0.06 Z₂)/(1 + 0.03 Z₁) − 1: mean b + 0.03² (second order), SD
    # √(0.06² + 0.03²) = 0.0671 (× 1 + b); over 300 samples the mean's SE is 0.0039 and the
    # SD's relative SE 1/√598 = 4 %: 4 SEs either way.
    d = (dichromate["om_g_kg"] / 17.24) / chn["soc_pct"] - 1.0
    spread = math.hypot(0.06, 0.03) * (1 + bias)
    assert abs(d.mean() - (bias + 0.03**2)) < 4 * spread / math.sqrt(N)
    assert abs(d.std(ddof=1) / spread - 1.0) < 4 / math.sqrt(2 * (N - 1))
    # The run's calibration (eq. 3.3b) of this table recovers b within 4 of its σ_N.
    frame = pd.read_csv(paired.out_dir / "method_pairs.csv", dtype={"sample_id": str})
    frame.index = pd.RangeIndex(2, 2 + len(frame), name="line")
    found = calibrate_methods(frame, reference="CHN", prior_sd=0.02, path="method_pairs.csv")
    assert found.pairs == N
    assert abs(found.bias - bias) < 4 * found.bias_sd
    assert found.bias_sd < spread / math.sqrt(N) * 1.2


def test_a_negative_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a number of samples"):
        generate_survey(tmp_path / "s", method_pairs=-1)
    assert not (tmp_path / "s").exists()
