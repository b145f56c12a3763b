"""HumanEval+ (EvalPlus v0.1.10): HumanEval prompts with the base and ~80x more test inputs."""

from __future__ import annotations

from typing import Any

from harness.records import Prompt
from harness.tasks.base import DatasetFile, Problem
from harness.tasks.data import read_jsonl
from harness.tasks.humaneval import HUMANEVAL_STOP, HumanEval, locate_humanevalplus
from harness.tasks.plus import PlusTask


class HumanEvalPlus(PlusTask):
    name = "humaneval-plus"
    description = "HumanEval+ (EvalPlus): HumanEval with base + plus test inputs, outputs " \
                  "checked against the canonical solution's"
    dataset = "humaneval"
    version = "0.1.10"
    stop_sequences = HUMANEVAL_STOP

    def load(self) -> list[Problem]:
        path = locate_humanevalplus(self)
        self.dataset_files = [DatasetFile.of(path)]
        return [self.make_problem(record) for record in read_jsonl(path)]

    def make_problem(self, record: dict[str, Any]) -> Problem:
        checker = "poly" if record["entry_point"] == "find_zero" else "eq"
        return Problem(
            key=record["task_id"],
            task_id=record["task_id"],
            prompt=Prompt(record["prompt"]),
            reference=record["canonical_solution"],
            references=(record["canonical_solution"],),
            metadata={"prompt": record["prompt"], "entry_point": record["entry_point"],
                      "inputs": self.selected_inputs(record), "segments": self.segments(record),
                      "atol": record.get("atol") or 0,
                      "checker": checker,
                      "reference_code": record["prompt"] + record["canonical_solution"]},
        )

    postprocess = HumanEval.postprocess
    solution = HumanEval.solution
    normalize_task_id = HumanEval.normalize_task_id
    shown_code = HumanEval.shown_code
