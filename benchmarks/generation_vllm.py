"""vLLM backend overhead: the harness's ``VLLMBackend.generate`` against calling
``LLM.generate`` directly, on the same engine (so the same engine settings), prompts and
sampling settings. Goal: overhead <= 5% (tokens per second).

For each n (default 1 and 4), four arms run in alternating order, ``--repeats`` times, with
the prefix cache reset before each run (every run computes its prompts):

* ``direct``: ``LLM.generate(prompts, SamplingParams(n=n, seed=...))``, how one would call
  vLLM by hand;
* ``direct_per_sample``: ``LLM.generate`` with the request shape the harness uses (one
  ``n=1`` request per sample, each with its own seed), to separate the cost of that choice
  from the wrapper's;
* ``direct_tokens``: the same, with the prompts tokenized beforehand (outside the timing):
  exactly the engine work the harness asks for, so the difference to ``harness`` is the
  wrapper's own cost (``wrapper_overhead_pct``);
* ``harness``: ``VLLMBackend.generate`` (rendering, tokenizing, streaming completions,
  stop-sequence truncation included).

Throughput is output tokens per second (the arms draw different random samples, so their
token counts differ slightly). An overhead is the median over repeats of the throughput
ratio of two arms within the same repeat (runs close in time share the machine's load);
the ratio of the arms' best runs is reported beside it. On a busy machine wall times vary
by 10-40% between runs, so the benchmark also reports the wrapper's extra CPU time in the
calling process (``wrapper_caller_cpu_ms``: harness against ``direct_tokens``; the engine
itself works in other processes), which other programs barely disturb.

Usage::

    python benchmarks/generation_vllm.py [--model DIR] [--prompts 64] [--max-new-tokens 64]
        [--n 1,4] [--repeats 8]

Run alone, it saves ``benchmarks/results/generation_vllm.json`` and merges the result into
``benchmarks/results/generation_throughput.json`` under ``"vllm"``.
``benchmarks/generation_throughput.py`` calls :func:`bench_vllm` itself.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
HUMANEVAL = ROOT.parent / "shared" / "data" / "humanevalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
# HumanEval's stop sequences (Codex paper), as a harness run sends them.
STOP = ("\ndef", "\nclass", "\nif", "\nprint")
TEMPERATURE, TOP_P, SEED = 0.8, 0.95, 1234
GOAL_PCT = 5.0

sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def load_prompts(count: int) -> list[str]:
    with gzip.open(HUMANEVAL, "rt") as handle:
        prompts = [json.loads(line)["prompt"] for line in handle]
    return [prompts[i % len(prompts)] for i in range(count)]


def bench_vllm(
    model_dir: Path,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 64,
    shape: str = "tiny-llama",
    ns: Sequence[int] = (1, 4),
    repeats: int = 8,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Measure the backend against direct ``LLM.generate``; the result as a dict."""
    from vllm import SamplingParams as VllmParams

    from harness.backends.base import BackendContext
    from harness.backends.prompting import sample_seed
    from harness.backends.spec import ModelSpec
    from harness.backends.vllm import VLLMBackend
    from harness.records import GenerationRequest, Prompt, SamplingParams

    spec = ModelSpec(
        name=f"vllm:{shape}", backend="vllm", model=str(model_dir), options=dict(options or {})
    )
    backend = VLLMBackend(spec, BackendContext(show_progress=False))
    load_before = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    llm = backend.llm
    startup = time.perf_counter() - started

    def direct(n: int) -> int:
        params = VllmParams(
            n=n,
            temperature=TEMPERATURE,
            top_p=TOP_P,
            max_tokens=max_new_tokens,
            stop=list(STOP),
            seed=SEED,
        )
        outputs = llm.generate(list(prompts), params, use_tqdm=False)
        return sum(len(c.token_ids) for output in outputs for c in output.outputs)

    def per_sample_params(n: int) -> list[Any]:
        """One seeded request per sample, as the harness sends them."""
        return [
            VllmParams(
                n=1,
                temperature=TEMPERATURE,
                top_p=TOP_P,
                max_tokens=max_new_tokens,
                stop=list(STOP),
                seed=sample_seed(SEED, i, Prompt(text)),
            )
            for text in prompts
            for i in range(n)
        ]

    def direct_per_sample(n: int) -> int:
        texts = [text for text in prompts for _ in range(n)]
        outputs = llm.generate(texts, per_sample_params(n), use_tqdm=False)
        return sum(len(c.token_ids) for output in outputs for c in output.outputs)

    tokenizer = llm.get_tokenizer()
    token_ids = [list(ids) for ids in tokenizer(list(prompts))["input_ids"]]

    def direct_tokens(n: int) -> int:
        inputs = [{"prompt_token_ids": ids} for ids in token_ids for _ in range(n)]
        outputs = llm.generate(inputs, per_sample_params(n), use_tqdm=False)
        return sum(len(c.token_ids) for output in outputs for c in output.outputs)

    def harness(n: int) -> int:
        params = SamplingParams(
            n=n,
            temperature=TEMPERATURE,
            top_p=TOP_P,
            max_new_tokens=max_new_tokens,
            seed=SEED,
            stop=STOP,
        )
        requests = [
            GenerationRequest(f"p{i}", f"p{i}", Prompt(text), params, tuple(range(n)))
            for i, text in enumerate(prompts)
        ]
        return sum(c.num_tokens or 0 for c in backend.generate(requests))

    arms = {
        "direct": direct,
        "direct_per_sample": direct_per_sample,
        "direct_tokens": direct_tokens,
        "harness": harness,
    }
    try:
        for run in arms.values():  # warm-up: first-call costs stay out of the timings
            run(1)
        results: dict[str, Any] = {}
        for n in ns:
            runs: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in arms}
            for repeat in range(repeats):
                order = list(arms) if repeat % 2 == 0 else list(reversed(arms))
                for name in order:
                    llm.reset_prefix_cache()
                    began, began_cpu, began_own = time.perf_counter(), _cpu_seconds(), _own_cpu()
                    tokens = arms[name](n)
                    wall = time.perf_counter() - began
                    cpu, own = _cpu_seconds() - began_cpu, _own_cpu() - began_own
                    runs[name].append((wall, cpu, own, tokens))
            results[f"n={n}"] = _summarize(runs, len(prompts) * n)
        engine_kwargs = backend.engine_kwargs()
    finally:
        backend.close()

    import vllm

    return {
        "what": "harness VLLMBackend.generate vs LLM.generate on the same engine",
        "model": shape,
        "model_dir": str(model_dir),
        "prompts": len(prompts),
        "max_new_tokens": max_new_tokens,
        "temperature": TEMPERATURE,
        "top_p": TOP_P,
        "stop": list(STOP),
        "repeats": repeats,
        "load_average_1m_before": load_before,
        "engine_start_seconds": round(startup, 1),
        "engine_kwargs": {k: v for k, v in engine_kwargs.items() if k != "model"},
        "results": results,
        "goal_pct": GOAL_PCT,
        "goal_met": all(r["overhead_pct"] <= GOAL_PCT for r in results.values()),
        "host": {
            "device": _device(),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "vllm": vllm.__version__,
        },
    }


def _cpu_seconds() -> float:
    """CPU time used so far by this process and its children (vLLM's engine processes)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def _own_cpu() -> float:
    """CPU time of this process alone: the caller's side (rendering, tokenizing, request
    building, detokenizing, the step loop), where the wrapper's cost lives; the engine
    works in other processes."""
    times = os.times()
    return times.user + times.system


def _summarize(
    runs: dict[str, list[tuple[float, float, float, int]]], samples: int
) -> dict[str, Any]:
    """Per arm: the best and the median throughput. Overheads are medians over repeats of
    the ratio between runs of the same repeat (neighbours in time share the machine's
    load), with the ratio of the best runs beside them, and the same for CPU time per token
    (CPU time is far less disturbed by other programs than wall time)."""
    summary: dict[str, Any] = {"samples": samples}
    rates = {name: [tokens / wall for wall, _, _, tokens in runs[name]] for name in runs}
    cpu_rates = {name: [tokens / cpu for _, cpu, _, tokens in runs[name]] for name in runs}
    own = {name: statistics.median(o for _, _, o, _ in runs[name]) for name in runs}
    for name, measured in runs.items():
        summary[name] = {
            "seconds": [round(wall, 3) for wall, _, _, _ in measured],
            "cpu_seconds": [round(cpu, 3) for _, cpu, _, _ in measured],
            "caller_cpu_seconds": [round(o, 3) for _, _, o, _ in measured],
            "tokens": [tokens for _, _, _, tokens in measured],
            "tokens_per_second_best": round(max(rates[name]), 1),
            "tokens_per_second_median": round(statistics.median(rates[name]), 1),
            "tokens_per_cpu_second_median": round(statistics.median(cpu_rates[name]), 1),
        }

    def paired(reference: str, table: dict[str, list[float]]) -> float:
        ratios = [ref / mine for ref, mine in zip(table[reference], table["harness"], strict=True)]
        return round((statistics.median(ratios) - 1) * 100, 2)

    def best(reference: str) -> float:
        return round((max(rates[reference]) / max(rates["harness"]) - 1) * 100, 2)

    summary["overhead_pct"] = paired("direct", rates)
    summary["overhead_best_pct"] = best("direct")
    summary["overhead_cpu_pct"] = paired("direct", cpu_rates)
    summary["overhead_vs_same_requests_pct"] = paired("direct_per_sample", rates)
    summary["wrapper_overhead_pct"] = paired("direct_tokens", rates)
    summary["wrapper_overhead_best_pct"] = best("direct_tokens")
    summary["wrapper_overhead_cpu_pct"] = paired("direct_tokens", cpu_rates)
    # The wrapper's own work: extra caller-side CPU time against the same engine requests,
    # as a share of a direct run's (median) wall time.
    extra = own["harness"] - own["direct_tokens"]
    direct_wall = statistics.median(wall for wall, _, _, _ in runs["direct"])
    summary["wrapper_caller_cpu_ms"] = round(extra * 1000, 1)
    summary["wrapper_caller_cpu_pct_of_direct_wall"] = round(extra / direct_wall * 100, 2)
    return summary


def _device() -> str:
    from vllm.platforms import current_platform

    return "cpu" if current_platform.is_cpu() else str(current_platform.device_name)


def print_result(result: dict[str, Any]) -> None:
    print(
        f"vLLM backend overhead, {result['model']} on {result['host']['device']}: "
        f"{result['prompts']} prompts, max_new_tokens {result['max_new_tokens']}, "
        f"{result['repeats']} repeats (engine start {result['engine_start_seconds']} s, "
        f"load average {result['host']['load_average_1m']})"
    )
    for label, row in result["results"].items():
        rates = ", ".join(
            f"{arm} {row[arm]['tokens_per_second_median']:.0f}"
            for arm in ("direct", "direct_per_sample", "direct_tokens", "harness")
        )
        print(f"  {label}: median tok/s: {rates}")
        print(
            f"    overhead vs direct {row['overhead_pct']:+.1f}% (best runs "
            f"{row['overhead_best_pct']:+.1f}%), vs the same requests "
            f"{row['overhead_vs_same_requests_pct']:+.1f}%, wrapper alone "
            f"{row['wrapper_overhead_pct']:+.1f}% "
            f"(best runs {row['wrapper_overhead_best_pct']:+.1f}%)"
        )
        print(
            f"    CPU time per token: overhead vs direct {row['overhead_cpu_pct']:+.1f}%, "
            f"wrapper alone {row['wrapper_overhead_cpu_pct']:+.1f}%; the wrapper's extra "
            f"caller-side CPU: {row['wrapper_caller_cpu_ms']:+.0f} ms per run "
            f"({row['wrapper_caller_cpu_pct_of_direct_wall']:+.1f}% of a direct run)"
        )
    verdict = "met" if result["goal_met"] else "NOT met"
    print(f"  goal overhead <= {result['goal_pct']}%: {verdict}")


def save(result: dict[str, Any], label: str) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "generation_vllm.json").write_text(json.dumps(result, indent=2) + "\n")
    combined = RESULTS_DIR / "generation_throughput.json"
    data = json.loads(combined.read_text()) if combined.exists() else {}
    data.setdefault("vllm", {})[label] = result
    combined.write_text(json.dumps(data, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model folder (default: build a tiny Llama)")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--n", default="1,4", help="samples per prompt to measure, e.g. 1,4")
    parser.add_argument("--repeats", type=int, default=8)
    args = parser.parse_args(argv)

    prompts = load_prompts(args.prompts)
    ns = [int(n) for n in args.n.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-vllm-") as tmp:
        if args.model:
            model_dir, shape = args.model, args.model.name
        else:
            from tiny_models import build_tiny_llama

            model_dir, shape = build_tiny_llama(Path(tmp) / "tiny-llama"), "tiny-llama"
        result = bench_vllm(
            model_dir,
            prompts,
            max_new_tokens=args.max_new_tokens,
            shape=shape,
            ns=ns,
            repeats=args.repeats,
        )
    print_result(result)
    save(result, shape)
    print(f"saved to {RESULTS_DIR.relative_to(ROOT)}/generation_vllm.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
