"""Reading a chat answer as text: reasoning sections, markdown code fences, and the code that
parses among prose (for ``harness.sanitize``).

Every function here is total: any ``str`` (NUL bytes, lone surrogates, megabytes) is
accepted, and parsing work is bounded so that a long answer costs linear time.
"""

from __future__ import annotations

import ast
import keyword
import re
import warnings
from dataclasses import dataclass, field

# Reasoning sections: (opening, closing) patterns of one family; any opening of a family
# pairs with any closing of the same family.
_XML_NAMES = (r"think|thinking|thought|thoughts|reasoning|reason|reflection|scratchpad"
              r"|seed:think|inner[_-]?monologue")
_REASONING = [
    (re.compile(rf"<(?:{_XML_NAMES})(?:\s[^<>]*)?>", re.IGNORECASE),
     re.compile(rf"</(?:{_XML_NAMES})\s*>", re.IGNORECASE)),
    (re.compile(r"<\|begin_of_thought\|>|<\|start_of_thought\|>|<\|thinking\|>"
                r"|<\|start_thinking\|>|<\|begin_of_thinking\|>"),
     re.compile(r"<\|end_of_thought\|>|<\|/thinking\|>|<\|end_thinking\|>"
                r"|<\|end_of_thinking\|>")),
    (re.compile(r"\[THINK\]|\[THINKING\]", re.IGNORECASE),
     re.compile(r"\[/THINK\]|\[/THINKING\]", re.IGNORECASE)),
    (re.compile("◁think▷"), re.compile("◁/think▷")),
    # Ollama's console rendering of a reasoning model.
    (re.compile(r"\A\s*Thinking\.\.\.[ \t]*$", re.MULTILINE),
     re.compile(r"^\.\.\.done thinking\.[ \t]*$", re.MULTILINE)),
]
# Markers around a final answer: dropped, their content kept.
_ANSWER_MARKERS = re.compile(r"<\|(?:begin|end)_of_solution\|>")
# gpt-oss (harmony): the final channel is the answer; analysis is reasoning.
_HARMONY_FINAL = re.compile(r"<\|channel\|>\s*final\s*(?:<\|constrain\|>\w*)?<\|message\|>")
_HARMONY_ANALYSIS = re.compile(r"<\|channel\|>\s*(?:analysis|commentary)\b")
# End-of-turn tokens that a server left in the text: the answer ends there.
_END_TOKENS = re.compile(r"<\|im_end\|>|<\|eot_id\|>|<\|endoftext\|>|<\|end_of_text\|>"
                         r"|<\|end\|>|<\|return\|>|<\|im_start\|>|<end_of_turn>"
                         r"|<｜end▁of▁sentence｜>|<\|EOT\|>")
_TRAILING_EOS = ("</s>", "<eos>", "<|eos|>")

# Fences: an opener at the start of a line, after indentation, a list marker or '>' quotes.
_OPEN = re.compile(r"^(?P<prefix>[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)?(?:>[ \t]*)*)"
                   r"(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
# ... or at the end of a prose line ("Here it is: ```python"), with at most a language tag.
_OPEN_LATE = re.compile(r"(?<![`~])(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[A-Za-z][\w+#.-]*)?"
                        r"[ \t]*$")
_RUN = re.compile(r"^(`{3,}|~{3,})(.*)$")
# An opener line that goes on with code after its language tag.
_INLINE_CODE = re.compile(r"[ \t]*[\w+#.-]+[ \t]+((?:def|class|import|from|async def|@)\b.*)$")
# A closing line that names one of these opens the next block (the model forgot to close).
_CODE_TAGS = frozenset({"python", "py", "python3", "py3", "pycon", "ipython", "text", "bash",
                        "sh", "console", "shell", "output", "plaintext", "json", "txt"})
# Wrappers some models put around unfenced code (CodeLlama's [PYTHON], HTML, MBPP's
# [BEGIN]/[DONE], XML answer tags): removed at the start and end of lines outside fences.
_WRAPPERS = (r"(?:<(?:code|pre)(?:\s[^<>]*)?>|</?(?:code|pre|answer|solution|python|py|output)>"
             r"|\[/?(?:PYTHON|BEGIN|DONE|CODE)\])")
_LEAD_MARKUP = re.compile(rf"^(?:{_WRAPPERS}[ \t]*)+", re.IGNORECASE)
_TRAIL_MARKUP = re.compile(rf"{_WRAPPERS}$", re.IGNORECASE)
# Two names in a row start no Python statement (unless the first is a keyword): prose.
_TWO_WORDS = re.compile(r"[ \t]*([A-Za-z_]\w*)[ \t]+[A-Za-z_]")
_STATEMENT_WORDS = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {"print", "exec"}

_EOF_ERRORS = ("was never closed", "unterminated triple-quoted", "unexpected EOF",
               "expected an indented block", "expected 'except' or 'finally'")
_WINDOW = 400  # lines parsed at once when looking for code among prose
_MAX_WINDOW = 25_000


def normalize(text: object) -> str:
    """Any value as clean text: LF newlines, no NUL bytes or BOM, no lone surrogates."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    elif not isinstance(text, str):
        text = "" if text is None else str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").replace("\ufeff", "")


def strip_reasoning_noted(text: object) -> tuple[str, str]:
    """The answer without reasoning sections, and a note when a section was never closed."""
    out = normalize(text)
    note = ""
    final = None
    for match in _HARMONY_FINAL.finditer(out):
        final = match
    if final is not None:
        out = out[final.end():]
    else:
        analysis = _HARMONY_ANALYSIS.search(out)
        if analysis is not None:
            out, note = out[:analysis.start()], "the reasoning section was never closed"
    end = _END_TOKENS.search(out)
    if end is not None:
        out = out[:end.start()]
    out = _strip_trailing_eos(out)
    for opening, closing in _REASONING:
        # A closing tag before any opening one: the template opened the section in the prompt.
        while True:
            close = closing.search(out)
            if close is None:
                break
            first_open = opening.search(out, 0, close.start())
            if first_open is not None:
                break
            out = out[close.end():]
        pieces = []
        pos = 0
        while True:
            start = opening.search(out, pos)
            if start is None:
                pieces.append(out[pos:])
                break
            pieces.append(out[pos:start.start()])
            close = closing.search(out, start.end())
            if close is None:  # cut by the token limit: the rest is reasoning
                note = "the reasoning section was never closed"
                break
            pos = close.end()
        out = "".join(pieces)
    return _ANSWER_MARKERS.sub("", out), note


def _strip_trailing_eos(text: str) -> str:
    stripped = text.rstrip()
    while stripped.endswith(_TRAILING_EOS):
        for token in _TRAILING_EOS:
            if stripped.endswith(token):
                stripped = stripped[:-len(token)].rstrip()
                text = stripped
    return text


def strip_reasoning(text: str) -> str:
    """The answer without ``<think>``-style reasoning sections, with LF newlines."""
    return strip_reasoning_noted(text)[0]


@dataclass
class Fenced:
    content: str
    info: str  # the language tag, lower case ("" when none)
    first_line: int  # index of the opener line


def _content_line(line: str, width: int, quotes: int) -> str:
    """A fenced line without its container's prefix: '>' quotes, list-item indentation."""
    for _ in range(quotes):
        stripped = line.lstrip(" \t")
        if not stripped.startswith(">"):
            break
        line = stripped[1:]
        if line.startswith(" "):
            line = line[1:]
    k = 0
    while k < width and k < len(line) and line[k] in " \t":
        k += 1
    return line[k:]


def _opener(line: str) -> tuple[str, str, str] | None:
    """(prefix, fence, info) when the line opens a fence."""
    if "```" not in line and "~~~" not in line:
        return None
    match = _OPEN.match(line)
    if match is not None and (match.group("fence")[0] == "~" or "`" not in match.group("info")):
        return match.group("prefix"), match.group("fence"), match.group("info")
    if len(line) < 2000:
        late = _OPEN_LATE.search(line)
        if late is not None:
            before = line[:late.start()]
            if before.strip() and "```" not in before and "~~~" not in before:
                return "", late.group("fence"), late.group("info") or ""
    return None


def _fence_body(lines: list[str], i: int, prefix: str, fence: str,
                outside: list[str]) -> tuple[list[str], int, str | None]:
    """The content from line ``i`` to the closing fence, the line after it, and the language
    of a fence that the closing line opened at once (a model that forgot to close)."""
    char, length = fence[0], len(fence)
    width = len(prefix.expandtabs(4)) if ">" not in prefix else 0
    quotes = prefix.count(">")
    content: list[str] = []
    while i < len(lines):
        line = _content_line(lines[i], width, quotes)
        outside[i] = ""
        i += 1
        run = _RUN.match(line.strip())
        if run is not None and run.group(1)[0] == char and len(run.group(1)) >= length:
            rest = run.group(2).strip()
            reopen = rest if char == "`" and rest.lower() in _CODE_TAGS else None
            return content, i, reopen
        tail = line.rstrip()
        bare = tail.rstrip(char)
        if len(tail) - len(bare) >= length and bare.strip() and not bare.endswith("\\"):
            content.append(bare)  # `return x```: the fence closes at the end of a code line
            return content, i, None
        content.append(line)
    while content and not content[-1].strip():  # unterminated: cut by the token limit
        content.pop()
    return content, i, None


def fenced_blocks(lines: list[str]) -> tuple[list[Fenced], list[str]]:
    """The fenced blocks, and the lines with every fenced line blanked (the text outside)."""
    blocks: list[Fenced] = []
    outside = list(lines)
    i, n = 0, len(lines)
    while i < n:
        opened = _opener(lines[i])
        if opened is None:
            i += 1
            continue
        prefix, fence, info = opened
        outside[i] = ""
        first = i
        while True:
            content, i, reopen = _fence_body(lines, i + 1 if first == i else i, prefix, fence,
                                             outside)
            inline = _INLINE_CODE.match(info)
            if inline is not None:  # ```python def f(x):  -- code on the opener line
                content.insert(0, inline.group(1))
            blocks.append(Fenced("\n".join(content), _language(info), first))
            if reopen is None:
                break
            info, first = reopen, i - 1
    return blocks, outside


def _language(info: str) -> str:
    word = info.strip().strip("{}.").split()
    return word[0].lower() if word else ""


# -- code among prose ------------------------------------------------------------------------


@dataclass
class Budget:
    """Characters of source the search for code may still parse (keeps it linear)."""

    chars: int

    def spend(self, amount: int) -> bool:
        self.chars -= amount
        return self.chars >= 0


@dataclass
class Segment:
    """Consecutive lines that parse as Python, with their tree."""

    text: str
    tree: ast.Module
    first_line: int = 0  # where it starts in its text (ordering)
    lines: list[str] = field(default_factory=list)
    # Cut before an indented line that did not parse: its last statement may be incomplete.
    cut: bool = False


def parse(source: str) -> ast.Module | SyntaxError | None:
    """The module, or the SyntaxError (None: not parseable at all, e.g. too deeply nested)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except SyntaxError as exc:
        return exc
    except (ValueError, RecursionError, MemoryError, OverflowError):
        return None


def _is_eof_error(error: SyntaxError) -> bool:
    return any(part in (error.msg or "") for part in _EOF_ERRORS)


def _segment(lines: list[str], start: int, end: int, tree: ast.Module) -> Segment:
    chunk = lines[start:end]
    return Segment("\n".join(chunk), tree, start, chunk)


def _parse_from(lines: list[str], pos: int, budget: Budget) -> tuple[Segment | None, int]:
    """The code that starts at line ``pos``, and where to continue."""
    n = len(lines)
    window = _WINDOW
    while True:
        end = min(n, pos + window)
        source = "\n".join(lines[pos:end])
        if not budget.spend(len(source)):
            return None, n
        result = parse(source)
        if isinstance(result, ast.Module):
            if end < n and window < _MAX_WINDOW:
                body = result.body
                # The last statement may go on past the window: parse it again from its start.
                last = body[-1]
                decorators = getattr(last, "decorator_list", None) or []
                cut = min([last.lineno, *(d.lineno for d in decorators)]) - 1
                if len(body) < 2 or cut < 1:
                    window *= 4
                    continue
                tree = ast.Module(body=body[:-1], type_ignores=[])
                return _segment(lines, pos, pos + cut, tree), pos + cut
            return _segment(lines, pos, end, result), end
        if result is None:
            return None, pos + 1
        if _is_eof_error(result) and end < n and window < _MAX_WINDOW:
            window *= 4
            continue
        bad = min(result.lineno or 1, end - pos)
        cut = lines[pos + bad - 1][:1] in (" ", "\t")
        for _ in range(8):
            if bad <= 1:
                break
            stop = pos + bad - 1
            while stop > pos and not lines[stop - 1].strip():
                stop -= 1
            if stop == pos:
                break
            source = "\n".join(lines[pos:stop])
            if not budget.spend(len(source)):
                return None, n
            result = parse(source)
            if isinstance(result, ast.Module):
                segment = _segment(lines, pos, stop, result)
                segment.cut = cut
                return segment, stop
            if result is None:
                break
            bad = min(result.lineno or 1, stop - pos)
            cut = lines[pos + bad - 1][:1] in (" ", "\t")
        return None, pos + 1


def salvage(lines: list[str], budget: Budget, depth: int = 0, offset: int = 0) -> list[Segment]:
    """The runs of lines that parse, skipping prose (evalplus's longest-valid-code idea,
    done greedily with the parser's error positions instead of trying every range)."""
    found: list[Segment] = []
    pos, n = 0, len(lines)
    while pos < n and budget.chars > 0:
        line = lines[pos]
        if not line.strip():
            pos += 1
            continue
        if line[0] in " \t":  # indented code (a markdown code block, or a function body)
            end = pos
            while end < n and (not lines[end].strip() or lines[end][0] in " \t"):
                end += 1
            if depth < 2:
                inner = dedent_lines(lines[pos:end])
                found.extend(salvage(inner, budget, depth + 1, offset + pos))
            pos = end
            continue
        words = _TWO_WORDS.match(line)
        if words is not None and words.group(1) not in _STATEMENT_WORDS:
            pos += 1
            continue
        if not line.lstrip().startswith("@"):
            # One line alone decides most prose without reading further.
            budget.spend(len(line))
            alone = parse(line)
            if alone is None or (isinstance(alone, SyntaxError) and not _is_eof_error(alone)):
                pos += 1
                continue
        segment, pos = _parse_from(lines, pos, budget)
        if segment is not None:
            segment.first_line += offset
            found.append(segment)
    return found


def dedent_lines(lines: list[str]) -> list[str]:
    """Lines without their common indentation; unlike textwrap.dedent, whitespace-only lines
    keep what lies beyond it (they may be inside a string)."""
    margins = [line[:len(line) - len(line.lstrip(" \t"))] for line in lines if line.strip()]
    if not margins:
        return list(lines)
    common = margins[0]
    for margin in margins[1:]:
        while not margin.startswith(common):
            common = common[:-1]
    width = len(common)
    return [line[width:] if line.startswith(common) else line.lstrip(" \t") for line in lines]


def strip_markup(lines: list[str]) -> list[str]:
    """Lines outside fences without wrapper tags ([PYTHON], <code>, <answer>) at their ends."""
    out = []
    for line in lines:
        if "<" in line or "[" in line:
            line = _LEAD_MARKUP.sub("", line)
            while True:
                stripped = line.rstrip(" \t")
                tail = _TRAIL_MARKUP.search(stripped, max(0, len(stripped) - 12))
                if tail is None:
                    break
                line = stripped[:tail.start()]
        out.append(line)
    return out


def is_code(segment: Segment) -> bool:
    """More than prose that happens to parse ("Sure", "Note: x"): a statement or a call."""
    for stmt in segment.tree.body:
        if isinstance(stmt, ast.Expr):
            if any(isinstance(n, ast.Call) for n in ast.walk(stmt)):
                return True
        elif not (isinstance(stmt, ast.AnnAssign) and stmt.value is None):
            return True
    return False
