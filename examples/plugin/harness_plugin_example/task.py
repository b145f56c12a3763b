"""The ``toy-arith`` task: three one-line functions of ``x``, unit-tested, also scored by
exact match against the reference expression."""

from __future__ import annotations

from pathlib import Path

from harness.records import Prompt
from harness.tasks.base import DatasetFile, Problem, Program, Task
from harness.text import truncate_at_stop

# (function name, reference expression, tests calling the function as f)
PROBLEMS = (
    ("identity", "x", "assert f(3) == 3\nassert f('a') == 'a'"),
    ("square", "x * x", "assert f(3) == 9\nassert f(-2) == 4"),
    ("negate", "-x", "assert f(3) == -3\nassert f(0) == 0"),
)


class ToyArith(Task):
    name = "toy-arith"
    description = "Toy arithmetic: 3 one-line functions of x (pass@k and exact match)"
    version = "1"
    stop_sequences = ("\n",)
    scorers = ("exact_match",)
    default_max_new_tokens = 16

    def load(self) -> list[Problem]:
        # The problems live in this file, so its hash identifies the data.
        self.dataset_files = [DatasetFile.of(Path(__file__))]
        return [
            Problem(
                key=f"toy/{name}",
                task_id=f"toy/{name}",
                prompt=Prompt(f"def {name}(x):\n    return "),
                reference=expression,
                references=(expression,),
                metadata={"entry_point": name, "tests": tests},
            )
            for name, expression, tests in PROBLEMS
        ]

    def postprocess(self, problem: Problem, completion: str) -> str:
        return truncate_at_stop(completion, self.stop_sequences).strip()

    def solution(self, problem: Problem, completion: str) -> str:
        return f"{problem.prompt.text}{completion}\n"

    def program(self, problem: Problem, solution: str) -> Program:
        entry_point = problem.metadata["entry_point"]
        return Program(f"{solution}\nf = {entry_point}\n{problem.metadata['tests']}\n")

    def prediction(self, problem: Problem, completion: str) -> str:
        return self.postprocess(problem, completion)
