"""Functions and classes with their docstrings, extracted from Python source with tree-sitter.

Used by the ``docgen`` task: each item's code comes with its own docstring removed (its
methods and nested functions keep theirs), dedented, and starting at its first decorator.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFINITIONS = {"function_definition": "function", "class_definition": "class"}
# Folders never searched for source: caches, environments, VCS data.
SKIPPED_DIRS = {"__pycache__", "site-packages", "dist-packages", "node_modules", ".git", ".hg",
                ".svn", ".tox", ".nox", ".venv", "venv", ".mypy_cache", ".ruff_cache"}
TEST_DIRS = {"test", "tests", "idle_test"}


@dataclass(frozen=True)
class CodeItem:
    path: str  # relative to the source root, "/"-separated
    qualname: str  # like __qualname__: "Outer.method", "func.<locals>.inner"
    kind: str  # "function" (methods and nested functions included) or "class"
    line: int  # 1-based line of the definition (its first decorator)
    code: str  # the definition with its docstring removed, dedented
    docstring: str  # the docstring as Python sees it (literal value, not cleaned)


@lru_cache(maxsize=1)
def python_language() -> Any:
    import tree_sitter_python
    from tree_sitter import Language

    return Language(tree_sitter_python.language())


@lru_cache(maxsize=1)
def python_parser() -> Any:
    from tree_sitter import Parser

    return Parser(python_language())


@lru_cache(maxsize=1)
def definitions_query() -> Any:
    return python_language().query("(function_definition) @def (class_definition) @def")


@lru_cache(maxsize=1)
def strings_query() -> Any:
    return python_language().query("(string) @string")


def docstring_statement(definition: Any) -> tuple[Any, str] | None:
    """The body's first statement if it is a plain string literal, with the string's value."""
    body = definition.child_by_field_name("body")
    if body is None:
        return None
    statements = [c for c in body.named_children if c.type != "comment"]
    if not statements or statements[0].type != "expression_statement":
        return None
    statement = statements[0]
    if len(statement.named_children) != 1 or statement.named_children[0].type != "string":
        return None
    try:
        value = ast.literal_eval(statement.named_children[0].text.decode("utf-8"))
    except (SyntaxError, ValueError, UnicodeDecodeError, MemoryError, RecursionError):
        return None  # f-strings, bytes, broken literals: not docstrings
    if not isinstance(value, str):
        return None
    return statement, value


def line_start(source: bytes, offset: int) -> int:
    return source.rfind(b"\n", 0, offset) + 1


def line_end(source: bytes, offset: int) -> int:
    end = source.find(b"\n", offset)
    return len(source) if end < 0 else end + 1


def remove_docstring(source: bytes, definition: Any, statement: Any) -> tuple[int, int, bytes]:
    """The span of ``source`` to replace, and its replacement, that removes the docstring
    statement while keeping the definition valid (``pass`` when the body would be empty)."""
    start, end = statement.start_byte, statement.end_byte
    body = definition.child_by_field_name("body")
    others = [c for c in body.named_children if c.type != "comment" and c.id != statement.id]
    if not others:
        return start, end, b"pass"
    after = source[end:line_end(source, end)]
    if after.lstrip().startswith(b";"):
        rest = after[after.index(b";") + 1:]
        return start, end + len(after) - len(rest.lstrip(b" \t")), b""
    if source[line_start(source, start):start].strip() == b"" and after.strip() == b"":
        return line_start(source, start), line_end(source, end), b""
    return start, end, b""


def qualified_name(definition: Any) -> str:
    parts: list[str] = []
    node = definition
    child_kind: str | None = None
    while node is not None:
        if node.type in DEFINITIONS:
            name_node = node.child_by_field_name("name")
            name = name_node.text.decode("utf-8", "replace") if name_node else "?"
            if child_kind is not None and node.type == "function_definition":
                parts.append("<locals>")
            parts.append(name)
            child_kind = node.type
        node = node.parent
    return ".".join(reversed(parts))


def iter_definitions(node: Any) -> list[Any]:
    """Function and class definitions under ``node``, in source order."""
    captures = definitions_query().captures(node)
    if isinstance(captures, dict):  # py-tree-sitter >= 0.23
        nodes = [n for group in captures.values() for n in group]
    else:  # 0.22: [(node, capture name)]
        nodes = [n for n, _ in captures]
    return sorted(nodes, key=lambda n: n.start_byte)


def string_continuation_rows(tree: Any) -> set[int]:
    """Rows that begin inside a multi-line string literal: never re-indented."""
    captures = strings_query().captures(tree.root_node)
    nodes = ([n for group in captures.values() for n in group] if isinstance(captures, dict)
             else [n for n, _ in captures])
    rows: set[int] = set()
    for node in nodes:
        rows.update(range(node.start_point[0] + 1, node.end_point[0] + 1))
    return rows


def split_lines(text: str) -> list[str]:
    """Lines with their ends, split on "\\n" only (str.splitlines also splits on form feeds,
    which would break the row mapping)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def dedent_lines(lines: list[str], rows: list[int | None], indent: int, keep: set[int]) -> str:
    """Remove up to ``indent`` leading spaces from each line whose source row is not in
    ``keep`` (unlike textwrap.dedent, multi-line strings do not block the dedent)."""
    out: list[str] = []
    for line, row in zip(lines, rows, strict=True):
        if row is not None and row in keep:
            out.append(line)
            continue
        body = line.lstrip(" \t")
        out.append(line[min(indent, len(line) - len(body)):])
    return "".join(out)


def extract_items(source: bytes, path: str) -> list[CodeItem]:
    """Every function and class in ``source`` that has a string-literal docstring."""
    tree = python_parser().parse(source)
    in_strings = string_continuation_rows(tree)
    items: list[CodeItem] = []
    for definition in iter_definitions(tree.root_node):
        found = docstring_statement(definition)
        if found is None:
            continue
        statement, docstring = found
        outer = definition.parent if definition.parent.type == "decorated_definition" else None
        first = outer or definition
        begin = line_start(source, first.start_byte)
        cut_start, cut_end, replacement = remove_docstring(source, definition, statement)
        code = source[begin:cut_start] + replacement + source[cut_end:definition.end_byte]
        lines = split_lines(code.decode("utf-8", "replace"))
        # Map each line of ``code`` back to its source row (None: the edited line).
        cut_row = source.count(b"\n", begin, cut_start)
        removed = source.count(b"\n", cut_start, cut_end) - replacement.count(b"\n")
        whole_lines = not replacement and source[cut_start - 1:cut_start] in (b"", b"\n")
        base = first.start_point[0]
        rows: list[int | None] = [
            base + i if i < cut_row
            else base + i + removed if i > cut_row or whole_lines
            else None
            for i in range(len(lines))
        ]
        items.append(CodeItem(
            path=path,
            qualname=qualified_name(definition),
            kind=DEFINITIONS[definition.type],
            line=first.start_point[0] + 1,
            code=dedent_lines(lines, rows, first.start_point[1], in_strings).rstrip() + "\n",
            docstring=docstring,
        ))
    return items


def iter_python_files(root: Path, include_tests: bool) -> list[Path]:
    """``*.py`` files under ``root`` (or ``root`` itself), sorted by relative path."""
    if root.is_file():
        return [root]
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d for d in dirs
            if d not in SKIPPED_DIRS and not d.startswith(".")
            and (include_tests or d not in TEST_DIRS)
        )
        found.extend(Path(folder) / f for f in files if f.endswith(".py"))
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def relative_name(path: Path, root: Path) -> str:
    return path.name if root.is_file() else path.relative_to(root).as_posix()


def tree_sha256(root: Path, files: list[Path]) -> str:
    """sha256 over the sorted relative paths and contents of ``files``."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: relative_name(p, root)):
        content = path.read_bytes()
        name = relative_name(path, root).encode("utf-8")
        digest.update(len(name).to_bytes(8, "big") + name)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def clean_docstring(docstring: str) -> str:
    return inspect.cleandoc(docstring.expandtabs())


def first_paragraph(text: str) -> str:
    """The text up to its first blank line, its lines joined with single spaces."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        if not line.strip():
            break
        lines.append(line.strip())
    return " ".join(lines)


def count_tokens(text: str) -> int:
    return len(text.split())


def truncate_code(code: str, max_tokens: int) -> tuple[str, bool]:
    """Whole lines of ``code`` up to ``max_tokens`` whitespace-separated tokens (at least the
    first line), with a comment marking the cut; ``max_tokens <= 0`` keeps everything."""
    if max_tokens <= 0 or count_tokens(code) <= max_tokens:
        return code, False
    kept: list[str] = []
    total = 0
    for line in code.splitlines():
        total += count_tokens(line)
        if total > max_tokens and kept:
            break
        kept.append(line)
    return "\n".join(kept) + "\n# ... (truncated)\n", True


__all__ = ["CodeItem", "clean_docstring", "count_tokens", "extract_items", "first_paragraph",
           "iter_python_files", "python_parser", "remove_docstring", "tree_sha256",
           "truncate_code"]
