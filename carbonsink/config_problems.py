"""Survey-file validation errors as problems that name the key and the fix.

pydantic reports a location tuple and an error type; :func:`problem_from_error`
turns each into a :class:`~carbonsink.errors.Problem` with the TOML key path
(``epochs[2].soil.path``), and for an unknown key the nearest valid key.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel

from carbonsink.errors import Problem

__all__ = ["problem_from_error"]


def _toml_location(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def problem_from_error(err: Mapping[str, Any], source: Path, root: type[BaseModel]) -> Problem:
    """One pydantic validation error of the survey file as a :class:`Problem`.

    ``root`` is the model of the whole file (for the valid keys an unknown key
    is compared with).
    """
    loc: tuple[int | str, ...] = tuple(
        p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function")))
    )
    where = _toml_location(loc) or "top level"
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        valid = _valid_keys_at(root, loc[:-1])
        close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
        fix = f'did you mean "{close[0]}"?' if close else "remove it"
        if valid:
            fix += f" Valid keys here: {', '.join(sorted(valid))}"
        return Problem(f"unknown key {key!r}", path=str(source), where=where, fix=fix)
    if kind == "missing":
        return Problem(
            "required key is missing",
            path=str(source),
            where=where,
            fix=f"add `{loc[-1]} = ...` (see sample_data/junshan/survey.toml)",
        )
    message = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    shown = "" if isinstance(value, Mapping | list) or value is None else f" (got {value!r})"
    return Problem(f"{message}{shown}", path=str(source), where=where, fix="correct this value")


def _valid_keys_at(root: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The field names valid at a location of the survey file (for suggestions)."""
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    model = _model_in(annotation)
    if model is None:
        return []
    return [name for name, field in model.model_fields.items() if not field.exclude]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _step(annotation: Any, part: int | str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                result = _step(arg, part)
                if result is not None:
                    return result
        return None
    if origin is Annotated:
        return _step(typing.get_args(annotation)[0], part)
    if origin is list and isinstance(part, int):
        return typing.get_args(annotation)[0]
    if origin is dict and isinstance(part, str):
        return typing.get_args(annotation)[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
        field = annotation.model_fields.get(part)
        return None if field is None else field.annotation
    return None
