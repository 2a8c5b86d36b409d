"""The stage cache's format: a result as JSON, its arrays in a compressed ``.npz``, models in skops.

Never pickle: reading an entry back can only build numbers, text, tables,
grids and carbonsink's own result classes — nothing in an entry is executed.

* :func:`encode` turns a stage result into a JSON tree, a dict of numpy
  arrays (saved as a deflated ``.npz``, zlib level 1, read back with
  ``allow_pickle=False``) and a dict of skops blobs (fitted estimators);
* :func:`decode` rebuilds it. A tagged node (``{"$tag": ...}``) names what it
  holds; a dataclass or pydantic model node names its class, which must be a
  dataclass or pydantic model of the ``carbonsink`` package (anything else is
  refused), and skops blobs may hold only the types of
  :data:`carbonsink.biomass.persistence.TRUSTED_MODULES`.

What can be stored: ``None``, bools, ints, floats (NaN and ±inf too),
strings, dates and datetimes, paths, tuples, lists, dicts (any encodable
keys), numpy arrays, scalars and dtypes, pandas frames, series and indexes
(numpy, extension and categorical columns), xarray datasets and arrays with
their attributes, scipy KD-trees, scikit-learn estimators, and carbonsink
dataclasses and pydantic models made of these. Anything else raises
:class:`UnsupportedValueError`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["CacheFormatError", "UnsupportedValueError", "decode", "encode"]

#: Classes an entry may name: modules of this package only.
_PACKAGE = "carbonsink"


class UnsupportedValueError(TypeError):
    """A value the cache format cannot hold (the stage is then not cached)."""


class CacheFormatError(ValueError):
    """An entry that does not decode: damaged, tampered with, or of another format."""


def encode(value: Any) -> tuple[Any, dict[str, np.ndarray], dict[str, bytes]]:
    """A result as ``(JSON tree, arrays, skops blobs)``.

    Raises
    ------
    UnsupportedValueError
        Some part of ``value`` has a type the format does not hold (named, with
        where it is in the result).
    """
    encoder = _Encoder()
    return encoder.value(value, "result"), encoder.arrays, encoder.blobs


def decode(tree: Any, arrays: Mapping[str, np.ndarray], blobs: Mapping[str, bytes]) -> Any:
    """The result :func:`encode` stored.

    Raises
    ------
    CacheFormatError
        A node is malformed, names a class outside carbonsink or an array or
        blob that is not there, or a blob holds an untrusted type.
    """
    try:
        return _Decoder(arrays, blobs).value(tree)
    except CacheFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise CacheFormatError(f"malformed entry ({type(exc).__name__}: {exc})") from exc


def _class_name(cls: type) -> dict[str, str]:
    return {"module": cls.__module__, "name": cls.__qualname__}


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.blobs: dict[str, bytes] = {}

    def array(self, data: np.ndarray, where: str) -> Any:
        if data.dtype.hasobject:
            return {
                "$objects": list(data.shape),
                "values": [self.value(v, where) for v in data.ravel().tolist()],
            }
        if data.dtype.kind == "V":
            raise UnsupportedValueError(f"{where}: structured numpy array")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.asarray(data, order="C")  # (ascontiguousarray makes 0-d 1-d)
        return {"$ndarray": key}

    def value(self, v: Any, where: str) -> Any:
        if v is None or isinstance(v, bool | str):
            return v
        if v is pd.NA or v is pd.NaT:
            return {"$missing": "NA" if v is pd.NA else "NaT"}
        if isinstance(v, int) and not isinstance(v, np.generic):
            return v
        if isinstance(v, float) and not isinstance(v, np.generic):
            return v if math.isfinite(v) else {"$float": repr(v)}
        if isinstance(v, np.generic):
            return {"$scalar": self.array(np.asarray(v), where)}
        if isinstance(v, np.dtype):
            return {"$dtype": v.str if v.kind != "O" else "object"}
        if isinstance(v, np.ndarray):
            return self.array(v, where)
        if isinstance(v, tuple):
            return {"$tuple": [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [self.value(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, dict):
            return {
                "$dict": [
                    [self.value(k, where), self.value(x, f"{where}[{k!r}]")] for k, x in v.items()
                ]
            }
        if isinstance(v, pd.Timestamp):
            return {"$timestamp": v.isoformat()}
        if isinstance(v, dt.datetime):
            return {"$datetime": v.isoformat()}
        if isinstance(v, dt.date):
            return {"$date": v.isoformat()}
        if isinstance(v, PurePosixPath | Path):
            return {"$path": str(v)}
        if isinstance(v, pd.DataFrame):
            return {
                "$frame": {
                    "columns": self.index(v.columns, where),
                    "index": self.index(v.index, where),
                    "data": [self.column(v.iloc[:, i], f"{where}.{c}") for i, c in enumerate(v)],
                    "attrs": self.value(dict(v.attrs), where),
                }
            }
        if isinstance(v, pd.Series):
            return {
                "$series": {
                    "data": self.column(v, where),
                    "index": self.index(v.index, where),
                    "name": self.value(v.name, where),
                }
            }
        if isinstance(v, pd.Index):
            return self.index(v, where)
        if isinstance(v, xr.Dataset):
            return {
                "$dataset": {
                    "vars": [
                        [str(k), self.variable(x.variable, f"{where}.{k}")] for k, x in v.items()
                    ],
                    "coords": [
                        [str(k), self.variable(x.variable, f"{where}.{k}")]
                        for k, x in v.coords.items()
                    ],
                    "attrs": self.value(dict(v.attrs), where),
                }
            }
        if isinstance(v, xr.DataArray):
            return {
                "$dataarray": {
                    "name": self.value(v.name, where),
                    "variable": self.variable(v.variable, where),
                    "coords": [
                        [str(k), self.variable(x.variable, f"{where}.{k}")]
                        for k, x in v.coords.items()
                    ],
                }
            }
        return self.objects(v, where)

    def objects(self, v: Any, where: str) -> Any:
        """Classes: KD-trees, estimators, carbonsink dataclasses and pydantic models."""
        from pydantic import BaseModel
        from scipy.spatial import cKDTree
        from sklearn.base import BaseEstimator

        if isinstance(v, cKDTree):
            return {"$kdtree": self.array(np.asarray(v.data), where), "leafsize": int(v.leafsize)}
        if isinstance(v, BaseEstimator):
            import skops.io as sio

            key = f"b{len(self.blobs)}"
            self.blobs[key] = sio.dumps(v, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
            return {"$skops": key}
        cls = type(v)
        if not (cls.__module__ == _PACKAGE or cls.__module__.startswith(_PACKAGE + ".")):
            raise UnsupportedValueError(f"{where}: {cls.__module__}.{cls.__qualname__}")
        if isinstance(v, BaseModel):
            return {"$model": _class_name(cls), "data": v.model_dump(mode="json")}
        if dataclasses.is_dataclass(v):
            state = (
                vars(v)
                if hasattr(v, "__dict__")
                else {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}
            )
            return {
                "$dataclass": _class_name(cls),
                "state": {k: self.value(x, f"{where}.{k}") for k, x in state.items()},
            }
        raise UnsupportedValueError(f"{where}: {cls.__module__}.{cls.__qualname__}")

    def column(self, series: pd.Series, where: str) -> Any:
        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            return {
                "$categorical": {
                    "categories": self.index(dtype.categories, where),
                    "codes": self.array(np.asarray(series.cat.codes), where),
                    "ordered": bool(dtype.ordered),
                }
            }
        if isinstance(dtype, np.dtype):
            return self.array(series.to_numpy(), where)
        return {
            "$extension": str(dtype),
            "values": [self.value(x, where) for x in series.astype(object).tolist()],
        }

    def index(self, index: pd.Index, where: str) -> Any:
        if isinstance(index, pd.RangeIndex):
            return {
                "$range": [index.start, index.stop, index.step],
                "name": self.value(index.name, where),
            }
        if isinstance(index, pd.MultiIndex):
            return {
                "$multiindex": [
                    self.index(index.get_level_values(i), where) for i in range(index.nlevels)
                ],
                "names": [self.value(n, where) for n in index.names],
            }
        return {
            "$index": self.column(pd.Series(index, dtype=index.dtype), where),
            "name": self.value(index.name, where),
        }

    def variable(self, variable: xr.Variable, where: str) -> Any:
        return {
            "dims": list(variable.dims),
            "data": self.array(np.asarray(variable.values), where),
            "attrs": self.value(dict(variable.attrs), where),
        }


class _Decoder:
    def __init__(self, arrays: Mapping[str, np.ndarray], blobs: Mapping[str, bytes]) -> None:
        self.arrays = arrays
        self.blobs = blobs

    def array(self, node: Any) -> np.ndarray:
        if "$objects" in node:
            values = [self.value(v) for v in node["values"]]
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out.reshape(node["$objects"])
        return np.asarray(self.arrays[node["$ndarray"]])

    def value(self, node: Any) -> Any:
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            return [self.value(x) for x in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise CacheFormatError(f"unexpected node {node!r}")
        tag = next(iter(node))
        body = node[tag]
        if tag == "$float":
            return float(body)
        if tag == "$missing":
            return pd.NA if body == "NA" else pd.NaT
        if tag == "$scalar":
            return self.array(body)[()]
        if tag == "$dtype":
            return np.dtype(body)
        if tag in ("$ndarray", "$objects"):
            return self.array(node)
        if tag == "$tuple":
            return tuple(self.value(x) for x in body)
        if tag == "$dict":
            return {self.value(k): self.value(x) for k, x in body}
        if tag == "$timestamp":
            return pd.Timestamp(body)
        if tag == "$datetime":
            return dt.datetime.fromisoformat(body)
        if tag == "$date":
            return dt.date.fromisoformat(body)
        if tag == "$path":
            return Path(body)
        if tag == "$frame":
            return self.frame(body)
        if tag == "$series":
            return pd.Series(
                self.column(body["data"]),
                index=self.index(body["index"]),
                name=self.value(body["name"]),
            )
        if tag in ("$range", "$multiindex", "$index"):
            return self.index(node)
        if tag == "$dataset":
            return xr.Dataset(
                {k: self.variable(x) for k, x in body["vars"]},
                coords={k: self.variable(x) for k, x in body["coords"]},
                attrs=self.value(body["attrs"]),
            )
        if tag == "$dataarray":
            return xr.DataArray(
                self.variable(body["variable"]),
                coords={k: self.variable(x) for k, x in body["coords"]},
                name=self.value(body["name"]),
            )
        return self.objects(tag, node)

    def objects(self, tag: str, node: dict[str, Any]) -> Any:
        if tag == "$kdtree":
            from scipy.spatial import cKDTree

            return cKDTree(self.array(node["$kdtree"]), leafsize=int(node["leafsize"]))
        if tag == "$skops":
            return _load_estimator(self.blobs[node["$skops"]])
        if tag == "$model":
            from pydantic import BaseModel

            cls = _package_class(node["$model"])
            if not issubclass(cls, BaseModel):
                raise CacheFormatError(f"{cls.__qualname__} is not a pydantic model")
            return cls.model_validate(node["data"])
        if tag == "$dataclass":
            cls = _package_class(node["$dataclass"])
            if not dataclasses.is_dataclass(cls):
                raise CacheFormatError(f"{cls.__qualname__} is not a dataclass")
            obj = object.__new__(cls)
            for name, value in node["state"].items():
                object.__setattr__(obj, str(name), self.value(value))
            return obj
        raise CacheFormatError(f"unknown tag {tag!r}")

    def frame(self, body: dict[str, Any]) -> pd.DataFrame:
        columns = self.index(body["columns"])
        index = self.index(body["index"])
        data = [self.column(c) for c in body["data"]]
        frame = (
            pd.DataFrame(dict(enumerate(data)), index=index) if data else pd.DataFrame(index=index)
        )
        frame.columns = columns
        frame.attrs = self.value(body["attrs"])
        return frame

    def column(self, node: Any) -> Any:
        if "$categorical" in node:
            body = node["$categorical"]
            return pd.Categorical.from_codes(
                self.array(body["codes"]),
                categories=self.index(body["categories"]),
                ordered=bool(body["ordered"]),
            )
        if "$extension" in node:
            return pd.array([self.value(v) for v in node["values"]], dtype=node["$extension"])
        return self.array(node)

    def index(self, node: Any) -> pd.Index:
        if "$range" in node:
            start, stop, step = node["$range"]
            return pd.RangeIndex(start, stop, step, name=self.value(node["name"]))
        if "$multiindex" in node:
            levels = [self.index(level) for level in node["$multiindex"]]
            names = [self.value(n) for n in node["names"]]
            multi: pd.Index = pd.MultiIndex.from_arrays(levels, names=names)
            return multi
        index: pd.Index = pd.Index(self.column(node["$index"]), name=self.value(node["name"]))
        return index

    def variable(self, node: dict[str, Any]) -> xr.Variable:
        return xr.Variable(
            tuple(node["dims"]), self.array(node["data"]), attrs=self.value(node["attrs"])
        )


def _package_class(name: Any) -> type:
    """A class of the carbonsink package named by an entry; anything else is refused."""
    module_name, qualname = str(name["module"]), str(name["name"])
    if not (module_name == _PACKAGE or module_name.startswith(_PACKAGE + ".")):
        raise CacheFormatError(f"the entry names a class outside carbonsink: {module_name}")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise CacheFormatError(f"{module_name}.{qualname} is not a class")
    return obj


def _load_estimator(data: bytes) -> Any:
    """A fitted estimator from skops bytes, with the types of the biomass models' allowlist only."""
    import sklearn.ensemble  # noqa: F401 - the land-cover classifier's modules, for the allowlist
    import skops.io as sio

    import carbonsink.biomass.estimators  # noqa: F401 - every biomass estimator's module
    from carbonsink.biomass.persistence import untrusted_types

    try:
        needed, refused = untrusted_types(data)
    except Exception as exc:  # not a readable skops file
        raise CacheFormatError(f"an estimator is not readable ({type(exc).__name__})") from exc
    if refused:
        raise CacheFormatError(f"the entry holds types outside the allowlist: {refused}")
    try:
        return sio.loads(data, trusted=needed)
    except Exception as exc:  # skops raises a variety of errors on malformed data
        raise CacheFormatError(f"an estimator does not load ({type(exc).__name__})") from exc
