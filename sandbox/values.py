"""The restricted, type-preserving wire format of values that cross the sandbox boundary.

Call jobs send a candidate its inputs in this format and get its outputs back in it; the
verdict is then made by trusted code comparing decoded values. Nothing is pickled, nothing is
evaluated: the format is JSON in which every JSON object is a tag, so there is no ambiguity.

=======================================  ==================================================
Python                                   wire
=======================================  ==================================================
None, bool, str                          null, true/false, "..." (ASCII, ``\\u`` escapes)
int (exact type, at most 4300 digits)    JSON integer
int of more than 4300 digits             {"i": "<hex>"} (``hex()``: linear both ways)
float, finite                            JSON number with '.' or 'e' (``repr``)
float nan / inf / -inf                   {"f": "nan"} / {"f": "inf"} / {"f": "-inf"}
complex                                  {"c": [real, imag]} (each a wire float)
list                                     [ ... ]
list of >= 256 finite floats (and at     {"p": ["<base64 of little-endian float64>",
most one exact int in 8, within 2**53)    [positions of the ints]]} (``packed``)
tuple                                    {"t": [ ... ]}
dict                                     {"d": [[key, value], ...]} (insertion order)
set / frozenset                          {"s": [ ... ]} / {"fs": [ ... ]}
bytes                                    {"b": "<base64>"}
subclass of one of these, numpy scalar   {"x": "module.QualName", "v": <wire of its base value>}
=======================================  ==================================================

Anything else, a cycle or nesting deeper than 100 containers cannot be encoded. (Decimal
text of an int is quadratic to convert, hence CPython's 4300-digit limit; hex is not.) The
encoder that runs inside the sandbox is a copy of this one in ``sandbox/worker.py``
(standard library only, one file); tests check that both agree.

Decoding is strict: bare ``NaN``/``Infinity``, numbers that overflow to infinity, duplicate
keys, unknown or malformed tags, unhashable set elements or dict keys, too deep nesting and
decimal ints of more than 4300 digits all raise ``ValueError`` with the reason. An ``x``
value decodes to a ``Foreign`` value: a subclass of its base type defined here, with
``type_name`` naming the type it stood for, so that ``==`` compares the value while
``type(out) is float`` is False (as for an ``np.float64`` in evalplus). A ``numpy.bool_``
decodes to a ``ForeignInt`` 0 or 1.

This module must not import numpy (the harness does not need it to read outputs).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, cast, overload

# The sandbox's own codec (one stdlib-only file): its check for lists that are their own wire
# form serves the decoder here too.
from harness.sandbox.worker import (
    WIRE_MAX_INT_DIGITS,
    list_as_is,
    plain_list,
    unpacked,
)

MAX_DEPTH = 100  # containers inside containers
MAX_INT_DIGITS = WIRE_MAX_INT_DIGITS  # 4300, as CPython's default int_max_str_digits
_INT_LIMIT = 10**MAX_INT_DIGITS
# Distinct values sharing one hash make building a set or dict quadratic (ints 2**61 - 1 apart
# hash alike, and so do tuples and frozensets of them): a few megabytes of them, which a
# program can write as its records without ever building the set, would hang trusted code
# for hours. Real outputs never have more than a handful per hash.
MAX_HASH_GROUP = 256
# Decoding a candidate's records builds its outputs in trusted code's process, and a job's
# records may hold 256 MiB of wire text: lists nested in lists take about 190 bytes each
# (twice while converted) for 2 characters, a short string about 80 bytes (object and slot)
# for 5, gigabytes in all. What decoding would take is estimated first from the brackets
# (containers) and commas (items), counted in C, and records over the cap are refused. The
# largest reference records of HumanEval(+) and MBPP(+) (103 MB, 19 million items) estimate
# 1.6 GB and take 1.1 GB decoded.
CONTAINER_BYTES, ITEM_BYTES = 192, 80
MAX_DECODED_BYTES = 3 << 30
PACKED_CHAR_BYTES = 5
# Names, not objects: each NaN is made anew, so that two decoded NaNs are never one object
# (``[nan] == [nan]`` is True in CPython when both lists hold the same NaN).
_SPECIAL_FLOATS = {"nan": "nan", "inf": "inf", "-inf": "-inf"}
_TAGS = frozenset({"f", "c", "t", "d", "s", "fs", "b", "i", "p"})
_HEX_INT = re.compile(r"-?0x[0-9a-f]+")
_PACKED_NODE = re.compile(r'\{\s*"p"\s*:')  # (JSON may have whitespace a program added)
CallKind = Literal["ok", "raised", "timeout", "bad", "missing"]


# --------------------------------------------------------------------------- Foreign values


class Foreign:
    """Mixin of the values that stood for another type in the sandbox (``type_name``)."""

    type_name: str


class ForeignInt(int, Foreign):
    def __new__(cls, value: int, type_name: str) -> ForeignInt:
        made = super().__new__(cls, value)
        made.type_name = type_name
        return made

    def __repr__(self) -> str:
        return f"{self.type_name}({int.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (int(self), self.type_name))


class ForeignFloat(float, Foreign):
    def __new__(cls, value: float, type_name: str) -> ForeignFloat:
        made = super().__new__(cls, value)
        made.type_name = type_name
        return made

    def __repr__(self) -> str:
        return f"{self.type_name}({float.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (float(self), self.type_name))


class ForeignComplex(complex, Foreign):
    def __new__(cls, value: complex, type_name: str) -> ForeignComplex:
        made = super().__new__(cls, value)
        made.type_name = type_name
        return made

    def __repr__(self) -> str:
        return f"{self.type_name}({complex.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (complex(self), self.type_name))


class ForeignStr(str, Foreign):
    def __new__(cls, value: str, type_name: str) -> ForeignStr:
        made = super().__new__(cls, value)
        made.type_name = type_name
        return made

    def __repr__(self) -> str:
        return f"{self.type_name}({str.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.type_name))


class ForeignBytes(bytes, Foreign):
    def __new__(cls, value: bytes, type_name: str) -> ForeignBytes:
        made = super().__new__(cls, value)
        made.type_name = type_name
        return made

    def __repr__(self) -> str:
        return f"{self.type_name}({bytes.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (bytes(self), self.type_name))


class ForeignTuple(tuple, Foreign):
    def __new__(cls, value: tuple[Any, ...], type_name: str) -> ForeignTuple:
        made = super().__new__(cls, value)
        made.type_name = type_name
        return made

    def __repr__(self) -> str:
        return f"{self.type_name}({tuple.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (tuple(self), self.type_name))


class ForeignFrozenSet(frozenset, Foreign):
    def __new__(cls, value: frozenset[Any], type_name: str) -> ForeignFrozenSet:
        made = super().__new__(cls, value)
        made.type_name = type_name
        return made

    def __repr__(self) -> str:
        return f"{self.type_name}({frozenset.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (frozenset(self), self.type_name))


class ForeignList(list, Foreign):
    def __init__(self, value: list[Any], type_name: str) -> None:
        super().__init__(value)
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"{self.type_name}({list.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self), self.type_name))


class ForeignDict(dict, Foreign):
    def __init__(self, value: dict[Any, Any], type_name: str) -> None:
        super().__init__(value)
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"{self.type_name}({dict.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self), self.type_name))


class ForeignSet(set, Foreign):
    def __init__(self, value: set[Any], type_name: str) -> None:
        super().__init__(value)
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"{self.type_name}({set.__repr__(self)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (set(self), self.type_name))


_FOREIGN: dict[type, type] = {
    int: ForeignInt, float: ForeignFloat, complex: ForeignComplex, str: ForeignStr,
    bytes: ForeignBytes, tuple: ForeignTuple, frozenset: ForeignFrozenSet, list: ForeignList,
    dict: ForeignDict, set: ForeignSet,
}


def foreign(value: Any, type_name: str) -> Any:
    """``value`` (of an exact base type) as the Foreign value standing for ``type_name``."""
    if type(value) is bool:  # bool cannot be subclassed: numpy.bool_ and friends
        value = int(value)
    cls = _FOREIGN.get(type(value))
    if cls is None:
        raise ValueError(f"a {type(value).__name__} cannot stand for {type_name}")
    return cls(value, type_name)


# --------------------------------------------------------------------------- encoding


def encode(value: Any) -> str:
    """The wire text of ``value`` (trusted values, e.g. inputs); ``ValueError`` if it cannot
    be encoded. Foreign values keep the type they stand for."""
    return json.dumps(_to_wire(value, 0, set()), ensure_ascii=True, allow_nan=False,
                      separators=(",", ":"))


def encode_calls(calls: Sequence[tuple[str, Sequence[Any], Mapping[str, Any]]]) -> str:
    """Wire inputs of a call job (``Calls.wire_inputs``): ``[name, args, kwargs]`` per call;
    the same text as ``encode`` of those lists, without walking the calls' own lists."""
    active: set[int] = set()
    no_kwargs: dict[str, list[Any]] = {"d": []}
    wire = [[_to_wire(name, 2, active), _to_wire(list(args), 2, active),
             _to_wire(dict(kwargs), 2, active) if kwargs else no_kwargs]
            for name, args, kwargs in calls]
    return json.dumps(wire, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _float_wire(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _to_wire(value: Any, depth: int, active: set[int]) -> Any:
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -_INT_LIMIT < value < _INT_LIMIT else {"i": hex(value)}
    if kind is float:
        return _float_wire(value)
    if kind is complex:
        return {"c": [_float_wire(value.real), _float_wire(value.imag)]}
    if kind is bytes:
        return {"b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Foreign):
        base = _FOREIGN_BASE[kind](value)
        return {"x": value.type_name, "v": _to_wire(base, depth, active)}
    if kind not in (list, tuple, dict, set, frozenset):
        module = getattr(kind, "__module__", "")
        if module == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
            return {"x": f"numpy.{kind.__name__}", "v": _to_wire(value.item(), depth, active)}
        raise ValueError(f"unsupported type {module}.{kind.__qualname__}")
    if depth >= MAX_DEPTH:
        raise ValueError(f"nesting deeper than {MAX_DEPTH}")
    if id(value) in active:
        raise ValueError(f"a cycle through a {kind.__name__}")
    if kind is list and (made := list_as_is(value)) is not None:
        return made
    active.add(id(value))
    try:
        if kind is list:
            return _items_wire(value, depth + 1, active)
        if kind is tuple:
            return {"t": _items_wire(value, depth + 1, active)}
        if kind is dict:
            return {"d": [[_to_wire(k, depth + 1, active), _to_wire(v, depth + 1, active)]
                          for k, v in value.items()]}
        tag = "s" if kind is set else "fs"
        return {tag: [_to_wire(item, depth + 1, active) for item in value]}
    finally:
        active.discard(id(value))


def _items_wire(items: Sequence[Any], depth: int, active: set[int]) -> list[Any]:
    """Each item's wire at ``depth``; strings and lists of plain values without a call each
    (a problem's inputs can be a hundred thousand such lists)."""
    if depth >= MAX_DEPTH:
        return [_to_wire(item, depth, active) for item in items]
    made = []
    for item in items:
        kind = type(item)
        if kind is str or item is None or kind is bool:
            made.append(item)
        elif kind is list and (as_is := list_as_is(item)) is not None:
            made.append(as_is)  # a plain list holds no container: no cycle runs through it
        else:
            made.append(_to_wire(item, depth, active))
    return made


_FOREIGN_BASE: dict[type, Any] = {
    ForeignInt: int, ForeignFloat: float, ForeignComplex: complex, ForeignStr: str,
    ForeignBytes: bytes, ForeignTuple: tuple, ForeignFrozenSet: frozenset, ForeignList: list,
    ForeignDict: dict, ForeignSet: set,
}


# --------------------------------------------------------------------------- decoding


def _reject_constant(name: str) -> Any:
    raise ValueError(f"bare {name} is not allowed (use {{\"f\": ...}})")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an int with more than {MAX_INT_DIGITS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    made = dict(pairs)
    if len(made) != len(pairs):
        raise ValueError("a JSON object with duplicate keys")
    return made


def _load(text: str | bytes) -> Any:
    """The raw JSON of wire ``text``. Numbers are parsed by json itself (C speed): floats
    out of range come out infinite and are refused by ``_from_wire``, and ints longer than
    CPython's default conversion limit are refused by the interpreter. Where that limit was
    changed, numbers are parsed with the checking hooks instead."""
    hooks: dict[str, Any] = {}
    if sys.get_int_max_str_digits() != MAX_INT_DIGITS:
        hooks = {"parse_int": _parse_int, "parse_float": _parse_float}
    try:
        return json.loads(text, parse_constant=_reject_constant,
                          object_pairs_hook=_unique_keys, **hooks)
    except RecursionError:
        raise ValueError("nesting too deep") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at offset {exc.pos}") from None
    except ValueError as exc:  # the interpreter's own int length limit
        if "integer string conversion" in str(exc):
            raise ValueError(f"an int with more than {MAX_INT_DIGITS} digits") from None
        raise


def decode(text: str | bytes) -> Any:
    """The value of wire ``text``; ``ValueError`` (with the reason) for anything malformed."""
    return _from_wire(_load(text), 0)


def _float_from_wire(node: Any) -> float:
    kind = type(node)
    if kind is float:
        return float(_from_wire(node, 0))
    if kind is dict and set(node) == {"f"}:
        special = _SPECIAL_FLOATS.get(node["f"]) if isinstance(node["f"], str) else None
        if special is None:
            raise ValueError(f"unknown special float {str(node['f'])[:20]!r}")
        return float(special)
    raise ValueError(f"expected a float, got {_describe(node)}")


def _items(node: Any, tag: str, depth: int) -> list[Any]:
    if type(node) is not list:
        raise ValueError(f"{{{tag!r}: ...}} needs a list, got {_describe(node)}")
    if plain_list(node):
        return node
    return [_from_wire(item, depth + 1) for item in node]


def _from_wire(node: Any, depth: int) -> Any:
    kind = type(node)
    if node is None or kind is bool or kind is int or kind is str:
        return node
    if kind is float:
        if not math.isfinite(node):
            raise ValueError(f"the number {node!r} is out of range")
        return node
    if depth >= MAX_DEPTH:
        raise ValueError(f"nesting deeper than {MAX_DEPTH}")
    if kind is list:
        # (ints are within bounds: longer digit runs were parsed by the checking hook)
        if plain_list(node):
            return node  # made by json.loads just now: nothing else holds it
        return [_from_wire(item, depth + 1) for item in node]
    if kind is not dict:  # cannot happen with json.loads; kept for robustness
        raise ValueError(f"unexpected {_describe(node)}")
    keys = set(node)
    if keys == {"x", "v"}:
        name = node["x"]
        if type(name) is not str or not name or len(name) > 1000:
            raise ValueError("a foreign value needs a type name")
        inner = node["v"]
        if type(inner) is dict and "x" in inner:
            raise ValueError("a foreign value inside a foreign value")
        base = _from_wire(inner, depth)
        if base is None:
            raise ValueError(f"{name[:100]} stands for None")
        return foreign(base, name)
    if len(keys) != 1 or not keys <= _TAGS:
        raise ValueError(f"unknown tag {sorted(keys)[:3]!r}")
    (tag, body), = node.items()
    if tag == "f":
        return _float_from_wire(node)
    if tag == "c":
        if type(body) is not list or len(body) != 2:
            raise ValueError("{'c': ...} needs [real, imag]")
        return complex(_float_from_wire(body[0]), _float_from_wire(body[1]))
    if tag == "i":
        if type(body) is not str or not _HEX_INT.fullmatch(body):
            raise ValueError("{'i': ...} needs hex text")
        return int(body, 16)
    if tag == "b":
        if type(body) is not str:
            raise ValueError("{'b': ...} needs base64 text")
        try:
            return base64.b64decode(body.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValueError("{'b': ...} holds invalid base64") from None
    if tag == "p":
        return unpacked(body)
    if tag == "t":
        return tuple(_items(body, tag, depth))
    if tag == "d":
        if type(body) is not list:
            raise ValueError(f"{{'d': ...}} needs a list, got {_describe(body)}")
        pairs = []
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise ValueError("{'d': ...} needs [key, value] pairs")
            key = _from_wire(pair[0], depth + 1)
            try:
                hash(key)
            except TypeError:
                raise ValueError(f"unhashable dict key ({type(key).__name__})") from None
            pairs.append((key, _from_wire(pair[1], depth + 1)))
        if hash_flooded([key for key, _ in pairs]):
            raise ValueError("too many distinct dict keys with the same hash")
        made: dict[Any, Any] = {}
        for key, value in pairs:
            if key in made:
                raise ValueError(f"duplicate dict key {_short(key)}")
            made[key] = value
        return made
    items = _items(body, tag, depth)
    try:
        if hash_flooded(items):
            raise ValueError("too many distinct set elements with the same hash")
        made_set = set(items) if tag == "s" else frozenset(items)
    except TypeError as exc:
        raise ValueError(f"unhashable set element ({exc})") from None
    if len(made_set) != len(items) and not any(_has_nan(item) for item in items):
        raise ValueError("duplicate set elements")
    return made_set


def hash_flooded(items: Sequence[Any]) -> bool:
    """True if more than ``MAX_HASH_GROUP`` items share a hash without all being equal
    (linear time; an unhashable item raises TypeError as ``set()`` would, except among
    too few items to flood anything)."""
    if len(items) <= MAX_HASH_GROUP:
        return False  # (the usual case: nothing to hash twice)
    counts: dict[int, int] = {}
    for item in items:
        h = hash(item)
        counts[h] = counts.get(h, 0) + 1
    crowded = {h for h, n in counts.items() if n > MAX_HASH_GROUP}
    if not crowded:
        return False
    first: dict[int, Any] = {}
    for item in items:
        h = hash(item)
        if h in crowded and item != first.setdefault(h, item):
            return True
    return False


def _has_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _describe(node: Any) -> str:
    names: dict[type, str] = {dict: "an object", list: "a list", str: "a string"}
    return names.get(type(node), repr(node)[:40])


def _short(value: Any) -> str:
    return repr(value)[:60]


# --------------------------------------------------------------------------- call records


class UnreadableOutput(ValueError):
    """An "ok" record whose output is not valid wire text (raised when it is read)."""


_UNREAD: Any = type("Unread", (), {"__repr__": lambda self: "<not decoded yet>"})()
# KIND DIGEST BODY (one line per call, after the line of times; see sandbox/worker.py)
_RECORD = re.compile(r"(ok|raised|timeout|bad|missing) (-|[0-9a-f]{64}) ")


def is_sealed(wire: str | None, digest: str | None) -> bool:
    """Whether an output came sealed: too long to send (see sandbox/worker.py), so only the
    digest of its wire text came, with an empty body."""
    return wire == "" and digest is not None


@dataclass(frozen=True)
class CallResult:
    """What one call of a call job did (read by trusted code).

    An "ok" output read from a job's records is decoded only when ``output`` is first read:
    a checker that finds its wire text (or the digest of it) identical to the reference's
    never decodes it."""

    kind: CallKind
    value: Any = None  # the output where it was given decoded; read ``output``
    detail: str = ""  # exception line, limit, or why the output was not encodable
    cpu_s: float = 0.0
    wall_s: float = 0.0  # wall-clock seconds less those spent waiting for a CPU
    wire: str | None = None  # "ok": the output's wire text, as the sandbox sent it
    digest: str | None = None  # sha256 of ``wire``, where the sandbox sent one (large outputs)

    @property
    def sealed(self) -> bool:
        """An output too long to send: only its digest came."""
        return self.kind == "ok" and is_sealed(self.wire, self.digest)

    @cached_property
    def output(self) -> Any:
        """The decoded output ("ok" records); ``UnreadableOutput`` if it is malformed."""
        if self.value is not _UNREAD:
            return self.value
        if self.sealed:
            raise UnreadableOutput("too long to be sent: only its digest came")
        try:
            return decode(self.wire or "")
        except ValueError as exc:
            raise UnreadableOutput(str(exc)) from None


def call_times(line: str) -> list[tuple[float, float]]:
    """The first line of a call job's records: each call's [cpu_s, wall_s], strictly
    checked (whole-list checks: a reference run may have a hundred thousand calls)."""
    try:
        pairs = json.loads(line, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # (nesting too deep for json's own parser)
        raise ValueError("the times line is not JSON") from None
    if type(pairs) is not list:
        raise ValueError("the times line is not a list")
    if pairs and (set(map(type, pairs)) != {list} or set(map(len, pairs)) != {2}):
        bad = next((p for p in pairs if type(p) is not list or len(p) != 2), pairs[0])
        raise ValueError(f"not a duration pair: {str(bad)[:40]}")
    flat = [value for pair in pairs for value in pair]
    if flat and (not set(map(type, flat)) <= {int, float} or min(flat) < 0
                 or max(flat) >= 1e9):
        bad = next(p for p in pairs if not all(type(v) in (int, float) and 0 <= v < 1e9
                                               for v in p))
        raise ValueError(f"not a duration pair: {str(bad)[:40]}")
    return [(float(cpu), float(wall)) for cpu, wall in pairs]


def call_outputs(text: str) -> str:
    """The part of a call job's records that holds the calls' kinds and outputs (without
    their times): two jobs whose parts are equal returned the same outputs."""
    return text.partition("\n")[2]


def same_outputs(text: str, outputs: str) -> bool:
    """``call_outputs(text) == outputs``, without copying ``text`` (it may be large)."""
    start = text.find("\n") + 1
    return start > 0 and len(text) - start == len(outputs) and text.startswith(outputs, start)


def decoded_bytes(text: str) -> int:
    """About how much memory decoding wire ``text`` takes, at most (brackets and commas
    inside strings count too; where some list came packed, 5 bytes per character of the
    whole text: a float64 in base64 is 10.7 characters and takes 48 bytes on its way)."""
    containers = text.count("[") + text.count("{")
    packed = PACKED_CHAR_BYTES * len(text) if _PACKED_NODE.search(text) else 0
    return CONTAINER_BYTES * containers + ITEM_BYTES * text.count(",") + packed


def decode_calls(text: str) -> list[CallResult]:
    """The per-call records a call job returned (``Outcome.calls``: a line of times, then a
    line per call, see sandbox/worker.py), strictly checked: every record but the last is
    "ok"; anything malformed raises ``ValueError``, except an "ok" output, which is checked
    when it is read (``CallResult.output``)."""
    if not text:
        return []
    if len(text) > MAX_DECODED_BYTES // CONTAINER_BYTES:  # (shorter text is within it)
        estimate = decoded_bytes(text)
        if estimate > MAX_DECODED_BYTES:
            raise ValueError(f"too large to check: about {estimate / 2**30:.1f} GiB once "
                             f"decoded (at most {MAX_DECODED_BYTES / 2**30:g} GiB)")
    first, _, rest = text.partition("\n")
    return _records(rest, call_times(first))


def _records(outputs: str, times: Sequence[tuple[float, float]]) -> list[CallResult]:
    results: list[CallResult] = []
    lines = outputs.split("\n") if outputs else []
    if len(lines) != len(times):
        raise ValueError(f"{len(times)} times for {len(lines)} records")
    for index, (line, (cpu_s, wall_s)) in enumerate(zip(lines, times, strict=True)):
        if results and results[-1].kind != "ok":
            raise ValueError(f"record {index} follows a {results[-1].kind!r} record")
        match = _RECORD.match(line)
        if match is None:
            raise ValueError(f"record {index} is malformed: {line[:60]!r}")
        kind, digest = match.groups()
        body = line[match.end():]
        if kind == "ok":
            results.append(CallResult("ok", _UNREAD, "", cpu_s, wall_s, body,
                                      None if digest == "-" else digest))
            continue
        try:
            detail = json.loads(body)
        except (ValueError, RecursionError):
            detail = None
        if type(detail) is not str:
            raise ValueError(f"record {index}: {kind} needs a JSON string")
        results.append(CallResult(cast(CallKind, kind), None, detail, cpu_s, wall_s))
    return results


class CallRecords(Sequence[CallResult]):
    """A call job's records, read as far as they are needed.

    The times are read at once; each call's record (``CallResult``) only when the records
    are first indexed. Whether every call returned is told from the whole text (C speed). A
    reference run's records can hold a hundred thousand outputs and hundreds of megabytes:
    a candidate whose outputs are identical to them (``outputs_text``) never needs them
    split. Also made from results already decoded (``of_results``)."""

    def __init__(self, times: Sequence[tuple[float, float]], outputs_text: str | None,
                 results: Sequence[CallResult] | None = None) -> None:
        self.times = list(times)
        self.outputs_text = outputs_text  # None: only ``results`` are known
        self._results = None if results is None else list(results)

    @classmethod
    def of_results(cls, results: Sequence[CallResult]) -> CallRecords:
        return cls([(r.cpu_s, r.wall_s) for r in results], None, results)

    @property
    def results(self) -> list[CallResult]:
        """Every call's record; ``ValueError`` if one is malformed."""
        if self._results is None:
            self._results = _records(self.outputs_text or "", self.times)
        return self._results

    def all_ok(self) -> bool:
        """Whether every call returned an output (one "ok" record per time). Only the last
        record can be another kind (the driver stops there; the full reading refuses any
        other order), so the last one tells."""
        text, count = self.outputs_text, len(self.times)
        if text is None or self._results is not None:
            return all(r.kind == "ok" for r in self.results) and len(self.results) == count
        if count == 0:
            return text == ""
        return text.count("\n") == count - 1 and text.startswith("ok ", text.rfind("\n") + 1)

    def __len__(self) -> int:
        return len(self.times)

    @overload
    def __getitem__(self, index: int) -> CallResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[CallResult]: ...

    def __getitem__(self, index: int | slice) -> CallResult | Sequence[CallResult]:
        return self.results[index]


__all__ = [
    "MAX_DECODED_BYTES",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "CallRecords",
    "CallResult",
    "Foreign",
    "ForeignBytes",
    "ForeignComplex",
    "ForeignDict",
    "ForeignFloat",
    "ForeignFrozenSet",
    "ForeignInt",
    "ForeignList",
    "ForeignSet",
    "ForeignStr",
    "ForeignTuple",
    "UnreadableOutput",
    "call_outputs",
    "call_times",
    "decode",
    "decode_calls",
    "encode",
    "encode_calls",
    "foreign",
    "hash_flooded",
    "is_sealed",
    "same_outputs",
]
