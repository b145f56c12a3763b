"""Chat models end to end, through a real local OpenAI-compatible server that honours `stop`
and `n` as real servers do: every problem is answered with a correct solution wrapped in one
of many chat formats (tests/chat_formats.py), and the scores must be what the model really
scored: pass@1 = 100, by `run --chat`, by `evaluate --sanitize` and by `sanitize` then
`evaluate`. Answers cut by max_new_tokens and answers without code are counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from chat_formats import FORMATS, Solution, prose_python
from openai_server import OpenAIServer
from shared_data import SHARED_DATA, need_shared

from harness.tasks import Problem, Task, TaskOptions, create_task

pytestmark = pytest.mark.timeout(1800)

DATA = {"humaneval": None, "mbpp": SHARED_DATA / "mbpp", "mbpp-plus": SHARED_DATA / "mbppplus",
        "humaneval-plus": SHARED_DATA / "humanevalplus"}
FAST_LIMIT = {"humaneval": None, "mbpp": 60, "mbpp-plus": 40, "humaneval-plus": 30}
FORMAT_LIST = list(FORMATS.values())


def load(name: str) -> tuple[Task, list[Problem], list[str]]:
    folder = DATA[name]
    data_args = ["--data-dir", str(need_shared(folder))] if folder else []
    task = create_task(name, TaskOptions(data_dir=folder))
    return task, task.load(), data_args


def chat_answer(task: Task, problem: Problem, index: int) -> str:
    """A correct solution in the index-th chat format (cycling through all of them)."""
    program = task.solution(problem, problem.reference)
    solution = Solution(code=program, entry_point=task.entry_point(problem),
                        body=problem.reference if program != problem.reference else "",
                        prompt_code=task.shown_code(problem))
    for shift in range(len(FORMAT_LIST)):
        answer = FORMAT_LIST[(index + shift) % len(FORMAT_LIST)](solution)
        if answer is not None:
            return answer
    return prose_python(solution)


def answers_for(task: Task, problems: list[Problem]) -> dict[str, str]:
    """Canned answers keyed by the exact user message the harness sends for each problem."""
    answers = {}
    for index, problem in enumerate(problems):
        message = task.chat_prompt(problem).messages[-1]["content"]  # type: ignore[index]
        answers[message] = chat_answer(task, problem, index)
    return answers


@pytest.fixture(scope="module")
def models_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "models.toml"
    path.write_text('[models.chatty]\nbackend = "openai"\nmodel = "chatty"\nchat = true\n'
                    '[models.plain]\nbackend = "openai"\nmodel = "plain"\n')
    return path


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "harness", "-q", *args], capture_output=True,
                          text=True, timeout=1700, check=False, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def metrics_of(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def check_all_pass(task: str, folder: Path, expected: int) -> None:
    metrics = metrics_of(folder)
    failing = [(json.loads(line)["task_id"], json.loads(line)["detail"])
               for line in (folder / "executions.jsonl").read_text().splitlines()
               if json.loads(line)["status"] != "passed"]
    assert metrics["metrics"]["pass@1"] == 100.0, (task, failing[:10])
    assert metrics["num_problems"] == expected
    assert metrics["answers"]["no_code"] == 0 and metrics["answers"]["passed"] == expected


def chat_run_and_samples(task_name: str, limit: int | None, server: OpenAIServer,
                         models_file: Path, tmp_path: Path, model_args: tuple[str, ...]) -> None:
    task, problems, data_args = load(task_name)
    chosen = problems[:limit] if limit else problems
    server.answers = answers_for(task, chosen)
    selection = ["--limit", str(limit)] if limit else []
    out = tmp_path / "run"
    harness("run", *model_args, "--models-file", str(models_file), "--base-url",
            server.base_url, "--task", task_name, *data_args, *selection, "--output-dir",
            str(out), "--no-generation-cache")
    check_all_pass(task_name, out, len(chosen))
    # Chat mode sends no completion-style stop sequences, and the raw answers are kept.
    assert all("stop" not in seen.body for seen in server.requests)
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert all(s["kind"] == "solution" and s["raw"] in server.answers.values() for s in samples)

    # The same answers as a samples file of another tool: evaluate --sanitize ...
    raw_file = tmp_path / "raw.jsonl"
    raw_file.write_text("".join(json.dumps({"task_id": s["task_id"], "completion": s["raw"]})
                                + "\n" for s in samples))
    harness("evaluate", "--task", task_name, *data_args, "--samples", str(raw_file),
            "--sanitize", "--output-dir", str(tmp_path / "evaluated"))
    check_all_pass(task_name, tmp_path / "evaluated", len(chosen))
    # ... and harness sanitize, then a plain evaluate of its output.
    clean = tmp_path / "sanitized.jsonl"
    harness("sanitize", "--task", task_name, *data_args, "--samples", str(raw_file),
            "--output", str(clean))
    lines = [json.loads(line) for line in clean.read_text().splitlines()]
    assert all(set(line) >= {"task_id", "solution", "raw"} for line in lines)
    assert "completion" not in lines[0]
    harness("evaluate", "--task", task_name, *data_args, "--samples", str(clean),
            "--output-dir", str(tmp_path / "sanitized-run"))
    check_all_pass(task_name, tmp_path / "sanitized-run", len(chosen))


@pytest.mark.parametrize("task_name", ["humaneval", "mbpp", "mbpp-plus", "humaneval-plus"])
def test_chat_answers_score_what_they_are_worth(task_name: str, server: OpenAIServer,
                                                models_file: Path, tmp_path: Path) -> None:
    chat_run_and_samples(task_name, FAST_LIMIT[task_name], server, models_file, tmp_path,
                         ("--model", "chatty"))


def test_chat_flag_on_a_completion_alias(server: OpenAIServer, models_file: Path,
                                         tmp_path: Path) -> None:
    """--chat switches a plain alias to /chat/completions, with --system-prompt first."""
    chat_run_and_samples("humaneval", 12, server, models_file, tmp_path,
                         ("--model", "plain", "--chat", "--system-prompt", "You write Python."))
    chats = [seen for seen in server.requests if seen.endpoint.endswith("chat/completions")]
    assert chats and all(seen.body["messages"][0] == {"role": "system",
                                                       "content": "You write Python."}
                         for seen in chats)


@pytest.mark.slow
@pytest.mark.parametrize("task_name", ["mbpp", "mbpp-plus", "humaneval-plus"])
def test_chat_answers_full_datasets(task_name: str, server: OpenAIServer, models_file: Path,
                                    tmp_path: Path) -> None:
    chat_run_and_samples(task_name, None, server, models_file, tmp_path, ("--model", "chatty"))


def test_cut_and_codeless_answers_are_counted(server: OpenAIServer, models_file: Path,
                                              tmp_path: Path) -> None:
    task, problems, _ = load("humaneval")
    chosen = problems[:6]
    long_think = "<think>\n" + "I should think about this carefully. " * 40 + "\n</think>\n"
    answers = answers_for(task, chosen)
    keys = list(answers)
    answers[keys[0]] = long_think + answers[keys[0]]  # cut by max tokens before its code
    answers[keys[1]] = "I cannot help with that."  # no code at all
    server.answers = answers
    out = tmp_path / "run"
    done = harness("run", "--model", "chatty", "--models-file", str(models_file), "--base-url",
                   server.base_url, "--task", "humaneval", "--limit", "6", "--max-new-tokens",
                   "200", "--output-dir", str(out), "--no-generation-cache")
    metrics = metrics_of(out)
    answers_count = metrics["answers"]
    assert answers_count["samples"] == 6 and answers_count["no_code"] == 2
    assert answers_count["truncated"] >= 1 and answers_count["truncated_no_code"] == 1
    assert metrics["metrics"]["pass@1"] == pytest.approx(100 * 4 / 6, abs=0.01)
    assert "no code found in 2" in done.stdout and "cut by max_new_tokens" in done.stdout
    details = [json.loads(line)["detail"] for line in
               (out / "executions.jsonl").read_text().splitlines()]
    assert sum(detail.startswith("no code") for detail in details) == 2
