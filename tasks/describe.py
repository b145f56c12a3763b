"""What ``harness tasks`` prints: the task list, one task in detail, and the options listing
of ``harness tasks --help``. Works on task classes, so nothing is loaded."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from harness.tasks import Task, tasks
from harness.tasks.options import option_rows

WIDTH = 100


def chat_style(task: type[Task]) -> dict[str, str]:
    return {"instruction": task.chat_instruction, "layout": task.chat_layout,
            "answer": task.chat_answer}


def task_row(name: str, task: type[Task]) -> dict[str, Any]:
    """One task as JSON: its options as a JSON schema."""
    return {"name": name, "description": task.description, "executes": task.executes,
            "scorers": list(task.scorers), "options": task.Options.model_json_schema(),
            "chat": chat_style(task)}


def options_lines(task: type[Task], indent: str = "  ") -> list[str]:
    rows = option_rows(task.Options)
    if not rows:
        return [f"{indent}(none)"]
    lines = []
    for row in rows:
        lines.append(f"{indent}{row['name']}: {row['type']} (default {row['default']})")
        lines += textwrap.wrap(row["description"], WIDTH, initial_indent=indent + "    ",
                               subsequent_indent=indent + "    ")
    return lines


def describe(name: str) -> str:
    """``harness tasks NAME``: description, options, execution, scorers and chat style."""
    task = tasks.get(name)
    scoring = "executes its tests (pass@k)" if task.executes else "does not execute"
    scorers = ", ".join(task.scorers) or "none"
    lines = [
        f"{name}: {task.description}",
        "",
        f"execution: {scoring}",
        f"reference scorers: {scorers}",
        "",
        "options (--task-arg KEY=VALUE):",
        *options_lines(task),
        "",
        "chat prompt (--chat; an alias template's {prompt} gets the problem alone):",
        *wrapped("instruction", task.chat_instruction),
        *wrapped("message", task.chat_layout),
        *wrapped("answer", task.chat_answer),
    ]
    return "\n".join(lines)


def wrapped(label: str, text: str) -> list[str]:
    return textwrap.wrap(f"{label}: {text}", WIDTH, initial_indent="  ",
                         subsequent_indent="    ")


def options_help() -> str:
    """The options of every task, for ``harness tasks --help``."""
    lines = ["task options (--task-arg KEY=VALUE; `harness tasks NAME` shows more):"]
    for name in tasks.names():
        lines.append(f"  {name}")
        lines += options_lines(tasks.get(name), indent="    ")
    return "\n".join(lines)


class TasksHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Adds the task options listing to ``harness tasks --help`` only when help is shown
    (usage lines in error messages stay short, and nothing is imported before)."""

    EPILOG = "@task-options@"

    def add_text(self, text: str | None) -> None:
        super().add_text(options_help() if text == self.EPILOG else text)


__all__ = ["TasksHelpFormatter", "describe", "options_help", "task_row"]
