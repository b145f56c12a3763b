"""The CI regression gate: is the candidate significantly worse than the baseline by more
than the allowed drop?

Let delta = candidate - baseline (percentage points, mean over the shared problems) and U
the one-sided (1 - alpha) upper confidence bound of delta from the paired bootstrap over
problems. The default rule ("significant-drop") declares a regression on a task iff

* U < -max_drop: we are (1 - alpha) confident that the true drop exceeds the allowed one, and
* with one sample per problem, the exact one-sided McNemar (sign) test on the flipped
  problems also rejects "no drop" at level alpha. The percentile bootstrap is optimistic
  when only a handful of problems flipped (3 flips out of 164 already look "significant" to
  it, while P = 1/8 under the exact test); this guard keeps the false-alarm rate at alpha.

So a run passes against itself, a clearly worse run fails, and a slightly worse run whose
drop is within noise passes. The stricter "non-inferiority" rule (``--strict``) passes only
when the one-sided (1 - alpha) *lower* bound of delta is above -max_drop, i.e. the data must
show that the drop is at most max_drop; a small benchmark or a large noisy drop then fails.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.reports import compare
from harness.reports.loading import RunResult

SIGNIFICANT_DROP = "significant-drop"
NON_INFERIORITY = "non-inferiority"


@dataclass
class GateSettings:
    max_drop: float
    alpha: float = 0.05
    rule: str = SIGNIFICANT_DROP
    comparison: compare.Settings | None = None

    def validate(self) -> None:
        if not 0.0 <= self.max_drop <= 100.0:
            raise HarnessError(f"--max-drop must be between 0 and 100 percentage points, got "
                               f"{self.max_drop}")
        if not 0.0 < self.alpha < 0.5:
            raise HarnessError(f"--alpha must be between 0 and 0.5, got {self.alpha}")
        if self.rule not in (SIGNIFICANT_DROP, NON_INFERIORITY):
            raise HarnessError(f"unknown gate rule {self.rule!r}")


@dataclass
class TaskVerdict:
    result: compare.TaskComparison
    bound: float  # the one-sided confidence bound the rule uses
    regression: bool


@dataclass
class GateOutcome:
    settings: GateSettings
    verdicts: list[TaskVerdict]
    ignored: list[str]  # candidate tasks without a baseline

    @property
    def regression(self) -> bool:
        return any(v.regression for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        return 1 if self.regression else 0


def run_gate(
    baseline: Sequence[RunResult], candidate: Sequence[RunResult], settings: GateSettings
) -> GateOutcome:
    settings.validate()
    options = settings.comparison or compare.Settings()
    by_task = {run.task: run for run in candidate}
    if len(by_task) != len(candidate):
        raise HarnessError("the candidate holds several runs of one task; name the run folder")
    baseline_tasks = [run.task for run in baseline]
    if len(set(baseline_tasks)) != len(baseline_tasks):
        raise HarnessError("the baseline holds several runs of one task; name the run folder")
    if len(baseline) == 1 and len(candidate) == 1:
        pairs = [(baseline[0], candidate[0])]  # task mismatch reported by compare_pair
    else:
        missing = [task for task in baseline_tasks if task not in by_task]
        if missing:
            raise HarnessError(f"the candidate has no run of task {missing[0]}, which the "
                               "baseline has")
        pairs = [(run, by_task[run.task]) for run in baseline]
    verdicts = [_verdict(compare.compare_pair(b, c, options), settings) for b, c in pairs]
    ignored = sorted(set(by_task) - set(baseline_tasks)) if len(pairs) > 1 else []
    return GateOutcome(settings, verdicts, ignored)


def _verdict(result: compare.TaskComparison, settings: GateSettings) -> TaskVerdict:
    if settings.rule == NON_INFERIORITY:
        lower = result.bootstrap.lower_bound(settings.alpha)
        return TaskVerdict(result, lower, lower < -settings.max_drop)
    upper = result.bootstrap.upper_bound(settings.alpha)
    worse_p = result.worse_p
    significant = worse_p is None or worse_p < settings.alpha
    return TaskVerdict(result, upper, upper < -settings.max_drop and significant)


# --- explanation ------------------------------------------------------------------------


def reason(outcome: GateOutcome) -> str:
    """One paragraph: the verdict, the numbers behind it, and the rule."""
    settings = outcome.settings
    level = round(100 * (1 - settings.alpha), 2)
    metric = outcome.verdicts[0].result.metric
    if settings.rule == NON_INFERIORITY:
        head = ("FAIL: the data do not show that the candidate is at most "
                if outcome.regression else "PASS: the data show that the candidate is at most ")
        head += f"{_points(settings.max_drop)} worse than the baseline on {metric}."
        rule = (f"Rule (non-inferiority): a task fails when the one-sided {level:g}% lower "
                f"confidence bound of candidate minus baseline is below "
                f"{_negated(settings.max_drop)}.")
    else:
        head = ("FAIL: the candidate is significantly worse than the baseline by more than "
                if outcome.regression else
                "PASS: the candidate is not significantly worse than the baseline by more than ")
        head += f"the allowed drop of {_points(settings.max_drop)} on {metric}."
        rule = (f"Rule (significant drop): a task fails when the one-sided {level:g}% upper "
                f"confidence bound of candidate minus baseline is below "
                f"{_negated(settings.max_drop)} and, with one sample per problem, the exact "
                "one-sided "
                f"McNemar test on the flipped problems has p < {settings.alpha:g}.")
    parts = [head]
    for verdict in outcome.verdicts:
        parts.append(_describe(verdict, settings, level))
    parts.append(rule)
    if outcome.ignored:
        parts.append(f"Candidate tasks without a baseline, not gated: "
                     f"{', '.join(outcome.ignored)}.")
    warnings = [w for v in outcome.verdicts for w in v.result.warnings]
    if warnings:
        parts.append("WARNING, compared despite: " + "; ".join(warnings) + ".")
    return " ".join(parts)


def _describe(verdict: TaskVerdict, settings: GateSettings, level: float) -> str:
    result = verdict.result
    bound_name = "lower" if settings.rule == NON_INFERIORITY else "upper"
    text = (f"{result.task} ({'REGRESSION' if verdict.regression else 'ok'}): baseline "
            f"{result.score_a:.2f}, candidate {result.score_b:.2f}, delta {result.delta:+.2f} "
            f"points over {len(result.task_ids)} problems (one-sided {level:g}% {bound_name} "
            f"bound {verdict.bound:+.2f}; paired bootstrap, "
            f"{(settings.comparison or compare.Settings()).resamples} resamples); "
            f"{len(result.flipped_to_fail)} problems flipped to fail, "
            f"{len(result.flipped_to_pass)} to pass")
    if result.worse_p is not None:
        text += f", one-sided exact McNemar p = {compare.format_p(result.worse_p)}"
    if (settings.rule == SIGNIFICANT_DROP and not verdict.regression
            and verdict.bound < -settings.max_drop):
        text += (f"; the bound alone is below {_negated(settings.max_drop)}, but with "
                 f"{len(result.flipped_to_fail) + len(result.flipped_to_pass)} discordant "
                 "problems the exact test does not show a drop")
    if result.flipped_to_fail:
        shown = result.flipped_to_fail[:10]
        more = len(result.flipped_to_fail) - len(shown)
        text += f" (newly failing: {', '.join(shown)}{f' and {more} more' if more else ''})"
    return text + "."


def _points(value: float) -> str:
    return f"{value:g} percentage point{'' if value == 1 else 's'}"


def _negated(value: float) -> str:
    return "0" if value == 0 else f"{-value:g}"


def to_json(outcome: GateOutcome) -> dict[str, Any]:
    settings = outcome.settings
    return {
        "passed": not outcome.regression,
        "exit_code": outcome.exit_code,
        "rule": settings.rule,
        "max_drop": settings.max_drop,
        "alpha": settings.alpha,
        "tasks": {
            v.result.task: {
                **compare.entry_json(v.result),
                "bound": v.bound,
                "one_sided_mcnemar_p": v.result.worse_p,
                "regression": v.regression,
            }
            for v in outcome.verdicts
        },
        "ignored": outcome.ignored,
        "reason": reason(outcome),
    }


def format_json(outcome: GateOutcome) -> str:
    return json.dumps(to_json(outcome), indent=2)
