"""Tiny random models built at test time: no network, deterministic, a few seconds each.

Each builder writes a model folder with ``save_pretrained`` (safetensors) plus a byte-level
BPE tokenizer trained on Python standard-library source, so every backend (transformers,
vLLM, an OpenAI-compatible server) can load it by path like a hub model. The functions are
plain; tests cache them per session with fixtures.

Special tokens are the same in every tokenizer built here:
``<pad>`` = 0, ``</s>`` = 1 (eos), ``<s>`` = 2 (bos), ``<unk>`` = 3. The chat model of
:func:`build_tiny_chat_llama` adds the ChatML tokens ``<|im_start|>`` and ``<|im_end|>``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, NamedTuple

PAD, EOS, BOS, UNK = "<pad>", "</s>", "<s>", "<unk>"
SPECIAL_TOKENS = [PAD, EOS, BOS, UNK]

# A minimal chat template so instruct-mode code paths work with the tiny models.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

# ChatML (Qwen-style): every message ends with the special token <|im_end|>.
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# The conversation whose greedy answer build_tiny_chat_llama rigs to end its turn after
# TURN_TOKENS tokens.
PROBE_SYSTEM = "You write Python."
PROBE_USER = "Write a function add(a, b)."
TURN_TOKENS = 4


def probe_messages(system: bool = True) -> list[dict[str, str]]:
    messages = [{"role": "user", "content": PROBE_USER}]
    if system:
        messages.insert(0, {"role": "system", "content": PROBE_SYSTEM})
    return messages


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


def build_tiny_chat_llama(
    out_dir: Path,
    *,
    head_dim: int = 64,
    hidden_size: int = 128,
    max_position_embeddings: int = 2048,
    seed: int = 0,
    turn_tokens: int = TURN_TOKENS,
) -> Path:
    """A random Llama instruct model: a ChatML chat template whose end-of-turn token
    ``<|im_end|>`` is a special token but not a declared eos (the generation config and the
    tokenizer say ``</s>``, as many instruct models do), so a backend must find it from the
    template. The output layer is rigged so that the greedy answer to
    :func:`probe_messages` is ``turn_tokens`` tokens, then ``<|im_end|>``.

    The rig: ``<|im_end|>``'s output row becomes ``s`` times the row of the token T that the
    unrigged model picks at step ``turn_tokens``, with ``1 < s`` small enough that at the
    earlier steps the chosen token still wins. Its logit is then ``s`` times T's wherever T
    would be picked, so it replaces T there (in other prompts too) and nowhere else.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    tokenizer = train_tokenizer(out_dir)
    tokenizer.add_special_tokens({"additional_special_tokens": [IM_START, IM_END]})
    tokenizer.chat_template = CHATML_TEMPLATE
    end = tokenizer.convert_tokens_to_ids(IM_END)
    text = tokenizer.apply_chat_template(
        probe_messages(), tokenize=False, add_generation_prompt=True
    )
    prompt = tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
    heads = max(1, hidden_size // head_dim)
    for attempt in range(20):
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=hidden_size,
            intermediate_size=hidden_size * 2,
            num_hidden_layers=2,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            head_dim=head_dim,
            max_position_embeddings=max_position_embeddings,
            tie_word_embeddings=False,
            **_special_ids(tokenizer),
        )
        torch.manual_seed(seed + attempt)
        model = LlamaForCausalLM(config).eval()
        tokens, logits = _greedy_steps(model, prompt, turn_tokens + 1)
        scale = _rig_scale(tokens, logits, turn_tokens, tokenizer.all_special_ids)
        if scale is None:
            continue
        with torch.no_grad():
            weight = model.lm_head.weight
            weight[end] = weight[tokens[turn_tokens]] * scale
        rigged, _ = _greedy_steps(model, prompt, turn_tokens + 1)
        if rigged == [*tokens[:turn_tokens], end]:
            return _save(model, tokenizer, out_dir, max_position_embeddings)
    raise RuntimeError("could not rig a tiny chat model; try another seed")


class Turn(NamedTuple):
    text: str
    finish_reason: str  # "stop": the turn ended; "length": max_new_tokens cut it
    num_tokens: int  # tokens before the end of turn


def reference_chat_turn(model_dir: Path, messages: list[dict[str, str]], max_new: int) -> Turn:
    """What plain transformers answers greedily to a conversation with a chat model built
    here: the tokens up to the first <|im_end|> or eos, or max_new of them."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
    tokens, _ = _greedy_steps(model, ids, max_new)
    ends = {tokenizer.convert_tokens_to_ids(IM_END), tokenizer.eos_token_id}
    length = next((i for i, t in enumerate(tokens) if t in ends), None)
    finish = "length" if length is None else "stop"
    length = len(tokens) if length is None else length
    return Turn(str(tokenizer.decode(tokens[:length], skip_special_tokens=True)), finish, length)


def _greedy_steps(model: Any, prompt: Any, steps: int) -> tuple[list[int], list[Any]]:
    """Greedy tokens and the logits each was chosen from (no cache: the model is tiny)."""
    import torch

    ids, tokens, logits = prompt, [], []
    with torch.no_grad():
        for _ in range(steps):
            step = model(input_ids=ids).logits[0, -1]
            token = int(step.argmax())
            tokens.append(token)
            logits.append(step)
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    return tokens, logits


def _rig_scale(tokens: list[int], logits: list[Any], at: int, special: list[int]) -> float | None:
    """A factor ``s`` that makes a copy of token T = tokens[at] win at step ``at`` by a clear
    margin and lose clearly before it; None when this model offers none."""
    target = tokens[at]
    peak = float(logits[at][target])
    if target in special or target in tokens[:at] or peak <= 0.05:
        return None
    ceiling = 2.0
    for step in logits[:at]:
        chosen, mine = float(step.max()), float(step[target])
        if mine > 0:
            ceiling = min(ceiling, chosen / mine)
    if ceiling < 1.1:  # too close to a tie: float differences between engines could flip it
        return None
    return (1.0 + ceiling) / 2


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
    build_tiny_chat_llama(root / "chat-llama")
    t5 = build_tiny_t5(root / "t5")
    build_lora_adapter(t5, root / "t5-lora")
    build_lora_adapter(llama, root / "llama-lora")
    build_tiny_gpt2(root / "gpt2")
    print(root)
