"""EvalPlus-style tasks (HumanEval+, MBPP+): test inputs from the dataset, expected outputs
from the canonical solution, outputs compared with tolerance for floats; strict mode also
compares types.

The test program computes the expected outputs itself: it runs the reference solution on
every input in its own namespace *before* the candidate's code is defined, then runs the
candidate. Embedding precomputed outputs instead would make programs huge (HumanEval+
outputs pickle to ~250 MB), while the inputs alone are at most ~200 KB per problem."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from harness.tasks.base import EVALUATOR_LIBRARIES, Problem, Program, Task
from harness.tasks.checking import COMPARE_SOURCE, embed
from harness.tasks.judge import Checker, OutputChecker
from harness.tasks.options import OptionsModel

# How a problem's outputs are compared: "eq" (default), "set" (order-free), "not_none"
# (truthiness of a match object), "poly" (HumanEval/32: any root of the polynomial).
CHECKERS = {
    "eq": "_harness_equal(out, exp, atol, strict)",
    "set": "_harness_equal(set(out), set(exp), atol, False)",
    "not_none": "_harness_equal(out if isinstance(out, bool) else out is not None, "
                "exp if isinstance(exp, bool) else exp is not None, 0, strict)",
    "poly": "assert isinstance(out, float) or not strict, 'type mismatch'\n"
            "        assert abs(sum(c * out ** i for i, c in enumerate(args[0])))"
            " <= (atol or 1e-6)",
}


def plus_program(solution: str, reference: str, entry_point: str, inputs: list[Any],
                 atol: float, strict: bool, checker: str = "eq") -> str:
    return f"""import copy as _harness_copy

_harness_inputs = {embed(inputs)}
_harness_reference = {{"__name__": "__reference__"}}
exec(compile({reference!r}, "<reference>", "exec"), _harness_reference)
_harness_expected = [_harness_reference[{entry_point!r}](*_harness_copy.deepcopy(args))
                     for args in _harness_inputs]
del _harness_reference

{solution}

{COMPARE_SOURCE}

def _harness_run_tests(fn, inputs, expected, strict):
    atol = {atol!r}
    for args, exp in zip(inputs, expected):
        out = fn(*_harness_copy.deepcopy(args))
        {CHECKERS[checker]}


_harness_run_tests({entry_point}, _harness_inputs, _harness_expected, {strict!r})
"""


class PlusOptions(OptionsModel):
    tests: Literal["base", "plus"] = Field(
        "plus", description="base: the original benchmark's test inputs only; plus: base and "
        "EvalPlus's extra inputs")


class PlusTask(Task):
    """Shared program building for HumanEval+/MBPP+. Subclasses fill metadata with
    ``entry_point``, ``inputs`` (base + plus as selected), ``atol``, ``checker`` and
    ``reference_code`` (the complete reference program)."""

    Options: ClassVar[type[OptionsModel]] = PlusOptions
    args: PlusOptions

    def selected_inputs(self, record: dict[str, Any]) -> list[Any]:
        plus = record["plus_input"] if isinstance(record["plus_input"], list) else []
        return list(record["base_input"]) + (list(plus) if self.args.tests == "plus" else [])

    def segments(self, record: dict[str, Any]) -> list[int]:
        """Sizes of the input segments evalplus checks separately: base, then plus."""
        plus = record["plus_input"] if isinstance(record["plus_input"], list) else []
        return [len(record["base_input"]), *([len(plus)] if self.args.tests == "plus" else [])]

    dataset: ClassVar[str]  # evalplus's name for the special oracles: humaneval or mbpp

    def checker(self, problem: Problem) -> Checker:
        meta = problem.metadata
        checker = OutputChecker(dataset=self.dataset, reference_code=meta["reference_code"],
                                entry_point=meta["entry_point"], inputs=meta["inputs"],
                                atol=meta["atol"], strict=self.options.strict,
                                segments=meta.get("segments", ()))
        checker.libraries = EVALUATOR_LIBRARIES
        return checker

    def program(self, problem: Problem, solution: str) -> Program:
        meta = problem.metadata
        return Program(plus_program(solution, meta["reference_code"], meta["entry_point"],
                                    meta["inputs"], meta["atol"], self.options.strict,
                                    meta.get("checker", "eq")),
                       libraries=EVALUATOR_LIBRARIES)
