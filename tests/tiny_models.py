"""Tiny random models built at test time: no network, deterministic, a few seconds each.

Each builder writes a model folder with ``save_pretrained`` (safetensors) plus a byte-level
BPE tokenizer trained on Python standard-library source, so every backend (transformers,
vLLM, an OpenAI-compatible server) can load it by path like a hub model. The functions are
plain; tests cache them per session with fixtures.

Special tokens are the same in every tokenizer built here:
``<pad>`` = 0, ``</s>`` = 1 (eos), ``<s>`` = 2 (bos), ``<unk>`` = 3.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

PAD, EOS, BOS, UNK = "<pad>", "</s>", "<s>", "<unk>"
SPECIAL_TOKENS = [PAD, EOS, BOS, UNK]

# A minimal chat template so instruct-mode code paths work with the tiny models.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def _training_text() -> list[str]:
    """Python source to train the tokenizer on: a few stdlib modules, read from disk."""
    import argparse
    import collections
    import functools
    import json.decoder
    import textwrap

    modules = [textwrap, functools, collections, argparse, json.decoder]
    return [inspect.getsource(module) for module in modules]


def train_tokenizer(
    out_dir: Path, vocab_size: int = 512, *, add_bos: bool = False, add_eos: bool = False
) -> Any:
    """Train a byte-level BPE tokenizer on Python source; save it to ``out_dir``.

    ``add_bos`` prepends ``<s>`` to every encoded text (Llama-style); ``add_eos`` appends
    ``</s>`` (T5-style encoder inputs). Returns a ``PreTrainedTokenizerFast``.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_training_text(), trainer=trainer)
    pieces = [f"{BOS}:0"] if add_bos else []
    pieces += ["$A:0"] + ([f"{EOS}:0"] if add_eos else [])
    single = " ".join(pieces)
    special = [(t, tokenizer.token_to_id(t)) for t in (BOS, EOS) if t in single]
    if add_bos or add_eos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=single, special_tokens=special
        )
    else:
        tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        clean_up_tokenization_spaces=False,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out_dir)
    return fast


def _special_ids(tokenizer: Any) -> dict[str, Any]:
    return {
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.bos_token_id,
    }


def _save(model: Any, tokenizer: Any, out_dir: Path, model_max_length: int) -> Path:
    from transformers import GenerationConfig

    tokenizer.model_max_length = model_max_length
    model.generation_config = GenerationConfig(
        **_special_ids(tokenizer),
        decoder_start_token_id=getattr(model.config, "decoder_start_token_id", None),
    )
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_tiny_llama(
    out_dir: Path,
    *,
    head_dim: int = 64,
    hidden_size: int = 128,
    layers: int = 2,
    max_position_embeddings: int = 2048,
    seed: int = 0,
    chat_template: bool = True,
) -> Path:
    """A random Llama-architecture causal LM (vLLM's CPU attention needs ``head_dim`` 64)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    tokenizer = train_tokenizer(out_dir, add_bos=True)
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    heads = max(1, hidden_size // head_dim)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        head_dim=head_dim,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=False,
        **_special_ids(tokenizer),
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    return _save(model, tokenizer, out_dir, max_position_embeddings)


def build_tiny_t5(out_dir: Path, seed: int = 0, *, model_max_length: int = 512) -> Path:
    """A random CodeT5+-shaped encoder-decoder (``T5ForConditionalGeneration``), tiny."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    out_dir = Path(out_dir)
    tokenizer = train_tokenizer(out_dir, add_eos=True)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=64,
        d_kv=16,
        d_ff=128,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        feed_forward_proj="relu",
        **_special_ids(tokenizer),
        **{"tie_word_embeddings": False, "decoder_start_token_id": tokenizer.pad_token_id},
    )
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(config)
    return _save(model, tokenizer, out_dir, model_max_length)


def build_tiny_gpt2(out_dir: Path, seed: int = 0, *, n_positions: int = 256) -> Path:
    """A random GPT-2-architecture completer with a short context (``n_positions``)."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    out_dir = Path(out_dir)
    tokenizer = train_tokenizer(out_dir)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=64,
        n_layer=2,
        n_head=2,
        n_positions=n_positions,
        **_special_ids(tokenizer),
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    return _save(model, tokenizer, out_dir, n_positions)


_DEFAULT_LORA_TARGETS = {
    "llama": ["q_proj", "v_proj"],
    "t5": ["q", "v"],
    "gpt2": ["c_attn"],
}


def build_lora_adapter(
    base_dir: Path,
    out_dir: Path,
    *,
    target_modules: list[str] | None = None,
    seed: int = 0,
    rank: int = 8,
) -> Path:
    """A PEFT LoRA adapter for the model in ``base_dir`` with random, non-zero weights
    (both A and B), so applying it changes the model's outputs."""
    import torch
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    base_dir, out_dir = Path(base_dir), Path(out_dir)
    config = AutoConfig.from_pretrained(base_dir)
    seq2seq = bool(getattr(config, "is_encoder_decoder", False))
    loader = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    model = loader.from_pretrained(base_dir)
    lora = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.0,
        target_modules=target_modules or _DEFAULT_LORA_TARGETS.get(config.model_type),
        task_type=TaskType.SEQ_2_SEQ_LM if seq2seq else TaskType.CAUSAL_LM,
    )
    peft_model = get_peft_model(model, lora)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_A" in name or "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.2)
    peft_model.save_pretrained(str(out_dir), safe_serialization=True)
    return out_dir


if __name__ == "__main__":  # build a set into a folder, for manual runs
    import sys

    root = Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-models")
    llama = build_tiny_llama(root / "llama")
    t5 = build_tiny_t5(root / "t5")
    build_lora_adapter(t5, root / "t5-lora")
    build_lora_adapter(llama, root / "llama-lora")
    build_tiny_gpt2(root / "gpt2")
    print(root)
