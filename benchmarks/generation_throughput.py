"""Generation throughput: the harness's backends against direct library calls.

HF part (``bench_hf``): tokens/second of the transformers backend's batched generation
against naive one-prompt-at-a-time ``model.generate`` on the same model and prompts, greedy,
with ``min_new_tokens == max_new_tokens`` so both make exactly the same number of tokens.
Goal: batched >= 5x naive.

vLLM part (``bench_vllm`` in ``benchmarks/generation_vllm.py``, optional): the harness's vLLM
backend against ``LLM.generate`` on the same prompts. It is called as
``bench_vllm(model_dir, prompts, max_new_tokens=..., shape=...) -> dict`` and its result is
stored under the ``"vllm"`` key.

Models are random-weight, built from configs at run time (no downloads):
``tiny-llama`` (default, CPU-sized), ``tiny-t5``, ``codet5p-770m`` (T5 with CodeT5+ 770M's
shape) and ``llama-1b`` (TinyLlama-1.1B's shape); the last two are for GPU machines.

Usage::

    python benchmarks/generation_throughput.py [--shape tiny-llama] [--prompts 64]
        [--max-new-tokens 64] [--batch-size 32] [--device auto] [--threads N] [--skip-vllm]

Results are printed and merged into ``benchmarks/results/generation_throughput.json`` as
``{"hf": {"<shape>/<device>": {...}}, "vllm": {...}}``.
"""

from __future__ import annotations

import argparse
import gzip
import inspect
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "generation_throughput.json"
HUMANEVAL = ROOT.parent / "shared" / "data" / "humanevalplus" / "HumanEvalPlus-v0.1.10.jsonl.gz"
SHAPES = ("tiny-llama", "tiny-t5", "codet5p-770m", "llama-1b")

sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


# ---------------------------------------------------------------------------- inputs


def load_prompts(count: int) -> list[str]:
    """HumanEval prompts when the data is here, else stdlib function sources (same kind)."""
    if HUMANEVAL.exists():
        with gzip.open(HUMANEVAL, "rt") as handle:
            prompts = [json.loads(line)["prompt"] for line in handle]
    else:
        import textwrap

        prompts = [
            inspect.getsource(obj)
            for obj in vars(textwrap).values()
            if inspect.isfunction(obj) and obj.__module__ == "textwrap"
        ]
    return [prompts[i % len(prompts)] for i in range(count)]


def build_model(shape: str, out_dir: Path) -> Path:
    """A random-weight model folder of the given shape (tokenizer: tiny byte-level BPE)."""
    import torch
    from tiny_models import build_tiny_llama, build_tiny_t5, train_tokenizer

    if shape == "tiny-llama":
        return build_tiny_llama(out_dir)
    if shape == "tiny-t5":
        return build_tiny_t5(out_dir)
    from transformers import LlamaConfig, LlamaForCausalLM, T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    if shape == "codet5p-770m":
        tokenizer = train_tokenizer(out_dir, add_eos=True)
        config: Any = T5Config(
            vocab_size=len(tokenizer),
            d_model=1024,
            d_kv=64,
            d_ff=4096,
            num_layers=24,
            num_heads=16,
            feed_forward_proj="relu",
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **{"tie_word_embeddings": False, "decoder_start_token_id": tokenizer.pad_token_id},
        )
        model: Any = T5ForConditionalGeneration(config)
    elif shape == "llama-1b":
        tokenizer = train_tokenizer(out_dir, add_bos=True)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=2048,
            intermediate_size=5632,
            num_hidden_layers=22,
            num_attention_heads=32,
            num_key_value_heads=4,
            max_position_embeddings=2048,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            bos_token_id=tokenizer.bos_token_id,
        )
        model = LlamaForCausalLM(config)
    else:
        raise SystemExit(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    tokenizer.model_max_length = 2048 if shape == "llama-1b" else 512
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


# ---------------------------------------------------------------------------- HF


def bench_hf(
    model_dir: Path,
    prompts: list[str],
    *,
    max_new_tokens: int = 64,
    batch_size: int = 32,
    device: str = "auto",
    dtype: str = "auto",
) -> dict[str, Any]:
    """Tokens/second of ``HFBackend.generate`` (batched) and of one ``model.generate`` per
    prompt, on the same loaded model, greedy, exactly ``max_new_tokens`` tokens per prompt."""
    import torch

    from harness.backends.base import BackendContext
    from harness.backends.hf import HFBackend
    from harness.backends.spec import ModelSpec
    from harness.records import GenerationRequest, Prompt, SamplingParams

    spec = ModelSpec(
        name="bench",
        backend="hf",
        model=str(model_dir),
        device=device,
        dtype=dtype,
        options={"generate_kwargs": {"min_new_tokens": max_new_tokens}},
    )
    backend = HFBackend(spec, BackendContext(show_progress=False, batch_size=batch_size))
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens)
    requests = [
        GenerationRequest(f"p{i}", f"p{i}", Prompt(text), params, (0,))
        for i, text in enumerate(prompts)
    ]
    model, tokenizer = backend.model, backend.tokenizer

    def synchronize() -> None:
        if backend.device.startswith("cuda"):
            torch.cuda.synchronize()

    # Warm-up (kernels, allocator, lazy imports) for both paths.
    list(backend.generate(requests[:2]))
    naive_generate(model, tokenizer, prompts[0], 4)
    synchronize()

    start = time.perf_counter()
    completions = list(backend.generate(requests))
    synchronize()
    batched_seconds = time.perf_counter() - start
    batched_tokens = sum(c.num_tokens or 0 for c in completions)

    start = time.perf_counter()
    naive_tokens = sum(naive_generate(model, tokenizer, p, max_new_tokens) for p in prompts)
    synchronize()
    naive_seconds = time.perf_counter() - start

    result = {
        "model": model_dir.name,
        "model_type": model.config.model_type,
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": backend.device,
        "dtype": str(backend.dtype).removeprefix("torch."),
        "torch_threads": torch.get_num_threads(),
        "prompts": len(prompts),
        "max_new_tokens": max_new_tokens,
        "batch_size": batch_size,
        "batched": {
            "tokens": batched_tokens,
            "seconds": round(batched_seconds, 3),
            "tokens_per_second": round(batched_tokens / batched_seconds, 1),
        },
        "naive": {
            "tokens": naive_tokens,
            "seconds": round(naive_seconds, 3),
            "tokens_per_second": round(naive_tokens / naive_seconds, 1),
        },
    }
    result["speedup"] = round(
        result["batched"]["tokens_per_second"] / result["naive"]["tokens_per_second"], 2
    )
    result["goal_speedup"] = 5.0
    result["goal_met"] = result["speedup"] >= 5.0
    backend.close()
    return result


def naive_generate(model: Any, tokenizer: Any, prompt: str, max_new_tokens: int) -> int:
    """The baseline: one prompt, one ``generate`` call; returns the new-token count."""
    import torch

    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    with torch.inference_mode():
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            min_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    start = 1 if model.config.is_encoder_decoder else inputs["input_ids"].shape[1]
    return int(output.shape[1] - start)


# ---------------------------------------------------------------------------- main


def load_bench_vllm() -> Any | None:
    try:
        from benchmarks.generation_vllm import bench_vllm
    except ImportError:
        return None
    return bench_vllm


def merge_results(key: str, label: str, result: dict[str, Any]) -> None:
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data.setdefault(key, {})[label] = result
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")


def print_hf(label: str, result: dict[str, Any]) -> None:
    batched, naive = result["batched"], result["naive"]
    print(f"HF backend, {label}: {result['parameters']:,} parameters, {result['dtype']}")
    print(
        f"  batched (harness, batch {result['batch_size']}): {batched['tokens']} tokens in "
        f"{batched['seconds']:.2f} s = {batched['tokens_per_second']:.1f} tok/s"
    )
    print(
        f"  naive (one generate per prompt):   {naive['tokens']} tokens in "
        f"{naive['seconds']:.2f} s = {naive['tokens_per_second']:.1f} tok/s"
    )
    verdict = "met" if result["goal_met"] else "NOT met"
    print(f"  speedup {result['speedup']:.2f}x (goal >= 5x: {verdict})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=SHAPES, default="tiny-llama")
    parser.add_argument("--model", type=Path, help="use this model folder instead of building one")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--skip-hf", action="store_true")
    parser.add_argument("--skip-vllm", action="store_true")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    prompts = load_prompts(args.prompts)
    with tempfile.TemporaryDirectory(prefix="bench-model-") as tmp:
        model_dir = args.model or build_model(args.shape, Path(tmp) / args.shape)
        if not args.skip_hf:
            result = bench_hf(
                model_dir,
                prompts,
                max_new_tokens=args.max_new_tokens,
                batch_size=args.batch_size,
                device=args.device,
                dtype=args.dtype,
            )
            result["host"] = {
                "load_average_1m": round(os.getloadavg()[0], 2),
                "cpus": os.cpu_count(),
                "machine": platform.machine(),
                "python": platform.python_version(),
                "torch": torch.__version__,
            }
            label = f"{args.model.name if args.model else args.shape}/{result['device']}"
            print_hf(label, result)
            merge_results("hf", label, result)
        bench_vllm = None if args.skip_vllm else load_bench_vllm()
        if bench_vllm is not None:
            vllm_result = bench_vllm(
                model_dir, prompts, max_new_tokens=args.max_new_tokens, shape=args.shape
            )
            label = f"{args.model.name if args.model else args.shape}"
            print(f"vLLM, {label}: {json.dumps(vllm_result, indent=2)}")
            merge_results("vllm", label, vllm_result)
    print(f"saved to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
