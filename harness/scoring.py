"""The metrics stage: samples and verdicts -> pass@k, reference scores and answer counts ->
``Metrics`` (metrics.json); with ``--exclude-problems``, also the clean-subset score."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping

from harness.errors import HarnessError
from harness.exclusions import Exclusions
from harness.execution import ExecutionInfo
from harness.metrics import scorers
from harness.metrics.bootstrap import bootstrap_mean_ci
from harness.metrics.passk import pass_at_k, usable_ks
from harness.plan import RunPlan
from harness.provenance import utc_now
from harness.schema import (
    STATUSES,
    AnswerCounts,
    CleanScore,
    ExecutionRecord,
    LeftOutInfo,
    Metrics,
    ProblemMetrics,
    SampleRecord,
)
from harness.tasks import Problem

log = logging.getLogger(__name__)

SampleId = tuple[str, int]
# A text metric costs far more than its input's size (CodeBLEU took 1.6 GB for one 5 MB
# sample, and a 270 MB one exhausted the machine's memory): predictions are scored on their
# first MAX_SCORED_CHARS characters, far beyond any real answer (one that long scores near
# zero against a reference of a few hundred characters either way).
MAX_SCORED_CHARS = 100_000


def score(plan: RunPlan, samples: Mapping[SampleId, SampleRecord],
          executions: Mapping[SampleId, ExecutionRecord],
          info: ExecutionInfo | None = None, exclusions: Exclusions | None = None) -> Metrics:
    """The run's metrics; with ``exclusions``, ``clean`` holds the score without them."""
    task = plan.task
    excluded = info.excluded_keys if info else set()
    problems = [p for p in plan.problems if p.key not in excluded]
    if not problems:
        raise HarnessError("no problem could be scored (all excluded)")
    checking = info.checking if info else {}
    rows = {p.key: ProblemMetrics(key=p.key, task_id=p.task_id,
                                  n=plan.samples_per_problem[p.key],
                                  checking=checking.get(p.key))  # type: ignore[arg-type]
            for p in problems}
    ns = [row.n for row in rows.values()]
    metrics: dict[str, float] = {}
    ci95: dict[str, tuple[float, float]] = {}
    ks: list[int] = []
    verdicts: Counter[str] = Counter()
    if task.executes:
        for problem in problems:
            row = rows[problem.key]
            statuses = [_verdict(executions, problem.key, i).status for i in range(row.n)]
            verdicts.update(statuses)
            row.correct = statuses.count("passed")
        ks = usable_ks(plan.k, min(ns))
        dropped = sorted(set(plan.k) - set(ks))
        if dropped and plan.k_explicit:
            log.warning("pass@%s not reported: needs n >= k (n = %d)",
                        ",".join(map(str, dropped)), min(ns))
        for k in ks:
            values = [100.0 * pass_at_k(rows[p.key].n, rows[p.key].correct or 0, k)
                      for p in problems]
            for problem, value in zip(problems, values, strict=True):
                rows[problem.key].pass_at[f"pass@{k}"] = round(value, 4)
            metrics[f"pass@{k}"] = round(sum(values) / len(values), 4)
            low, high = bootstrap_mean_ci(values)
            ci95[f"pass@{k}"] = (low, high)
    signatures = reference_scores(plan, problems, samples, rows, metrics, ci95)
    left_out = task.left_out()
    return Metrics(
        run_id=plan.run_dir.name, task=task.name, task_version=task.version,
        model=plan.model_name, model_fingerprint=plan.model_fingerprint,
        num_problems=len(problems), n=min(ns), n_max=max(ns) if max(ns) != min(ns) else None,
        k=ks, complete=True, dataset_sha256=plan.dataset_sha256, config_hash=plan.config_hash,
        metrics=metrics, ci95=ci95,
        counts={s: verdicts.get(s, 0) for s in STATUSES} if task.executes else {},
        answers=answer_counts(problems, plan, samples, verdicts),
        signatures=signatures, per_problem=list(rows.values()), notes=list(plan.notes),
        excluded=info.excluded if info else None,
        left_out=LeftOutInfo(count=len(left_out), reasons=dict(sorted(left_out.items())))
        if left_out else None,
        clean=clean_score(plan, samples, executions, info, exclusions) if exclusions else None,
        created=utc_now(),
    )


def clean_score(plan: RunPlan, samples: Mapping[SampleId, SampleRecord],
                executions: Mapping[SampleId, ExecutionRecord], info: ExecutionInfo | None,
                exclusions: Exclusions) -> CleanScore | None:
    """The run scored without the excluded problems: this scorer on a plan of the other
    problems, so the numbers equal a run over exactly those problems. None when no problem
    is left to score."""
    excluded = [p.key for p in plan.problems if p.key in exclusions.keys]
    unrunnable = info.excluded_keys if info else set()
    left = [p for p in plan.problems if p.key not in exclusions.keys]
    if not [p for p in left if p.key not in unrunnable]:
        log.warning("--exclude-problems leaves no problem of this run: no clean score")
        return None
    # k_explicit off: a k that n does not allow was warned about once, for the full score.
    subset = dataclasses.replace(plan, problems=left, k_explicit=False, samples_per_problem={
        p.key: plan.samples_per_problem[p.key] for p in left})
    clean = score(subset, samples, executions, info)
    return CleanScore(source=exclusions.source, num_problems=clean.num_problems,
                      num_excluded=len(excluded), excluded=sorted(excluded),
                      metrics=clean.metrics, ci95=clean.ci95)


def _verdict(executions: Mapping[SampleId, ExecutionRecord], key: str, sample: int
             ) -> ExecutionRecord:
    outcome = executions.get((key, sample))
    if outcome is None:
        raise HarnessError(f"{key} sample {sample} was not executed; rerun to resume")
    return outcome


def answer_counts(problems: list[Problem], plan: RunPlan,
                  samples: Mapping[SampleId, SampleRecord], verdicts: Counter[str]
                  ) -> AnswerCounts:
    """Verdicts plus how many answers never reached the tests: no code found, or cut by
    max_new_tokens (a reasoning answer cut before its code is a silent failure otherwise)."""
    counts = AnswerCounts(**{s: verdicts.get(s, 0) for s in STATUSES})
    for problem in problems:
        for i in range(plan.samples_per_problem[problem.key]):
            record = samples[(problem.key, i)]
            counts.samples += 1
            truncated = record.finish_reason == "length"
            counts.no_code += not record.code_found
            counts.truncated += truncated
            counts.truncated_no_code += truncated and not record.code_found
    return counts


def reference_scores(plan: RunPlan, problems: list[Problem],
                     samples: Mapping[SampleId, SampleRecord], rows: dict[str, ProblemMetrics],
                     metrics: dict[str, float], ci95: dict[str, tuple[float, float]]
                     ) -> dict[str, str]:
    task = plan.task
    if not task.scorers:
        return {}
    predictions, references, owners = [], [], []
    cut = 0
    for problem in problems:
        for i in range(plan.samples_per_problem[problem.key]):
            record = samples[(problem.key, i)]
            prediction = task.prediction(problem, record.completion)
            cut += len(prediction) > MAX_SCORED_CHARS
            predictions.append(prediction[:MAX_SCORED_CHARS])
            references.append(list(problem.references))
            owners.append(problem.key)
    if cut:
        log.warning("%d predictions longer than %d characters scored on their start only",
                    cut, MAX_SCORED_CHARS)
    signatures = {}
    for name in task.scorers:
        result = scorers.get(name)().score(predictions, references, lang=task.scorer_lang)
        metrics.update({k: round(v, 4) for k, v in result.metrics.items()})
        ci95.update({k: (round(lo, 4), round(hi, 4)) for k, (lo, hi) in result.ci95.items()})
        if result.signature:
            signatures[name] = result.signature
        sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for owner, sample_scores in zip(owners, result.per_sample, strict=False):
            for metric, value in sample_scores.items():
                sums[owner][metric] += value
        for key, totals in sums.items():
            n = plan.samples_per_problem[key]
            rows[key].scores.update({m: round(v / n, 4) for m, v in totals.items()})
    return signatures
