"""The command line as a new user meets it: bad values, --version, flag placement, pipes,
resume messages, --no-exec-cache, ambiguous samples files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import __version__

pytestmark = pytest.mark.timeout(300)

FAST = ("--sandbox", "local", "--timeout", "3")


def harness(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=300, check=False, env=os.environ.copy(),
                          input=stdin)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


@pytest.mark.parametrize(("flag", "value", "names"), [
    ("--n", "0", "--n"),
    ("--timeout", "0", "--timeout"),
    ("--timeout", "nan", "--timeout"),
    ("--timeout", "inf", "--timeout"),
    ("--timeout", "-1", "--timeout"),
    ("--workers", "0", "--workers"),
    ("--limit", "0", "--limit"),
    ("--temperature", "-0.5", "--temperature"),
    ("--top-p", "1.5", "--top-p"),
    ("--max-new-tokens", "0", "--max-new-tokens"),
    ("--k", "0", "--k"),
    ("--n", "x", "--n"),
])
def test_bad_values_are_one_line_and_exit_2(flag: str, value: str, names: str) -> None:
    line = one_error_line(harness("run", "--model", "reference", "--task", "humaneval",
                                  flag, value))
    assert names in line


def test_output_dir_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = one_error_line(harness("-q", "run", "--model", "reference", "--task", "humaneval",
                                  "--limit", "1", *FAST, "--output-dir", str(blocker / "run")))
    assert str(blocker) in line


def test_unknown_command_and_missing_options() -> None:
    assert "invalid choice" in one_error_line(harness("bogus"))
    line = one_error_line(harness("run", "--task", "humaneval"))
    assert "--model" in line


def test_version_and_flags_after_the_subcommand(tmp_path: Path) -> None:
    done = harness("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"harness {__version__}"
    out = tmp_path / "run"
    done = harness("run", "-q", "--model", "reference", "--task", "humaneval", "--limit", "2",
                   *FAST, "--output-dir", str(out))
    assert done.returncode == 0, done.stderr
    assert "generate:" not in done.stderr and "execute" not in done.stderr  # no progress bars


def test_help_texts_are_clean() -> None:
    for command in ("run", "evaluate", "sanitize", "score", "leaderboard", "compare", "gate",
                    "summary", "tasks"):
        done = harness(command, "--help")
        assert done.returncode == 0, (command, done.stderr)
        assert "%%" not in done.stdout and "``" not in done.stdout, command
    gate = harness("gate", "--help").stdout
    required = gate.split("required arguments:")[1]
    assert "--baseline" in required and "--candidate" in required


def test_broken_pipe_is_quiet() -> None:
    done = subprocess.run(f"{sys.executable} -m harness tasks --json | head -c 10",
                          shell=True, capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())
    assert done.returncode == 0 and "Error" not in done.stderr, done.stderr


def test_resume_message_and_no_exec_cache_reexecutes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ("run", "--model", "reference", "--task", "humaneval", "--limit", "3", *FAST,
            "--output-dir", str(out), "-q")
    assert harness(*args).returncode == 0
    executions = [json.loads(line) for line in (out / "executions.jsonl").read_text().splitlines()]
    assert len(executions) == 3
    again = harness(*args)
    assert "resuming" in again.stderr and "3 of 3" in again.stderr, again.stderr
    fresh = harness(*args, "--no-exec-cache")
    assert fresh.returncode == 0, fresh.stderr
    rerun = [json.loads(line) for line in (out / "executions.jsonl").read_text().splitlines()]
    # Executed again, not read back from the folder or the cache.
    assert len(rerun) == 3 and not any(r["cached"] for r in rerun)
    assert "pass@1 = 100.00" in fresh.stdout


def test_samples_line_with_both_fields_is_refused(tmp_path: Path) -> None:
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return 1\n",
                                   "solution": "def f(): pass\n"}) + "\n")
    line = one_error_line(harness("evaluate", "--task", "humaneval", "--samples", str(samples),
                                  *FAST))
    assert "s.jsonl:1" in line and "both" in line


@pytest.mark.parametrize("task_id", ["Mbpp/11", "MBPP/11", "HumanEval/999"])
def test_ids_of_another_benchmark_are_refused(tmp_path: Path, task_id: str) -> None:
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return 1\n"})
                       + "\n" + json.dumps({"task_id": task_id, "completion": "x"}) + "\n")
    line = one_error_line(harness("evaluate", "--task", "humaneval", "--samples", str(samples),
                                  *FAST))
    assert "s.jsonl:2" in line and "not a problem of humaneval" in line


def test_hostile_text_in_samples_is_stored(tmp_path: Path) -> None:
    """Lone surrogates, NUL bytes and invalid UTF-8 in samples and in program output."""
    samples = tmp_path / "s.jsonl"
    lines = [
        '{"task_id": "HumanEval/0", "completion": "    raise ValueError(\\"\\ud800\\")\\n"}',
        '{"task_id": "HumanEval/1", "completion": "    # \\u0000 nul\\n    return []\\n"}',
    ]
    samples.write_bytes(("\n".join(lines) + "\n").encode()
                        + b'{"task_id": "HumanEval/2", "completion": "    return 0 # \xff\xfe"}\n')
    out = tmp_path / "run"
    done = harness("-q", "evaluate", "--task", "humaneval", "--samples", str(samples), *FAST,
                   "--output-dir", str(out))
    assert done.returncode == 0, done.stderr
    executions = [json.loads(line) for line in (out / "executions.jsonl").read_text().splitlines()]
    assert len(executions) == 3


HUMANEVAL = ("--task", "humaneval")


@pytest.mark.parametrize(("args", "expected"), [
    (("run", "--model", "reference", *HUMANEVAL, "--replicas", "0"), "--replicas: input should "
     "be greater than or equal to 1"),
    (("run", "--model", "reference", *HUMANEVAL, "--limit", "1", "--system-prompt", "Be brief."),
     "--system-prompt needs chat mode"),
    (("run", "--model", "reference", *HUMANEVAL, "--executor", "bogus"),
     "--executor: invalid choice: 'bogus'"),
    (("generate", "--model", "reference", *HUMANEVAL, "--n", "0"), "--n: input should be"),
    (("generate", "--model", "no-such-model", *HUMANEVAL), "unknown model 'no-such-model'"),
    (("generate", "--model", "reference", "--task", "no-such-task"),
     "unknown task 'no-such-task'"),
    (("generate", "--model", "reference", *HUMANEVAL, "--replicas", "0"), "--replicas"),
    (("generate", "--model", "reference", *HUMANEVAL, "--limit", "1", "--system-prompt", "x"),
     "--system-prompt needs chat mode"),
])
def test_more_bad_values_are_one_line_and_leave_no_run(args: tuple[str, ...], expected: str,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "run"
    line = one_error_line(harness(*args, "--output-dir", str(out)))
    assert expected in line
    assert not out.exists()


def test_generate_needs_a_model_and_takes_no_execution_flags() -> None:
    assert "required: --model" in one_error_line(harness("generate", *HUMANEVAL))
    assert "--sandbox" in one_error_line(harness("generate", "--model", "reference", *HUMANEVAL,
                                                 "--sandbox", "local"))


def test_contamination_with_a_missing_corpus(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    line = one_error_line(harness("contamination", *HUMANEVAL, "--corpus",
                                  str(tmp_path / "no-corpus"), "--output", str(report)))
    assert f"--corpus {tmp_path / 'no-corpus'} does not exist" in line
    assert not report.exists()
