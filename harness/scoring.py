"""The metrics stage: outcomes and completions -> pass@k and reference scores -> metrics.json."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.metrics import scorers
from harness.metrics.intervals import bootstrap_mean_ci
from harness.metrics.passk import pass_at_k, usable_ks
from harness.provenance import utc_now

if TYPE_CHECKING:
    from harness.results import RunStore
    from harness.runner import RunPlan

log = logging.getLogger(__name__)


def score_run(plan: RunPlan, store: RunStore, execution_info: dict[str, Any]) -> dict[str, Any]:
    task = plan.task
    samples = store.samples()
    executions = store.executions()
    excluded = set(execution_info.get("excluded", {}).get("keys", []))
    problems = [p for p in plan.problems if p.key not in excluded]
    if not problems:
        raise HarnessError("no problem could be scored (all excluded)")
    per_problem: dict[str, dict[str, Any]] = {
        p.key: {"key": p.key, "task_id": p.task_id, "n": plan.samples_per_problem[p.key]}
        for p in problems
    }
    metrics: dict[str, float] = {}
    ci95: dict[str, list[float]] = {}
    counts: Counter[str] = Counter()
    ns = [plan.samples_per_problem[p.key] for p in problems]
    ks: list[int] = []
    if task.executes:
        for problem in problems:
            row = per_problem[problem.key]
            statuses = []
            for i in range(row["n"]):
                outcome = executions.get((problem.key, i))
                if outcome is None:
                    raise HarnessError(f"{problem.key} sample {i} was not executed; rerun")
                statuses.append(outcome["status"])
            counts.update(statuses)
            row["correct"] = statuses.count("passed")
        ks = usable_ks(plan_k(plan), min(ns))
        dropped = sorted(set(plan_k(plan)) - set(ks))
        if dropped and plan.k_explicit:
            log.warning("pass@%s not reported: needs n >= k (n = %d)",
                        ",".join(map(str, dropped)), min(ns))
        for k in ks:
            values = [pass_at_k(per_problem[p.key]["n"], per_problem[p.key]["correct"], k)
                      for p in problems]
            for problem, value in zip(problems, values, strict=True):
                per_problem[problem.key][f"pass@{k}"] = round(100.0 * value, 4)
            metrics[f"pass@{k}"] = round(100.0 * sum(values) / len(values), 4)
            ci95[f"pass@{k}"] = list(bootstrap_mean_ci([100.0 * v for v in values]))
    signatures = reference_scores(plan, problems, samples, per_problem, metrics, ci95)
    result: dict[str, Any] = {
        "run_id": plan.run_dir.name,
        "task": task.name,
        "task_version": task.version,
        "model": plan.spec.name,
        "num_problems": len(problems),
        "n": min(ns),
        "k": ks,
        "complete": True,
        "dataset_sha256": plan.dataset_sha256,
        "config_hash": plan.config_hash,
        "metrics": metrics,
        "ci95": ci95,
        "counts": {s: counts.get(s, 0) for s in ("passed", "failed", "timeout", "error")}
        if task.executes else {},
        "signatures": signatures,
        "per_problem": list(per_problem.values()),
        "created": utc_now(),
    }
    if max(ns) != min(ns):
        result["n_max"] = max(ns)
    if plan.notes:
        result["notes"] = plan.notes
    if excluded:
        result["excluded"] = {k: v for k, v in execution_info["excluded"].items()}
    left_out = task.left_out()
    if left_out:
        result["left_out"] = {"count": len(left_out), "reasons": dict(sorted(left_out.items()))}
    return result


def plan_k(plan: RunPlan) -> list[int]:
    return plan.k


def reference_scores(plan: RunPlan, problems: list[Any], samples: dict[Any, dict[str, Any]],
                     per_problem: dict[str, dict[str, Any]], metrics: dict[str, float],
                     ci95: dict[str, list[float]]) -> dict[str, str]:
    task = plan.task
    if not task.scorers:
        return {}
    predictions, references, owners = [], [], []
    for problem in problems:
        for i in range(plan.samples_per_problem[problem.key]):
            record = samples[(problem.key, i)]
            predictions.append(task.prediction(problem, record["completion"]))
            references.append(list(problem.references))
            owners.append(problem.key)
    signatures = {}
    for name in task.scorers:
        result = scorers.get(name)().score(predictions, references, lang=task.scorer_lang)
        metrics.update({k: round(v, 4) for k, v in result.metrics.items()})
        ci95.update({k: [round(lo, 4), round(hi, 4)] for k, (lo, hi) in result.ci95.items()})
        if result.signature:
            signatures[name] = result.signature
        sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for owner, sample_scores in zip(owners, result.per_sample, strict=False):
            for metric, value in sample_scores.items():
                sums[owner][metric] += value
        for key, totals in sums.items():
            n = plan.samples_per_problem[key]
            scores = per_problem[key].setdefault("scores", {})
            scores.update({m: round(v / n, 4) for m, v in totals.items()})
    return signatures
