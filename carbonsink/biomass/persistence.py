"""Saving and loading fitted biomass models without ever unpickling an untrusted file.

A model is two files side by side:

``model.skops``
    The fitted estimator in the skops format (a zip of JSON and numpy arrays;
    no pickle). Loading it only instantiates types on an allowlist:
    scikit-learn, quantile_forest, numpy and the classes of the biomass
    estimator modules (:mod:`~carbonsink.biomass.forests`,
    :mod:`~carbonsink.biomass.boosting`, :mod:`~carbonsink.biomass.allometric`).
    Anything else is refused with :class:`~carbonsink.errors.InputError`
    before any object is built.
``model.card.json``
    The model card: carbonsink version, estimator name and parameters, feature
    names, the sha256 of the training table, the cross-validation metrics, the
    creation time and the sha256 of ``model.skops``. Loading checks that hash
    first, so a model file that was replaced or altered after it was saved is
    refused.

The hash makes the pair tamper-evident, not tamper-proof (whoever can rewrite
the model can rewrite its card); the allowlist is what keeps a hostile file
from running code. Both files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import carbonsink
from carbonsink.biomass.agb_map import BiomassPredictor, FittedBiomassModel
from carbonsink.biomass.aoa import AreaOfApplicability
from carbonsink.biomass.estimators import ESTIMATORS, IntervalRegressor
from carbonsink.errors import InputError, InputNotFoundError, ModelError
from carbonsink.io.writers import atomic_path, write_json

__all__ = [
    "CARD_SUFFIX",
    "TRUSTED_MODULES",
    "card_path",
    "load_biomass_model",
    "load_model",
    "save_biomass_model",
    "save_model",
    "training_table_sha256",
    "untrusted_types",
]

logger = logging.getLogger(__name__)

#: The carbonsink modules that define the classes of
#: :data:`~carbonsink.biomass.estimators.ESTIMATORS` (and nothing else of carbonsink).
_ESTIMATOR_MODULES = (
    "carbonsink.biomass.forests",
    "carbonsink.biomass.boosting",
    "carbonsink.biomass.allometric",
)
#: Packages (and the carbonsink estimator modules) whose classes a model file may contain.
TRUSTED_MODULES: tuple[str, ...] = ("sklearn", "quantile_forest", "numpy", *_ESTIMATOR_MODULES)
#: Where the estimator classes were defined before they moved to :data:`_ESTIMATOR_MODULES`:
#: a model file saved then names its classes there and is refused with its own message.
_FORMER_ESTIMATOR_MODULE = "carbonsink.biomass.estimators"

#: The card sits beside the model: ``model.skops`` -> ``model.card.json``.
CARD_SUFFIX = ".card.json"

#: Card keys the caller provides.
_CALLER_KEYS = ("feature_names", "training_data_sha256", "cv_metrics")
#: Card keys :func:`save_model` fills in.
_SAVED_KEYS = (
    "carbonsink_version",
    "estimator",
    "estimator_class",
    "params",
    "created_at",
    "model_file",
    "model_sha256",
)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def card_path(path: str | os.PathLike[str]) -> Path:
    """The model card's path for a model file: ``model.skops`` -> ``model.card.json``."""
    model = Path(path)
    return model.with_name(model.stem + CARD_SUFFIX)


def training_table_sha256(table: pd.DataFrame) -> str:
    """sha256 of a training table, for the model card's ``training_data_sha256``.

    Parameters
    ----------
    table
        The table the model was fitted on (features and target), in the order
        the columns were used.

    Returns
    -------
    str
        64 lowercase hex digits: the sha256 of the table written as UTF-8 CSV
        with a header, no index and ``\\n`` line ends (pandas writes floats with
        their shortest round-trip representation, so equal tables give equal
        hashes and any changed value, column name or order changes the hash).
    """
    text = table.to_csv(index=False, lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _estimator_name(estimator: Any) -> str:
    for name, factory in ESTIMATORS.items():
        if type(estimator) is factory:
            return name
    valid = ", ".join(f"{factory.__name__} ({name!r})" for name, factory in ESTIMATORS.items())
    raise ModelError(
        f"cannot save a {type(estimator).__name__}: only the biomass estimators can be saved",
        fix=f"save one of {valid}",
    )


def _class_path(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _is_trusted(type_name: str) -> bool:
    """Whether a type named by skops is a class from one of :data:`TRUSTED_MODULES`."""
    module_name, _, attribute = type_name.rpartition(".")
    if not module_name or not any(
        module_name == root or module_name.startswith(root + ".") for root in TRUSTED_MODULES
    ):
        return False
    # Look the module up among those already imported (importing carbonsink's
    # estimator registry imports every module a saved model needs) rather than importing
    # a name taken from the file: importing some modules runs code (a package's
    # ``__main__``, for one).
    module = sys.modules.get(module_name)
    # Classes only: a function from a trusted package (e.g. numpy.load) is refused.
    return module is not None and isinstance(getattr(module, attribute, None), type)


def untrusted_types(data: bytes) -> tuple[list[str], list[str]]:
    """(types skops would need trusted to load ``data``, those of them outside the allowlist).

    Raises
    ------
    zipfile.BadZipFile, KeyError, ValueError
        ``data`` is not a readable skops file.
    """
    needed = list(sio.get_untrusted_types(data=data))
    return needed, [name for name in needed if not _is_trusted(name)]


def _untrusted(data: bytes, *, path: Path) -> tuple[list[str], list[str]]:
    """(types skops would need trusted, those of them outside the allowlist)."""
    try:
        return untrusted_types(data)
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise InputError(
            f"not a readable skops model file ({exc})",
            path=path,
            fix="save the model again with carbonsink (save_model)",
        ) from exc


def _jsonable_param(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _check_card(card: Mapping[str, Any], estimator: Any) -> None:
    if not isinstance(card, Mapping):
        raise ModelError(
            f"the model card must be a dict, got {type(card).__name__}",
            fix=f"pass card={{{', '.join(repr(key) + ': ...' for key in _CALLER_KEYS)}}}",
        )
    missing = [key for key in _CALLER_KEYS if key not in card]
    if missing:
        raise ModelError(
            f"the model card lacks {', '.join(missing)}",
            fix="give the feature names, the training table's sha256 "
            "(training_table_sha256) and the cross-validation metrics",
        )
    reserved = sorted(set(card) & set(_SAVED_KEYS))
    if reserved:
        raise ModelError(
            f"the model card sets {', '.join(reserved)}, which save_model fills in",
            fix="leave these keys out of the card",
        )
    names = card["feature_names"]
    if (
        not isinstance(names, list | tuple)
        or not all(isinstance(name, str) for name in names)
        or len(names) != estimator.n_features_in_
    ):
        raise ModelError(
            f"the card's feature_names must be {estimator.n_features_in_} strings (the "
            f"model was fitted on {estimator.n_features_in_} features), got {names!r}",
            fix="list the names of the feature columns in the order the model uses them",
        )
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None and list(fitted_names) != list(names):
        raise ModelError(
            f"the card's feature_names {list(names)} differ from the columns the model was "
            f"fitted on {list(fitted_names)}",
            fix="pass the fitted model's feature_names_in_ as the card's feature_names",
        )
    digest = card["training_data_sha256"]
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise ModelError(
            f"the card's training_data_sha256 is not a sha256 hex digest: {digest!r}",
            fix="compute it with training_table_sha256(table)",
        )
    if not isinstance(card["cv_metrics"], Mapping):
        raise ModelError(
            f"the card's cv_metrics must be a dict, got {type(card['cv_metrics']).__name__}",
            fix="pass the cross-validation metrics as a dict (e.g. {'r2': 0.81, ...})",
        )


def save_model(
    estimator: IntervalRegressor, path: str | os.PathLike[str], *, card: Mapping[str, Any]
) -> tuple[Path, Path]:
    """Write a fitted biomass estimator (skops) and its model card (JSON), atomically.

    Parameters
    ----------
    estimator
        A fitted estimator from :data:`carbonsink.biomass.estimators.ESTIMATORS`.
    path
        The model file, e.g. ``out/models/agb_2020.skops``; the card goes beside
        it (:func:`card_path`).
    card
        What the caller knows: ``feature_names`` (list of str, the model's column
        order), ``training_data_sha256`` (:func:`training_table_sha256` of the
        training table), ``cv_metrics`` (dict, e.g. R², RMSE, coverage), and any
        further JSON-serialisable keys. :func:`save_model` adds
        ``carbonsink_version``, ``estimator`` (registry name), ``estimator_class``,
        ``params``, ``created_at`` (UTC, ISO 8601), ``model_file`` and
        ``model_sha256``.

    Returns
    -------
    tuple of Path
        The model file and the card file.

    Raises
    ------
    ModelError
        When the estimator is not a fitted biomass estimator, contains a type
        that :func:`load_model` would refuse, or the card is incomplete or does
        not fit the model.
    OutputError
        When a file cannot be written.
    """
    name = _estimator_name(estimator)
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise ModelError(
            f"the {name} model is not fitted", fix="fit the model before saving it"
        ) from exc
    _check_card(card, estimator)
    model_file = Path(path)
    data = sio.dumps(estimator)
    _, refused = _untrusted(data, path=model_file)
    if refused:
        raise ModelError(
            f"the {name} model holds types that load_model would refuse: {', '.join(refused)}",
            fix="remove attributes that are not numpy, scikit-learn or carbonsink estimator "
            "objects before saving",
        )
    full_card = {
        **card,
        "carbonsink_version": carbonsink.__version__,
        "estimator": name,
        "estimator_class": _class_path(estimator),
        "params": {
            key: _jsonable_param(value) for key, value in estimator.get_params(deep=False).items()
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_file": model_file.name,
        "model_sha256": hashlib.sha256(data).hexdigest(),
    }
    with atomic_path(model_file) as tmp:
        tmp.write_bytes(data)
    card_file = write_json(full_card, card_path(model_file))
    logger.info("saved the %s model to %s (card %s)", name, model_file, card_file)
    return model_file, card_file


def _read_card(card_file: Path) -> dict[str, Any]:
    if not card_file.is_file():
        raise InputNotFoundError(
            "the model card is missing",
            path=card_file,
            fix="keep the .card.json written by save_model beside the model file",
        )
    try:
        card = json.loads(card_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"the model card is not valid JSON ({exc})",
            path=card_file,
            fix="restore the card written by save_model",
        ) from exc
    if not isinstance(card, dict) or not isinstance(card.get("model_sha256"), str):
        raise InputError(
            "the model card has no model_sha256",
            path=card_file,
            fix="restore the card written by save_model",
        )
    return card


def load_model(path: str | os.PathLike[str]) -> tuple[IntervalRegressor, dict[str, Any]]:
    """Load a model saved by :func:`save_model`, after checking its hash and its types.

    Parameters
    ----------
    path
        The ``.skops`` model file; its card must be beside it.

    Returns
    -------
    tuple
        The fitted estimator and its model card (a dict).

    Raises
    ------
    InputNotFoundError
        When the model file or its card is missing.
    InputError
        When the model file does not match its card's sha256, is not a skops
        file, contains a type outside :data:`TRUSTED_MODULES` (refused before
        anything is instantiated; a file saved before the estimator classes
        left ``carbonsink.biomass.estimators`` is refused so, with its own
        message), or is not the estimator its card names.

    Notes
    -----
    The file is read once; the hash, the type check and the loading all use
    those same bytes, so the file cannot be swapped between check and load.
    Nothing is ever unpickled.
    """
    model_file = Path(path)
    if not model_file.is_file():
        raise InputNotFoundError(
            "the model file does not exist",
            path=model_file,
            fix="give the .skops file written by save_model (or fit the model again)",
        )
    card_file = card_path(model_file)
    card = _read_card(card_file)
    data = model_file.read_bytes()
    if hashlib.sha256(data).hexdigest() != card["model_sha256"]:
        raise InputError(
            "the model file does not match its card (sha256 differs): it was changed or "
            "replaced after it was saved",
            path=model_file,
            fix=f"use the model file that was saved with {card_file.name}, or fit the model again",
        )
    needed, refused = _untrusted(data, path=model_file)
    former = [name for name in refused if name.rpartition(".")[0] == _FORMER_ESTIMATOR_MODULE]
    if former:
        raise InputError(
            f"the model file was saved by an older carbonsink: it names its classes "
            f"{', '.join(former)}, where the estimators were defined before they moved to "
            f"{', '.join(_ESTIMATOR_MODULES)}; such a file is not loaded",
            path=model_file,
            fix="fit the model again and save it with this version (`carbonsink biomass fit`)",
        )
    if refused:
        raise InputError(
            f"refusing to load: the model file holds types outside the allowlist "
            f"({', '.join(TRUSTED_MODULES)}): {', '.join(refused)}",
            path=model_file,
            fix="load only models saved by carbonsink's save_model from a source you trust",
        )
    try:
        estimator = sio.loads(data, trusted=needed)
    except Exception as exc:  # skops raises a variety of errors on a malformed file
        raise InputError(
            f"the model file cannot be loaded ({type(exc).__name__}: {exc})",
            path=model_file,
            fix="save the model again with save_model",
        ) from exc
    if _class_path(estimator) != card.get("estimator_class"):
        raise InputError(
            f"the model file holds a {_class_path(estimator)}, but its card says "
            f"{card.get('estimator_class')!r}",
            path=model_file,
            fix=f"use the model file that was saved with {card_file.name}",
        )
    logger.info("loaded the %s model from %s", card.get("estimator"), model_file)
    return estimator, card


def save_biomass_model(
    model: FittedBiomassModel,
    path: str | os.PathLike[str],
    *,
    used_for_map: bool,
    lidar_decision: str,
) -> tuple[Path, Path]:
    """Save a fitted AGB model with a card that holds everything mapping with it needs.

    Parameters
    ----------
    model
        The fitted model (:func:`~carbonsink.biomass.agb_map.fit_biomass_model`).
    path
        The ``.skops`` file; the card goes beside it (:func:`card_path`).
    used_for_map
        Whether the model maps AGB (a LiDAR model that lost to the imagery
        model is saved for the record but not used).
    lidar_decision
        Why the LiDAR model is or is not used
        (:func:`~carbonsink.biomass.model_choice.lidar_decision`).

    Returns
    -------
    tuple of Path
        The model file and the card file.

    Notes
    -----
    The card records the training table (plot features and AGB) and the CV
    folds, so that :func:`load_biomass_model` rebuilds the area of
    applicability exactly (Meyer & Pebesma 2021 need the training features,
    the feature weights and the CV folds). Python floats round-trip exactly
    through JSON (shortest repr).
    """
    training = model.plots.table.reset_index()
    card = {
        "feature_names": list(model.features),
        "training_data_sha256": training_table_sha256(training),
        "cv_metrics": model.cv.to_dict(),
        "role": model.name,
        "used_for_map": used_for_map,
        "lidar_decision": lidar_decision,
        "block_reason": model.block_reason,
        "aoa": model.aoa.to_dict(),
        "aoa_weights": [float(w) for w in model.aoa.weights],
        "cv_folds": [int(f) for f in model.cv.predictions["fold"]],
        "training": {
            "columns": [str(c) for c in training.columns],
            "data": [
                [v.item() if isinstance(v, np.generic) else v for v in row]
                for row in training.itertuples(index=False)
            ],
        },
    }
    return save_model(model.estimator, path, card=card)


def load_biomass_model(path: str | os.PathLike[str]) -> tuple[BiomassPredictor, bool]:
    """Load a model of :func:`save_biomass_model` with its area of applicability.

    Returns
    -------
    (BiomassPredictor, bool)
        The model ready to map, and whether it is used for the map.

    Raises
    ------
    InputError
        As :func:`load_model`; or the training table in the card does not
        match its hash.
    """
    estimator, card = load_model(path)
    training = pd.DataFrame(**card["training"])
    if training_table_sha256(training) != card["training_data_sha256"]:
        raise InputError(
            "the training table in the model card does not match its hash",
            path=Path(path),
            fix="refit the model with `carbonsink biomass fit`",
        )
    features = tuple(card["feature_names"])
    aoa = AreaOfApplicability.fit(
        training[list(features)].to_numpy(dtype=np.float64),
        weights=card["aoa_weights"],
        folds=card["cv_folds"],
        feature_names=list(features),
    )
    predictor = BiomassPredictor(name=card["role"], features=features, estimator=estimator, aoa=aoa)
    return predictor, bool(card.get("used_for_map", False))
