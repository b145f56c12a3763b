"""MBPP (Austin et al., 2021): the full test split (task ids 11-510) with the paper's 3-shot
prompt, and the hand-checked sanitized subset."""

from __future__ import annotations

import ast
import builtins
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from harness.errors import HarnessError
from harness.io import JSON_ERRORS, atomic_write_text, json_problem
from harness.records import Prompt
from harness.tasks.base import EVALUATOR_LIBRARIES, DatasetFile, Problem, Program, Task
from harness.tasks.checking import strict_program
from harness.tasks.data import locate, read_jsonl
from harness.tasks.judge import Checker, ReplayChecker
from harness.tasks.literal_calls import LiteralCallsChecker, set_literal_calls, setup_calls
from harness.tasks.options import OptionsModel

TEST_IDS = range(11, 511)
FEW_SHOT_IDS = (2, 3, 4)  # the paper's prompt examples
HUB_ID = "google-research-datasets/mbpp"


def normalize_code(code: str) -> str:
    """The full set stores code with Windows line endings."""
    return code.replace("\r\n", "\n").rstrip() + "\n"


def mbpp_number(raw: Any) -> int | None:
    """11, "11", "MBPP/11", "Mbpp/11" -> 11."""
    match = re.fullmatch(r"(?i)\s*(?:mbpp[/_-])?(\d+)\s*", str(raw))
    return int(match.group(1)) if match else None


def defined_functions(code: str) -> list[str]:
    return re.findall(r"^def\s+(\w+)\s*\(", code, flags=re.MULTILINE)


def called_functions(tests: list[str], code: str) -> list[str]:
    """Functions of the reference code that the tests call: the entry points."""
    names = defined_functions(code)
    called = [n for n in names if any(re.search(rf"\b{n}\s*\(", t) for t in tests)]
    return called or names[-1:]


def called_in_test(test: str, code: str) -> str | None:
    """The function an assert tests: the first name it calls that the reference code
    defines, else the first that is not a builtin (``assert set(f(x)) == ...`` tests f)."""
    try:
        tree = ast.parse(test)
    except SyntaxError:
        return None
    calls = sorted((node for node in ast.walk(tree)
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)),
                   key=lambda node: (node.lineno, node.col_offset))
    names = [node.func.id for node in calls if isinstance(node.func, ast.Name)]
    defined = set(defined_functions(code))
    return (next((n for n in names if n in defined), None)
            or next((n for n in names if not hasattr(builtins, n)), None))


def chat_problem_text(description: str, test: str) -> str:
    """EvalPlus's MBPP prompt: the description and one test in a docstring, so that the
    model learns the function's name and signature."""
    return f'"""\n{description.strip()}\n{test.strip()}\n"""'


def example_block(description: str, tests: list[str], code: str | None) -> str:
    tests_text = "\n".join(tests)
    head = (f"You are an expert Python programmer, and here is your task: {description} "
            f"Your code should pass these tests:\n\n{tests_text}\n")
    return head + (f"[BEGIN]\n{code.rstrip()}\n[DONE]\n" if code is not None else "[BEGIN]\n")


def export_mbpp(config: str, writer: Callable[[list[dict[str, Any]], Path], None]) -> Any:
    def export(target: Path) -> None:
        import datasets

        rows: list[dict[str, Any]] = []
        for split in ("train", "test", "validation", "prompt"):
            rows.extend(dict(r) for r in datasets.load_dataset(HUB_ID, config, split=split))
        writer(sorted(rows, key=lambda r: r["task_id"]), target)

    return export


def _write_jsonl(rows: list[dict[str, Any]], target: Path) -> None:
    atomic_write_text(target, "".join(json.dumps(r) + "\n" for r in rows))


def _write_json(rows: list[dict[str, Any]], target: Path) -> None:
    atomic_write_text(target, json.dumps(rows))


class MBPPOptions(OptionsModel):
    challenge_tests: bool = Field(
        False, description="also run the dataset's challenge_test_list (harder tests; only "
        "some problems have them)")


class MBPP(Task):
    name = "mbpp"
    description = "MBPP: 500 basic Python problems (ids 11-510), 3-shot [BEGIN]/[DONE] prompt"
    version = "1"
    stop_sequences = ("[DONE]",)
    scorers = ("codebleu", "bleu")
    default_max_new_tokens = 512
    Options: ClassVar[type[OptionsModel]] = MBPPOptions
    args: MBPPOptions

    def data_path(self) -> Path:
        return locate("mbpp.jsonl", subdir="mbpp", options=self.options,
                      hub=(HUB_ID, export_mbpp("full", _write_jsonl)))

    def read_records(self, path: Path) -> list[dict[str, Any]]:
        return list(read_jsonl(path))

    def description_of(self, record: dict[str, Any]) -> str:
        return str(record["text"])

    def load(self) -> list[Problem]:
        path = self.data_path()
        self.dataset_files = [DatasetFile.of(path)]
        records = {int(r["task_id"]): r for r in self.read_records(path)}
        missing = [i for i in FEW_SHOT_IDS if i not in records]
        if missing:
            raise HarnessError(f"{path}: few-shot problems {missing} missing; is it the full file?")
        shots = "".join(
            example_block(self.description_of(records[i]), records[i]["test_list"],
                          normalize_code(records[i]["code"]))
            for i in FEW_SHOT_IDS
        )
        return [self.make_problem(records[i], shots) for i in sorted(records) if i in TEST_IDS]

    def tests_of(self, record: dict[str, Any]) -> list[str]:
        tests = list(record["test_list"])
        if self.args.challenge_tests:
            tests += record.get("challenge_test_list") or []
        return tests

    def make_problem(self, record: dict[str, Any], shots: str) -> Problem:
        code = normalize_code(record["code"])
        prompt_tests = list(record["test_list"])
        tests = self.tests_of(record)
        entry_points = called_functions(tests, code)
        return Problem(
            key=str(record["task_id"]),
            task_id=str(record["task_id"]),
            prompt=Prompt(shots + example_block(self.description_of(record), prompt_tests, None)),
            reference=code,
            references=(code,),
            metadata={
                "tests": tests,
                "setup": (record.get("test_setup_code") or "").replace("\r\n", "\n"),
                "imports": list(record.get("test_imports") or []),
                "entry_points": entry_points,
                "entry_point": called_in_test(prompt_tests[0], code) or entry_points[0],
                "chat_problem": chat_problem_text(self.description_of(record), prompt_tests[0]),
            },
        )

    def postprocess(self, problem: Problem, completion: str) -> str:
        text = completion.split("[DONE]")[0]
        text = text.replace("[BEGIN]", "")
        fence = re.search(r"```(?:python)?\n(.*?)(?:```|$)", text, flags=re.DOTALL)
        return (fence.group(1) if fence else text).strip("\n") + "\n"

    def program(self, problem: Problem, solution: str) -> Program:
        meta = problem.metadata
        if self.options.strict:
            solution = strict_program(solution, problem.reference, meta["entry_points"])
        parts = [*meta["imports"], solution, meta["setup"], *meta["tests"]]
        return Program("\n".join(p for p in parts if p) + "\n", libraries=EVALUATOR_LIBRARIES)

    def checker(self, problem: Problem) -> Checker | None:
        meta = problem.metadata
        imports = "\n".join(meta["imports"])
        test, names, setup = "\n".join(meta["tests"]), meta["entry_points"], meta["setup"]
        # A set literal passed to a function under test is built by the test's own code in
        # the candidate's process (its iteration order is part of the input), as are the
        # arguments test_setup_code builds (problem 367's trees).
        if setup.strip():
            calls = setup_calls(test, setup, names)
            if calls is None:
                return None  # the tests run in the candidate's process (labelled)
        else:
            calls = set_literal_calls(test, names)
        checker: ReplayChecker
        if calls is None:
            checker = ReplayChecker(reference_code=problem.reference, test=test, names=names,
                                    strict=self.options.strict, prelude=imports, module=imports)
        else:
            checker = LiteralCallsChecker(calls=calls, reference_code=problem.reference,
                                          test=test, names=names, strict=self.options.strict,
                                          prelude=imports, module=imports, setup=setup)
        checker.libraries = EVALUATOR_LIBRARIES
        return checker

    def prediction(self, problem: Problem, completion: str) -> str:
        return completion

    # Chat mode: the description and first test (not the few-shot prompt); the tests' own
    # imports count as shown, the setup code as test code (problem 367's uses ``Node``).

    def chat_problem(self, problem: Problem) -> str:
        return str(problem.metadata["chat_problem"])

    def shown_code(self, problem: Problem) -> str:
        return "\n".join(problem.metadata["imports"])

    def test_code(self, problem: Problem) -> str:
        return "\n".join(p for p in (problem.metadata["setup"], *problem.metadata["tests"]) if p)

    def normalize_task_id(self, raw: Any) -> str:
        """``11``, ``MBPP/11``, ``Mbpp/11``: this task's ids only (``HumanEval/11`` stays as
        it is, so that a samples file of another benchmark is reported, not scored)."""
        number = mbpp_number(raw)
        return str(number) if number is not None else str(raw)


class MBPPSanitized(MBPP):
    name = "mbpp-sanitized"
    description = "MBPP sanitized: 257 hand-verified test problems, 3-shot prompt"

    def data_path(self) -> Path:
        return locate("sanitized-mbpp.json", subdir="mbpp", options=self.options,
                      hub=(HUB_ID, export_mbpp("sanitized", _write_json)))

    def read_records(self, path: Path) -> list[dict[str, Any]]:
        try:
            records: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        except JSON_ERRORS as exc:
            raise HarnessError(f"{path}: not valid JSON: {json_problem(exc)}") from exc
        return records

    def description_of(self, record: dict[str, Any]) -> str:
        return str(record["prompt"])
