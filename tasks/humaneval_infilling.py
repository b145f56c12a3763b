"""HumanEval-Infilling (Bavarian et al., 2022, "Efficient Training of Language Models to Fill
in the Middle"): a span of each HumanEval solution is removed and the model writes it, given
the code before (``prompt``) and after (``suffix``) the gap.

Four benchmarks (``--task-arg benchmark=...``): single-line (1,033 tasks), multi-line
(5,815), random-span (1,640) and random-span-light (164). Programs are built as the
reference evaluator (``openai/human-eval-infilling``, ``execution.py``) builds them:
``prompt + middle + suffix + "\\n" + test + "\\n" + "check(entry_point)"``; a program passes
when it runs to its end. As in the paper, pass@k is averaged over tasks (many tasks share
one HumanEval problem).

Models are asked in their fill-in-the-middle format (the alias's ``fim`` field, see
``harness/fim.py``): each problem carries ``metadata["fim"] = {"prefix", "suffix"}``, which
the generation stage renders. The middle ends at the model's end-of-middle token;
post-processing cuts there and strips nothing (the middle's indentation and trailing
newline belong to it). For left-to-right models see ``humaneval-line-completion``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from harness.errors import HarnessError
from harness.fim import cut_at_end_of_middle
from harness.records import Prompt
from harness.tasks.base import EVALUATOR_LIBRARIES, DatasetFile, Problem, Program, Task
from harness.tasks.data import locate, read_jsonl
from harness.tasks.options import OptionsModel

Benchmark = Literal["single-line", "multi-line", "random-span", "random-span-light"]

# The committed data files, and the names the reference evaluator's data.py uses for them.
DATA_FILES: dict[str, tuple[str, ...]] = {
    "single-line": ("HumanEval-SingleLineInfilling.jsonl.gz",),
    "multi-line": ("HumanEval-MultiLineInfilling.jsonl.gz",),
    "random-span": ("HumanEval-RandomSpanInfilling.jsonl.gz", "HumanEval-RandomSpan.jsonl.gz"),
    "random-span-light": ("HumanEval-RandomSpanInfillingLight.jsonl.gz",
                          "HumanEval-RandomSpanLight.jsonl.gz"),
}
ID_PREFIX = {"single-line": "SingleLineInfilling", "multi-line": "MultiLineInfilling",
             "random-span": "RandomSpanInfilling", "random-span-light": "RandomSpanInfillingLight"}
SUBDIR = "humaneval-infilling"
NO_CHAT = ("(not supported: infilling tasks need a completion model with a fill-in-the-middle "
           "format, the alias's `fim` field)")


class InfillingOptions(OptionsModel):
    benchmark: Benchmark = Field(
        "single-line", description="which span is removed: single-line (1,033 tasks), "
        "multi-line (5,815), random-span (1,640) or random-span-light (164)")


def source_id(task_id: str) -> str:
    """The HumanEval problem an infilling task comes from: ``.../HumanEval/7/L0`` ->
    ``HumanEval/7``."""
    match = re.search(r"HumanEval/\d+", task_id)
    return match.group(0) if match else task_id


class HumanEvalInfilling(Task):
    name = "humaneval-infilling"
    description = ("HumanEval-Infilling: fill in a removed span of a HumanEval solution "
                   "(single-line, multi-line, random-span), FIM prompts, unit-tested (pass@k)")
    version = "1"
    stop_sequences = ()  # the model's end-of-middle token ends the middle
    default_max_new_tokens = 256
    Options: ClassVar[type[OptionsModel]] = InfillingOptions
    args: InfillingOptions
    chat_instruction = NO_CHAT
    chat_layout = chat_answer = "(none)"

    def data_path(self) -> Path:
        return locate(list(DATA_FILES[self.args.benchmark]), subdir=SUBDIR, options=self.options)

    def load(self) -> list[Problem]:
        path = self.data_path()
        self.dataset_files = [DatasetFile.of(path)]
        problems = [self.make_problem(record) for record in read_jsonl(path)]
        if len({p.key for p in problems}) != len(problems):
            raise HarnessError(f"{path}: task ids repeat; is it a HumanEval-Infilling file?")
        return problems

    def make_problem(self, record: dict[str, Any]) -> Problem:
        prefix, suffix = record["prompt"], record["suffix"]
        return Problem(
            key=record["task_id"],
            task_id=record["task_id"],
            prompt=Prompt(prefix),
            reference=record["canonical_solution"],
            references=(record["canonical_solution"],),
            metadata={"prefix": prefix, "suffix": suffix, "test": record["test"],
                      "entry_point": record["entry_point"],
                      "source_id": source_id(record["task_id"]),
                      "fim": {"prefix": prefix, "suffix": suffix}},
        )

    def postprocess(self, problem: Problem, completion: str) -> str:
        return cut_at_end_of_middle(completion)

    def solution(self, problem: Problem, completion: str) -> str:
        return f"{problem.metadata['prefix']}{completion}{problem.metadata['suffix']}"

    def program(self, problem: Problem, solution: str) -> Program:
        meta = problem.metadata
        # solution() already joined prefix + middle + suffix; what follows is the evaluator's.
        return Program(f"{solution}\n{meta['test']}\ncheck({meta['entry_point']})\n",
                       libraries=EVALUATOR_LIBRARIES)

    def chat_prompt(self, problem: Problem) -> Prompt:
        raise HarnessError(f"{self.name} {NO_CHAT}")

    def chat_problem(self, problem: Problem) -> str:
        """The problem as a whole (what contamination checks read): the code around the
        gap, with the canonical middle in it."""
        return self.solution(problem, problem.reference)

    def shown_code(self, problem: Problem) -> str:
        return f"{problem.metadata['prefix']}\n{problem.metadata['suffix']}"

    def test_code(self, problem: Problem) -> str:
        return f"{problem.metadata['test']}\ncheck({problem.metadata['entry_point']})\n"

    def normalize_task_id(self, raw: Any) -> str:
        """``SingleLineInfilling/HumanEval/0/L0``, or without the benchmark part
        (``HumanEval/0/L0``)."""
        text = str(raw).strip()
        if text.startswith("HumanEval/") and text.count("/") >= 2:
            return f"{ID_PREFIX[self.args.benchmark]}/{text}"
        return text


__all__ = ["DATA_FILES", "HumanEvalInfilling", "InfillingOptions", "source_id"]
