"""The stage keys: a setting invalidates the cached stages that read it, and no other."""

from __future__ import annotations

from carbonsink.config import load_survey
from carbonsink.pipeline.context import RunContext
from carbonsink.pipeline.run import _inputs_key, _stage_key
from tests.conftest import SAMPLE_SURVEY


def _with_biomass(**settings: object) -> RunContext:
    survey = load_survey(SAMPLE_SURVEY)
    biomass = survey.biomass.model_copy(update=settings)
    return RunContext.build(survey.model_copy(update={"biomass": biomass}))


def test_the_bootstrap_settings_key_the_ledger_inputs_not_the_epochs() -> None:
    # Asking for the comparison bootstrap (or more replicates, or other trees) recomputes
    # the ledger inputs only; the epochs' maps come from the cache. A setting of the
    # biomass model itself changes both.
    hashes = {"survey.toml": "0" * 64}
    default = _with_biomass()
    epoch = _stage_key(default, hashes)
    inputs = _inputs_key(default, epoch, epoch)
    for setting in (
        {"bootstrap_comparison": True},
        {"bootstrap_replicates": 500},
        {"bootstrap_trees": 100},
    ):
        other = _with_biomass(**setting)
        assert _stage_key(other, hashes) == epoch, setting
        assert _inputs_key(other, epoch, epoch) != inputs, setting
    model = _with_biomass(n_estimators=500)
    assert _stage_key(model, hashes) != epoch
    assert _inputs_key(model, _stage_key(model, hashes), _stage_key(model, hashes)) != inputs
