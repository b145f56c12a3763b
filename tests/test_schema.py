"""The run files' one definition (harness.schema): the JSON Schemas in docs/schema/ are the
models', and a real run writes files that those schemas accept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from harness.cli import main
from harness.schema import ExecutionRecord, Metrics, RunInfo, json_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "docs" / "schema"
REGENERATE = "run `python -m harness.schema docs/schema` and commit the result"


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems_with(check: Draft202012Validator, document: Any) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in check.iter_errors(document)]


def test_committed_schemas_are_the_models() -> None:
    expected = json_schemas()
    committed = sorted(path.name for path in SCHEMA_DIR.glob("*.json"))
    assert committed == sorted(expected), f"docs/schema/ is out of date: {REGENERATE}"
    for name, schema in expected.items():
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        assert (SCHEMA_DIR / name).read_text() == text, f"{name} is out of date: {REGENERATE}"


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("schema") / "run"
    code = main(["-q", "run", "--model", "reference", "--task", "humaneval", "--limit", "5",
                 "--sandbox", "local", "--timeout", "3", "--output-dir", str(folder)])
    assert code == 0
    return folder


def test_reference_run_files_match_the_schemas(reference_run: Path) -> None:
    for name, file in (("run", "run.json"), ("metrics", "metrics.json")):
        document = json.loads((reference_run / file).read_text())
        assert problems_with(validator(name), document) == [], file
    for name, file in (("sample", "samples.jsonl"), ("execution", "executions.jsonl")):
        lines = (reference_run / file).read_text().splitlines()
        assert len(lines) == 5
        check = validator(name)
        for line in lines:
            assert problems_with(check, json.loads(line)) == [], file


def test_metrics_and_run_info_name_the_same_model(reference_run: Path) -> None:
    info = RunInfo.model_validate_json((reference_run / "run.json").read_bytes())
    metrics = Metrics.model_validate_json((reference_run / "metrics.json").read_bytes())
    assert metrics.schema_version == info.schema_version == 2
    assert metrics.model_fingerprint == info.model["fingerprint"] == info.model_fingerprint
    assert metrics.model_fingerprint != ""
    assert (metrics.run_id, metrics.config_hash) == (info.run_id, info.config_hash)


def test_summary_of_the_run_matches_its_schema(reference_run: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "summary.json"
    assert main(["summary", str(reference_run), "--output", str(summary)]) == 0
    document = json.loads(summary.read_text())
    assert problems_with(validator("summary"), document) == []
    (run,) = document["runs"]
    metrics = json.loads((reference_run / "metrics.json").read_text())
    assert run["model_fingerprint"] == metrics["model_fingerprint"] != ""


def test_the_schemas_refuse_what_the_models_refuse(reference_run: Path) -> None:
    """The schemas are as strict as the readers: a version 1 row (pass@k beside the counts)
    or an unknown verdict is refused by both."""
    metrics = json.loads((reference_run / "metrics.json").read_text())
    row = metrics["per_problem"][0]
    row["pass@1"] = row.pop("pass_at")["pass@1"]
    assert any("pass@1" in problem for problem in problems_with(validator("metrics"), metrics))
    with pytest.raises(ValueError, match="pass@1"):
        Metrics.model_validate(metrics)
    execution = json.loads((reference_run / "executions.jsonl").read_text().splitlines()[0])
    execution["status"] = "skipped"
    assert problems_with(validator("execution"), execution) != []
    with pytest.raises(ValueError, match="status"):
        ExecutionRecord.model_validate(execution)
