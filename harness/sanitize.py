"""The chat answer sanitizer: a chat or reasoning model's answer -> the program to test.

Rules (docs/chat.md says the same for users):

* Reasoning sections (``<think>``, ``<thinking>``, ``<|begin_of_thought|>``, harmony's
  analysis channel, ...) are dropped; an answer that has only the closing tag loses what
  comes before it; a section that was never closed (cut by the token limit) drops the rest.
* Code is read from fenced blocks (``` or ~~~, any language tag, inside list items or
  quotes, unterminated at the end); with no fenced block that defines the entry point, from
  the text outside fences (the lines that parse among the prose).
* The block that defines the entry point is the main one; the last such block wins (drafts
  come first). Failing that: a function body (completion style) is appended to the prompt's
  stub; a method of that name in a class (``class Solution``) gets a module-level wrapper.
* Kept: every import of the main block and of the prompt, and the dependency closure of the
  entry point and of the names the task's test code uses but does not define: functions,
  classes, module-level assignments, looked up in the main block, then in the other blocks
  (later ones first), then in the prompt's code; statements that change kept module-level
  data in place (``table[0] = 1``, ``sys.setrecursionlimit(...)``, precomputing loops).
* Dropped: all other top-level code (calls, prints, asserts, tests, ``if __name__ ==
  "__main__":`` blocks, ``input()``), reasoning drafts, prose.
* The kept statements keep the candidate's own text: imports first, then the prompt's
  statements, the other blocks' and the main block's, each in its original order.
"""

from __future__ import annotations

import ast
import builtins
import functools
import logging
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, replace

from harness.answer_text import (
    Budget,
    Segment,
    dedent_lines,
    fenced_blocks,
    is_code,
    normalize,
    parse,
    salvage,
    strip_markup,
    strip_reasoning,
    strip_reasoning_noted,
)
from harness.code_closure import Source, close, render
from harness.code_units import Kind, Unit, free_names_of_module, units_of

log = logging.getLogger(__name__)

_BUILTINS = frozenset(dir(builtins))
NO_CODE = "no code found in the answer"
# Blocks looked at (the last ones: final answers come last); bounds the closure's work.
_MAX_BLOCKS = 200


@dataclass(frozen=True)
class Extraction:
    """What the sanitizer made of an answer."""

    code: str  # the whole program to test; "" when no usable code was found
    found: bool = True
    detail: str = ""  # when not found: why; else notes on what was changed


@dataclass
class _Block:
    raw: str  # the text as written (fenced content, or the lines of an unfenced run)
    segments: list[Segment]
    position: int
    _units: list[Unit] | None = None

    def units(self) -> list[Unit]:
        if self._units is None:
            self._units = []
            for segment in self.segments:
                units = units_of(segment.tree, segment.lines)
                if segment.cut and units:
                    units[-1] = replace(units[-1], partial=True)
                self._units.extend(units)
        return self._units


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of ``text`` (dedented out of list items and quotes); when it has
    none, the runs of lines that parse as Python among its prose. Reasoning sections are not
    removed here: pass ``strip_reasoning(answer)``."""
    lines = normalize(text).split("\n")
    fenced, _ = fenced_blocks(lines)
    if fenced:
        return [block.content for block in fenced]
    budget = Budget(40 * len(text) + 200_000)
    return [s.text for s in salvage(strip_markup(lines), budget) if is_code(s)]


def extract_code(answer: str, entry_point: str | None = None, *, prompt_code: str = "",
                 test_code: str = "") -> Extraction:
    """The program to test from a chat answer; see the module docstring for the rules.
    Never raises."""
    try:
        return _Extractor(answer, entry_point or None, prompt_code, test_code).run()
    except Exception as exc:  # the sanitizer runs on every sample and must be total
        log.warning("sanitizer failed on an answer: %r", exc)
        return Extraction("", False, f"the sanitizer failed: {type(exc).__name__}")


def _blocks_of(segments: Sequence[Segment], lines: Sequence[str]) -> list[_Block]:
    return [_Block("\n".join(lines[s.first_line:s.first_line + len(s.lines)]) or s.text, [s],
                   1 + s.first_line * 2) for s in segments if is_code(s)]


class _Extractor:
    def __init__(self, answer: str, entry_point: str | None, prompt_code: str,
                 test_code: str) -> None:
        self.text, self.reasoning_note = strip_reasoning_noted(answer)
        self.entry = entry_point
        self.prompt_code = normalize(prompt_code)
        self.test_code = normalize(test_code)
        self.budget = Budget(40 * len(self.text) + 200_000)
        self.notes: list[str] = []

    # -- reading the answer ------------------------------------------------------------------

    def _fenced(self) -> tuple[list[_Block], list[str]]:
        lines = self.text.split("\n")
        fenced, outside = fenced_blocks(lines)
        blocks = []
        for fence in fenced:
            content = _from_repl(fence.content)
            tree = parse(content)
            if isinstance(tree, ast.Module):
                segments = [Segment(content, tree, 0, content.split("\n"))]
            else:
                segments = salvage(content.split("\n"), self.budget)
            blocks.append(_Block(content, segments, 2 * fence.first_line))
        return blocks[-_MAX_BLOCKS:], outside

    def _unfenced(self, lines: list[str]) -> list[_Block]:
        return _blocks_of(salvage(strip_markup(lines), self.budget), lines)[-_MAX_BLOCKS:]

    # -- choosing ------------------------------------------------------------------------------

    def run(self) -> Extraction:
        blocks, outside = self._fenced()
        loose: list[_Block] | None = None if blocks else self._unfenced(outside)
        prompt = self._prompt_source()
        tests = self._test_needs()
        if self.entry is None:
            found = self._whole(blocks or loose or [], prompt, tests)
            if not found.found and blocks:
                found = self._whole(self._unfenced(outside), prompt, tests)
            return found
        chosen = self._defining(blocks or loose or [])
        if chosen is None and blocks:
            loose = self._unfenced(outside)
            chosen = self._defining(loose)
        loose = loose or []
        if chosen is not None:
            return self._assemble(chosen, blocks + loose, prompt, tests)
        completed = self._body(blocks, loose, outside)
        if completed is not None:
            body, used = completed
            self.notes.append("the answer's function body completes the prompt's stub")
            rest = [b for b in blocks + loose if b.raw != used]
            return self._assemble(body, rest, None, tests, main_position=-1)
        method = self._method(blocks + loose)
        if method is not None:
            block, cls = method
            self.notes.append(f"wrapped method {cls}.{self.entry}")
            wrapper = (f"def {self.entry}(*args, **kwargs):\n"
                       f"    return {cls}().{self.entry}(*args, **kwargs)\n")
            return self._assemble(block, blocks + loose, prompt, tests | {cls}, wrapper=wrapper)
        if prompt is not None and any(not prompt.units[i].stub
                                      for i in prompt.definers(self.entry)):
            self.notes.append(f"`{self.entry}` is the prompt's own")
            return self._assemble(None, blocks + loose, prompt, tests)
        if not any(is_code(s) for b in blocks + loose for s in b.segments):
            return Extraction("", False, self._why_none())
        return Extraction("", False, f"no definition of `{self.entry}` in the answer")

    def _why_none(self) -> str:
        return f"{NO_CODE} ({self.reasoning_note})" if self.reasoning_note else NO_CODE

    def _defining(self, blocks: Sequence[_Block]) -> _Block | None:
        """The last block with a def/class of the entry point (a stub such as ``def f(x):
        ...``, or one salvaged from damaged code, only when nothing better exists), else the
        last one binding it otherwise."""
        assert self.entry is not None
        binding = stub = None
        for block in reversed(blocks):
            for unit in block.units():
                if self.entry not in unit.defines:
                    continue
                if unit.kind is Kind.DEF and not unit.stub and not unit.partial:
                    return block
                if unit.kind is Kind.DEF:
                    stub = stub or block
                elif unit.kind in (Kind.ASSIGN, Kind.COMPOUND) and not unit.unsafe:
                    binding = binding or block
        return binding or stub

    def _method(self, blocks: Sequence[_Block]) -> tuple[_Block, str] | None:
        for block in reversed(blocks):
            for unit in reversed(block.units()):
                if unit.kind is Kind.DEF and self.entry in unit.methods:
                    return block, next(iter(unit.defines))
        return None

    def _body(self, blocks: Sequence[_Block], loose: Sequence[_Block],
              outside: list[str]) -> tuple[_Block, str] | None:
        """A function body (completion style) appended to the prompt's stub: the completed
        program, and the text the body came from."""
        stub = self._stub_indent()
        if stub is None:
            return None
        base = self.prompt_code if self.prompt_code.endswith("\n") else self.prompt_code + "\n"
        indented = [b.raw for b in blocks] + _indented_runs(outside if blocks else
                                                             self.text.split("\n"))
        for raw in reversed(indented):
            first = next((line for line in raw.split("\n") if line.strip()), "")
            if first[:1] in (" ", "\t"):
                found = self._completes(base + raw.strip("\n") + "\n")
                if found is not None:
                    return found, raw
        candidates = [(text, b.raw) for b in [*blocks, *loose]
                      for text in (b.raw, *(s.text for s in b.segments if s.text != b.raw))]
        for text, raw in reversed(candidates):
            dedented = "\n".join(dedent_lines(text.strip("\n").split("\n")))
            if not _returns(dedented):
                continue
            for body in (textwrap.indent(dedented, stub), stub + text.strip("\n")):
                found = self._completes(base + body + "\n")
                if found is not None:
                    return found, raw
        return None

    def _stub_indent(self) -> str | None:
        tree = parse(self.prompt_code)
        if not isinstance(tree, ast.Module):
            return None
        for node in reversed(tree.body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                    and node.name == self.entry:
                col = node.body[0].col_offset if node.body else node.col_offset + 4
                return " " * max(col, node.col_offset + 1)
        return None

    def _completes(self, source: str) -> _Block | None:
        tree = parse(source)
        if not isinstance(tree, ast.Module):
            return None
        for node in reversed(tree.body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                    and node.name == self.entry:
                if any(not _docstring_or_pass(s) for s in node.body):
                    segment = Segment(source, tree, 0, source.split("\n"))
                    return _Block(source, [segment], -1)
                return None
        return None

    # -- sources -------------------------------------------------------------------------------

    def _prompt_source(self) -> Source | None:
        units = _prompt_units(self.prompt_code)
        return Source(list(units), "prompt", -2, keep_imports=True) if units else None

    def _test_needs(self) -> set[str]:
        return set(_test_needs(self.test_code))

    def _whole(self, blocks: Sequence[_Block], prompt: Source | None,
               tests: set[str]) -> Extraction:
        """No entry point: every definition of the last block that has one."""
        for block in reversed(blocks):
            names = {n for u in block.units() if u.kind is Kind.DEF for n in u.defines}
            if names:
                return self._assemble(block, blocks, prompt, tests | names)
        if any(is_code(s) for b in blocks for s in b.segments):
            return Extraction("", False, "no function or class definition in the answer")
        return Extraction("", False, self._why_none())

    # -- assembling ----------------------------------------------------------------------------

    def _assemble(self, main: _Block | None, blocks: Sequence[_Block], prompt: Source | None,
                  needs: set[str], *, wrapper: str = "", main_position: int | None = None
                  ) -> Extraction:
        sources: list[Source] = []
        if main is not None:
            position = main.position if main_position is None else main_position
            sources.append(Source(main.units(), "answer", position, keep_imports=True))
        others = [b for b in blocks if b is not main]
        sources.extend(Source(b.units(), "block", b.position) for b in reversed(others))
        if prompt is not None:
            sources.append(prompt)
        roots = set(needs)
        if self.entry is not None:
            if wrapper:
                roots.discard(self.entry)
            else:
                roots.add(self.entry)
        close(sources, roots, self.entry)
        code = render(sources, wrapper)
        if not isinstance(parse(code), ast.Module):
            log.warning("sanitizer output does not parse; using the main block as written")
            code = main.raw if main is not None else ""
        if not code.strip():
            return Extraction("", False, self._why_none())
        self._note_sources(sources)
        return Extraction(code, True, "; ".join(self.notes))

    def _note_sources(self, sources: Sequence[Source]) -> None:
        for origin, label in (("prompt", "from the prompt"), ("block", "from other blocks")):
            names = sorted({n for s in sources if s.origin == origin for i in s.kept
                            if s.units[i].kind is not Kind.IMPORT for n in s.units[i].defines})
            if names:
                self.notes.append(f"{label}: {', '.join(names)}")
        main = next((s for s in sources if s.origin == "answer"), None)
        if main is not None:
            dropped = sum(1 for i, u in enumerate(main.units)
                          if i not in main.kept and u.kind is not Kind.IMPORT)
            if dropped:
                self.notes.append(f"dropped {dropped} top-level statement(s)")


# A task's prompt and tests are the same for every sample of a problem: read them once.
@functools.lru_cache(maxsize=256)
def _prompt_units(prompt_code: str) -> tuple[Unit, ...]:
    if not prompt_code.strip():
        return ()
    tree = parse(prompt_code)
    lines = prompt_code.split("\n")
    segments = [Segment(prompt_code, tree, 0, lines)] if isinstance(tree, ast.Module) \
        else salvage(lines, Budget(10 * len(prompt_code) + 100_000))
    return tuple(u for s in segments for u in units_of(s.tree, s.lines))


@functools.lru_cache(maxsize=256)
def _test_needs(test_code: str) -> frozenset[str]:
    """Names the tests use but do not define: the solution must provide them."""
    if not test_code.strip():
        return frozenset()
    tree = parse(test_code)
    trees = [tree] if isinstance(tree, ast.Module) else [
        t for line in test_code.split("\n") if isinstance(t := parse(line.strip()), ast.Module)]
    needs: set[str] = set()
    for t in trees:
        needs |= free_names_of_module(t)
    return frozenset(needs - _BUILTINS)


def _from_repl(content: str) -> str:
    """An interpreter transcript (``>>> def f(x):`` / ``...     return x`` / output) as the
    code typed into it; other text as it is."""
    lines = content.split("\n")
    first = next((line for line in lines if line.strip()), "")
    if not first.startswith((">>>", "...")) or not any(line.startswith(">>> ") for line in lines):
        return content
    code = [line[4:] if line.startswith((">>> ", "... ")) else line[3:]
            for line in lines if line.startswith((">>> ", "... ")) or line in (">>>", "...")]
    return "\n".join(code)


def _docstring_or_pass(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr)
                                          and isinstance(stmt.value, ast.Constant))


def _returns(source: str) -> bool:
    """Whether code written as a module has a ``return`` outside any function: a body."""
    tree = parse(source)
    if not isinstance(tree, ast.Module):
        return False
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            return True
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
                          | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _indented_runs(lines: Sequence[str]) -> list[str]:
    runs: list[str] = []
    start = None
    for i, line in enumerate([*lines, "end"]):
        indented = not line.strip() or line[:1] in (" ", "\t")
        if indented and start is None and line.strip():
            start = i
        elif not indented and start is not None:
            runs.append("\n".join(lines[start:i]))
            start = None
    return runs


__all__ = ["NO_CODE", "Extraction", "code_blocks", "extract_code", "strip_reasoning"]
