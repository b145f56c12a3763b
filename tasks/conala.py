"""CoNaLa (Yin et al., MSR 2018), curated split: natural-language intent -> Python snippet.

No tests: scored against the reference snippet with BLEU and CodeBLEU. The model input is
``rewritten_intent``, or ``intent`` where that is null (23 of 500 test records).
``question_id`` repeats (500 test records cover 364 questions), so problems are keyed by
position in the file (``"0"`` ... ``"499"``) unless every id in the file is unique.
"""

from __future__ import annotations

import ast
import json
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from harness.errors import HarnessError
from harness.io import JSON_ERRORS, atomic_write_text, json_problem
from harness.records import Prompt
from harness.sanitize import Extraction, code_blocks, strip_reasoning
from harness.tasks.base import DatasetFile, Problem, Task, TaskOptions, text_extraction
from harness.tasks.data import HubExporter, locate
from harness.tasks.options import OptionsModel

HUB_ID = "neulab/conala"
HUB_CONFIG = "curated"
SPLIT_FILES = {"test": "conala-test.json", "train": "conala-train.json"}

INSTRUCTION = (
    "Write a short Python snippet, usually a single line, that does what the task asks. "
    "Reply with the code only."
)
PROMPT_TEMPLATE = INSTRUCTION + "\n\nTask: {intent}\nCode:\n"
CHAT_INSTRUCTION = (
    "Write a short Python snippet, usually a single line, that does what the task asks. "
    "Reply with the code only, in a markdown code block."
)
CHAT_TEMPLATE = CHAT_INSTRUCTION + "\n\nTask: {intent}"
INLINE_CODE = re.compile(r"`([^`\n]+)`")


def extract_snippet(completion: str) -> str:
    """The first fenced code block if there is one, else the text up to the first blank line."""
    lines = completion.split("\n")
    for start, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            body = []
            for inner in lines[start + 1 :]:
                if inner.lstrip().startswith("```"):
                    break
                body.append(inner)
            return textwrap.dedent("\n".join(body)).strip("\n").rstrip()
    return completion.strip("\n").split("\n\n", 1)[0].rstrip()


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def chat_snippet(answer: str) -> str:
    """The snippet in a chat answer (the reference is one line of code, so one piece is
    taken): reasoning dropped, then the first fenced code block; without one, the answer
    itself if it is Python, else its first inline code span, else its first paragraph."""
    text = strip_reasoning(answer).strip()
    blocks = [block for block in code_blocks(text) if block.strip()]
    if blocks:
        return textwrap.dedent(blocks[0]).strip("\n").rstrip()
    if parses(text):
        return text
    inline = INLINE_CODE.search(text)
    if inline:
        return inline.group(1).strip()
    return text.split("\n\n", 1)[0].rstrip()


def read_records(path: Path) -> list[dict[str, Any]]:
    """The original JSON array, or JSON lines (one record per line)."""
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except JSON_ERRORS as exc:
        raise HarnessError(f"{path}: not CoNaLa JSON: {json_problem(exc)}") from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise HarnessError(f"{path}: expected a JSON array of CoNaLa records")
    return records


def export_from_hub(split: str) -> HubExporter:
    """Save the hub copy of a split in the original format (a JSON array)."""

    def export(target: Path) -> None:
        import datasets  # heavy; only imported when a download is needed

        rows = datasets.load_dataset(HUB_ID, HUB_CONFIG, split=split)
        atomic_write_text(target, json.dumps([dict(row) for row in rows], indent=2))

    return export


class CoNaLaOptions(OptionsModel):
    split: Literal["test", "train"] = Field(
        "test", description="which curated split to evaluate (500 or 2,379 examples)")


class CoNaLa(Task):
    name: ClassVar[str] = "conala"
    description: ClassVar[str] = "CoNaLa curated: intent -> Python snippet, BLEU and CodeBLEU"
    executes: ClassVar[bool] = False
    scorers: ClassVar[tuple[str, ...]] = ("bleu", "codebleu")
    stop_sequences: ClassVar[tuple[str, ...]] = ("\nTask:",)
    default_max_new_tokens: ClassVar[int] = 128
    Options: ClassVar[type[OptionsModel]] = CoNaLaOptions
    args: CoNaLaOptions
    chat_instruction: ClassVar[str] = CHAT_INSTRUCTION
    chat_layout: ClassVar[str] = "the instruction, a blank line, then 'Task: <intent>'"
    chat_answer: ClassVar[str] = (
        "the snippet: the first fenced code block; without one the answer if it parses as "
        "Python, else its first `inline code`, else its first paragraph")

    def __init__(self, options: TaskOptions | None = None) -> None:
        super().__init__(options)
        self._keys: list[str] | None = None  # problem keys in file order, set by load()
        self._keys_by_task_id: dict[str, list[str]] = {}
        self._known_keys: set[str] = set()

    def load(self) -> list[Problem]:
        split = self.args.split
        path = locate(
            SPLIT_FILES[split],
            subdir="conala",
            options=self.options,
            hub=(HUB_ID, export_from_hub(split)),
        )
        records = read_records(path)
        self.dataset_files = [DatasetFile.of(path)]
        task_ids = [str(self._field(path, i, r, "question_id")) for i, r in enumerate(records)]
        by_position = len(set(task_ids)) < len(task_ids)
        problems = []
        for index, (record, task_id) in enumerate(zip(records, task_ids, strict=True)):
            intent = record.get("rewritten_intent") or self._field(path, index, record, "intent")
            snippet = str(self._field(path, index, record, "snippet"))
            problems.append(
                Problem(
                    key=str(index) if by_position else task_id,
                    task_id=task_id,
                    prompt=Prompt(PROMPT_TEMPLATE.format(intent=intent)),
                    reference=snippet,
                    references=(snippet,),
                    metadata={
                        "index": index,
                        "prompt_intent": intent,  # what the model is asked
                        "intent": record.get("intent"),
                        "rewritten_intent": record.get("rewritten_intent"),
                    },
                )
            )
        self._keys = [problem.key for problem in problems]
        self._known_keys = set(self._keys)
        self._keys_by_task_id = {}
        for problem in problems:
            self._keys_by_task_id.setdefault(problem.task_id, []).append(problem.key)
        return problems

    @staticmethod
    def _field(path: Path, index: int, record: Mapping[str, Any], name: str) -> Any:
        value = record.get(name)
        if value is None:
            raise HarnessError(f"{path}: record {index} has no {name!r}")
        return value

    def postprocess(self, problem: Problem, completion: str) -> str:
        return extract_snippet(completion)

    def chat_problem(self, problem: Problem) -> str:
        return str(problem.metadata["prompt_intent"])

    def chat_prompt(self, problem: Problem) -> Prompt:
        intent = self.chat_problem(problem)
        return Prompt(text=intent, messages=(
            {"role": "user", "content": CHAT_TEMPLATE.format(intent=intent)},))

    def extract(self, problem: Problem, answer: str) -> Extraction:
        return text_extraction(chat_snippet(answer), "code")

    def normalize_task_id(self, raw: Any) -> str:
        """``15080500``, ``"15080500"`` and ``"conala/15080500"`` name the same question;
        other forms (``HumanEval/3``) stay as they are and match no problem."""
        text = str(raw).strip()
        match = re.fullmatch(r"(?i)(?:conala[/_-])?(\d+)", text)
        return match.group(1) if match else text

    def sample_key(self, record: Mapping[str, Any]) -> str | None:
        """A samples line's problem: its ``key`` (harness samples), its ``index`` (0-based
        position in the dataset file), or its ``task_id`` where that names one problem."""
        if self._keys is None:
            self.load()
        keys = self._keys or []
        if "key" in record and str(record["key"]) in self._known_keys:
            return str(record["key"])
        if "index" in record:
            index = str(record["index"]).strip()
            position = int(index) if index.isdigit() else -1
            if not 0 <= position < len(keys):
                raise HarnessError(
                    f"conala: sample index {record['index']!r} is not a position 0-{len(keys) - 1}"
                )
            return keys[position]
        if "task_id" not in record:
            return None
        task_id = self.normalize_task_id(record["task_id"])
        matches = self._keys_by_task_id.get(task_id)
        if not matches:
            raise HarnessError(f"conala: no problem has task_id {task_id!r}")
        if len(matches) > 1:
            raise HarnessError(
                f"conala: task_id {task_id} names {len(matches)} problems (question ids "
                "repeat); give each sample an 'index' field (its 0-based position in the "
                "dataset file)"
            )
        return matches[0]
