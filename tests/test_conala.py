"""The CoNaLa task: loading, intent fallback, keys, post-processing, scoring end to end."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import DataNotFoundError, HarnessError
from harness.tasks import TaskOptions, create_task
from harness.tasks.conala import CoNaLa, export_from_hub, extract_snippet, read_records

SHARED_CONALA = Path(__file__).parents[1].parent / "shared" / "data" / "conala"
TEST_FILE_SHA256 = "b3f96344efa3bb819e2fe66cfd68be289ca4e4d37f5af19c32cf4ae211e8077e"

RECORDS: list[dict[str, Any]] = [
    {
        "intent": "How to reverse a list?",
        "rewritten_intent": "reverse list `x`",
        "snippet": "x[::-1]",
        "question_id": 111,
    },
    {
        "intent": "How to reverse a list?",
        "rewritten_intent": "reverse list `x` in place",
        "snippet": "x.reverse()",
        "question_id": 111,
    },
    {
        "intent": "Current directory in Python",
        "rewritten_intent": None,
        "snippet": "os.getcwd()",
        "question_id": 222,
    },
    {
        "intent": "Sort a dict by value",
        "rewritten_intent": "sort dict `d` by value",
        "snippet": "sorted(d.items(), key=lambda kv: kv[1])",
        "question_id": 333,
    },
]


@pytest.fixture(autouse=True)
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HARNESS_OFFLINE", "1")
    for var in ("HARNESS_DATA_DIR", "HARNESS_CONALA_DIR"):
        monkeypatch.delenv(var, raising=False)


def data_dir(tmp_path: Path, records: list[dict[str, Any]] = RECORDS) -> Path:
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    (folder / "conala-test.json").write_text(json.dumps(records, indent=2))
    return folder


def test_loads_intents_with_fallback_and_positional_keys(tmp_path: Path) -> None:
    task = create_task("conala", TaskOptions(data_dir=data_dir(tmp_path)))
    assert isinstance(task, CoNaLa)
    assert task.executes is False and task.scorers == ("bleu", "codebleu")
    problems = task.load()
    assert [p.key for p in problems] == ["0", "1", "2", "3"]  # question ids repeat
    assert [p.task_id for p in problems] == ["111", "111", "222", "333"]
    assert "Task: reverse list `x`\n" in problems[0].prompt.text
    assert "Task: Current directory in Python\n" in problems[2].prompt.text  # null rewrite
    assert problems[2].prompt.messages is None  # the completion prompt; chat_prompt has its own
    chat = task.chat_prompt(problems[2])
    assert chat.text == "Current directory in Python"
    assert chat.messages is not None
    assert chat.messages[0]["content"].endswith("code block.\n\nTask: Current directory in Python")
    assert problems[3].reference == "sorted(d.items(), key=lambda kv: kv[1])"
    assert problems[3].references == (problems[3].reference,)
    assert task.dataset_files[0].path.endswith("conala-test.json")


def test_unique_ids_key_by_question_id(tmp_path: Path) -> None:
    task = create_task("conala", TaskOptions(data_dir=data_dir(tmp_path, RECORDS[1:])))
    assert [p.key for p in task.load()] == ["111", "222", "333"]


def test_sample_keys_by_index_key_or_unique_task_id(tmp_path: Path) -> None:
    task = create_task("conala", TaskOptions(data_dir=data_dir(tmp_path)))
    assert task.sample_key({"index": 1, "task_id": 111, "completion": ""}) == "1"
    assert task.sample_key({"index": "3"}) == "3"
    assert task.sample_key({"key": "2", "task_id": 222}) == "2"
    assert task.sample_key({"task_id": 222}) == "2"
    assert task.sample_key({"task_id": "conala/333"}) == "3"
    assert task.sample_key({"completion": "x"}) is None
    with pytest.raises(HarnessError, match=r"task_id 111 names 2 problems.*'index'"):
        task.sample_key({"task_id": 111})
    with pytest.raises(HarnessError, match="index 9 is not a position 0-3"):
        task.sample_key({"index": 9})
    with pytest.raises(HarnessError, match="no problem has task_id '999'"):
        task.sample_key({"task_id": 999})


def test_postprocess_takes_the_first_code_block() -> None:
    assert extract_snippet("```python\nx[::-1]\n```\nThis reverses x.") == "x[::-1]"
    assert extract_snippet("Use:\n```\na = 1\nb = 2\n```\n```\nc\n```") == "a = 1\nb = 2"
    assert extract_snippet("```py\nos.getcwd()") == "os.getcwd()"  # cut off at max tokens
    assert extract_snippet("\nos.getcwd()\n\nTask: next one") == "os.getcwd()"
    assert extract_snippet("for x in y:\n    print(x)\n") == "for x in y:\n    print(x)"


def test_split_option_and_missing_data(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"split='dev' is not valid: expected one of test"):
        create_task("conala", TaskOptions(args={"split": "dev"}))
    with pytest.raises(DataNotFoundError, match=r"conala: dataset file conala-test\.json"):
        create_task("conala", TaskOptions(data_dir=tmp_path / "empty")).load()


def test_hub_export_writes_the_original_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    calls = []

    def fake_load_dataset(hub_id: str, config: str, split: str) -> list[dict[str, Any]]:
        calls.append((hub_id, config, split))
        return RECORDS

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    target = tmp_path / "conala-test.json"
    export_from_hub("test")(target)
    assert calls == [("neulab/conala", "curated", "test")]
    assert read_records(target) == RECORDS


def run_harness(*args: str) -> None:
    assert main(["-q", *args]) == 0


def test_evaluate_samples_keyed_by_index(tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    completions = ["x[::-1]", "x.reverse()", "os.getcwd()", "sorted(d)"]
    samples.write_text(
        "".join(
            json.dumps({"index": i, "task_id": r["question_id"], "completion": c}) + "\n"
            for i, (r, c) in enumerate(zip(RECORDS, completions, strict=True))
        )
    )
    out = tmp_path / "run"
    run_harness(
        "evaluate",
        "--task",
        "conala",
        "--samples",
        str(samples),
        "--data-dir",
        str(data_dir(tmp_path)),
        "--output-dir",
        str(out),
    )
    metrics = json.loads((out / "metrics.json").read_text())
    scores = {row["key"]: row["scores"] for row in metrics["per_problem"]}
    assert [scores[key]["bleu"] for key in "012"] == [100.0, 100.0, 100.0]
    assert scores["3"]["bleu"] < 100.0 and scores["3"]["codebleu"] < 100.0
    assert set(metrics["signatures"]) == {"bleu", "codebleu"}


needs_shared_data = pytest.mark.skipif(
    not (SHARED_CONALA / "conala-test.json").is_file(), reason="needs ../shared/data/conala"
)


@needs_shared_data
def test_real_test_split() -> None:
    task = create_task("conala", TaskOptions(data_dir=SHARED_CONALA))
    problems = task.load()
    assert len(problems) == 500
    assert len({p.task_id for p in problems}) == 364
    assert task.dataset_files[0].sha256 == TEST_FILE_SHA256
    raw = json.loads((SHARED_CONALA / "conala-test.json").read_text())
    fallbacks = [i for i, r in enumerate(raw) if r["rewritten_intent"] is None]
    assert len(fallbacks) == 23
    assert all(f"Task: {raw[i]['intent']}\n" in problems[i].prompt.text for i in fallbacks)
    assert all(task.postprocess(p, p.reference) == p.reference for p in problems)
    assert hashlib.sha256((SHARED_CONALA / "conala-test.json").read_bytes()).hexdigest() == (
        TEST_FILE_SHA256
    )


@needs_shared_data
def test_reference_model_scores_100(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_harness(
        "run",
        "--model",
        "reference",
        "--task",
        "conala",
        "--data-dir",
        str(SHARED_CONALA),
        "--output-dir",
        str(out),
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_problems"] == 500
    assert metrics["metrics"]["bleu"] == 100.0
    assert metrics["metrics"]["codebleu"] == 100.0
    assert all(row["scores"]["codebleu"] == 100.0 for row in metrics["per_problem"])
