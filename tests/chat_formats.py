"""Chat-answer shapes seen from real chat and reasoning models, as functions that wrap a
correct solution: what the sanitizer must read back (tests/test_sanitize.py).

Each format takes a ``Solution`` and returns the answer text, or None when the shape does not
apply (e.g. a body-only answer needs a prompt stub). The junk they add (drafts, tests,
``__main__`` blocks, usage examples) fails when run, so a sanitizer that keeps it fails.
"""

from __future__ import annotations

import ast
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Solution:
    code: str  # a whole correct program (imports, helpers, the entry point)
    entry_point: str
    body: str = ""  # HumanEval: the canonical body that completes the prompt's stub
    prompt_code: str = ""


def _tree(code: str) -> ast.Module:
    with warnings.catch_warnings():  # reference code has invalid escapes ("\\d" in strings)
        warnings.simplefilter("ignore", DeprecationWarning)
        return ast.parse(code)


def _fence(code: str, tag: str = "python") -> str:
    return f"```{tag}\n{code.rstrip()}\n```"


def _draft(entry: str) -> str:
    return f"def {entry}(*args, **kwargs):\n    return None  # first attempt, wrong\n"


def prose_python(s: Solution) -> str:
    return (f"Here is the implementation of `{s.entry_point}`:\n\n{_fence(s.code)}\n\n"
            "**Explanation:**\n- It handles the edge cases first.\n- Then it's O(n) overall.\n")


def bare_fence(s: Solution) -> str:
    return f"Sure!\n\n{_fence(s.code, '')}\n"


def tilde_fence(s: Solution) -> str:
    return f"Solution:\n~~~python\n{s.code.rstrip()}\n~~~\nHope this helps."


def list_item_fence(s: Solution) -> str:
    code = textwrap.indent(s.code.rstrip(), "   ", lambda line: True)
    return ("Steps:\n\n1. Read the problem.\n2. Write the function:\n\n   ```python\n"
            f"{code}\n   ```\n\n3. Test it with the examples.\n")


def crlf(s: Solution) -> str:
    return prose_python(s).replace("\n", "\r\n")


def think_draft(s: Solution) -> str:
    draft = _fence(_draft(s.entry_point))
    return (f"<think>\nThe user wants `{s.entry_point}`. A first try:\n{draft}"
            "\nNo, that returns None. Let me fix it.\n</think>\n\n"
            f"Final answer:\n\n{_fence(s.code)}\n")


def closing_think_only(s: Solution) -> str:
    return (f"Okay, so I need {s.entry_point}. Maybe:\n{_draft(s.entry_point)}\nThat fails.\n"
            f"</think>\n\n{_fence(s.code)}")


def tests_after(s: Solution) -> str:
    tests = (f"\n\n# Test cases\nprint({s.entry_point}('__never__'))\n"
             f"assert {s.entry_point} is None, 'checks'\nn = int(input())\n")
    return f"```python\n{s.code.rstrip()}{tests}```\n"


def main_guard(s: Solution) -> str:
    guard = ("\n\nif __name__ == \"__main__\":\n    import doctest\n    doctest.testmod()\n"
             f"    assert {s.entry_point} is None\n")
    return f"Here you go:\n\n```python\n{s.code.rstrip()}{guard}```"


def unfenced(s: Solution) -> str:
    return (f"Sure! Here's my solution:\n\n{s.code.rstrip()}\n\nThe function above handles all"
            " the edge cases.\nLet me know if you'd like more examples!\n")


def usage_block(s: Solution) -> str:
    return (f"{_fence(s.code)}\n\nExample usage:\n\n"
            f"```python\nresult = {s.entry_point}('__never__')\nprint(result)\n```\n")


def split_blocks(s: Solution) -> str | None:
    """Each top-level definition in its own fence, the entry point first."""
    tree = _tree(s.code)
    lines = s.code.split("\n")
    pieces = []
    for node in tree.body:
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        pieces.append((node, "\n".join(lines[start - 1:node.end_lineno])))
    defs = [(n, t) for n, t in pieces if not isinstance(n, ast.Import | ast.ImportFrom)]
    if len(defs) < 2:
        return None
    imports = "\n".join(t for n, t in pieces if isinstance(n, ast.Import | ast.ImportFrom))
    main = [t for n, t in defs if getattr(n, "name", None) == s.entry_point]
    rest = [t for n, t in defs if getattr(n, "name", None) != s.entry_point]
    out = [f"The main function:\n{_fence((imports + chr(10) * 2 if imports else '') + main[0])}"
           ] if main else []
    out += [f"And a helper it uses:\n{_fence(t)}" for t in rest]
    return "\n\n".join(out) + "\n"


def wrong_then_corrected(s: Solution) -> str:
    return (f"{_fence(_draft(s.entry_point))}\n\nWait, that is wrong. Corrected version:\n\n"
            f"{_fence(s.code)}\n")


def body_only(s: Solution) -> str | None:
    if not s.body or not s.prompt_code:
        return None
    return f"Here is the completion:\n\n```python\n{s.body.rstrip()}\n```\n"


def without_imports(s: Solution) -> str | None:
    """The answer relies on the prompt's imports."""
    lines = s.code.split("\n")
    imports = [line for line in lines if line.startswith(("import ", "from "))]
    if not imports or not all(line in s.prompt_code.split("\n") for line in imports):
        return None
    return _fence("\n".join(line for line in lines if line not in imports))


def entry_only(s: Solution) -> str | None:
    """Only the entry point (and imports): helpers come from the prompt (HumanEval/10)."""
    if not s.prompt_code:
        return None
    tree = _tree(s.code)
    lines = s.code.split("\n")
    kept = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
            or getattr(node, "name", None) == s.entry_point]
    in_prompt = {getattr(n, "name", None) for n in _tree(s.prompt_code).body}
    left_out = {getattr(n, "name", None) for n in tree.body if n not in kept}
    if not left_out or not left_out <= in_prompt:
        return None
    return _fence("\n\n".join("\n".join(lines[n.lineno - 1:n.end_lineno]) for n in kept))


def repl_transcript(s: Solution) -> str:
    lines = s.code.strip("\n").split("\n")
    typed = [(">>> " if line[:1] not in (" ", "\t", "") else "... ") + line for line in lines]
    return "```pycon\n" + "\n".join(typed) + f"\n>>> {s.entry_point}\n<function>\n```"


def unclosed_fence_with_prose(s: Solution) -> str:
    return (f"```python\n{s.code.rstrip()}\n\nThis function works in linear time, and it's"
            " easy to test.\nHope it helps!")


def dash_list_fence(s: Solution) -> str:
    code = textwrap.indent(s.code.rstrip(), "  ", lambda line: True)
    return f"- Code:\n  ```python\n{code}\n  ```\n- Complexity: O(n)\n"


def html_pre_code(s: Solution) -> str:
    return f'<pre><code class="language-python">{s.code.rstrip()}</code></pre>'


def leading_space(s: Solution) -> str:
    return "\n".join(" " + line if line else line for line in prose_python(s).split("\n"))


def begin_done(s: Solution) -> str:
    return f"[BEGIN]\n{s.code.rstrip()}\n[DONE]"


def thought_tags(s: Solution) -> str:
    return ("<|begin_of_thought|>\nDraft:\n" + _draft(s.entry_point)
            + "\n<|end_of_thought|>\n\n<|begin_of_solution|>\n" + _fence(s.code)
            + "\n<|end_of_solution|>")


def harmony(s: Solution) -> str:
    return ("<|channel|>analysis<|message|>We try " + _draft(s.entry_point)
            + "<|end|><|start|>assistant<|channel|>final<|message|>" + _fence(s.code)
            + "<|return|>")


def markdown_indented(s: Solution) -> str:
    code = textwrap.indent(s.code.rstrip(), "    ", lambda line: True)
    return f"Solution:\n\n{code}\n\nThat's all.\n"


def codellama(s: Solution) -> str:
    return f"[PYTHON]\n{s.code.rstrip()}\n[/PYTHON]\n"


def four_backticks(s: Solution) -> str:
    return f"````python\n{s.code.rstrip()}\n````\n"


def fence_closed_on_code_line(s: Solution) -> str:
    return f"```python\n{s.code.rstrip()}```\nDone."


def think_then_unfenced(s: Solution) -> str:
    return f"<think>\n{_draft(s.entry_point)}\n</think>\n{s.code.rstrip()}\n"


def blockquote(s: Solution) -> str:
    quoted = "\n".join(f"> {line}" for line in s.code.rstrip().split("\n"))
    return f"> Answer:\n> ```python\n{quoted}\n> ```\n"


def end_token(s: Solution) -> str:
    return f"{_fence(s.code)}<|im_end|>\n<|im_start|>user\nthanks"


def language_line(s: Solution) -> str:
    return f"```\npython\n{s.code.rstrip()}\n```"


def late_opener(s: Solution) -> str:
    return f"Here is the code: ```python\n{s.code.rstrip()}\n```"


Format = Callable[[Solution], "str | None"]
FORMATS: dict[str, Format] = {f.__name__: f for f in (
    prose_python, bare_fence, tilde_fence, list_item_fence, crlf, think_draft,
    closing_think_only, tests_after, main_guard, unfenced, usage_block, split_blocks,
    wrong_then_corrected, body_only, without_imports, entry_only, repl_transcript,
    thought_tags, harmony, markdown_indented, codellama, four_backticks, fence_closed_on_code_line,
    think_then_unfenced, blockquote, end_token, language_line, late_opener,
    unclosed_fence_with_prose, dash_list_fence, html_pre_code, leading_space, begin_done)}
