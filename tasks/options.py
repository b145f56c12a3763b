"""Typed task options: each task declares a pydantic model behind ``--task-arg KEY=VALUE``.

The raw ``--task-arg`` strings are validated once, when the task is created, into the task's
``Options`` model (``extra="forbid"``); any mistake becomes one ``HarnessError`` line naming
the option, what it expects and, for an unknown key, the closest known one. Booleans accept
1/0/true/false/yes/no (pydantic's lax string parsing).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import annotated_types
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from harness.errors import HarnessError
from harness.registry import did_you_mean


class OptionsModel(BaseModel):
    """Base of task option models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(OptionsModel):
    """For tasks that take no ``--task-arg``."""


M = TypeVar("M", bound=BaseModel)

BOOL_WORDS = "1/0/true/false/yes/no"
# Validation errors that ``expected()`` already explains (type, choices, bounds).
SAID_BY_EXPECTED = {"literal_error", "bool_parsing", "int_parsing", "float_parsing",
                    "int_from_float", "greater_than", "greater_than_equal", "less_than",
                    "less_than_equal", "string_type", "bool_type", "int_type", "float_type"}


def type_name(annotation: Any) -> str:
    """A short, user-facing name for an option's type: ``base|plus``, ``int``, ``bool``."""
    if typing.get_origin(annotation) is Literal:
        return "|".join(str(choice) for choice in typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        parts = [a for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(type_name(a) for a in parts)
    if annotation is bool:
        return f"bool ({BOOL_WORDS})"
    return getattr(annotation, "__name__", str(annotation))


def bounds(field: FieldInfo) -> str:
    """The numeric constraints of a field, e.g. ``>= 0, <= 1``."""
    parts = []
    for item in field.metadata:
        for attribute, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(item, attribute, None)
            if isinstance(item, annotated_types.BaseMetadata) and value is not None:
                parts.append(f"{symbol} {value}")
    return ", ".join(parts)


def expected(field: FieldInfo) -> str:
    """What a field accepts, for error messages and ``harness tasks NAME``."""
    annotation = field.annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        parts = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = parts[0] if len(parts) == 1 else annotation
    name = type_name(annotation)
    limits = bounds(field)
    if typing.get_origin(annotation) is Literal:
        return f"one of {name}"
    return f"{name} {limits}" if limits else name


def default_text(field: FieldInfo) -> str:
    if field.default is None:
        return "unset"
    if isinstance(field.default, bool):
        return "1" if field.default else "0"
    return str(field.default)


def parse_options(task: str, model: type[M], raw: Mapping[str, str]) -> M:
    """``raw`` (the ``--task-arg`` strings) validated into ``model``; errors as one line."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        raise HarnessError(f"{task}: " + "; ".join(
            describe_error(task, model, error, raw) for error in exc.errors())) from None


def describe_error(task: str, model: type[BaseModel], error: Any, raw: Mapping[str, str]
                   ) -> str:
    key = str(error["loc"][0]) if error.get("loc") else ""
    known = list(model.model_fields)
    if error["type"] == "extra_forbidden":
        if not known:
            return f"takes no --task-arg (got {key!r})"
        return (f"unknown --task-arg {key!r}{did_you_mean(key, known)} "
                f"(known: {', '.join(known)}; see `harness tasks {task}`)")
    field = model.model_fields.get(key)
    if field is None:  # a model-level check
        return f"--task-arg: {error['msg']}"
    value = raw.get(key, "")
    message = f"--task-arg {key}={value!r} is not valid: expected {expected(field)}"
    if error["type"] in SAID_BY_EXPECTED:
        return message
    reason = str(error["msg"])
    return f"{message} ({reason[:1].lower() + reason[1:]})"


def option_rows(model: type[BaseModel]) -> list[dict[str, str]]:
    """One row per option: name, type, default, description."""
    return [{"name": name, "type": expected(field), "default": default_text(field),
             "description": field.description or ""}
            for name, field in model.model_fields.items()]


__all__ = ["NoOptions", "OptionsModel", "expected", "option_rows", "parse_options", "type_name"]
