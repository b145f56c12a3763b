"""Contamination check: which problems of a task appear in a training corpus.

Method (GPT-3's 13-gram overlap; the n-gram decontamination of StarCoder and BigCodeBench),
with normalisation so that reformatted and renamed copies are found too:

* Each text becomes two token streams. The *code* stream is its Python tokens without
  whitespace, comments and triple-quoted strings (docstrings); string literals compare by
  content (any quote style, prefix or escaping); trailing commas before a closing
  bracket, parentheses and semicolons are dropped; every identifier that is not a
  keyword, a builtin, an attribute (``x.append``) or a module after ``import``/``from``
  compares as one placeholder. The *word* stream is every word of the text, lower-cased
  (code, strings and comments alike).
* The benchmark side is indexed once: the n-grams (windows of ``ngram`` tokens) of each
  problem's reference *solution* (code stream) and of its *prompt* (word stream). Windows
  shared by more than ``MAX_TEXTS_PER_WINDOW`` benchmark texts (boilerplate such as
  ``from typing import List``) are left out: they say nothing about one problem.
* The corpus is streamed one document at a time (``harness.corpus``), its windows hashed
  with numpy and looked up. A code window that matches is confirmed only if its
  identifiers are renamed consistently (the same identifier in the same positions):
  ``exact`` when the names are the same, ``renamed`` when not. Word windows match as is.
* Per problem: the share of its solution tokens and prompt words covered by windows found
  anywhere in the corpus (union) and within a single document, the longest contiguous
  overlap in tokens, and where the overlaps are (file and line; JSON Lines line or Parquet
  row). Flagging is decided by the report (``harness.contamination_report``).

Texts shorter than ``ngram`` tokens are one window if they have ``MIN_TOKENS`` or more;
shorter ones cannot be checked.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.corpus import Document

DEFAULT_NGRAM = 13
MIN_TOKENS = 8
# A window in more benchmark texts than this is boilerplate, not evidence about a problem.
MAX_TEXTS_PER_WINDOW = 3
MAX_LOCATIONS = 5
RUN_EXTRA = 7
MIN_RENAMED = 13
PLACEHOLDER = "\0"

# One pass: whitespace, comments and triple-quoted strings match without the group (and
# are dropped); every other token is group 1.
_SOURCE = re.compile(r"""
  \s+
| \#[^\r\n]*
| (?:[rRuUbBfF]{1,2}(?=['"]))?(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?''')
| ( (?:[rRuUbBfF]{1,2}(?=['"]))?
    (?:"[^"\\\r\n]*(?:\\.[^"\\\r\n]*)*"|'[^'\\\r\n]*(?:\\.[^'\\\r\n]*)*')
  | [^\W\d]\w*
  | \d[\w.]*
  | \.\d\w*
  | \*\*=?|//=?|>>=?|<<=?|->|:=|[-+*/%&|^@=<>!]=
  | [^\s\w\\] )
""", re.VERBOSE)
_SEP = "\x01"
# On the tokens joined by _SEP: a string token (any prefix, either quote) -> "content".
_STRING_TOKEN = re.compile(r"""(?<![^\x01])[rRuUbBfF]{0,2}(['"])(.*?)\1(?![^\x01])""")
_TRAILING_COMMA = re.compile(r"\x01,(?=\x01[)\]}](?:\x01|$))")
# Parentheses come and go with reformatting (``return (x)``, ``if (a):``, black's wrapping)
# and semicolons end statements that a newline ends as well.
_DROPPED_TOKENS = frozenset("();")
_DROPPED = re.compile(r"\x01[();](?=\x01|$)")
_WORD = re.compile(r"[^\W_]+")
_KEEP_NAMES = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
_NOT_RENAMED_AFTER = frozenset({".", "import", "from"})
_HASH_BASE = np.uint64(0x100000001B3)
_HASH_INVERSE = np.uint64(pow(0x100000001B3, -1, 2**64))


# ------------------------------------------------------------------------ tokenizing


def code_lex(text: str) -> list[str]:
    """The code stream's tokens as written (strings normalised; trailing commas,
    parentheses and semicolons dropped)."""
    tokens = [t for t in _SOURCE.findall(text) if t]
    if not tokens:
        return []
    joined = _STRING_TOKEN.sub(r'"\2"', _SEP + _SEP.join(tokens))
    # Backslashes only occur inside string tokens: dropping them makes '\w' and '\\w' (a
    # respelt escape) one token.
    joined = _DROPPED.sub("", _TRAILING_COMMA.sub("", joined)).replace("\\", "")
    return joined.split(_SEP)[1:]


def code_offsets(text: str) -> list[int]:
    """The character offset of each token of :func:`code_lex` (for locations; slower)."""
    pairs = [(m.group(1), m.start()) for m in _SOURCE.finditer(text) if m.group(1)]
    closers = (")", "]", "}")
    return [offset for i, (token, offset) in enumerate(pairs)
            if token not in _DROPPED_TOKENS
            and not (token == "," and i + 1 < len(pairs) and pairs[i + 1][0] in closers)]


def renamable(token: str, previous: str) -> bool:
    return (token.isidentifier() and token not in _KEEP_NAMES
            and previous not in _NOT_RENAMED_AFTER)


def normalize(raw: Sequence[str], previous: str = "") -> list[str]:
    """Renamable identifiers of ``raw`` replaced by the placeholder (``previous``: the
    token before ``raw[0]``)."""
    return [PLACEHOLDER if renamable(t, p) else t
            for p, t in zip([previous, *raw], raw, strict=False)]  # pairs (token before, token)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def word_offsets(text: str) -> list[int]:
    return [m.start() for m in _WORD.finditer(text.lower())]


def renaming(raw: Sequence[str], norm: Sequence[str]) -> tuple[int, ...]:
    """The identifier pattern of a window: for each placeholder, how far back the same
    identifier last occurred in the window (0: not before). Windows with equal normalised
    tokens are consistent renamings of each other exactly when these are equal."""
    last: dict[str, int] = {}
    pattern = []
    for position, (name, token) in enumerate(zip(raw, norm, strict=True)):
        if token == PLACEHOLDER:
            pattern.append(position - last[name] if name in last else 0)
            last[name] = position
    return tuple(pattern)


class WindowHasher:
    """Polynomial hashes (mod 2**64) of every window of a sequence of ids, for any window
    size, from one prefix sum: the window at ``i`` of size ``s`` hashes to
    ``sum(ids[i + j] * B**j for j < s)``, which is ``(prefix[i + s] - prefix[i]) / B**i``
    (B is odd, so dividing is multiplying by its inverse mod 2**64). Numpy's unsigned
    arithmetic wraps, which is the modulus."""

    _powers = np.ones(1, dtype=np.uint64)
    _inverses = np.ones(1, dtype=np.uint64)

    def __init__(self, ids: np.ndarray[Any, Any]) -> None:
        self._grow(len(ids))
        self.count = len(ids)
        self.prefix = np.zeros(len(ids) + 1, dtype=np.uint64)
        np.cumsum(ids * self._powers[:len(ids)], out=self.prefix[1:])

    @classmethod
    def _grow(cls, length: int) -> None:
        if len(cls._powers) >= length:
            return
        size = max(length, 2 * len(cls._powers))
        cls._powers = np.cumprod(np.concatenate(
            [[np.uint64(1)], np.full(size - 1, _HASH_BASE, dtype=np.uint64)]), dtype=np.uint64)
        cls._inverses = np.cumprod(np.concatenate(
            [[np.uint64(1)], np.full(size - 1, _HASH_INVERSE, dtype=np.uint64)]),
            dtype=np.uint64)

    def windows(self, size: int) -> np.ndarray[Any, Any]:
        count = self.count - size + 1
        if count <= 0 or size <= 0:
            return np.empty(0, dtype=np.uint64)
        spans = self.prefix[size:] - self.prefix[:count]
        return np.asarray(spans * self._inverses[:count], dtype=np.uint64)


def window_hashes(ids: np.ndarray[Any, Any], size: int) -> np.ndarray[Any, Any]:
    """The hash of every window of ``size`` ids (see :class:`WindowHasher`)."""
    return WindowHasher(ids).windows(size)


# ------------------------------------------------------------------------- benchmark


@dataclass
class Stream:
    """A token stream: tokens as written, normalised tokens (the same for words)."""

    raw: list[str]
    norm: list[str]

    def __len__(self) -> int:
        return len(self.raw)


def code_stream(text: str) -> Stream:
    raw = code_lex(text)
    return Stream(raw, normalize(raw))


def word_stream(text: str) -> Stream:
    found = words(text)
    return Stream(found, found)


@dataclass
class Text:
    """One benchmark text (a solution or a prompt) and what the scan found of it."""

    part: str  # "solution" (code stream) or "prompt" (word stream)
    stream: Stream
    window: int  # the n-gram size (ngram, or the whole text when shorter; 0: unchecked)
    covered: bytearray = field(init=False)
    # The best share covered within one document whose finding is strong().
    document_share: float = 0.0
    document_at: dict[str, Any] | None = None
    longest: int = 0
    longest_kind: str = ""
    longest_at: dict[str, Any] | None = None
    locations: list[dict[str, Any]] = field(default_factory=list)

    # Tokens before ``focus`` are context (HumanEval's signature before its canonical
    # solution): they give n-grams that reach into the text, but are not scored.
    focus: int = 0
    coverable: int = 0  # scored tokens inside at least one indexed (not boilerplate) window
    indexed: bytearray = field(default_factory=bytearray)  # 1 at indexed window starts

    def __post_init__(self) -> None:
        self.covered = bytearray(len(self.stream))

    def strong(self, finding: Finding) -> bool:
        """Whether a document's finding is evidence of a copy, so that its share counts: a
        contiguous overlap of ``RUN_EXTRA`` tokens more than one window, or of the whole
        text. One window of generic code is no evidence (a short solution is a few
        windows). Renamed, an overlap must be twice as long as a window, or the whole text,
        and a text of fewer than ``MIN_RENAMED`` tokens must keep its names: renamed, it
        is any function of that shape."""
        whole = len(self.stream)
        if finding.kind == "renamed":
            if whole < MIN_RENAMED:
                return False
            return finding.longest >= min(whole, 2 * self.window)
        return finding.longest >= min(whole, self.window + RUN_EXTRA)

    def share(self, marks: bytearray | None = None) -> float:
        """The share of the coverable tokens marked (default: found anywhere)."""
        marks = self.covered if marks is None else marks
        return min(1.0, sum(marks[self.focus:]) / self.coverable) if self.coverable else 0.0


@dataclass(frozen=True)
class Entry:
    text: int  # index into Index.texts
    start: int
    norm: tuple[str, ...]
    pattern: tuple[int, ...]  # renaming() of the window (code windows)
    names: tuple[str, ...]  # the window's renamable identifiers as written


@dataclass
class Table:
    """The windows of one kind of stream: hash -> entries, and the vocabulary ids."""

    code: bool
    vocabulary: dict[str, int] = field(default_factory=dict)
    entries: dict[int, list[Entry]] = field(default_factory=dict)
    sizes: tuple[int, ...] = ()
    hashes: np.ndarray[Any, Any] = field(default_factory=lambda: np.empty(0, dtype=np.uint64))

    def ids(self, stream: Stream) -> np.ndarray[Any, Any]:
        get = self.vocabulary.get
        return np.array([get(t, 0) for t in stream.norm], dtype=np.uint64)

    def stream_ids(self, raw: list[str]) -> np.ndarray[Any, Any]:
        """Ids of a document's code tokens, placeholders decided on the way (fast path)."""
        get, placeholder = self.vocabulary.get, self.vocabulary.get(PLACEHOLDER, 0)
        keep, after = _KEEP_NAMES, _NOT_RENAMED_AFTER  # renamable(), inlined: the hot loop
        return np.array([placeholder if t.isidentifier() and t not in keep and p not in after
                         else get(t, 0) for p, t in zip(["", *raw], raw, strict=False)],
                        dtype=np.uint64)


@dataclass
class Index:
    ngram: int
    texts: list[Text]
    code: Table
    words: Table


def window_size(length: int, ngram: int) -> int:
    if length >= ngram:
        return ngram
    return length if length >= MIN_TOKENS else 0


def build_index(texts: Sequence[tuple[str, str, str]], ngram: int = DEFAULT_NGRAM) -> Index:
    """The index of ``texts``: (part, text, context) with part "solution" (code) or
    "prompt" (words), and context a leading piece of the text that is not scored."""
    index = Index(ngram, [], Table(code=True), Table(code=False))
    for part, content, context in texts:
        tokenize = code_stream if part == "solution" else word_stream
        stream = tokenize(content)
        lead = tokenize(context).raw if context else []
        focus = len(lead) if stream.raw[:len(lead)] == lead and len(lead) < len(stream) else 0
        index.texts.append(Text(part, stream, window_size(len(stream), ngram), focus=focus))
    for table in (index.code, index.words):
        mine = [(n, t) for n, t in enumerate(index.texts) if (t.part == "solution") == table.code]
        for _, text in mine:
            for token in text.stream.norm:
                table.vocabulary.setdefault(token, len(table.vocabulary) + 1)
        windows: dict[tuple[str, ...], list[Entry]] = {}
        hash_of: dict[tuple[str, ...], int] = {}
        for number, text in mine:
            size, stream = text.window, text.stream
            hashes = window_hashes(table.ids(stream), size).tolist() if size else []
            for start, value in enumerate(hashes):
                norm = tuple(stream.norm[start:start + size])
                raw = stream.raw[start:start + size]
                names = tuple(r for r, t in zip(raw, norm, strict=True) if t == PLACEHOLDER)
                windows.setdefault(norm, []).append(
                    Entry(number, start, norm, renaming(raw, norm), names))
                hash_of[norm] = value
        coverable = {number: bytearray(len(text.stream)) for number, text in mine}
        for _, text in mine:
            text.indexed = bytearray(len(text.stream))
        for norm, entries in windows.items():
            if len({e.text for e in entries}) > MAX_TEXTS_PER_WINDOW:
                continue
            for entry in entries:
                coverable[entry.text][entry.start:entry.start + len(norm)] = b"\1" * len(norm)
                index.texts[entry.text].indexed[entry.start] = 1
            table.entries.setdefault(hash_of[norm], []).extend(entries)
        for number, marks in coverable.items():
            index.texts[number].coverable = sum(marks[index.texts[number].focus:])
        table.sizes = tuple(sorted({t.window for _, t in mine if t.window}, reverse=True))
        table.hashes = np.array(sorted(table.entries), dtype=np.uint64)
    return index


# ----------------------------------------------------------------------------- scan


@dataclass
class Finding:
    """What one document holds of one benchmark text."""

    text: int
    found: list[tuple[int, int]]  # (start, size): every window of the text found here
    region: list[tuple[int, int]]  # the windows found around the longest overlap
    longest: int  # tokens of the longest contiguous overlap
    kind: str  # exact, renamed or text
    at: dict[str, Any]  # where that overlap starts
    claimed: bool = True  # False: a better match of another problem covers the same code


_KIND_RANK = {"exact": 2, "renamed": 1, "text": 1}


def _matches(table: Table, stream: Stream, ids: np.ndarray[Any, Any]
             ) -> Iterator[tuple[Entry, int, str]]:
    if not len(table.hashes):
        return
    hasher = WindowHasher(ids)
    for size in table.sizes:
        hashes = hasher.windows(size)
        where = np.searchsorted(table.hashes, hashes) % len(table.hashes)
        for position in np.flatnonzero(table.hashes[where] == hashes).tolist():
            entries = table.entries[int(hashes[position])]
            raw = stream.raw[position:position + size]
            if table.code:
                previous = stream.raw[position - 1] if position else ""
                norm = tuple(normalize(raw, previous))
                pattern = renaming(raw, norm)
                names = tuple(r for r, t in zip(raw, norm, strict=True) if t == PLACEHOLDER)
            else:
                norm, pattern, names = tuple(raw), (), ()
            for entry in entries:
                if entry.norm == norm and entry.pattern == pattern:
                    kind = ("exact" if entry.names == names else "renamed") if table.code \
                        else "text"
                    yield entry, position, kind


def find(index: Index, document: Document) -> list[Finding]:
    """What ``document`` holds of the index's texts (a pure function of both, so that
    documents can be scanned in worker processes)."""
    findings: list[Finding] = []
    for table in (index.code, index.words):
        if not table.entries:
            continue
        if table.code:
            raw = code_lex(document.text)
            stream, ids = Stream(raw, raw), table.stream_ids(raw)
        else:
            found = words(document.text)
            stream = Stream(found, found)
            ids = table.ids(stream)
        hits: dict[int, list[tuple[int, int, int]]] = {}  # text -> (start, size, position)
        runs: dict[tuple[int, int], list[Any]] = {}  # (text, diagonal) -> [first, last, kind]
        best: dict[int, tuple[int, int, int, str]] = {}  # text -> (tokens, first, last, kind)
        for entry, position, kind in _matches(table, stream, ids):
            size = len(entry.norm)
            hits.setdefault(entry.text, []).append((entry.start, size, position))
            key = (entry.text, entry.start - position)
            run = runs.get(key)
            # A run bridges the text's windows that are not indexed (boilerplate), as
            # long as the text and the document stay aligned.
            if run is not None and _bridged(index.texts[entry.text], entry.start,
                                            position - run[1]):
                run[1] = position
                run[2] = "renamed" if "renamed" in (run[2], kind) else run[2]
            else:
                run = runs[key] = [position, position, kind]
            length = run[1] - run[0] + size
            if length > best.get(entry.text, (0, 0, 0, ""))[0]:
                best[entry.text] = (length, run[0], run[1] + size, run[2])
        if hits:
            findings += _claims(index, document, table.code, hits, best)
    return findings


def _bridged(text: Text, start: int, step: int) -> bool:
    """Whether a window at ``start`` continues a run whose last window began ``step``
    windows earlier: consecutive, or only unindexed windows of the text in between."""
    return step == 1 or (1 < step <= start and not any(text.indexed[start - step + 1:start]))


def _claims(index: Index, document: Document, code: bool,
            hits: dict[int, list[tuple[int, int, int]]],
            best: dict[int, tuple[int, int, int, str]]) -> list[Finding]:
    """One finding per text found in the document. Only the windows near the text's
    longest overlap count for its share in this document (a long file may hold generic
    pieces of it far apart), and where two texts claim the same stretch of the document,
    only the better match keeps it (near-duplicate problems, generic code)."""
    offsets = code_offsets(document.text) if code else word_offsets(document.text)
    candidates = []
    for number, found in hits.items():
        text = index.texts[number]
        length, first, end, kind = best[number]
        reach = len(text.stream)
        region = [(s, z, p) for s, z, p in found if first - reach <= p <= end + reach]
        marks = bytearray(len(text.stream))
        for start, size, _ in region:
            marks[start:start + size] = b"\1" * size
        share = text.share(marks)
        span = (min(p for _, _, p in region), max(p + z for _, z, p in region))
        line = document.text.count("\n", 0, offsets[first]) + 1
        finding = Finding(number, [(s, z) for s, z, _ in found], [(s, z) for s, z, _ in region],
                          length, kind, {"source": document.source, "row": document.row,
                                         "line": line})
        candidates.append(((round(share, 2), _KIND_RANK[kind], length), span, finding))
    candidates.sort(key=lambda item: item[0], reverse=True)
    kept: list[tuple[tuple[float, int, int], tuple[int, int]]] = []
    for score, span, finding in candidates:
        for better, (low, high) in kept:
            overlap = min(high, span[1]) - max(low, span[0])
            if better > score and overlap > (span[1] - span[0]) / 2:
                finding.claimed = False
                break
        if finding.claimed:
            kept.append((score, span))
    return [finding for _, _, finding in candidates]


def merge(index: Index, findings: Iterable[Finding]) -> None:
    """Add one document's findings to the texts' totals: every window found counts for
    the union share; claimed findings also for the single-document results."""
    for finding in findings:
        text = index.texts[finding.text]
        for start, size in finding.found:
            text.covered[start:start + size] = b"\1" * size
        if not finding.claimed:
            continue
        mine = bytearray(len(text.covered))
        for start, size in finding.region:
            mine[start:start + size] = b"\1" * size
        share = text.share(mine)
        if text.strong(finding) and share > text.document_share:
            text.document_share, text.document_at = share, finding.at
        if finding.longest > text.longest:
            text.longest, text.longest_kind, text.longest_at = (
                finding.longest, finding.kind, finding.at)
        text.locations.append({**finding.at, "tokens": finding.longest, "kind": finding.kind,
                               "share": round(share, 4)})
        text.locations.sort(key=lambda item: (-item["tokens"], -item["share"]))
        del text.locations[MAX_LOCATIONS:]


__all__ = ["DEFAULT_NGRAM", "Finding", "Index", "Text", "build_index", "code_lex",
           "code_offsets", "code_stream", "find", "merge", "normalize", "renaming", "words"]
