"""Docstring generation: code in, docstring out, scored with BLEU, chrF and ROUGE-L.

Sources (``--task-arg source=...``, or its shorthand ``--source``):

* ``codexglue`` (default): CodeXGLUE code-to-text Python test split (local ``test.jsonl`` or the
  hub), the docstring stripped from each function.
* ``stdlib``: the running interpreter's standard library (offline, always available).
* any other value: a path to a Python source tree (or one file).

From a source tree, functions and/or classes whose docstrings have at least ``min_tokens``
whitespace-separated tokens are extracted with tree-sitter (``harness.tasks.docstrings``),
split into train/test with a fixed seed, and the chosen split is evaluated.
"""

from __future__ import annotations

import ast
import logging
import random
import re
import sysconfig
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field

from harness.errors import DataNotFoundError, HarnessError
from harness.records import Prompt
from harness.sanitize import Extraction, code_blocks, strip_reasoning
from harness.tasks.base import DatasetFile, Problem, Task, text_extraction
from harness.tasks.data import export_hub_dataset, locate, read_jsonl
from harness.tasks.docstrings import (
    CodeItem,
    clean_docstring,
    count_tokens,
    extract_items,
    first_paragraph,
    iter_python_files,
    tree_sha256,
    truncate_code,
)
from harness.tasks.options import OptionsModel

log = logging.getLogger(__name__)

CODEXGLUE_SUBDIR = "codexglue-code-to-text-python"
CODEXGLUE_HUB = "google/code_x_glue_ct_code_to_text"


INSTRUCTION = ("Write a docstring for the following Python {kind}. Reply with the docstring text "
               "only, without quotes or code.")


@dataclass(frozen=True)
class PromptVariant:
    template: str  # placeholders: {source} {name} {kind} ("class"/"function") {Kind}
    about: str


# "verbose" and "simple" are the two prompts of the Llama-3.2-1B class-docstring study
# (anaterna/code-summarization-finetuning, README "Prompt Sensitivity"), with "Class"
# generalised to the item's kind; "finetune" is the format of that study's training script.
PROMPTS: dict[str, PromptVariant] = {
    "simple": PromptVariant("{Kind} {source}\n\nDocstring:", "the study's simple prompt"),
    "verbose": PromptVariant(
        "Your task is to write a docstring that summarizes the following Python {kind}.\n"
        "{Kind} {name}:\n{source}\n\nDocstring:", "the study's verbose prompt"),
    "finetune": PromptVariant("{source}\n\nDocstring:\n", "the study's fine-tuning input format"),
    "code": PromptVariant("{source}",
                          "the bare code, for code-to-text seq2seq models (CodeT5 style)"),
    "instruct": PromptVariant(
        INSTRUCTION + "\n\n```python\n{source}\n```",
        "an instruction (the chat prompt), sent as plain text"),
}
PLACEHOLDER = re.compile(r"\{(source|name|kind|Kind)\}")
CHAT_PROMPT = "instruct"


class DocGenOptions(OptionsModel):
    source: str = Field(
        "codexglue", description="codexglue: the CodeXGLUE code-to-text Python test split; "
        "stdlib: this interpreter's standard library; else a Python source tree or file "
        "(--source is a shorthand)")
    kind: Literal["function", "class", "both"] = Field(
        "both", description="which definitions to document (source trees)")
    min_tokens: int = Field(
        3, ge=0, description="minimum docstring length in whitespace tokens (source trees)")
    max_code_tokens: int = Field(
        400, ge=0, description="truncate the code to this many whitespace tokens (0: off)")
    split: Literal["test", "train", "all"] = Field(
        "test", description="which part of a source tree's seeded split to evaluate")
    seed: int = Field(42, ge=0, description="split seed (source trees)")
    test_fraction: float = Field(
        0.2, gt=0, le=1, description="share of a source tree's items in the test split")
    max_items: int | None = Field(
        None, ge=0, description="keep at most this many items (unset: 500 for stdlib, "
        "else all; 0: all)")
    include_tests: bool = Field(False, description="also read test folders of source trees")
    prompt: Literal["simple", "verbose", "finetune", "code", "instruct"] = Field(
        "simple", description="completion prompt: " + "; ".join(
            f"{name}: {variant.about}" for name, variant in PROMPTS.items()))
    prompt_file: str | None = Field(
        None, description="a completion prompt template file with {source} {name} {kind} "
        "{Kind} placeholders (replaces prompt)")
    target: Literal["full", "first_paragraph"] | None = Field(
        None, description="reference text: the whole docstring or its first paragraph "
        "(unset: first_paragraph for codexglue, else full)")

    @property
    def is_tree(self) -> bool:
        return self.source != "codexglue"

    @property
    def item_cap(self) -> int:
        if self.max_items is not None:
            return self.max_items
        return 500 if self.source == "stdlib" else 0

    @property
    def target_kind(self) -> str:
        return self.target or ("full" if self.is_tree else "first_paragraph")


def render(template: str, item: CodeItem, code: str) -> str:
    values = {"source": code.rstrip("\n"), "name": item.qualname, "kind": item.kind,
              "Kind": item.kind.capitalize()}
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def target_text(docstring: str, target: str) -> str:
    text = clean_docstring(docstring).strip()
    return first_paragraph(text) if target == "first_paragraph" else text


FENCE = re.compile(r"```[\w+-]*[ \t]*\n(.*?)(?:\n[ \t]*```|$)", re.DOTALL)
OPENING_QUOTES = re.compile(r'[rRuU]?("""|\'\'\')')


def clean_generated_docstring(text: str, target: str) -> str:
    """The docstring in a generation, normalised like the references: the inside of a code
    fence or of triple quotes if the text starts with one (otherwise the text up to a
    closing triple quote), without a repeated "Docstring:" label, then ``inspect.cleandoc``
    (and the first paragraph for ``target=first_paragraph``)."""
    fence = FENCE.match(text.strip())
    if fence:
        text = fence.group(1)
    if text.lstrip().startswith("Docstring:"):
        text = text.lstrip()[len("Docstring:"):]
    opening = OPENING_QUOTES.match(text.lstrip())
    if opening:
        quote = opening.group(1)
        text = text.lstrip()[opening.end():].split(quote, 1)[0]
    elif '"""' in text:
        text = text.split('"""', 1)[0]
    return target_text(text, target)


def chat_docstring(answer: str, target: str) -> str:
    """The docstring in a chat answer: reasoning dropped; the first fenced block if any (if
    it holds a definition with a docstring, that docstring); then the cleaning of
    ``clean_generated_docstring`` (quotes, a "Docstring:" label, ``inspect.cleandoc``)."""
    text = strip_reasoning(answer).strip()
    blocks = [block for block in code_blocks(text) if block.strip()]
    if blocks:
        text = defined_docstring(blocks[0]) or blocks[0]
    return clean_generated_docstring(text, target)


def defined_docstring(code: str) -> str | None:
    """The docstring of the first function or class that ``code`` defines, if any."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return ast.get_docstring(node, clean=False)
    return None


class DocGen(Task):
    name = "docgen"
    description = ("Docstring generation from CodeXGLUE code-to-text, the standard library or "
                   "any Python tree (BLEU, chrF, ROUGE-L)")
    version = "1"
    executes = False
    scorers = ("bleu", "chrf", "rouge_l")
    default_max_new_tokens = 128
    Options: ClassVar[type[OptionsModel]] = DocGenOptions
    args: DocGenOptions
    chat_instruction: ClassVar[str] = INSTRUCTION
    chat_layout: ClassVar[str] = ("the instruction ({kind}: function or class), a blank line, "
                                  "then the code in a ```python code block")
    chat_answer: ClassVar[str] = (
        "the docstring text: reasoning dropped, then the first code block's content (the "
        "docstring of a definition in it), without surrounding quotes or a 'Docstring:' label, "
        "cleaned like the references")

    def config(self) -> DocGenOptions:
        return self.args

    def settings(self) -> dict[str, Any]:
        """The options with their source-dependent defaults resolved."""
        config = self.config()
        return {**super().settings(), "max_items": config.item_cap,
                "target": config.target_kind}

    # -- loading ---------------------------------------------------------------------------

    def load(self) -> list[Problem]:
        config = self.config()
        template = self.template(config)
        chosen = self.tree_items(config) if config.is_tree else self.codexglue_items(config)
        if config.item_cap and len(chosen) > config.item_cap:
            log.info("docgen: keeping %d of %d items (--task-arg max_items)", config.item_cap,
                     len(chosen))
        return self.problems(chosen[: config.item_cap or None], template, config)

    def template(self, config: DocGenOptions) -> PromptVariant:
        if config.prompt_file is None:
            return PROMPTS[config.prompt]
        path = Path(config.prompt_file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise HarnessError(f"docgen: cannot read prompt_file {path}: {exc.strerror}") from exc
        if "{source}" not in text:
            raise HarnessError(f"docgen: prompt_file {path} has no {{source}} placeholder")
        return PromptVariant(text, f"template from {path}")

    def tree_root(self, source: str) -> Path:
        if source == "stdlib":
            return Path(sysconfig.get_paths()["stdlib"])
        root = Path(source).expanduser()
        if not root.exists():
            raise DataNotFoundError(f"docgen: source tree {root} not found")
        if root.is_file() and root.suffix != ".py":
            raise HarnessError(f"docgen: source {root} is neither a folder nor a .py file")
        return root

    def tree_items(self, config: DocGenOptions) -> list[tuple[str, CodeItem, str]]:
        """The selected items with their keys and targets."""
        root = self.tree_root(config.source)
        files = iter_python_files(root, config.include_tests)
        readable: list[Path] = []
        items: list[CodeItem] = []
        for path in files:
            try:
                content = path.read_bytes()
            except OSError as exc:
                log.warning("docgen: skipping unreadable %s (%s)", path, exc.strerror)
                continue
            readable.append(path)
            relative = path.name if root.is_file() else path.relative_to(root).as_posix()
            items.extend(extract_items(content, relative))
        self.dataset_files = [DatasetFile(str(root.resolve()), tree_sha256(root, readable))]
        keyed = list(zip(item_keys(items), items, strict=True))  # before filtering: stable
        kept = [
            (key, item) for key, item in keyed
            if config.kind in ("both", item.kind)
            and count_tokens(clean_docstring(item.docstring)) >= max(config.min_tokens, 1)
        ]
        if not kept:
            raise HarnessError(
                f"docgen: no {config.kind if config.kind != 'both' else 'function or class'} "
                f"with a docstring of >= {config.min_tokens} tokens in {root} "
                f"({len(readable)} Python files)")
        selected = split_items(kept, config.split, config.seed, config.test_fraction)
        log.info("docgen: %d of %d documented items in %s (%s split)", len(selected), len(kept),
                 root, config.split)
        return [(key, item, target_text(item.docstring, config.target_kind))
                for key, item in selected]

    def codexglue_items(self, config: DocGenOptions) -> list[tuple[str, CodeItem, str]]:
        path = locate("test.jsonl", subdir=CODEXGLUE_SUBDIR, options=self.options,
                      hub=(f"{CODEXGLUE_HUB} (python)",
                           export_hub_dataset(CODEXGLUE_HUB, "test", "python")))
        self.dataset_files = [DatasetFile.of(path)]
        items: list[CodeItem] = []
        for number, record in enumerate(read_jsonl(path), 1):
            item = codexglue_item(record, f"{path}:{number}")
            # CodeXGLUE's ``docstring`` field is the reference (it matches the code's).
            items.append(replace(item, docstring=str(record.get("docstring") or item.docstring)))
        return [(key, item, target_text(item.docstring, config.target_kind))
                for key, item in zip(item_keys(items), items, strict=True)]

    def problems(self, selected: list[tuple[str, CodeItem, str]], variant: PromptVariant,
                 config: DocGenOptions) -> list[Problem]:
        problems: list[Problem] = []
        for key, item, target in selected:
            if not target:
                continue
            code, truncated = truncate_code(item.code, config.max_code_tokens)
            problems.append(Problem(
                key=key,
                task_id=key,
                prompt=Prompt(render(variant.template, item, code)),
                reference=reference_completion(item.docstring, target, config.target_kind),
                references=(target,),
                metadata={"path": item.path, "name": item.qualname, "kind": item.kind,
                          "line": item.line, "code_truncated": truncated,
                          "code": code.rstrip("\n")},
            ))
        return problems

    # -- scoring ---------------------------------------------------------------------------

    def postprocess(self, problem: Problem, completion: str) -> str:
        return clean_generated_docstring(completion, self.config().target_kind)

    # -- chat mode: the "instruct" prompt; the answer's docstring text ---------------------

    def chat_problem(self, problem: Problem) -> str:
        return str(problem.metadata["code"])

    def chat_prompt(self, problem: Problem) -> Prompt:
        code = self.chat_problem(problem)
        item = CodeItem(path=problem.metadata["path"], qualname=problem.metadata["name"],
                        kind=problem.metadata["kind"], line=problem.metadata["line"],
                        code=code, docstring="")
        content = render(PROMPTS[CHAT_PROMPT].template, item, code)
        return Prompt(text=code, messages=({"role": "user", "content": content},))

    def extract(self, problem: Problem, answer: str) -> Extraction:
        return text_extraction(chat_docstring(answer, self.config().target_kind), "docstring")


def reference_completion(docstring: str, target: str, target_kind: str) -> str:
    """The reference as a model would write it: the docstring as in the source, which
    post-processing turns into ``target``; the target itself in the rare case where the
    source form would not survive (it contains triple quotes, say)."""
    if clean_generated_docstring(docstring, target_kind) == target:
        return docstring
    return target


def item_keys(items: list[CodeItem]) -> list[str]:
    """``path::qualname``, with ``#2``, ``#3`` for a name defined again in the same file."""
    seen: dict[str, int] = {}
    keys = []
    for item in items:
        key = f"{item.path}::{item.qualname}"
        seen[key] = seen.get(key, 0) + 1
        keys.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return keys


T = TypeVar("T")


def split_items(items: list[T], split: str, seed: int, fraction: float) -> list[T]:
    """A seeded shuffle of the items (in path/line order) cut into test (the first
    ``fraction``) and train; the chosen part keeps the shuffled order, so a max_items cap
    takes a random sample."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    if split == "all":
        return [items[i] for i in order]
    test_size = max(1, round(len(items) * fraction))
    chosen = order[:test_size] if split == "test" else order[test_size:]
    return [items[i] for i in chosen]


def codexglue_item(record: Mapping[str, Any], where: str) -> CodeItem:
    """A CodeXGLUE record as a CodeItem whose code no longer holds the docstring."""
    try:
        code: str = record["code"]
        name = str(record["func_name"])
        path = f"{record.get('repo', '')}/{record.get('path', '')}".strip("/")
    except KeyError as exc:
        raise HarnessError(f"{where}: CodeXGLUE record without field {exc}") from None
    found = extract_items(code.encode("utf-8"), path)
    outer = min(found, key=lambda item: item.line, default=None)
    if outer is None or outer.line != first_code_line(code):
        raise HarnessError(f"{where}: no docstring found in the code of {name}; "
                           "is this a CodeXGLUE code-to-text file?")
    return CodeItem(path=path, qualname=name, kind="function", line=1, code=outer.code,
                    docstring=outer.docstring)


def first_code_line(code: str) -> int:
    """1-based line of the first line that is not blank or a comment (a decorator or def)."""
    for number, line in enumerate(code.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            return number
    return 1


__all__ = ["PROMPTS", "DocGen", "DocGenOptions", "chat_docstring", "clean_generated_docstring",
           "split_items"]
