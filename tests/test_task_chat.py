"""Chat mode at the task level: each task's chat prompt, and its extraction of chat answers.

For every HumanEval, MBPP (test split) and MBPP+ problem a chat answer is written around the
canonical solution in one of several formats (prose, reasoning, example usage, bare fences,
only the entry point); ``Task.extract`` must turn each into a program that passes the
problem's tests in the real sandbox, as ``Task.program`` builds them for a ``solution``."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from shared_data import SHARED_DATA, need_shared

from harness.sandbox import ExecJob, Limits, open_sandbox
from harness.tasks import Problem, Task, TaskOptions, create_task
from harness.tasks.base import SCRIPT_INSTRUCTION

DATA = {"humaneval": None, "humaneval-plus": SHARED_DATA / "humanevalplus",
        "mbpp": SHARED_DATA / "mbpp", "mbpp-sanitized": SHARED_DATA / "mbpp",
        "mbpp-plus": SHARED_DATA / "mbppplus", "odex": SHARED_DATA / "odex",
        "conala": SHARED_DATA / "conala"}
TREE = Path(__file__).parent / "fixtures" / "docgen_tree"
Answer = Callable[[str, str], str]  # (whole solution, example call) -> chat answer


def task_and_problems(name: str, **args: str) -> tuple[Task, list[Problem]]:
    folder = DATA[name]
    task = create_task(name, TaskOptions(
        data_dir=need_shared(folder) if folder else None, args=args))
    return task, task.load()


# -- answers in the formats chat models write ----------------------------------------------


def prose(code: str, call: str) -> str:
    return (f"Here is a solution to the problem:\n\n```python\n{code.strip()}\n```\n\n"
            f"Example usage:\n\n```python\nprint({call})\n```\n\nThe function runs in linear "
            "time.\n")


def reasoning(code: str, call: str) -> str:
    return (f"<think>\nThe task asks for a function; `{call}` must work. Let me write it:\n"
            "```python\ndef draft(:\n```\nNo, that is wrong.\n</think>\n\n"
            f"```python\n{code.strip()}\n\n\nif __name__ == \"__main__\":\n"
            f"    print({call})\n```\n")


def bare_fence(code: str, call: str) -> str:
    return f"```\n{code.strip()}\n\n# Example\nresult = {call}\nprint(result)\n```"


def markdown_heading(code: str, call: str) -> str:
    return (f"### Solution\n\n```py\n{code.strip()}\n```\n\n### Explanation\n\nCall "
            f"`{call}` to get the result.")


FORMATS: list[Answer] = [prose, reasoning, bare_fence, markdown_heading]


def first_call(source: str, name: str, rename: str | None = None) -> str:
    """The source of the first call of ``name`` in ``source`` (a test), as an example."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return f"{rename or name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
                node.func.id == name):
            text = ast.get_source_segment(source, node) or ""
            if len(text) < 300:
                return (rename or name) + text[len(name):]
    return f"{rename or name}"


def only_function(code: str, name: str) -> str:
    """The definition of ``name`` alone: no imports, no helpers (they are in the prompt)."""
    tree = ast.parse(code)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(code, node) or ""


def humaneval_solution(problem: Problem) -> tuple[str, str]:
    meta = problem.metadata
    return meta["prompt"] + problem.reference, first_call(meta["test"], "candidate",
                                                          meta["entry_point"])


def run_answers(task: Task, cases: Iterable[tuple[Problem, str]]) -> dict[str, str]:
    """Extract each answer, build its program and run it; returns failures (id -> why)."""
    jobs, failures = [], {}
    for number, (problem, answer) in enumerate(cases):
        extraction = task.extract(problem, answer)
        if not extraction.found:
            failures[f"{problem.key}#{number}"] = f"no code found: {extraction.detail}"
            continue
        program = task.program(problem, extraction.code)
        assert program is not None
        jobs.append(ExecJob(f"{problem.key}#{number}", program.source, Limits(timeout_s=60.0),
                            program.libraries))
    with open_sandbox("local", workers=2) as sandbox:
        for job, outcome in sandbox.run(jobs):
            if not outcome.passed:
                failures[job.job_id] = f"{outcome.status.value}: {outcome.detail[:300]}"
    return failures


# -- chat prompts -------------------------------------------------------------------------


def test_humaneval_chat_prompt_is_evalplus_instruction_plus_fenced_problem() -> None:
    task, problems = task_and_problems("humaneval")
    problem = problems[0]
    chat = task.chat_prompt(problem)
    assert chat.text == problem.metadata["prompt"].strip()
    assert chat.messages == ({"role": "user", "content": (
        "Please provide a self-contained Python script that solves the following problem in "
        f"a markdown code block:\n```python\n{chat.text}\n```\n")},)
    assert problem.prompt.text == problem.metadata["prompt"]  # completion prompt unchanged


@pytest.mark.parametrize("name", ["mbpp", "mbpp-sanitized", "mbpp-plus"])
def test_mbpp_chat_prompt_shows_description_and_one_test(name: str) -> None:
    task, problems = task_and_problems(name)
    for problem in problems:
        chat = task.chat_prompt(problem)
        entry = task.entry_point(problem)
        assert chat.text.startswith('"""\n') and chat.text.endswith('\n"""')
        assert chat.text.count("\nassert ") == 1, problem.key
        assert re.search(rf"\b{entry}\s*\(", chat.text), problem.key
        assert chat.messages is not None
        assert chat.messages[0]["content"].startswith(SCRIPT_INSTRUCTION + "\n```python\n")
    if name == "mbpp":
        assert "[BEGIN]" in problems[0].prompt.text  # the 3-shot completion prompt stays
        assert "[BEGIN]" not in task.chat_prompt(problems[0]).text


def test_mbpp_entry_point_is_the_function_the_first_test_calls() -> None:
    task, problems = task_and_problems("mbpp")
    by_key = {p.key: p for p in problems}
    assert task.entry_point(by_key["11"]) == "remove_Occ"
    for problem in problems:  # every entry point is defined by the reference and tested
        entry = task.entry_point(problem)
        assert re.search(rf"^def {entry}\s*\(", problem.reference, re.MULTILINE), problem.key
        assert re.search(rf"\b{entry}\s*\(", problem.metadata["tests"][0]), problem.key


def test_odex_chat_prompt_marks_where_the_code_goes() -> None:
    task, problems = task_and_problems("odex")
    by_key = {p.key: p for p in problems}
    assert task.chat_prompt(by_key["en/0"]).text == (
        'def f_3283984():\n    """decode a hex string \'4a4b4c\' to UTF-8.\n    """\n'
        "    return ...")
    with_suffix = task.chat_prompt(by_key["en/18"]).text
    assert with_suffix.endswith('    """\n    ...\n    return my_float')
    for problem in problems:
        ast.parse(task.chat_prompt(problem).text)  # a valid function, "..." as its body


# -- extraction + execution, every problem ------------------------------------------------


def humaneval_cases(task: Task, problems: list[Problem]) -> list[tuple[Problem, str]]:
    cases = []
    for index, problem in enumerate(problems):
        code, call = humaneval_solution(problem)
        cases.append((problem, FORMATS[index % len(FORMATS)](code, call)))
        # Only the entry point, without the prompt's imports and helpers (HumanEval/50's
        # encode_shift, HumanEval/10's is_palindrome): the extraction adds them back.
        alone = only_function(code, problem.metadata["entry_point"])
        cases.append((problem, f"Sure!\n\n```python\n{alone}\n```\n"))
    return cases


def test_every_humaneval_problem_passes_from_chat_answers() -> None:
    task, problems = task_and_problems("humaneval")
    assert len(problems) == 164
    assert run_answers(task, humaneval_cases(task, problems)) == {}


def mbpp_cases(task: Task, problems: list[Problem], start: int = 0
               ) -> list[tuple[Problem, str]]:
    cases = []
    for index, problem in enumerate(problems, start):
        entry = task.entry_point(problem)
        test = next(line for line in (*problem.metadata.get("tests", ()),
                                      *task.chat_problem(problem).splitlines())
                    if line.startswith("assert"))
        cases.append((problem, FORMATS[index % len(FORMATS)](
            problem.reference, first_call(test, entry))))
    return cases


@pytest.mark.parametrize("name", ["mbpp", "mbpp-plus"])
def test_every_mbpp_problem_passes_from_chat_answers(name: str) -> None:
    """MBPP's test split and MBPP+ (base inputs: the plus inputs test the solutions, not the
    extraction, and take minutes); among them problem 367, whose test setup uses the
    solution's ``Node`` class."""
    task, problems = task_and_problems(name, **({"tests": "base"} if name == "mbpp-plus" else {}))
    assert len(problems) == {"mbpp": 500, "mbpp-plus": 378}[name]
    assert run_answers(task, mbpp_cases(task, problems)) == {}


def test_plus_and_strict_programs_accept_extracted_solutions() -> None:
    """HumanEval+, MBPP+ with plus inputs and strict mode take the whole extracted program."""
    task, problems = task_and_problems("humaneval-plus")
    cases = [(p, prose(p.metadata["prompt"] + p.reference, p.metadata["entry_point"]))
             for p in problems[:20]]
    assert run_answers(task, cases) == {}
    task, problems = task_and_problems("mbpp-plus")
    assert run_answers(task, mbpp_cases(task, problems[:20])) == {}
    for name in ("humaneval", "mbpp"):
        folder = DATA[name]
        task = create_task(name, TaskOptions(data_dir=folder, strict=True))
        problems = task.load()[:10]
        cases = (humaneval_cases(task, problems) if name == "humaneval"
                 else mbpp_cases(task, problems))
        assert run_answers(task, cases) == {}, name


def test_wrong_and_codeless_answers_fail() -> None:
    task, problems = task_and_problems("humaneval")
    problem = problems[0]
    signature = problem.metadata["prompt"].strip().split('"""')[0].strip()
    wrong = f"```python\n{signature}\n    return not True\n```"
    failures = run_answers(task, [(problem, wrong)])
    assert list(failures) == ["HumanEval/0#0"] and failures["HumanEval/0#0"].startswith("fail")
    extraction = task.extract(problem, "I cannot help with that.")
    assert not extraction.found
    mbpp, mbpp_problems = task_and_problems("mbpp")
    problem = mbpp_problems[0]
    wrong = f"```python\ndef {mbpp.entry_point(problem)}(s, ch):\n    return s\n```"
    assert list(run_answers(mbpp, [(problem, wrong)])) == ["11#0"]


def test_odex_chat_answers_pass() -> None:
    """Library-free ODEX examples: the whole function from prompt, reference and suffix."""
    task, problems = task_and_problems("odex", lang="all")
    stdlib = set(sys.stdlib_module_names)
    chosen = [p for p in problems if set(p.metadata["requires"]) <= stdlib
              and not p.metadata["known_issue"]][:30]
    assert any(p.metadata["suffix"].strip() for p in chosen)
    cases = [(p, FORMATS[i % len(FORMATS)](
        task.solution(p, p.reference),
        first_call(task.test_code(p).replace("\t", "    "), "candidate", task.entry_point(p))))
        for i, p in enumerate(chosen)]
    assert run_answers(task, cases) == {}


# -- non-executing tasks ------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "snippet"), [
    ("```python\nx[::-1]\n```\nThis reverses x.\n```python\nlist(reversed(x))\n```", "x[::-1]"),
    ("<think>maybe `sorted(x)`?</think>\n```\n    os.getcwd()\n```", "os.getcwd()"),
    ("os.getcwd()", "os.getcwd()"),
    ("  for x in y:\n    print(x)\n", "for x in y:\n    print(x)"),
    ("You can use `os.listdir(path)` for that.", "os.listdir(path)"),
    ("Use the os module.\n\nIt has what you need.", "Use the os module."),
])
def test_conala_extracts_one_snippet(answer: str, snippet: str) -> None:
    task, problems = task_and_problems("conala")
    assert task.extract(problems[0], answer).code == snippet


def test_conala_chat_answers_around_every_reference_extract_to_it() -> None:
    task, problems = task_and_problems("conala")
    assert len(problems) == 500
    for index, problem in enumerate(problems):
        reference = problem.reference.strip()
        answers = [f"You can do it like this:\n\n```python\n{reference}\n```\n\nThis works.",
                   f"<think>\nThe intent: {problem.metadata['prompt_intent']}\n</think>\n"
                   f"```\n{reference}\n```"]
        for answer in answers:
            assert task.extract(problem, answer).code == reference, (index, answer)


def test_docgen_chat_answers_extract_to_the_reference() -> None:
    task = create_task("docgen", TaskOptions(args={"source": str(TREE), "split": "all",
                                                   "min_tokens": "1"}))
    problems = task.load()
    assert problems
    for problem in problems:
        target = problem.references[0]
        doc = problem.reference
        answers = [
            doc,
            f"Here is the docstring:\n\n```\n{doc}\n```\n",
            f"<think>\nWhat does it do?\n</think>\n\n\"\"\"{doc}\"\"\"",
        ]
        if '"""' not in doc and "\\" not in doc:
            name = problem.metadata["name"].split(".")[-1]
            answers.append(f"```python\ndef {name}():\n    \"\"\"{doc}\"\"\"\n    pass\n```")
        for answer in answers:
            assert task.extract(problem, answer).code == target, (problem.key, answer)
    chat = task.chat_prompt(problems[0])
    assert chat.text == problems[0].metadata["code"]
    assert chat.messages is not None and chat.messages[0]["content"].startswith(
        f"Write a docstring for the following Python {problems[0].metadata['kind']}.")
