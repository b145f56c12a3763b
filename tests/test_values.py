"""The wire format of values crossing the sandbox boundary: the trusted side
(harness.sandbox.values) against the sandbox's own copy in sandbox/worker.py.

Round trips in both directions (worker encoder -> trusted decoder for outputs, trusted
encoder -> worker decoder for inputs) keep every value and its exact type; subclasses come
back as Foreign values naming the type; the trusted decoder refuses anything malformed with a
ValueError and never evaluates anything.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import copy
import hashlib
import json
import math
import pickle
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.sandbox import values as wire_values
from harness.sandbox import worker
from harness.sandbox.values import (
    MAX_DECODED_BYTES,
    CallResult,
    Foreign,
    ForeignDict,
    ForeignFloat,
    ForeignInt,
    ForeignList,
    ForeignStr,
    ForeignTuple,
    UnreadableOutput,
    call_outputs,
    decode,
    decode_calls,
    encode,
    encode_calls,
    same_outputs,
)

# --------------------------------------------------------------------------- strategies

texts = st.text(st.characters(codec=None, categories=None, exclude_categories=()), max_size=20)
floats = st.floats(allow_nan=True, allow_infinity=True)
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([10**4300 - 1, -(10**4299)]),
    floats, texts, st.binary(max_size=20),
    st.complex_numbers(allow_nan=True, allow_infinity=True),
)
# Set members and dict keys: hashable, and without NaN (a decoded NaN is a new object, which
# a set cannot find again: that is Python, not the codec).
hashable_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts,
    st.binary(max_size=8),
)
hashables = st.recursive(hashable_leaves, lambda inner: st.one_of(
    st.tuples(inner, inner), st.frozensets(inner, max_size=3)), max_leaves=6)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(hashables, inner, max_size=4),
        st.sets(hashables, max_size=4),
        st.frozensets(hashables, max_size=4),
    ),
    max_leaves=20,
)


def same(a: Any, b: Any) -> bool:
    """Equal values of exactly the same types, NaN equal to NaN, -0.0 not equal to 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Foreign) and a.type_name != getattr(b, "type_name", None):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) ==
                                                     math.copysign(1, b))
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(k1, k2) and same(v1, v2) for (k1, v1), (k2, v2)
                                        in zip(a.items(), b.items(), strict=True))
    if isinstance(a, (set, frozenset)):
        return a == b and {type(x) for x in a} == {type(x) for x in b}
    return bool(a == b)


# --------------------------------------------------------------------------- round trips


@settings(max_examples=300, deadline=None)
@given(values)
def test_outputs_encoded_in_the_sandbox_decode_to_the_same_values(value):
    text = worker.wire_encode(value)
    assert text.isascii()
    assert same(decode(text), value)


@settings(max_examples=300, deadline=None)
@given(values)
def test_inputs_encoded_by_the_harness_decode_to_the_same_values_in_the_sandbox(value):
    text = encode(value)
    assert text == worker.wire_encode(value)  # one format, two copies of the encoder
    assert same(worker.wire_value(worker.wire_load(text)), value)


@settings(max_examples=100, deadline=None)
@given(values)
def test_decoded_values_encode_back_to_the_same_values(value):
    text = worker.wire_encode(value)
    assert same(decode(encode(decode(text))), value)  # (set order may change on the way)


def test_the_wire_format_is_the_documented_one():
    value = [None, True, 3, 1.5, -0.0, math.nan, math.inf, -math.inf, "é", b"\x00\xff",
             (1,), {1: "a"}, {2}, frozenset({3}), 1 - 2j]
    assert json.loads(encode(value)) == [
        None, True, 3, 1.5, -0.0, {"f": "nan"}, {"f": "inf"}, {"f": "-inf"}, "é",
        {"b": "AP8="}, {"t": [1]}, {"d": [[1, "a"]]}, {"s": [2]}, {"fs": [3]},
        {"c": [1.0, -2.0]},
    ]
    assert "\\u00e9" in encode("é")  # ASCII only
    assert encode(2.0) == "2.0" and encode(2) == "2"  # ints and floats stay apart


def test_subclasses_come_back_as_foreign_values_that_compare_by_value():
    class Meters(float):
        def __eq__(self, other: object) -> bool:  # an always-equal liar
            return True

        __hash__ = float.__hash__

    class Names(list[Any]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(["forged"])

    Point = collections.namedtuple("Point", "x y")
    counter = collections.Counter("aab")
    out = decode(worker.wire_encode([Meters(2.5), Names([1, 2]), Point(1, 2), counter, True]))
    meters, names, point, counted, flag = out
    assert type(meters) is ForeignFloat and meters == 2.5 and meters != 3.0
    assert meters.type_name.endswith("Meters")
    assert type(names) is ForeignList and names == [1, 2]  # the real items, not __iter__'s
    assert type(point) is ForeignTuple and point == (1, 2) and point.type_name.endswith("Point")
    assert type(counted) is ForeignDict and counted == {"a": 2, "b": 1}
    assert counted.type_name == "collections.Counter"
    assert flag is True
    assert type(meters) is not float and isinstance(meters, float)


def test_foreign_values_survive_copies_and_pickles():
    for value in (ForeignInt(3, "numpy.int64"), ForeignFloat(0.5, "numpy.float64"),
                  ForeignStr("a", "numpy.str_"), ForeignList([1, [2]], "x.L"),
                  ForeignDict({1: 2}, "collections.OrderedDict"), ForeignTuple((1,), "P")):
        for made in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
            assert same(made, value)
    assert repr(ForeignFloat(0.5, "numpy.float64")) == "numpy.float64(0.5)"


def test_the_trusted_encoder_keeps_foreign_types():
    value = [ForeignFloat(1.5, "numpy.float64"), ForeignInt(1, "numpy.bool_")]
    assert json.loads(encode(value)) == [{"x": "numpy.float64", "v": 1.5},
                                         {"x": "numpy.bool_", "v": 1}]
    assert same(decode(encode(value)), value)


def test_a_foreign_bool_decodes_to_an_int_zero_or_one():
    [flag] = decode('[{"x": "numpy.bool_", "v": true}]')
    assert type(flag) is ForeignInt and flag == 1 and flag.type_name == "numpy.bool_"


def test_encode_calls_is_the_call_job_input_format():
    text = encode_calls([("f", [1, (2,)], {"k": None})])
    assert worker.wire_value(worker.wire_load(text)) == [["f", [1, (2,)], {"k": None}]]


# --------------------------------------------------------------------------- what cannot be encoded


@pytest.mark.parametrize(("value", "reason"), [
    (object(), "unsupported type builtins.object"),
    ((x for x in ""), "unsupported type builtins.generator"),
    (bytearray(b"x"), "unsupported type builtins.bytearray"),
], ids=["object", "generator", "bytearray"])
def test_values_outside_the_format_are_refused_by_both_encoders(value, reason):
    with pytest.raises(worker.Unencodable, match=reason):
        worker.wire_encode(value)
    with pytest.raises(ValueError, match=reason):
        encode(value)


def test_cycles_and_deep_nesting_are_refused():
    cycle: list[Any] = [1]
    cycle.append(cycle)
    deep: Any = []
    for _ in range(150):
        deep = [deep]
    for value, reason in ((cycle, "cycle"), (deep, "deeper than 100")):
        with pytest.raises(worker.Unencodable, match=reason):
            worker.wire_encode(value)
        with pytest.raises(ValueError, match=reason):
            encode(value)
    shared = [1]
    assert decode(worker.wire_encode([shared, shared])) == [[1], [1]]  # shared is no cycle
    nested: Any = []
    for _ in range(99):
        nested = [nested]
    assert decode(worker.wire_encode(nested)) == nested


def test_an_int_of_4300_digits_is_fine():
    assert decode(worker.wire_encode(10**4300 - 1)) == 10**4300 - 1


@pytest.mark.parametrize("value", [10**4300, -(10**4300), 7**20000, [1, 3**9000, (5**9000,)]],
                         ids=["limit", "negative", "huge", "inside-containers"])
def test_longer_ints_cross_as_hex_both_ways(value):
    text = worker.wire_encode(value)
    assert '"i":' in text and text == encode(value)
    assert decode(text) == value
    assert worker.wire_value(worker.wire_load(text)) == value


@pytest.mark.parametrize("body", ["ff", "0xFF", "0x_1", " 0x1", "0x", "--0x1", "0x1.5", 12])
def test_hex_ints_are_parsed_strictly(body):
    with pytest.raises(ValueError, match="hex text"):
        decode(json.dumps({"i": body}))


def test_plain_lists_take_the_fast_path_with_the_same_wire():
    values = [[1.5, -0.0, 2.0], [1, True, None, "x\ud800", 2.5], list(range(10**5)),
              [1.0, float("nan")], [1, 10**4300], [3, 1e308]]
    for value in values:
        text = worker.wire_encode(value)
        assert text == encode(value)
        decoded = decode(text)
        assert [type(x) for x in decoded] == [type(x) for x in value]
        assert all(a == b or (math.isnan(a) and math.isnan(b))
                   for a, b in zip(decoded, value, strict=True))


@pytest.mark.parametrize("text", ["[1.0, 1e999]", "[1e999]", '{"t": [1, -1e400]}',
                                  '{"c": [1e999, 0.0]}'])
def test_overflowing_floats_are_refused_in_lists_too(text):
    with pytest.raises(ValueError, match="out of range"):
        decode(text)


# --------------------------------------------------------------------------- strict decoding


@pytest.mark.parametrize(("text", "reason"), [
    ("NaN", "bare NaN"),
    ("[Infinity]", "bare Infinity"),
    ("-Infinity", "bare -Infinity"),
    ("1e999", "out of range"),
    ("1" * 4301, "more than 4300 digits"),
    ('{"t": [1], "t": [2]}', "duplicate keys"),
    ('{"q": 1}', "unknown tag"),
    ('{"t": [1], "s": [2]}', "unknown tag"),
    ('{"t": 1}', "needs a list"),
    ('{"f": "NAN"}', "unknown special float"),
    ('{"b": "***"}', "invalid base64"),
    ('{"c": [1.0]}', r"needs \[real, imag\]"),
    ('{"c": [1, 2]}', "expected a float"),
    ('{"d": [[[1], 2]]}', "unhashable dict key"),
    ('{"d": [[1, 2], [1, 3]]}', "duplicate dict key"),
    ('{"s": [[1]]}', "unhashable set element"),
    ('{"s": [1, 1]}', "duplicate set elements"),
    ('{"x": "T"}', "unknown tag"),
    ('{"x": "", "v": 1}', "needs a type name"),
    ('{"x": "T", "v": null}', "stands for None"),
    ('{"x": "T", "v": {"x": "U", "v": 1}}', "foreign value inside"),
    ('{"x": "T", "v": {"f": "nan"}, "w": 1}', "unknown tag"),
    ("[" * 150 + "]" * 150, "deeper than 100"),
    ("[" * 100000 + "]" * 100000, "too deep"),
    ("[1,", "not JSON"),
    (b"\xff", "not UTF-8"),
], ids=lambda value: repr(value)[:30] if isinstance(value, (str, bytes)) else None)
def test_malformed_wire_text_is_a_value_error(text, reason):
    with pytest.raises(ValueError, match=reason):
        decode(text)


def test_decoding_never_runs_code():
    text = json.dumps({"x": "os.system", "v": "echo pwned"})
    value = decode(text)
    assert type(value) is ForeignStr and value == "echo pwned"


# --------------------------------------------------------------------------- call records


def test_call_records_decode_strictly():
    digest = "ab" * 32
    text = "\n".join([
        "[[0.5,0.75],[0,0],[0.1,0.2]]",
        'ok - {"t":[1,{"f":"inf"}]}',
        f"ok {digest} null",
        'raised - "ValueError: no"',
    ])
    results = decode_calls(text)
    assert [(r.kind, r.detail, r.cpu_s, r.wall_s, r.digest) for r in results] == [
        ("ok", "", 0.5, 0.75, None), ("ok", "", 0.0, 0.0, digest),
        ("raised", "ValueError: no", 0.1, 0.2, None)]
    assert results[0].output == (1, math.inf) and results[1].output is None
    assert results[0].wire == '{"t":[1,{"f":"inf"}]}'
    assert decode_calls('[[0,0]]\nmissing - "no function named f"') == [
        CallResult("missing", None, "no function named f")]
    assert decode_calls("") == decode_calls("[]") == []
    assert call_outputs(text) == text.partition("\n")[2]
    assert same_outputs(text, call_outputs(text))
    assert not same_outputs(text, call_outputs(text)[:-1])
    assert not same_outputs(text, call_outputs(text) + "\n")
    assert not same_outputs("[]", "")  # no call records at all


@pytest.mark.parametrize(("text", "reason"), [
    ('[{"ok": 1}]', "not a duration pair"),
    ("ok - 1", "times line is not JSON"),
    ('{"a": 1}\nok - 1', "not a list"),
    ("[[0,0]]\nok - 1\n", "2 records"),
    ("[[0,0]]", "1 times for 0 records"),
    ("[[0,0],[0,0]]\nok - 1\n", "record 1 is malformed"),
    ("[[0,0]]\nok 1", "malformed"),
    ("[[0,0]]\nok abc 1", "malformed"),  # a digest is 64 hex digits
    ("[[0,0]]\nsecret - 1", "malformed"),
    ("[[0,0]]\nraised - 1", "needs a JSON string"),
    ('[[0,0]]\nraised - "x" 2', "needs a JSON string"),
    ("[[-1,0]]\nok - 1", "not a duration"),
    ("[[0,1e300]]\nok - 1", "not a duration"),
    ('[[0,"1"]]\nok - 1', "not a duration"),
    ('[[0,0],[0,0]]\nbad - "x"\nok - 1', "follows a 'bad' record"),
    # JSON nested deeper than json's own parser goes (a job can write any records)
    ("[" * 100_000 + "]" * 100_000 + "\nok - 1", "times line is not JSON"),
    ("[[0,0]]\nraised - " + "[" * 100_000 + "]" * 100_000, "needs a JSON string"),
])
def test_malformed_call_records_are_a_value_error(text, reason):
    with pytest.raises(ValueError, match=reason):
        decode_calls(text)


def test_records_too_large_to_decode_are_refused_before_anything_is_built(monkeypatch):
    # A job's 256 MiB of records could take gigabytes of trusted code's memory once
    # decoded: nested lists about 190 bytes per 2 characters, short strings 80 per 5. The
    # whole records (the times line too) are estimated from their brackets and commas.
    # Ten million floats and a million small lists are fine (the largest reference records
    # here hold 19 million items).
    floats = decode_calls("[[0,0],[0,0]]\nok - [" + "0.5," * 9_999_999 + "0.5]\nok - ["
                          + "[1]," * 999_999 + "[1]]")
    assert [len(result.output) for result in floats] == [10_000_000, 1_000_000]
    cap = 64 << 20  # the same rule under a smaller cap, for a test's memory
    monkeypatch.setattr(wire_values, "MAX_DECODED_BYTES", cap)
    lists = "[" + "[]," * (cap // 192) + "[]]"
    strings = "[" + '"ab",' * (cap // 80) + '"ab"]'
    times = "[" + "[0,0]," * (cap // 352) + "[0,0]]"
    for records in (f"[[0,0]]\nok - {lists}", f"[[0,0]]\nok - {strings}", f"{times}\nok - 1"):
        with pytest.raises(ValueError, match="too large to check"):
            decode_calls(records)
    assert MAX_DECODED_BYTES == 3 << 30


@pytest.mark.parametrize(("wire", "reason"), [
    ('{"t": 3}', "needs a list"),
    ("NaN", "bare NaN"),
    ("[1,", "not JSON"),
])
def test_malformed_outputs_are_refused_when_read(wire, reason):
    (result,) = decode_calls(f"[[0,0]]\nok - {wire}")  # the records are well formed
    with pytest.raises(UnreadableOutput, match=reason):
        _ = result.output


# Ints 2**61 - 1 apart share one hash; so do tuples and frozensets made of them.
FLOOD = [i * (2**61 - 1) for i in range(1, 20_001)]


@pytest.mark.parametrize(("wire", "reason"), [
    (json.dumps({"s": FLOOD}), "set elements with the same hash"),
    (json.dumps({"fs": FLOOD}), "set elements with the same hash"),
    (json.dumps({"s": [{"t": [n]} for n in FLOOD]}), "set elements with the same hash"),
    (json.dumps({"d": [[n, 0] for n in FLOOD]}), "dict keys with the same hash"),
    (json.dumps({"d": [[{"fs": [n]}, 0] for n in FLOOD]}), "dict keys with the same hash"),
])
def test_sets_and_dicts_of_values_sharing_a_hash_are_refused(wire, reason):
    # Built as they come, they would take quadratic time in trusted code: 20,000 of them
    # take seconds, the 10**7 a job can send would take days.
    (result,) = decode_calls(f"[[0,0]]\nok - {wire}")
    with pytest.raises(UnreadableOutput, match=reason):
        _ = result.output


def test_a_few_values_sharing_a_hash_are_fine():
    shared = FLOOD[:256]  # up to 256 per hash
    assert decode(json.dumps({"s": shared})) == set(shared)
    assert decode(json.dumps({"d": [[n, 1] for n in shared]})) == dict.fromkeys(shared, 1)
    assert decode(json.dumps({"s": [-1, -2, *range(10_000)]})) == {-1, -2, *range(10_000)}
    with pytest.raises(ValueError, match="duplicate set elements"):
        decode(json.dumps({"s": [FLOOD[0]] * 1000}))  # equal values: not a flood, duplicates
    with pytest.raises(ValueError, match="duplicate dict key"):
        decode(json.dumps({"d": [[FLOOD[0], 1]] * 1000}))
    with pytest.raises(ValueError, match="unhashable dict key"):
        decode(json.dumps({"d": [[[1], 1]]}))


# --------------------------------------------------------------------------- long outputs

LONG_OUTPUTS = {
    "plain list": lambda n: [i / 3 if i % 2 else str(i) for i in range(n)],
    "rows of plain values": lambda n: [(i, "a", 1.5) if i % 3 else [i, None] for i in range(n)],
    "nested values": lambda n: [{i: (i, [i])} if i % 5 == 0 else (i, (i,)) for i in range(n)],
    "a tuple of sets": lambda n: tuple({i, -i} for i in range(n)),
}


@pytest.mark.parametrize("kind", sorted(LONG_OUTPUTS))
def test_long_outputs_are_encoded_in_batches_to_the_same_text(kind, monkeypatch):
    monkeypatch.setattr(worker, "STREAM_ITEMS", 100)
    monkeypatch.setattr(worker, "STREAM_BATCH", 7)
    value = LONG_OUTPUTS[kind](1000)
    text, digest = worker.wire_digested(value, 64)
    assert text == worker.wire_encode(value)
    assert digest == hashlib.sha256(text.encode()).hexdigest()
    assert same(decode(text), value)
    assert worker.wire_digested(value[:50], 1 << 30) == (worker.wire_encode(value[:50]), None)


def test_outputs_beyond_the_sealing_size_come_as_their_digest_alone(monkeypatch):
    monkeypatch.setattr(worker, "STREAM_ITEMS", 100)
    monkeypatch.setattr(worker, "SEALED_ABOVE", 5000)
    value = [("Dog", "Cat", i) for i in range(1000)]
    text, digest = worker.wire_digested(value, 64)
    assert text == ""
    assert digest == hashlib.sha256(worker.wire_encode(value).encode()).hexdigest()
    assert worker.wire_digested(value[:150], 64)[0] == worker.wire_encode(value[:150])
    # Only where the job asks for digests: else the whole text (no way to compare it).
    assert worker.wire_digested(value, None) == (worker.wire_encode(value), None)
    # A record of it reads as sealed: never decoded, never mistaken for a value.
    line = f"[[0.1,0.1]]\nok {digest} "
    (result,) = decode_calls(line)
    assert result.sealed
    with pytest.raises(UnreadableOutput, match="only its digest"):
        _ = result.output


def test_long_outputs_that_cannot_be_encoded_say_why(monkeypatch):
    monkeypatch.setattr(worker, "STREAM_ITEMS", 10)
    cyclic: list[Any] = [[i] for i in range(100)]
    cyclic[50].append(cyclic)
    with pytest.raises(worker.Unencodable, match="cycle"):
        worker.wire_digested(cyclic, 64)
    odd = [1] * 50 + [object()]
    with pytest.raises(worker.Unencodable, match="unsupported type"):
        worker.wire_digested(odd, 64)


def test_sealed_rows_of_strings_have_one_digest_per_value(monkeypatch):
    """Past the sealing size, rows of strings are hashed in their own form: the digest
    still tells every value apart (MBPP+/255's outputs) and is the same however the value
    was built."""
    monkeypatch.setattr(worker, "STREAM_ITEMS", 100)
    monkeypatch.setattr(worker, "STREAM_BATCH", 50)
    monkeypatch.setattr(worker, "SEALED_ABOVE", 1000)
    rows = [("Dog", "Cat", str(i)) for i in range(2000)]

    def digest(value):
        text, found = worker.wire_digested(value, 64)
        assert text == "" and found is not None
        return found

    same = digest([tuple(list(row)) for row in rows])
    assert digest(rows) == same
    def with_row(row):
        return [*rows[:1500], row, *rows[1501:]]

    others = {
        "one string changed": with_row(("Dog", "Cat", "x")),
        "lists for tuples": [*rows[:1500], *(list(r) for r in rows[1500:])],
        "one row shorter": with_row(("Dog", "Cat")),
        "strings split otherwise": with_row(("DogC", "at", "1500")),
        "a separator in a string": with_row(("Dog\x00Cat", "", "1500")),
        "a str subclass": with_row(("Dog", "Cat", type("S", (str,), {})("1500"))),
        "one row fewer": rows[:-1],
    }
    digests = {name: digest(value) for name, value in others.items()}
    assert same not in digests.values() and len(set(digests.values())) == len(digests)


# --------------------------------------------------------------------------- packed lists


@contextlib.contextmanager
def packing_from(items: int) -> Iterator[None]:
    """Lists of ``items`` or more cross packed (worker.PACK_MIN, read by both encoders)."""
    before = worker.PACK_MIN
    worker.PACK_MIN = items
    try:
        yield
    finally:
        worker.PACK_MIN = before


float_lists = st.lists(st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=False, width=16),
    st.integers(-(2**60), 2**60), st.sampled_from([2**53, -(2**53), 2**53 + 1, 10**400])),
    min_size=4, max_size=40)
long_values = st.recursive(float_lists, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(st.integers(), inner, max_size=2)), max_leaves=4)


@settings(max_examples=300, deadline=None)
@given(long_values)
def test_long_float_lists_cross_packed_and_come_back_the_same(value):
    with packing_from(4):
        text = worker.wire_encode(value)
        assert text == encode(value)  # one format, two copies of the encoder
        assert same(decode(text), value)
        assert same(worker.wire_value(worker.wire_load(text)), value)
        assert same(decode(encode(decode(text))), value)
    # NaN and infinities are never packed: trusted code finds them in the text
    assert ('"nan"' in text) == ("nan" in repr(value))


def test_packed_lists_are_base64_float64_with_the_positions_of_their_ints():
    value = [1, 0.5, *[2.5] * 300, -3, 0.25]
    body = struct.pack("<304d", *value)
    assert json.loads(encode(value)) == {"p": [base64.b64encode(body).decode(), [0, 302]]}
    assert encode(value) == worker.wire_encode(value)
    decoded = decode(encode(value))
    assert decoded == value and [type(x) for x in decoded] == [type(x) for x in value]
    assert json.loads(encode([0.5] * (worker.PACK_MIN - 1)))[0] == 0.5  # short: plain


@pytest.mark.parametrize("value", [
    [*[0.5] * 300, math.nan], [math.inf, *[0.5] * 300], [*[0.5] * 300, 2**53 + 1],
    [*[0.5] * 300, True], [*[0.5] * 300, "x"], [1, *[0.5] * 300, 2], [*range(100), *[0.5] * 300],
    [*[0.5] * 300, ForeignFloat(0.5, "numpy.float64")],
], ids=["nan", "inf", "big int", "bool", "str", "ints at both ends", "many ints", "foreign"])
def test_lists_that_are_not_all_finite_floats_are_not_packed(value):
    text = encode(value)  # (the trusted encoder packs with the worker's function)
    assert '"p"' not in text
    assert same(decode(text), value)


def packed_text(doubles: list[float], ints: Any = (), raw: bytes | None = None) -> str:
    body = raw if raw is not None else struct.pack(f"<{len(doubles)}d", *doubles)
    return json.dumps({"p": [base64.b64encode(body).decode(), list(ints)]})


@pytest.mark.parametrize(("text", "reason"), [
    ('{"p": "AAAA"}', "needs \\[base64 text"),
    ('{"p": ["AAAAAAAAAAA=", [], 1]}', "needs \\[base64 text"),
    ('{"p": ["**", []]}', "invalid base64"),
    (packed_text([], raw=b"\x00" * 12), "partial float64"),
    (packed_text([0.5, math.nan]), "NaN or an infinity"),
    (packed_text([0.5, -math.inf]), "NaN or an infinity"),
    (packed_text([1.0, 2.0], [1, 0]), "increasing int positions"),
    (packed_text([1.0, 2.0], [1, 1]), "increasing int positions"),
    (packed_text([1.0, 2.0], [2]), "increasing int positions"),
    (packed_text([1.0, 2.0], [-1]), "increasing int positions"),
    (packed_text([1.0, 2.0], ["0"]), "increasing int positions"),
    (packed_text([1.5, 2.0], [0]), "not an int"),
    (packed_text([2.0**60, 2.0], [0]), "not an int"),
], ids=lambda value: value[:40] if isinstance(value, str) else None)
def test_malformed_packed_lists_are_refused(text, reason):
    with pytest.raises(ValueError, match=reason):
        decode(text)
    with pytest.raises(ValueError):
        worker.wire_value(worker.wire_load(text))


def test_packed_finite_check_looks_at_every_value():
    """Finite values as large as 2**1009 and more share high bytes with NaN and inf: those
    are told apart by looking at each value."""
    value = [1e308, -1e308, *[2.0**1010] * 300]
    text = encode(value)
    assert '"p"' in text and same(decode(text), value)


@pytest.mark.parametrize("spaced", [False, True])
def test_records_with_packed_lists_count_as_large_to_decode(monkeypatch, spaced):
    wire = encode([0.5] * 4000)
    if spaced:  # the same JSON as a program may write it
        wire = wire.replace('{"p":', '{ "p" : ')
        assert decode(wire) == [0.5] * 4000
    text = "[[0.1,0.1]]\nok - " + wire
    monkeypatch.setattr(wire_values, "MAX_DECODED_BYTES", 4000 * 10 * 4)
    with pytest.raises(ValueError, match="too large to check"):
        decode_calls(text)


def test_long_float_lists_are_digested_and_sealed_whole(monkeypatch):
    monkeypatch.setattr(worker, "STREAM_ITEMS", 100)
    value = [i / 7 for i in range(1000)]
    text, digest = worker.wire_digested(value, 64)
    assert text == worker.wire_encode(value) and text.startswith('{"p":')
    assert digest == hashlib.sha256(text.encode()).hexdigest()
    rows = [[i + j / 4 for j in range(300)] for i in range(200)]  # rows packed one by one
    rows_text, _ = worker.wire_digested(rows, 64)
    assert rows_text == worker.wire_encode(rows) == encode(rows)
    assert rows_text.count('{"p":') == 200 and same(decode(rows_text), rows)
    monkeypatch.setattr(worker, "SEALED_ABOVE", 5000)
    assert worker.wire_digested(value, 64) == ("", digest)
