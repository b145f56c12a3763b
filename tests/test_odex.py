"""ODEX: loading per language, keys, requirements, known issues, prompts, programs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import SHARED_DATA, need_shared

from harness.errors import DataNotFoundError, HarnessError
from harness.sandbox.interpreter import sandbox_interpreter
from harness.tasks import Problem, Program, Task, TaskOptions, create_task
from harness.tasks.odex import KNOWN_ISSUES, LANGUAGES, ODEX, required_modules

ODEX_DIR = SHARED_DATA / "odex"
RECORDS = {"en": 439, "es": 90, "ja": 164, "ru": 252}
LEFT_OUT = {"es/13", "ru/47", "ru/237"}  # broken or flaky tests


def odex(**args: str) -> ODEX:
    task = create_task("odex", TaskOptions(data_dir=need_shared(ODEX_DIR), args=args))
    assert isinstance(task, ODEX)
    return task


@pytest.fixture(scope="module")
def all_problems() -> dict[str, Problem]:
    return {p.key: p for p in odex(lang="all").load()}


def program_of(task: Task, problem: Problem, completion: str) -> Program:
    program = task.program(problem, task.solution(problem, task.postprocess(problem, completion)))
    assert program is not None
    return program


def run_program(source: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run with the interpreter the sandboxes use (the pinned ODEX libraries)."""
    python = sandbox_interpreter().executable
    return subprocess.run([python, "-"], input=source, capture_output=True, text=True,
                          timeout=120, check=False, cwd=cwd)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_loads_keyed_by_position(lang: str) -> None:
    task = odex(lang=lang)
    problems = task.load()
    left_out = {k for k in LEFT_OUT if k.startswith(f"{lang}/")}
    assert len(problems) == RECORDS[lang] - len(left_out)
    assert set(task.excluded) == left_out
    assert task.settings()["left_out"] == sorted(left_out)
    assert [p.key for p in problems][:2] == [f"{lang}/0", f"{lang}/1"]
    assert len({p.key for p in problems}) == len(problems)
    assert len({p.task_id for p in problems}) < len(problems)  # ids repeat; keys do not
    assert task.dataset_files[0].path.endswith(f"{lang}_test.jsonl")
    assert all(p.metadata["lang"] == lang for p in problems)


def test_default_language_is_english_and_all_covers_the_four() -> None:
    assert odex().settings()["lang"] == "en"
    task = odex(lang="all")
    problems = task.load()
    assert len(problems) == sum(RECORDS.values()) - len(LEFT_OUT)
    assert len(task.dataset_files) == 4
    with pytest.raises(HarnessError, match=r"lang='de' is not valid: expected one of en\|es"):
        odex(lang="de")
    with pytest.raises(HarnessError, match="unknown --task-arg 'language'; did you mean 'lang'"):
        odex(language="en")
    assert odex(lang="JA").settings()["lang"] == "ja"  # case-insensitive, as before


def test_first_english_example(all_problems: dict[str, Problem]) -> None:
    problem = all_problems["en/0"]
    assert problem.task_id == "3283984"
    assert problem.reference == "bytes.fromhex('4a4b4c').decode('utf-8')"
    assert problem.prompt.text == (
        'def f_3283984():\n    """decode a hex string \'4a4b4c\' to UTF-8.\n    """\n    return ')


def test_prompt_tests_puts_tests_in_the_docstring() -> None:
    problem = odex(prompt_tests="1").load()[1]
    assert "assert candidate([1,2,3]) == False" in problem.prompt.text
    assert "assert candidate([1,1,1,1,1,1])" not in problem.prompt.text


def test_requirements_are_import_names_plus_what_tests_import(
        all_problems: dict[str, Problem]) -> None:
    records = {lang: [json.loads(line) for line in (ODEX_DIR / f"{lang}_test.jsonl").open()]
               for lang in LANGUAGES}
    assert required_modules(records["en"][9]) == ("mock", "socket", "unittest")  # mock unlisted
    for key, problem in all_problems.items():
        lang, position = key.split("/")
        record = records[lang][int(position)]
        assert set(record["library"]) <= set(problem.metadata["requires"])
    assert required_modules({"library": ["scikit-learn", "beautifulsoup4"],
                             "test_start": "import numpy as np\nfrom os import path"}) == (
        "bs4", "numpy", "os", "sklearn")


def test_known_issues_match_the_data_and_become_requirements(
        all_problems: dict[str, Problem]) -> None:
    records = {lang: [json.loads(line) for line in (ODEX_DIR / f"{lang}_test.jsonl").open()]
               for lang in LANGUAGES}
    for (lang, position), issue in KNOWN_ISSUES.items():
        assert records[lang][position]["task_id"] == issue.task_id, (lang, position)
    assert "@network" in all_problems["en/25"].metadata["requires"]
    assert "pandas<3" in all_problems["ja/95"].metadata["requires"]
    assert "python<3.11" in all_problems["en/224"].metadata["requires"]
    program = program_of(odex(lang="ja"), all_problems["ja/95"], "x")
    assert "pandas<3" in program.requires
    included = {p.key: p for p in odex(lang="all", known_issues="include").load()}
    assert len(included) == sum(RECORDS.values())
    assert "@network" not in included["en/25"].metadata["requires"]
    assert included["ru/47"].metadata["known_issue"].startswith("flaky:")


def test_postprocess_cuts_at_odex_stop_sequences(all_problems: dict[str, Problem]) -> None:
    task = odex()
    problem = all_problems["en/0"]
    raw = "bytes.fromhex('4a4b4c').decode('utf-8')\n\ndef test():\n    pass\n"
    assert task.postprocess(problem, raw) == "bytes.fromhex('4a4b4c').decode('utf-8')\n"
    assert task.postprocess(problem, "x\n    y\n#comment\nprint(1)") == "x\n    y"


def test_solution_follows_odex_and_rewrites_tabs(all_problems: dict[str, Problem]) -> None:
    task = odex(lang="ru")
    problem = all_problems["ru/0"]
    solution = task.solution(problem, problem.reference)
    assert "\t" not in solution
    record = json.loads((ODEX_DIR / "ru_test.jsonl").open().readline())
    assert solution == (record["prompt"] + record["canonical_solution"]
                        + record["suffix"]).replace("\t", "    ")


# Library-free examples, numpy/pandas/re/collections ones, a test with tabs (en/11), examples
# with a suffix (en/18, es/4, ru/6), unittest.mock (en/9).
SAMPLE_KEYS = ["en/0", "en/1", "en/8", "en/9", "en/11", "en/14", "en/18", "en/21", "en/55",
               "es/0", "es/4", "es/21", "ja/0", "ja/11", "ru/5", "ru/6"]


def test_reference_programs_pass_and_wrong_completions_fail(
        all_problems: dict[str, Problem], tmp_path: Path) -> None:
    task = odex(lang="all")
    for key in SAMPLE_KEYS:
        problem = all_problems[key]
        program = program_of(task, problem, problem.reference)
        assert not program.limits
        done = run_program(program.source, tmp_path)
        assert done.returncode == 0, (key, done.stderr[-500:])
        wrong = program_of(task, problem, "1 / 0")
        assert run_program(wrong.source, tmp_path).returncode != 0, key


def test_urllib_examples_get_the_submodule_import(all_problems: dict[str, Problem]) -> None:
    task = odex()
    problem = all_problems["en/23"]
    program = program_of(task, problem, problem.reference)
    assert program.source.startswith("import urllib.request, urllib.parse, urllib.error\n")
    plain = all_problems["en/0"]
    assert program_of(task, plain, plain.reference).source.startswith("def ")


def test_sample_keys_from_samples_files() -> None:
    task = odex(lang="es")
    task.load()
    assert task.sample_key({"index": 3}) == "es/3"
    assert task.sample_key({"key": "es/4"}) == "es/4"
    assert task.sample_key({"index": 5, "lang": "ja"}) == "ja/5"
    both = odex(lang="all")
    both.load()
    assert both.sample_key({"index": RECORDS["en"] + 2}) == "es/2"
    assert both.sample_key({"task_id": 3283984}) == "3283984"


def test_missing_data_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_OFFLINE", "1")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    monkeypatch.delenv("HARNESS_ODEX_DIR", raising=False)
    task = create_task("odex", TaskOptions(data_dir=tmp_path, args={"lang": "ja"}))
    with pytest.raises(DataNotFoundError, match=r"odex: dataset file ja_test\.jsonl not found"):
        task.load()


def test_reference_run_excludes_and_reports_what_the_sandbox_cannot_run(tmp_path: Path) -> None:
    """Through the CLI and the default sandbox with the pinned sandbox libraries: examples
    needing the network, TensorFlow/Keras 2 or Python < 3.11 are excluded and counted; an
    example whose reference needs pandas < 3 runs (pandas 1.5 in the sandbox) and passes."""
    need_shared(ODEX_DIR)
    keys = ["en/0", "en/9", "en/25", "en/224", "es/4", "ja/95", "ja/136", "ru/6"]
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-q", "run", "--model", "reference", "--task", "odex",
         "--task-arg", "lang=all", "--data-dir", str(ODEX_DIR), "--problems", ",".join(keys),
         "--output-dir", str(out)],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["pass@1"] == 100.0
    assert metrics["num_problems"] == 5
    assert sorted(metrics["excluded"]["keys"]) == ["en/224", "en/25", "ja/136"]
    assert metrics["excluded"]["missing_libraries"] == {"@network": 1, "tensorflow": 1,
                                                         "keras<3": 1, "python<3.11": 1}
    assert sorted(metrics["left_out"]["reasons"]) == sorted(LEFT_OUT)
    assert "excluded (the sandbox lacks what they need): 3 problems" in done.stdout
