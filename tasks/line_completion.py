"""Line and span completion for left-to-right completers, on the HumanEval-Infilling data.

The model sees only the code before the gap (the ``prompt``; an alias ``template`` adds a
control prefix such as ``<python>{prompt}``) and continues it. What is scored is the
completed *span*: the removed middle, extended to the end of its last line when the middle
stops inside a line (random-span), so that the span is whole lines and the rest of the
program can follow it. The completion is cut to as many lines as that span has (the model
is told nothing else, as in CodeXGLUE line-level completion, where the span is one line).

Scores: pass@k by execution, the program being ``prompt + span + rest of the suffix`` plus
the tests, as HumanEval-Infilling builds it; and, as CodeXGLUE reports line completion,
exact match (``exact_match``) and edit similarity (``edit_sim``) of the span against the
reference span (``harness/metrics/line_match.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from harness.errors import HarnessError
from harness.records import Prompt
from harness.tasks.base import Problem
from harness.tasks.humaneval_infilling import HumanEvalInfilling, source_id

NO_CHAT = "(not supported: a left-to-right completion task for completion models)"


def split_span(middle: str, suffix: str) -> tuple[str, str]:
    """(span, rest): the middle extended to the end of the line it ends in, and what of the
    suffix follows. A middle that ends a line (or the file) is the span as it is."""
    if middle.endswith("\n") or not suffix:
        return middle, suffix
    end = suffix.find("\n")
    if end < 0:
        return middle + suffix, ""
    return middle + suffix[: end + 1], suffix[end + 1 :]


def first_lines(text: str, count: int, newline: bool) -> str:
    """The first ``count`` lines of ``text``; with ``newline``, a last line that the model
    left unterminated gets its newline (the rest of the program starts a new line)."""
    kept = "".join(text.splitlines(keepends=True)[:count])
    if newline and kept and not kept.endswith("\n"):
        kept += "\n"
    return kept


class HumanEvalLineCompletion(HumanEvalInfilling):
    name = "humaneval-line-completion"
    description = ("HumanEval-Infilling spans completed left to right from the prefix only: "
                   "pass@k by execution, exact match and edit similarity (CodeXGLUE)")
    version = "1"
    stop_sequences = ()  # the completion is cut to the span's number of lines instead
    scorers: ClassVar[tuple[str, ...]] = ("exact_match", "edit_sim")
    default_max_new_tokens = 256
    chat_instruction = NO_CHAT
    chat_layout = chat_answer = "(none)"

    def make_problem(self, record: dict[str, Any]) -> Problem:
        span, rest = split_span(record["canonical_solution"], record["suffix"])
        prefix = record["prompt"]
        return Problem(
            key=record["task_id"],
            task_id=record["task_id"],
            prompt=Prompt(prefix),
            reference=span,
            references=(span,),
            metadata={"prefix": prefix, "suffix": rest, "test": record["test"],
                      "entry_point": record["entry_point"],
                      "source_id": source_id(record["task_id"]),
                      "span_lines": len(span.splitlines()) or 1},
        )

    def postprocess(self, problem: Problem, completion: str) -> str:
        span_lines = int(problem.metadata["span_lines"])
        return first_lines(completion, span_lines, newline=problem.reference.endswith("\n"))

    def prediction(self, problem: Problem, completion: str) -> str:
        return completion

    def chat_prompt(self, problem: Problem) -> Prompt:
        raise HarnessError(f"{self.name} {NO_CHAT}")


__all__ = ["HumanEvalLineCompletion", "first_lines", "split_span"]
