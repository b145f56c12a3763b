"""Prompt rendering and stop-sequence helpers shared by the generation backends.

* :func:`apply_template` puts a prompt into an alias's ``template`` (``{prompt}`` field).
* :func:`chat_messages` turns a prompt into chat messages for instruct models.
* :func:`render_prompt` gives the exact text a local model sees (chat template applied).
* :func:`end_of_turn_ids` gives the token ids that end a chat answer.
* :func:`fit_to_context` cuts an over-long prompt to the model's context (or refuses).
* :func:`sample_seed` derives sample ``i``'s seed from the request seed, so any sample can be
  regenerated on its own (resume, larger n).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from harness.backends.spec import ModelSpec
from harness.errors import HarnessError
from harness.records import GenerationRequest, Prompt

PROMPT_FIELD = "{prompt}"
# Tokens that chat templates write after each message (ChatML/Qwen, Llama 3, Phi-3, Gemma,
# Command-R). Models often declare only their document eos, so a chat answer would otherwise
# run on past the end of its turn into an invented next turn.
END_OF_TURN_TOKENS = (
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<end_of_turn>",
    "<|END_OF_TURN_TOKEN|>",
)


def apply_template(spec: ModelSpec, text: str) -> str:
    """``spec.template`` with ``{prompt}`` replaced by ``text`` (plain replacement, so braces
    in code need no escaping); ``text`` itself when the spec has no template."""
    if not spec.template:
        return text
    if PROMPT_FIELD not in spec.template:
        raise HarnessError(f"model {spec.name!r}: template has no {PROMPT_FIELD} field")
    return spec.template.replace(PROMPT_FIELD, text)


def chat_messages(spec: ModelSpec, prompt: Prompt) -> list[dict[str, str]]:
    """The messages sent to a chat model.

    A task's own messages are used as given; otherwise the (templated) prompt text is one
    user message. ``options.system_prompt`` on the spec adds a system message first when
    the messages have none.
    """
    if prompt.messages:
        messages = [dict(message) for message in prompt.messages]
    else:
        messages = [{"role": "user", "content": apply_template(spec, prompt.text)}]
    system = spec.options.get("system_prompt")
    if system and not any(m.get("role") == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": str(system)})
    return messages


def render_prompt(spec: ModelSpec, prompt: Prompt, tokenizer: Any | None = None) -> str:
    """The full text a local model is given: the chat template applied for chat specs,
    else the templated prompt text."""
    if not spec.chat:
        return apply_template(spec, prompt.text)
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise HarnessError(
            f"model {spec.name!r} is set to chat mode but its tokenizer has no chat template; "
            "set chat = false or use a tokenizer that has one"
        )
    rendered = tokenizer.apply_chat_template(
        chat_messages(spec, prompt), tokenize=False, add_generation_prompt=True
    )
    return str(rendered)


def end_of_turn_ids(tokenizer: Any, declared: Iterable[int | None]) -> set[int]:
    """The ids that end a chat answer: the ``declared`` eos ids (generation config,
    tokenizer), plus each known end-of-turn token that the tokenizer's chat template writes
    and that the tokenizer has as a special token (so text cannot produce it by accident)."""
    ids = {int(i) for i in declared if i is not None}
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # named templates ("default", "tool_use", ...)
        template = "\n".join(str(t) for t in template.values())
    if not isinstance(template, str):
        return ids
    special = {str(t) for t in getattr(tokenizer, "all_special_tokens", None) or ()}
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    special |= {str(t.content) for t in added.values() if getattr(t, "special", False)}
    for token in END_OF_TURN_TOKENS:
        if token in template and token in special:
            token_id = tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != getattr(tokenizer, "unk_token_id", None):
                ids.add(token_id)
    return ids


def prompt_digest(prompt: Prompt) -> str:
    """A stable hash of everything in a prompt (text and messages)."""
    messages = [sorted(m.items()) for m in prompt.messages] if prompt.messages else None
    payload = repr((prompt.text, messages)).encode()
    return hashlib.sha256(payload).hexdigest()


def prompt_identity(prompt: Prompt) -> str:
    """A short, stable digest of a prompt (its text and chat messages)."""
    messages = [dict(message) for message in prompt.messages or ()]
    material = json.dumps([prompt.text, messages], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]


def sample_seed(seed: int, sample: int, prompt: Prompt | None = None) -> int:
    """The seed of sample ``sample`` of a request seeded ``seed`` (63-bit, stable across
    processes and platforms). Backends pass the request's ``prompt`` too, so that problems
    draw from independent streams: without it, sample i of every problem would share one
    seed, and its outcomes would be correlated across problems."""
    material = f"harness-sample:{seed}:{sample}"
    if prompt is not None:
        material += f":{prompt_identity(prompt)}"
    digest = hashlib.sha256(material.encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def sample_groups(request: GenerationRequest) -> list[tuple[tuple[int, ...], int | None]]:
    """How a local backend generates a request's samples: greedy decoding makes every sample
    the same, so they come from one generation (seed None); sampled ones come one by one, each
    from its own seed (``sample_seed``), so any sample can be regenerated alone."""
    if not request.sample_indices:
        return []
    if request.params.temperature <= 0:
        return [(tuple(request.sample_indices), None)]
    return [((sample,), sample_seed(request.params.seed, sample, request.prompt))
            for sample in request.sample_indices]


def longest_stop(stop: Sequence[str]) -> int:
    return max((len(s) for s in stop), default=0)


def fit_to_context(
    ids: list[int], request: GenerationRequest, *, context: int, model: str,
    prompt_shares_context: bool, truncation: str, special: set[int], context_hint: str = "",
) -> tuple[list[int], bool]:
    """The prompt's token ids cut to the context budget (keeping the end), and whether they
    were cut. A decoder-only model's context also holds the new tokens
    (``prompt_shares_context``); an encoder-decoder's encoder has it all for the prompt.
    With ``truncation = "error"`` an over-long prompt is a clear error instead."""
    max_new = request.params.max_new_tokens
    budget = context - max_new if prompt_shares_context else context
    if budget < 1:
        raise HarnessError(
            f"max_new_tokens {max_new} leaves no room for a prompt in the context of "
            f"{model!r} ({context} tokens{context_hint})"
        )
    if len(ids) <= budget:
        return ids, False
    if truncation == "error":
        raise HarnessError(
            f"prompt of {request.task_id} is {len(ids)} tokens; {model!r} takes "
            f"{budget} (context {context}"
            + (f" minus max_new_tokens {max_new}" if prompt_shares_context else "")
            + "); set options.truncation = 'left' to keep the prompt's end"
        )
    return keep_end(ids, budget, special), True


def keep_end(ids: list[int], budget: int, special: set[int]) -> list[int]:
    """The last tokens of ``ids`` that fit in ``budget``, keeping the leading and trailing
    special tokens (bos, eos) the tokenizer added."""
    head = 0
    while head < len(ids) and ids[head] in special:
        head += 1
    tail = 0
    while tail < len(ids) - head and ids[len(ids) - 1 - tail] in special:
        tail += 1
    if head + tail >= budget:
        return ids[len(ids) - budget :]
    body = ids[head : len(ids) - tail]
    keep = budget - head - tail
    return ids[:head] + body[len(body) - keep :] + ids[len(ids) - tail :]
