"""Docstring generation: tree-sitter extraction, sources, splits, prompts, post-processing."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from shared_data import SHARED_DATA, need_shared

from harness.errors import DataNotFoundError, HarnessError
from harness.tasks import Problem, Task, TaskOptions, create_task
from harness.tasks.docgen import PROMPTS, clean_generated_docstring
from harness.tasks.docstrings import (
    CodeItem,
    count_tokens,
    extract_items,
    iter_python_files,
    truncate_code,
)

TREE = Path(__file__).parent / "fixtures" / "docgen_tree"
CODEXGLUE = SHARED_DATA / "codexglue-code-to-text-python"

# Every function and class of the fixture tree with a string-literal docstring, outside tests/
# and hidden folders (the f-string "docstring" does not count; util.separator is defined twice).
EXPECTED = {
    ("pkg/shapes.py", "Shape", "class"),
    ("pkg/shapes.py", "Shape.area", "function"),
    ("pkg/shapes.py", "Shape.name", "function"),
    ("pkg/shapes.py", "Square", "class"),
    ("pkg/shapes.py", "Square.area", "function"),
    ("pkg/shapes.py", "Square.__lt__", "function"),
    ("pkg/shapes.py", "Square.describe", "function"),
    ("pkg/shapes.py", "make_counter", "function"),
    ("pkg/shapes.py", "make_counter.<locals>.step", "function"),
    ("pkg/shapes.py", "fetch_all", "function"),
    ("pkg/shapes.py", "only_a_docstring", "function"),
    ("pkg/shapes.py", "inline", "function"),
    ("pkg/shapes.py", "with_semicolon", "function"),
    ("pkg/util.py", "separator", "function"),
    ("pkg/util.py", "long_function", "function"),
}


def tree_items(include_tests: bool = False) -> list[CodeItem]:
    items: list[CodeItem] = []
    for path in iter_python_files(TREE, include_tests):
        items += extract_items(path.read_bytes(), path.relative_to(TREE).as_posix())
    return items


def docgen(source: str | None = str(TREE), data_dir: Path | None = None,
           **args: str) -> Task:
    """The task on ``source`` (None: the default, CodeXGLUE), a task option like any other."""
    options = {"source": source, **args} if source is not None else args
    return create_task("docgen", TaskOptions(data_dir=data_dir, args=options))


def by_name(problems: list[Problem]) -> dict[str, Problem]:
    return {p.metadata["name"]: p for p in problems}


# -- extraction ---------------------------------------------------------------------------


def test_extracts_functions_classes_methods_and_nested_functions() -> None:
    items = tree_items()
    assert {(i.path, i.qualname, i.kind) for i in items} == EXPECTED
    assert len(items) == len(EXPECTED) + 1  # separator twice
    square = next(i for i in items if i.qualname == "Square")
    assert square.line == 23  # its decorator's line
    assert square.code.startswith("@functools.total_ordering\nclass Square(Shape):\n")
    assert square.docstring.startswith("A square given by the length of its side.\n")


def test_tests_and_hidden_folders_are_skipped_unless_asked() -> None:
    assert not any(i.path.startswith(("tests/", ".hidden/")) for i in tree_items())
    with_tests = {i.path for i in tree_items(include_tests=True)}
    assert "tests/test_shapes.py" in with_tests and ".hidden/secret.py" not in with_tests


def test_docstring_is_removed_and_every_item_still_parses() -> None:
    for item in tree_items():
        tree = ast.parse(item.code)  # raises on a broken removal or dedent
        definition = tree.body[0]
        assert isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        assert ast.get_docstring(definition) is None, item.qualname
        assert item.docstring.strip().splitlines()[0] not in item.code


def test_methods_keep_their_docstrings_inside_the_class_item() -> None:
    shape = next(i for i in tree_items() if i.qualname == "Shape")
    assert '"""Return the area of the shape in square units."""' in shape.code
    assert "Base class" not in shape.code


def test_empty_bodies_get_pass_and_edge_layouts_stay_valid() -> None:
    items = {i.qualname: i for i in tree_items()}
    assert items["only_a_docstring"].code == "def only_a_docstring():\n    pass\n"
    assert items["inline"].code == "def inline(): pass\n"
    assert items["with_semicolon"].code == (
        "def with_semicolon(x):\n    y = x + 1  # noqa: E702\n    return y\n")


def test_methods_and_nested_functions_are_dedented_around_multiline_strings() -> None:
    items = {i.qualname: i for i in tree_items()}
    assert items["make_counter.<locals>.step"].code.startswith("def step(by=1):\n    nonlocal")
    describe = items["Square.describe"].code
    assert describe.startswith("def describe(self):\n    return f")
    assert '\nwith side {self.side}"""' in describe  # the string's own line is untouched


def test_truncate_code_keeps_whole_lines_within_the_budget() -> None:
    code = "".join(f"x{i} = {i}\n" for i in range(50))  # 3 tokens a line
    cut, truncated = truncate_code(code, 20)
    assert truncated and cut.endswith("# ... (truncated)\n")
    kept = cut.removesuffix("# ... (truncated)\n")
    assert count_tokens(kept) == 18 and code.startswith(kept)
    assert truncate_code(code, 0) == (code, False)
    assert truncate_code(code, 1000) == (code, False)
    assert truncate_code("a b c d e\nf\n", 2)[0].startswith("a b c d e\n")  # first line stays


# -- the task on a source tree ------------------------------------------------------------


def test_tree_source_with_filters() -> None:
    everything = docgen(split="all", min_tokens="1").load()
    assert len(everything) == len(EXPECTED) + 1
    assert len({p.key for p in everything}) == len(everything)
    assert {p.key for p in everything} >= {"pkg/util.py::separator", "pkg/util.py::separator#2"}
    long_only = docgen(split="all", min_tokens="9").load()
    assert "Shape.name" not in by_name(long_only)  # "Name." is one token
    assert all(count_tokens(p.references[0]) >= 9 for p in long_only)
    classes = docgen(split="all", kind="class", min_tokens="1").load()
    assert {p.metadata["name"] for p in classes} == {"Shape", "Square"}
    functions = docgen(split="all", kind="function", min_tokens="1").load()
    assert len(functions) == len(everything) - 2


def test_prompt_holds_the_code_without_its_docstring() -> None:
    problems = by_name(docgen(split="all").load())
    square = problems["Square"]
    assert "A square given by" not in square.prompt.text
    assert "def __lt__(self, other):" in square.prompt.text
    assert square.references == ("A square given by the length of its side.\n\n"
                                 "Squares compare by area.",)
    assert square.task_id == square.key == "pkg/shapes.py::Square"


def test_max_code_tokens_truncates_long_code() -> None:
    problem = by_name(docgen(split="all", max_code_tokens="12").load())["long_function"]
    assert problem.metadata["code_truncated"] is True
    assert "# ... (truncated)" in problem.prompt.text
    assert "spread" not in problem.prompt.text
    untouched = by_name(docgen(split="all", max_code_tokens="0").load())["long_function"]
    assert untouched.metadata["code_truncated"] is False and "spread" in untouched.prompt.text


def test_split_is_deterministic_disjoint_and_complete() -> None:
    keys = {split: [p.key for p in docgen(split=split).load()]
            for split in ("test", "train", "all")}
    assert keys["test"] == [p.key for p in docgen(split="test").load()]
    assert len(keys["test"]) == round(len(keys["all"]) * 0.2)
    assert not set(keys["test"]) & set(keys["train"])
    assert set(keys["test"]) | set(keys["train"]) == set(keys["all"])
    other_seeds = [[p.key for p in docgen(split="test", seed=str(s)).load()] for s in (1, 2, 3)]
    assert any(k != keys["test"] for k in other_seeds)
    half = docgen(split="test", test_fraction="0.5").load()
    assert len(half) == round(len(keys["all"]) * 0.5)


def test_max_items_caps_the_selection() -> None:
    assert len(docgen(split="all", max_items="4").load()) == 4


def test_dataset_hash_follows_the_tree_content(tmp_path: Path) -> None:
    copy = tmp_path / "tree"
    shutil.copytree(TREE, copy)
    first = docgen(str(copy))
    first.load()
    again = docgen(str(copy))
    again.load()
    assert first.dataset_files == again.dataset_files
    assert first.dataset_files[0].path == str(copy.resolve())
    (copy / "pkg" / "util.py").write_text("# changed\n" + (copy / "pkg" / "util.py").read_text())
    changed = docgen(str(copy))
    changed.load()
    assert changed.dataset_files[0].sha256 != first.dataset_files[0].sha256


def test_single_file_source() -> None:
    problems = docgen(str(TREE / "pkg" / "util.py"), split="all").load()
    assert {p.key for p in problems} == {"util.py::separator", "util.py::separator#2",
                                         "util.py::long_function"}


# -- prompts ------------------------------------------------------------------------------


def test_study_prompt_variants() -> None:
    step = {name: by_name(docgen(split="all", prompt=name).load())["make_counter.<locals>.step"]
            for name in PROMPTS}
    code = "def step(by=1):\n    nonlocal count\n    count += by\n    return count"
    assert step["simple"].prompt.text == f"Function {code}\n\nDocstring:"
    assert step["verbose"].prompt.text == (
        "Your task is to write a docstring that summarizes the following Python function.\n"
        f"Function make_counter.<locals>.step:\n{code}\n\nDocstring:")
    assert step["finetune"].prompt.text == f"{code}\n\nDocstring:\n"
    assert step["code"].prompt.text == code
    assert step["instruct"].prompt.text == (
        "Write a docstring for the following Python function. Reply with the docstring text "
        f"only, without quotes or code.\n\n```python\n{code}\n```")
    assert all(step[name].prompt.messages is None for name in PROMPTS)  # completion prompts
    # The chat prompt is the instruct one, whatever the completion prompt.
    task = docgen(split="all", prompt="verbose")
    problem = by_name(task.load())["make_counter.<locals>.step"]
    chat = task.chat_prompt(problem)
    assert chat.text == code
    assert chat.messages == ({"role": "user", "content": step["instruct"].prompt.text},)
    shape = by_name(docgen(split="all", prompt="simple").load())["Shape"]
    assert shape.prompt.text.startswith("Class class Shape:\n")


def test_prompt_file_and_bad_prompt_names(tmp_path: Path) -> None:
    template = tmp_path / "prompt.txt"
    template.write_text("# {Kind} {name} (a {kind}; {braces} stay)\n{source}\n# Summary:")
    problem = by_name(docgen(split="all", prompt_file=str(template)).load())["inline"]
    assert problem.prompt.text == (
        "# Function inline (a function; {braces} stay)\ndef inline(): pass\n# Summary:")
    with pytest.raises(HarnessError, match=r"prompt='fancy' is not valid: expected one of simp"):
        docgen(prompt="fancy")
    (tmp_path / "bad.txt").write_text("no placeholder")
    with pytest.raises(HarnessError, match="no \\{source\\} placeholder"):
        docgen(prompt_file=str(tmp_path / "bad.txt")).load()


def test_unknown_and_bad_task_args() -> None:
    with pytest.raises(HarnessError, match="unknown --task-arg 'flavour'"):
        docgen(flavour="x")
    with pytest.raises(HarnessError, match=r"kind='module' is not valid: expected one of func"):
        docgen(kind="module")
    with pytest.raises(HarnessError, match=r"test_fraction='2' .* expected float > 0, <= 1"):
        docgen(test_fraction="2")
    with pytest.raises(HarnessError, match="min_tokens='many' is not valid: expected int >= 0"):
        docgen(min_tokens="many")


# -- post-processing and references -------------------------------------------------------


@pytest.mark.parametrize("raw", [
    ' Return the sum of a and b.',
    '\n"""Return the sum of a and b."""\n    return a + b\n',
    "'''Return the sum of a and b.\n'''",
    '```\nReturn the sum of a and b.\n```\nThis docstring explains...',
    '```python\n"""Return the sum of a and b."""\n```',
    ' Docstring: Return the sum of a and b.',
    'Return the sum of a and b.\n    """\n    return a + b',
])
def test_postprocess_strips_quotes_fences_and_code(raw: str) -> None:
    assert clean_generated_docstring(raw, "full") == "Return the sum of a and b."


def test_postprocess_first_paragraph_target() -> None:
    raw = '"""Return the sum\n    of a and b.\n\n    Longer text.\n    """'
    assert clean_generated_docstring(raw, "full") == "Return the sum\nof a and b.\n\nLonger text."
    assert clean_generated_docstring(raw, "first_paragraph") == "Return the sum of a and b."


@pytest.mark.parametrize("target", ["full", "first_paragraph"])
def test_reference_completion_postprocesses_to_the_reference(target: str) -> None:
    task = docgen(split="all", min_tokens="1", target=target)
    for problem in task.load():
        assert task.postprocess(problem, problem.reference) == problem.references[0]


# -- standard library and CodeXGLUE ------------------------------------------------------


@pytest.fixture(scope="module")
def stdlib_task() -> tuple[Task, list[Problem]]:
    task = docgen("stdlib")
    return task, task.load()


def test_stdlib_source(stdlib_task: tuple[Task, list[Problem]]) -> None:
    task, problems = stdlib_task
    assert len(problems) == 500  # the default cap
    assert task.dataset_files[0].path == str(Path(sysconfig.get_paths()["stdlib"]).resolve())
    assert not any(p.key.startswith(("test/", "site-packages/")) or "/test/" in p.key
                   for p in problems)
    assert all(task.postprocess(p, p.reference) == p.references[0] for p in problems)
    assert task.settings()["max_items"] == 500 and task.settings()["source"] == "stdlib"


def test_codexglue_from_shared_data() -> None:
    folder = need_shared(CODEXGLUE)
    task = docgen(None, data_dir=folder.parent)
    problems = task.load()
    assert len(problems) == 130
    records = [json.loads(line) for line in (folder / "test.jsonl").read_text().splitlines()]
    first, record = problems[0], records[0]
    assert first.key == "soimort/you-get/src/you_get/extractors/miomio.py::sina_xml_to_url_list"
    assert first.references == ("str->list Convert XML to URL List. From Biligrab.",)
    for problem, record in zip(problems, records, strict=True):
        body = problem.prompt.text
        assert record["docstring"].splitlines()[0] not in body  # the docstring is stripped
        assert f"def {record['func_name'].split('.')[-1]}(" in body
        assert task.postprocess(problem, problem.reference) == problem.references[0]
    full = docgen(None, data_dir=folder.parent, target="full").load()
    assert full[0].references == ("str->list\nConvert XML to URL List.\nFrom Biligrab.",)
    assert task.dataset_files[0].sha256 == (
        "50096197c6aeabe5fe98be4ef5148ae21a32d73e9622d13ac35ced82a449fa90")


def test_missing_data_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_OFFLINE", "1")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    with pytest.raises(DataNotFoundError, match=r"codexglue-code-to-text-python: dataset file "
                                                r"test\.jsonl not found"):
        docgen(None, data_dir=tmp_path).load()
    with pytest.raises(DataNotFoundError, match=r"source tree .* not found"):
        docgen(str(tmp_path / "nowhere")).load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(HarnessError, match="no function or class with a docstring"):
        docgen(str(tmp_path / "empty")).load()


def test_reference_run_on_stdlib_scores_100(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-q", "run", "--model", "reference", "--task",
         "docgen", "--source", "stdlib", "--output-dir", str(out)],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_problems"] == 500
    assert metrics["metrics"]["chrf"] == 100.0
    assert metrics["metrics"]["bleu"] == 100.0
    assert metrics["metrics"]["rouge_l"] == 100.0
    assert set(metrics["signatures"]) >= {"bleu", "chrf"}
