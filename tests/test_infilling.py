"""HumanEval-Infilling and the left-to-right line/span completion task on its data.

The programs must be the reference evaluator's (``openai/human-eval-infilling``,
``execution.py``): ``prompt + completion + suffix + "\\n" + test + "\\n" +
"check(entry_point)"`` run with ``exec`` under a 3 s timer, passing when nothing is raised.
That construction is rebuilt here from its documentation (the package on PyPI is an empty
placeholder) and its verdicts are compared with the harness's on samples made to pass, fail,
raise, loop and exit.
"""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from shared_data import SHARED_DATA, need_shared

from harness.cli import main
from harness.metrics.line_match import edit_similarity, exact_match, lcs_length
from harness.tasks import TaskOptions, create_task
from harness.tasks.line_completion import first_lines, split_span

pytestmark = pytest.mark.timeout(900)

DATA = SHARED_DATA / "humaneval-infilling"
FILES = {"single-line": "HumanEval-SingleLineInfilling.jsonl.gz",
         "multi-line": "HumanEval-MultiLineInfilling.jsonl.gz",
         "random-span": "HumanEval-RandomSpanInfilling.jsonl.gz",
         "random-span-light": "HumanEval-RandomSpanInfillingLight.jsonl.gz"}
COUNTS = {"single-line": 1033, "multi-line": 5815, "random-span": 1640, "random-span-light": 164}


def records(benchmark: str) -> list[dict[str, Any]]:
    with gzip.open(need_shared(DATA / FILES[benchmark]), "rt") as handle:
        return [json.loads(line) for line in handle]


def harness(*args: str) -> int:
    return main(["-q", *args, "--data-dir", str(DATA), "--sandbox", "local"])


def metrics_of(run: Path) -> dict[str, Any]:
    return dict(json.loads((run / "metrics.json").read_text()))


# -------------------------------------------------------------------- the reference model


@pytest.mark.parametrize("benchmark", ["random-span-light"])
def test_reference_scores_100(benchmark: str, tmp_path: Path) -> None:
    assert harness("run", "--model", "reference", "--task", "humaneval-infilling",
                   "--task-arg", f"benchmark={benchmark}", "--output-dir", str(tmp_path)) == 0
    metrics = metrics_of(tmp_path)
    assert metrics["metrics"]["pass@1"] == 100.0 and metrics["num_problems"] == COUNTS[benchmark]


@pytest.mark.slow
@pytest.mark.parametrize("benchmark", ["single-line", "random-span", "multi-line"])
def test_reference_scores_100_on_the_large_benchmarks(benchmark: str, tmp_path: Path) -> None:
    test_reference_scores_100(benchmark, tmp_path)


def test_task_loads_each_benchmark_as_the_evaluator_reads_it() -> None:
    for benchmark, count in COUNTS.items():
        task = create_task("humaneval-infilling",
                           TaskOptions(data_dir=DATA, args={"benchmark": benchmark}))
        problems = task.load()
        assert len(problems) == count
        first, raw = problems[0], records(benchmark)[0]
        assert first.key == raw["task_id"] and first.reference == raw["canonical_solution"]
        assert first.metadata["fim"] == {"prefix": raw["prompt"], "suffix": raw["suffix"]}
        assert first.metadata["source_id"] == "HumanEval/0"
        program = task.program(first, task.solution(first, "MIDDLE"))
        assert program.source == (raw["prompt"] + "MIDDLE" + raw["suffix"] + "\n" + raw["test"]
                                  + "\n" + f"check({raw['entry_point']})\n")
    assert task.normalize_task_id("HumanEval/0/1") == "RandomSpanInfillingLight/HumanEval/0/1"


def test_postprocess_cuts_at_end_of_middle_and_keeps_indentation() -> None:
    task = create_task("humaneval-infilling", TaskOptions(data_dir=DATA))
    problem = task.load()[3]
    middle = problem.reference
    assert middle.startswith("        ") and middle.endswith("\n")
    for end in ("<|endoftext|>", "<EOT>", "<|file_separator|>", "<|fim_pad|>"):
        assert task.postprocess(problem, f"{middle}{end}\n\ndef more():\n") == middle
    assert task.postprocess(problem, middle) == middle


def test_chat_mode_and_unknown_benchmarks_are_one_line_errors(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert harness("run", "--model", "reference", "--task", "humaneval-infilling",
                   "--task-arg", "benchmark=two-line") == 2
    assert "benchmark" in capsys.readouterr().err
    task = create_task("humaneval-infilling", TaskOptions(data_dir=DATA))
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="fill-in-the-middle"):
        task.chat_prompt(task.load()[0])


# --------------------------------------------------- side by side with the reference checks

# Run one program as human-eval-infilling's check_correctness does: exec() in a fresh
# process with builtins.exit/quit disabled (its reliability_guard), output swallowed, a 3 s
# timer; "passed" when nothing escapes, else failed or timed out (a process that dies
# without a result counts as timed out there too).
REFERENCE_CHECK = r"""
import builtins, contextlib, io, signal, sys
program = sys.stdin.read()
def alarm(*_):
    raise TimeoutError("timed out")
signal.signal(signal.SIGALRM, alarm)
builtins.exit = None
builtins.quit = None
result = "failed"
try:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        signal.setitimer(signal.ITIMER_REAL, 3.0)
        exec(program, {})
        signal.setitimer(signal.ITIMER_REAL, 0)
    result = "passed"
except TimeoutError:
    result = "timed out"
except BaseException:
    result = "failed"
print(result)
"""


def reference_verdict(record: dict[str, Any], completion: str) -> str:
    program = (record["prompt"] + completion + record["suffix"] + "\n" + record["test"] + "\n"
               + f"check({record['entry_point']})")
    done = subprocess.run([sys.executable, "-c", REFERENCE_CHECK], input=program, text=True,
                          capture_output=True, timeout=30, check=False)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "timed out"


def indent_of(text: str) -> str:
    return text[: len(text) - len(text.lstrip(" "))]


def made_samples(benchmark: str, count: int, seed: int) -> list[tuple[dict[str, Any], str]]:
    """Samples that pass, fail, raise, loop or exit, for ``count`` problems."""
    rng = random.Random(seed)
    chosen = rng.sample(records(benchmark), count)
    samples = []
    for record in chosen:
        middle = record["canonical_solution"]
        samples += [(record, middle), (record, middle.lstrip()), (record, "")]
        if benchmark == "single-line" and middle.strip().startswith("return"):
            pad = indent_of(middle)
            samples += [(record, f"{pad}return None\n"), (record, f"{pad}1 / 0\n"),
                        (record, f"{pad}exit()\n"), (record, f"{pad}raise SystemExit(0)\n"),
                        (record, f"{pad}while True:\n{pad}    pass\n")]
        else:
            samples += [(record, middle[:-1] if middle else "x"), (record, middle + "x")]
    return samples


@pytest.mark.parametrize(("benchmark", "count"), [("single-line", 12), ("random-span", 8),
                                                 ("multi-line", 5)])
def test_verdicts_agree_with_the_reference_evaluator(benchmark: str, count: int,
                                                     tmp_path: Path) -> None:
    samples = made_samples(benchmark, count, seed=len(benchmark))
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps({"task_id": r["task_id"], "completion": c}) + "\n"
                            for r, c in samples))
    run = tmp_path / "run"
    assert harness("evaluate", "--task", "humaneval-infilling", "--task-arg",
                   f"benchmark={benchmark}", "--samples", str(path), "--timeout", "3",
                   "--output-dir", str(run)) == 0
    ours: dict[tuple[str, int], str] = {}
    for line in (run / "executions.jsonl").read_text().splitlines():
        row = json.loads(line)
        ours[(row["key"], row["sample"])] = row["status"]
    index: dict[str, int] = {}
    disagreements, outcomes = [], set()
    for record, completion in samples:
        sample = index[record["task_id"]] = index.get(record["task_id"], -1) + 1
        theirs = reference_verdict(record, completion)
        mine = ours[(record["task_id"], sample)]
        outcomes.add((theirs, mine))
        if (theirs == "passed") != (mine == "passed"):
            disagreements.append((record["task_id"], completion, theirs, mine))
    assert not disagreements
    assert ("passed", "passed") in outcomes and ("failed", "error") in outcomes


# ----------------------------------------------------------- left-to-right span completion


def test_spans_are_whole_lines() -> None:
    assert split_span("x = 1\n", "y = 2\n") == ("x = 1\n", "y = 2\n")
    assert split_span("x = ", "1\ny = 2\n") == ("x = 1\n", "y = 2\n")
    assert split_span("", "return 1\nz\n") == ("return 1\n", "z\n")
    assert split_span("tail", "") == ("tail", "")
    assert first_lines("a\nb\nc\n", 2, newline=True) == "a\nb\n"
    assert first_lines("a", 2, newline=True) == "a\n"
    assert first_lines("    a\n", 1, newline=False) == "    a\n"


def test_line_completion_reference_scores_100_on_every_score(tmp_path: Path) -> None:
    assert harness("run", "--model", "reference", "--task", "humaneval-line-completion",
                   "--task-arg", "benchmark=random-span-light", "--output-dir",
                   str(tmp_path)) == 0
    metrics = metrics_of(tmp_path)["metrics"]
    assert metrics == {"pass@1": 100.0, "exact_match": 100.0, "edit_sim": 100.0}


def test_line_completion_scores_a_left_to_right_completer(tmp_path: Path) -> None:
    """A left-to-right completer behind an OpenAI-compatible server, asked with a
    ``<python>`` control prefix (the alias template): it writes each span right and runs on
    (cut to the span's lines), or gets the first line right and the rest wrong, or loses
    the first line's indentation."""
    from openai_server import OpenAIServer

    task = create_task("humaneval-line-completion",
                       TaskOptions(data_dir=DATA, args={"benchmark": "multi-line"}))
    # One problem per prefix: a left-to-right model answers a prefix one way.
    by_prefix = {p.metadata["prefix"]: p for p in task.load() if p.metadata["span_lines"] >= 2}
    problems = list(by_prefix.values())[:12]
    answers: dict[str, str] = {}
    expected_em: list[float] = []
    expected_es: list[float] = []
    expected_pass: list[float] = []
    for number, problem in enumerate(problems):
        span = problem.reference
        if number % 3 == 0:
            completion = span + "    # and more\n    return 0\n"
        elif number % 3 == 1:
            completion = span.splitlines(keepends=True)[0] + "    pass\n" * 10
        else:
            completion = span.lstrip()
        prediction = first_lines(completion, len(span.splitlines()), newline=True)
        answers[problem.metadata["prefix"]] = completion
        meta = problem.metadata
        record = {"prompt": meta["prefix"], "suffix": meta["suffix"], "test": meta["test"],
                  "entry_point": meta["entry_point"]}
        expected_pass.append(100.0 * (reference_verdict(record, prediction) == "passed"))
        expected_em.append(100.0 * exact_match(prediction, span))
        expected_es.append(indel_ratio(prediction.strip(), span.strip()))

    def reply(endpoint: str, body: dict[str, Any], index: int) -> str:
        prompt = str(body["prompt"])
        assert prompt.startswith("<python>")
        return answers[prompt.removeprefix("<python>")]

    models = tmp_path / "models.toml"
    with OpenAIServer(reply=reply) as server:
        models.write_text('[models.completer]\nbackend = "openai"\nmodel = "gpt2-code"\n'
                          'template = "<python>{prompt}"\n'
                          f'options = {{base_url = "{server.base_url}"}}\n')
        keys = ",".join(p.key for p in problems)
        assert harness("run", "--model", "completer", "--models-file", str(models), "--task",
                       "humaneval-line-completion", "--task-arg", "benchmark=multi-line",
                       "--problems", keys, "--timeout", "3", "--no-generation-cache",
                       "--output-dir", str(tmp_path / "run")) == 0
    metrics = metrics_of(tmp_path / "run")["metrics"]
    assert metrics["exact_match"] == pytest.approx(sum(expected_em) / 12, abs=1e-3)
    assert metrics["edit_sim"] == pytest.approx(sum(expected_es) / 12, abs=1e-3)
    assert metrics["pass@1"] == pytest.approx(sum(expected_pass) / 12, abs=1e-3)
    assert sum(expected_pass) >= 400  # the spans written right (then cut) pass


def indel_ratio(a: str, b: str) -> float:
    """fuzz.ratio by dynamic programming: 100 * (1 - indel distance / (len(a) + len(b)))."""
    if not a and not b:
        return 100.0
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(previous[j - 1] if char == other
                           else 1 + min(previous[j], current[j - 1]))
        previous = current
    return 100.0 * (1 - previous[-1] / (len(a) + len(b)))


def test_edit_similarity_is_the_indel_ratio() -> None:
    rng = random.Random(0)
    for _ in range(300):
        a = "".join(rng.choice("ab c\n") for _ in range(rng.randint(0, 40)))
        b = "".join(rng.choice("abc d") for _ in range(rng.randint(0, 40)))
        assert edit_similarity(a, b) == pytest.approx(indel_ratio(a.strip(), b.strip()))
        assert lcs_length(a, b) == lcs_length(b, a)
    assert edit_similarity("return x", "return  y") == pytest.approx(
        100 * 2 * 7 / (8 + 9))
    assert exact_match("return  x + 1", "return x + 1") and not exact_match("a", "b")
