"""MBPP+ (EvalPlus v0.2.0): 378 sanitized MBPP problems with extra test inputs."""

from __future__ import annotations

from typing import Any

from harness.records import Prompt
from harness.tasks.base import DatasetFile, Problem
from harness.tasks.compare import MBPP_OUTPUT_NOT_NONE_TASKS, MBPP_OUTPUT_SET_EQ_TASKS
from harness.tasks.data import locate, read_jsonl
from harness.tasks.mbpp import MBPP, mbpp_number
from harness.tasks.plus import PlusTask

# Problems whose outputs EvalPlus compares specially (order-free, or match-object truthiness),
# for the in-process fallback; checking outside uses harness.tasks.compare directly.
SET_EQUAL = set(MBPP_OUTPUT_SET_EQ_TASKS)
NOT_NONE = set(MBPP_OUTPUT_NOT_NONE_TASKS)


# MBPP+ stores tuples, sets and complex numbers as JSON lists and strings; these problems
# need their argument types restored (the same rules as EvalPlus's input deserializer).
TUPLE_ARGS = {2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596,
              616, 630, 726, 740, 744, 809}
TUPLES_IN_LIST_ARGS = {63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780}
FIRST_ARG_TUPLES = {75, 413, 444, 753}
FIRST_ARG_TUPLE = {250, 405, 446, 617, 720, 763, 808}
NESTED_THEN_TUPLES = {259, 401, 445}
ALL_TUPLES = {580, 615, 791}


def deep_tuple(value: Any) -> Any:
    return tuple(deep_tuple(v) for v in value) if isinstance(value, list) else value


def restore_input_types(number: int, inputs: list[Any]) -> list[Any]:
    if number in TUPLE_ARGS:
        return [[tuple(arg) for arg in args] for args in inputs]
    if number in TUPLES_IN_LIST_ARGS:
        return [[[tuple(x) for x in arg] for arg in args] for args in inputs]
    if number in FIRST_ARG_TUPLES:
        return [[[tuple(x) for x in args[0]], args[1]] for args in inputs]
    if number in (106, 750):
        return [[args[0], tuple(args[1])] for args in inputs]
    if number == 115:  # empty members become {} (an empty dict), as EvalPlus does
        return [[[set(x) if isinstance(x, list) and x else {} for x in args[0]]]
                for args in inputs]
    if number == 124:
        return [(float(args[0]), complex(args[1])) for args in inputs]
    if number in FIRST_ARG_TUPLE:
        return [[tuple(args[0]), args[1]] for args in inputs]
    if number in NESTED_THEN_TUPLES:
        return [[tuple(tuple(x) for x in arg) for arg in args] for args in inputs]
    if number == 278:
        return [[tuple(tuple(x) if isinstance(x, list) else x for x in args[0])]
                for args in inputs]
    if number == 307:
        return [[tuple(args[0]), args[1], args[2]] for args in inputs]
    if number == 722:
        return [[{k: tuple(v) for k, v in args[0].items()}, *args[1:]] for args in inputs]
    if number == 252:
        return [[complex(args[0])] for args in inputs]
    if number in ALL_TUPLES:
        return [deep_tuple(args) for args in inputs]
    return inputs


class MBPPPlus(PlusTask):
    name = "mbpp-plus"
    description = "MBPP+ (EvalPlus): 378 MBPP problems with base + plus test inputs"
    dataset = "mbpp"
    version = "0.2.0"
    stop_sequences = ("\nassert", "\nif __name__", "\nprint(", "\n```")
    scorers = ("codebleu", "bleu")

    def load(self) -> list[Problem]:
        path = locate(["MbppPlus-v0.2.0.jsonl.gz", "MbppPlus.jsonl.gz", "MbppPlus.jsonl"],
                      subdir="mbppplus", options=self.options)
        self.dataset_files = [DatasetFile.of(path)]
        return [self.make_problem(record) for record in read_jsonl(path)]

    def make_problem(self, record: dict[str, Any]) -> Problem:
        entry = record["entry_point"]
        checker = "set" if entry in SET_EQUAL else "not_none" if entry in NOT_NONE else "eq"
        code = record["canonical_solution"].strip("\n") + "\n"
        return Problem(
            key=record["task_id"],
            task_id=record["task_id"],
            # EvalPlus's prompt: the docstring with one example assert; the model writes code.
            prompt=Prompt(record["prompt"].strip() + "\n"),
            reference=code,
            references=(code,),
            metadata={"entry_point": entry, "inputs": self.selected_inputs(record),  # typed
                      "segments": self.segments(record),
                      "atol": record.get("atol") or 0, "checker": checker,
                      "reference_code": code},
        )

    postprocess = MBPP.postprocess

    def selected_inputs(self, record: dict[str, Any]) -> list[Any]:
        number = mbpp_number(record["task_id"]) or 0
        plus = record["plus_input"] if isinstance(record["plus_input"], list) else []
        typed = {**record, "base_input": restore_input_types(number, record["base_input"]),
                 "plus_input": restore_input_types(number, plus)}
        return super().selected_inputs(typed)

    def normalize_task_id(self, raw: Any) -> str:
        number = mbpp_number(raw)
        return f"Mbpp/{number}" if number is not None else str(raw)
