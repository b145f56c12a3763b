"""Task plugins, registered by name; third-party packages add theirs via the
``harness.tasks`` entry-point group."""

from __future__ import annotations

from harness.registry import Registry
from harness.tasks.base import DatasetFile, Problem, Program, Task, TaskOptions

tasks: Registry[type[Task]] = Registry(
    "task",
    "harness.tasks",
    {
        "humaneval": "harness.tasks.humaneval:HumanEval",
        "humaneval-plus": "harness.tasks.humaneval_plus:HumanEvalPlus",
        "humaneval-infilling": "harness.tasks.humaneval_infilling:HumanEvalInfilling",
        "humaneval-line-completion": "harness.tasks.line_completion:HumanEvalLineCompletion",
        "mbpp": "harness.tasks.mbpp:MBPP",
        "mbpp-sanitized": "harness.tasks.mbpp:MBPPSanitized",
        "mbpp-plus": "harness.tasks.mbpp_plus:MBPPPlus",
        "odex": "harness.tasks.odex:ODEX",
        "conala": "harness.tasks.conala:CoNaLa",
        "docgen": "harness.tasks.docgen:DocGen",
    },
)


def create_task(name: str, options: TaskOptions | None = None) -> Task:
    return tasks.get(name)(options)


__all__ = ["DatasetFile", "Problem", "Program", "Task", "TaskOptions", "create_task", "tasks"]
