"""`harness score` on files: plain text, JSONL with a text field, several references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sacrebleu

from harness.cli import main

PREDICTIONS = ["the cat sat on the mat", "a quick brown fox jumps", "hello world again"]
REFERENCES = ["the cat sat on a mat", "the quick brown fox jumped", "hello world"]


def score(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["score", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result: dict[str, Any] = json.loads(captured.out)
    return result


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_plain_text_bleu_like_sacrebleu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    predictions = write(tmp_path / "hyp.txt", PREDICTIONS)
    references = write(tmp_path / "ref.txt", REFERENCES)
    result = score(
        capsys,
        "--metric",
        "bleu",
        "--references",
        str(references),
        "--predictions",
        str(predictions),
    )
    expected = sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES])
    assert result["name"] == "bleu"
    assert result["bleu"] == result["score"] == pytest.approx(expected.score, abs=1e-4)
    assert result["signature"] == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    assert result["num_samples"] == 3
    low, high = result["ci95"]["bleu"]
    assert low <= result["bleu"] <= high


def test_jsonl_with_text_field_and_several_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    predictions = tmp_path / "hyp.jsonl"
    predictions.write_text("".join(json.dumps({"text": p}) + "\n" for p in PREDICTIONS))
    references = tmp_path / "ref.jsonl"
    references.write_text(
        json.dumps({"text": REFERENCES[0]})
        + "\n"
        + json.dumps({"text": [REFERENCES[1], PREDICTIONS[1]]})
        + "\n"
        + json.dumps({"text": REFERENCES[2]})
        + "\n"
    )
    result = score(
        capsys,
        "--metric",
        "chrf",
        "--references",
        str(references),
        "--predictions",
        str(predictions),
        "--resamples",
        "0",
    )
    streams: list[list[Any]] = [REFERENCES, [None, PREDICTIONS[1], None]]
    assert result["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf(PREDICTIONS, streams).score, abs=1e-4
    )
    assert result["ci95"] == {}


def test_plain_text_json_array_line_holds_several_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    predictions = write(tmp_path / "hyp.txt", ["x = sorted(a)", "print(a)"])
    references = write(tmp_path / "ref.txt", ['["a.sort()", "x = sorted(a)"]', "print(a)"])
    result = score(
        capsys,
        "--metric",
        "rouge_l",
        "--references",
        str(references),
        "--predictions",
        str(predictions),
    )
    assert result["rouge_l"] == 100.0


def test_codebleu_prints_components_and_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    predictions = tmp_path / "hyp.jsonl"
    predictions.write_text(json.dumps({"text": "def f(x):\n    return x"}) + "\n")
    references = tmp_path / "ref.jsonl"
    references.write_text(json.dumps({"text": "def f(x):\n    return x"}) + "\n")
    args = [
        "--metric",
        "codebleu",
        "--references",
        str(references),
        "--predictions",
        str(predictions),
        "--lang",
        "python",
    ]
    result = score(capsys, *args)
    for name in (
        "codebleu",
        "codebleu_ngram",
        "codebleu_weighted_ngram",
        "codebleu_syntax",
        "codebleu_dataflow",
    ):
        assert result[name] == 100.0
    assert "dataflow-zero:one" in str(result["signature"])
    keep = score(
        capsys,
        *args,
        "--codebleu-dataflow-zero",
        "keep",
        "--codebleu-ngram-counting",
        "package",
        "--codebleu-tokenizer",
        "code",
    )
    assert "dataflow-zero:keep|" in str(keep["signature"])
    assert "ngram-counting:package" in str(keep["signature"])
    assert "tok:code" in str(keep["signature"])


def test_mismatched_line_counts_are_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    predictions = write(tmp_path / "hyp.txt", PREDICTIONS)
    references = write(tmp_path / "ref.txt", REFERENCES[:2])
    code = main(
        [
            "score",
            "--metric",
            "bleu",
            "--references",
            str(references),
            "--predictions",
            str(predictions),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "has 3 entries but" in err


def test_unknown_metric_and_bad_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    predictions = write(tmp_path / "hyp.txt", PREDICTIONS)
    assert (
        main(
            [
                "score",
                "--metric",
                "blue",
                "--references",
                str(predictions),
                "--predictions",
                str(predictions),
            ]
        )
        == 2
    )
    assert "did you mean 'bleu'" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"txt": "b"}\n')
    assert (
        main(["score", "--metric", "bleu", "--references", str(bad), "--predictions", str(bad)])
        == 2
    )
    assert "bad.jsonl:2: expected an object with a 'text'" in capsys.readouterr().err
