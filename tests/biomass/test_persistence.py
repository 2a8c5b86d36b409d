"""Tests of carbonsink.biomass.persistence: skops round trips, model cards, refusals."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

import carbonsink
from carbonsink.biomass.estimators import ESTIMATORS, make_estimator
from carbonsink.biomass.forests import OOBIntervalForest
from carbonsink.biomass.persistence import (
    TRUSTED_MODULES,
    card_path,
    load_model,
    save_model,
    training_table_sha256,
)
from carbonsink.errors import InputError, InputNotFoundError, ModelError
from carbonsink.io.writers import write_json

FEATURES = ["chm_mean_m", "ndvi", "veg_class"]
#: The class path a saved model records for each registry name.
CLASS_PATHS = {
    "random-forest": "carbonsink.biomass.forests.OOBIntervalForest",
    "quantile-forest": "carbonsink.biomass.forests.QuantileForest",
    "gradient-boosting": "carbonsink.biomass.boosting.QuantileBoosting",
    "allometric": "carbonsink.biomass.allometric.AllometricRegressor",
}


@pytest.fixture(scope="module")
def training() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 80
    table = pd.DataFrame(
        {
            "chm_mean_m": rng.uniform(0.2, 3.0, n),
            "ndvi": rng.uniform(0.1, 0.9, n),
            "veg_class": rng.integers(1, 4, n).astype(float),
        }
    )
    table["agb_g_m2"] = 400.0 * table["chm_mean_m"] ** 1.2 * np.exp(rng.normal(0.0, 0.2, n))
    return table


def _fit(name: str, table: pd.DataFrame) -> Any:
    params: dict[str, Any] = {"class_column": 2} if name == "allometric" else {"n_estimators": 10}
    model = make_estimator(name, random_state=0, **params)
    return model.fit(table[FEATURES].to_numpy(), table["agb_g_m2"].to_numpy())


def _card(table: pd.DataFrame) -> dict[str, Any]:
    return {
        "feature_names": FEATURES,
        "training_data_sha256": training_table_sha256(table),
        "cv_metrics": {"r2": 0.8, "rmse_g_m2": 120.0, "coverage_90": 0.9},
        "epoch": "2020",
    }


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_round_trip_gives_identical_predictions(
    name: str, training: pd.DataFrame, tmp_path: Path
) -> None:
    model = _fit(name, training)
    X = training[FEATURES].to_numpy()
    model_file, card_file = save_model(model, tmp_path / "agb.skops", card=_card(training))
    assert model_file == tmp_path / "agb.skops"
    assert card_file == tmp_path / "agb.card.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agb.card.json", "agb.skops"]

    loaded, card = load_model(model_file)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    for before, after in zip(model.predict_interval(X), loaded.predict_interval(X), strict=True):
        np.testing.assert_array_equal(after, before)

    assert card["estimator"] == name
    assert card["estimator_class"] == CLASS_PATHS[name]
    assert card["params"] == model.get_params(deep=False)
    assert card["carbonsink_version"] == carbonsink.__version__
    assert card["feature_names"] == FEATURES
    assert card["training_data_sha256"] == training_table_sha256(training)
    assert card["cv_metrics"] == {"r2": 0.8, "rmse_g_m2": 120.0, "coverage_90": 0.9}
    assert card["epoch"] == "2020"  # extra keys are kept
    assert card["model_file"] == "agb.skops"
    assert card["model_sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert datetime.fromisoformat(card["created_at"]).tzinfo is not None


def test_card_is_plain_json(training: pd.DataFrame, tmp_path: Path) -> None:
    model = _fit("quantile-forest", training)
    _, card_file = save_model(model, tmp_path / "m.skops", card=_card(training))
    card = json.loads(card_file.read_text(encoding="utf-8"))
    assert card["params"]["n_estimators"] == 10
    assert card["params"]["random_state"] == 0


def test_card_path() -> None:
    assert card_path("out/models/agb_2020.skops") == Path("out/models/agb_2020.card.json")


def test_training_table_sha256_is_the_hash_of_its_csv_text() -> None:
    table = pd.DataFrame({"plot_id": ["P1", "P2"], "agb_g_m2": [812.5, 0.1]})
    # The CSV text written out by hand: header, then one line per row, "\n" endings.
    expected = hashlib.sha256(b"plot_id,agb_g_m2\nP1,812.5\nP2,0.1\n").hexdigest()
    assert training_table_sha256(table) == expected
    changed = table.assign(agb_g_m2=[812.5, 0.2])
    assert training_table_sha256(changed) != expected


def test_tampered_model_file_is_refused(training: pd.DataFrame, tmp_path: Path) -> None:
    model_file, _ = save_model(
        _fit("random-forest", training), tmp_path / "m.skops", card=_card(training)
    )
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(InputError, match="the model file does not match its card"):
        load_model(model_file)


def test_swapped_model_file_is_refused(training: pd.DataFrame, tmp_path: Path) -> None:
    first, _ = save_model(
        _fit("random-forest", training), tmp_path / "a.skops", card=_card(training)
    )
    second, _ = save_model(_fit("allometric", training), tmp_path / "b.skops", card=_card(training))
    first.write_bytes(second.read_bytes())
    with pytest.raises(InputError, match="does not match its card"):
        load_model(first)


class Payload:
    """A class from outside the allowlist (stands in for anything hostile)."""

    def __init__(self) -> None:
        self.command = "rm -rf /"


def test_untrusted_type_inside_is_refused_before_loading(
    training: pd.DataFrame, tmp_path: Path
) -> None:
    # An attacker who can write both files: a skops file holding a foreign class, with a
    # card whose hash matches it. The allowlist, not the hash, must stop it.
    model = _fit("random-forest", training)
    model.payload_ = Payload()
    model_file = tmp_path / "evil.skops"
    sio.dump(model, model_file)
    card = {
        **_card(training),
        "estimator": "random-forest",
        "estimator_class": "carbonsink.biomass.forests.OOBIntervalForest",
        "model_sha256": hashlib.sha256(model_file.read_bytes()).hexdigest(),
    }
    write_json(card, card_path(model_file))
    with pytest.raises(InputError, match=r"refusing to load.*test_persistence\.Payload"):
        load_model(model_file)


def test_trusted_package_functions_are_refused(training: pd.DataFrame, tmp_path: Path) -> None:
    # Only classes are allowed: a function of an allowed package (numpy.load, which can
    # unpickle) is refused even though numpy is on the allowlist.
    model = _fit("random-forest", training)
    model.loader_ = np.load
    model_file = tmp_path / "func.skops"
    sio.dump(model, model_file)
    card = {
        **_card(training),
        "estimator_class": "carbonsink.biomass.forests.OOBIntervalForest",
        "model_sha256": hashlib.sha256(model_file.read_bytes()).hexdigest(),
    }
    write_json(card, card_path(model_file))
    with pytest.raises(InputError, match="refusing to load"):
        load_model(model_file)


def test_save_refuses_a_model_that_could_not_be_loaded(
    training: pd.DataFrame, tmp_path: Path
) -> None:
    model = _fit("random-forest", training)
    model.payload_ = Payload()
    with pytest.raises(ModelError, match="load_model would refuse"):
        save_model(model, tmp_path / "m.skops", card=_card(training))
    assert not any(tmp_path.iterdir())


def test_missing_card_is_refused(training: pd.DataFrame, tmp_path: Path) -> None:
    model_file, card_file = save_model(
        _fit("allometric", training), tmp_path / "m.skops", card=_card(training)
    )
    card_file.unlink()
    with pytest.raises(InputNotFoundError, match="model card is missing"):
        load_model(model_file)


def test_missing_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="model file does not exist"):
        load_model(tmp_path / "absent.skops")


def test_not_a_skops_file_is_refused(tmp_path: Path) -> None:
    model_file = tmp_path / "m.skops"
    model_file.write_bytes(b"\x80\x04not a zip, perhaps a pickle")
    write_json(
        {"model_sha256": hashlib.sha256(model_file.read_bytes()).hexdigest()},
        card_path(model_file),
    )
    with pytest.raises(InputError, match="not a readable skops model file"):
        load_model(model_file)


def test_unfitted_model_is_not_saved(training: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not fitted"):
        save_model(OOBIntervalForest(), tmp_path / "m.skops", card=_card(training))


def test_foreign_estimator_is_not_saved(training: pd.DataFrame, tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(training[FEATURES], training["agb_g_m2"])
    with pytest.raises(ModelError, match="only the biomass estimators can be saved"):
        save_model(model, tmp_path / "m.skops", card=_card(training))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"feature_names": ["a", "b"]}, "must be 3 strings"),
        ({"training_data_sha256": "abc"}, "not a sha256 hex digest"),
        ({"cv_metrics": [0.8]}, "cv_metrics must be a dict"),
        ({"model_sha256": "0" * 64}, "which save_model fills in"),
    ],
)
def test_bad_card_is_refused(
    change: dict[str, Any], message: str, training: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(ModelError, match=message):
        save_model(
            _fit("allometric", training), tmp_path / "m.skops", card={**_card(training), **change}
        )


def test_card_without_required_keys_is_refused(training: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="lacks training_data_sha256, cv_metrics"):
        save_model(
            _fit("allometric", training), tmp_path / "m.skops", card={"feature_names": FEATURES}
        )


def test_feature_names_must_match_a_dataframe_fit(training: pd.DataFrame, tmp_path: Path) -> None:
    model = OOBIntervalForest(n_estimators=5, random_state=0).fit(
        training[FEATURES], training["agb_g_m2"]
    )
    card = {**_card(training), "feature_names": ["ndvi", "chm_mean_m", "veg_class"]}
    with pytest.raises(ModelError, match="differ from the columns the model was fitted on"):
        save_model(model, tmp_path / "m.skops", card=card)


def test_allowlist_takes_classes_of_trusted_modules_only() -> None:
    import sklearn.ensemble  # noqa: F401  (the module must be imported to be trusted)

    from carbonsink.biomass.persistence import _is_trusted

    assert _is_trusted("sklearn.ensemble._forest.RandomForestRegressor")
    assert _is_trusted("carbonsink.biomass.forests.QuantileForest")
    assert _is_trusted("carbonsink.biomass.boosting.QuantileBoosting")
    assert _is_trusted("carbonsink.biomass.allometric.AllometricRegressor")
    assert not _is_trusted("numpy.load")  # a function, not a class
    assert not _is_trusted("builtins.eval")
    assert not _is_trusted("sklearnx.Model")  # a prefix of the name is not the package
    assert not _is_trusted("carbonsink.errors.InputError")  # only the estimator modules
    # The registry module is not trusted: it imports classes it does not define.
    assert not _is_trusted("carbonsink.biomass.estimators.QuantileForest")
    assert not _is_trusted("carbonsink.biomass.AgbBootstrap")  # nor the whole package
    assert not _is_trusted("Payload")


def test_allowlist_names_exactly_the_modules_of_the_registered_estimators() -> None:
    trusted = {module for module in TRUSTED_MODULES if module.startswith("carbonsink")}
    assert trusted == {factory.__module__ for factory in ESTIMATORS.values()}


def test_allowlist_never_imports_a_module_named_in_the_file() -> None:
    import sys

    from carbonsink.biomass.persistence import _is_trusted

    module = "sklearn.experimental.enable_iterative_imputer"
    if module in sys.modules:
        pytest.skip(f"{module} was already imported by another test")
    assert not _is_trusted(f"{module}.IterativeImputer")
    assert module not in sys.modules


def _as_saved_before_the_split(data: bytes) -> bytes:
    """The skops file as saved when the estimators were defined in carbonsink.biomass.estimators."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "schema.json":
                content = content.replace(
                    b'"carbonsink.biomass.forests"', b'"carbonsink.biomass.estimators"'
                )
            target.writestr(item, content)
    return out.getvalue()


def test_model_saved_before_the_estimators_moved_is_refused_clearly(
    training: pd.DataFrame, tmp_path: Path
) -> None:
    model_file, card_file = save_model(
        _fit("random-forest", training), tmp_path / "old.skops", card=_card(training)
    )
    old = _as_saved_before_the_split(model_file.read_bytes())
    assert b"carbonsink.biomass.estimators" in zipfile.ZipFile(io.BytesIO(old)).read("schema.json")
    model_file.write_bytes(old)
    card = json.loads(card_file.read_text(encoding="utf-8"))
    card["estimator_class"] = "carbonsink.biomass.estimators.OOBIntervalForest"
    card["model_sha256"] = hashlib.sha256(old).hexdigest()
    write_json(card, card_file)
    with pytest.raises(InputError, match="saved by an older carbonsink") as info:
        load_model(model_file)
    message = str(info.value)
    assert "carbonsink.biomass.estimators.OOBIntervalForest" in message
    assert "fit the model again" in message
