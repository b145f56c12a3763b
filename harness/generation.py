"""The generation stage: problems -> requests -> backend (or the generation cache) -> one
``SampleRecord`` per sample, raw text and the code to execute side by side.

Completion mode post-processes the text the task's way (stop sequences, HumanEval's
prompt + completion). Chat mode extracts the program from the answer (``Task.extract``:
reasoning dropped, code found, dependencies kept) and tests it as a whole ``solution``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

from harness.io import safe_text
from harness.plan import RunPlan
from harness.records import Completion, GenerationRequest, Prompt
from harness.schema import SampleRecord
from harness.tasks import Problem, Task

if TYPE_CHECKING:
    from harness.backends import ModelAPI
    from harness.backends.cache import GenerationCache

log = logging.getLogger(__name__)


def problem_prompt(plan: RunPlan, problem: Problem) -> Prompt:
    """What the model is asked. Chat mode: the task's instruction, unless the alias has a
    ``template``, which then receives the problem text as ``{prompt}``."""
    from harness.fim import fim_prompt

    infill = fim_prompt(plan.spec, problem, plan.mode)
    if infill is not None:
        return infill
    if plan.mode != "chat":
        return problem.prompt
    chat = plan.task.chat_prompt(problem)
    if plan.spec is not None and plan.spec.template:
        return Prompt(chat.text)
    return chat


def pending_requests(plan: RunPlan, done: Collection[tuple[str, int]]
                     ) -> list[GenerationRequest]:
    requests = []
    for problem in plan.problems:
        missing = tuple(i for i in range(plan.samples_per_problem[problem.key])
                        if (problem.key, i) not in done)
        if missing:
            requests.append(GenerationRequest(
                key=problem.key, task_id=problem.task_id, prompt=problem_prompt(plan, problem),
                params=plan.params, sample_indices=missing, reference=problem.reference))
    return requests


def sample_record(task: Task, problem: Problem, completion: Completion, chat: bool
                  ) -> SampleRecord:
    raw = safe_text(completion.text)
    common: dict[str, Any] = {
        "key": problem.key, "task_id": problem.task_id, "sample": completion.sample,
              "raw": raw, "finish_reason": completion.finish_reason,
              "num_tokens": completion.num_tokens,
              "prompt_truncated": completion.prompt_truncated}
    if chat:
        extraction = task.extract(problem, raw)
        return SampleRecord(**common, completion=extraction.code, kind="solution",
                            code_found=extraction.found, extraction=extraction.detail)
    return SampleRecord(**common, completion=task.postprocess(problem, raw))


def generate(plan: RunPlan, backend: ModelAPI, requests: list[GenerationRequest],
             cache: GenerationCache | None = None) -> Iterator[SampleRecord]:
    """One record per requested sample, as they come: cached ones first, then the model's."""
    by_key = {p.key: p for p in plan.problems}
    requests_by_key = {r.key: r for r in requests}
    chat = plan.mode == "chat"
    fingerprint = plan.model_fingerprint
    if cache is not None:
        remaining = []
        for request in requests:
            for completion in cache.get_many(fingerprint, request).values():
                yield sample_record(plan.task, by_key[request.key], completion, chat)
            rest = cache.missing(fingerprint, request)
            if rest is not None:
                remaining.append(rest)
        requests = remaining
    for completion in backend.generate(requests):
        if cache is not None:
            cache.put(fingerprint, requests_by_key[completion.key], completion)
        yield sample_record(plan.task, by_key[completion.key], completion, chat)
