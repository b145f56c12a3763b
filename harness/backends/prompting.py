"""Prompt rendering and stop-sequence helpers shared by the generation backends.

* :func:`apply_template` puts a prompt into an alias's ``template`` (``{prompt}`` field).
* :func:`chat_messages` turns a prompt into chat messages for instruct models.
* :func:`render_prompt` gives the exact text a local model sees (chat template applied).
* :func:`truncate_at_stop` / :func:`find_stop` cut a completion at its first stop sequence.
* :func:`sample_seed` derives sample ``i``'s seed from the request seed, so any sample can be
  regenerated on its own (resume, larger n).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from harness.backends.spec import ModelSpec
from harness.errors import HarnessError
from harness.records import Prompt

PROMPT_FIELD = "{prompt}"


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


def prompt_digest(prompt: Prompt) -> str:
    """A stable hash of everything in a prompt (text and messages)."""
    messages = [sorted(m.items()) for m in prompt.messages] if prompt.messages else None
    payload = repr((prompt.text, messages)).encode()
    return hashlib.sha256(payload).hexdigest()


def find_stop(text: str, stop: Iterable[str], start: int = 0) -> int | None:
    """Index of the earliest occurrence of any stop sequence in ``text[start:]``, or None."""
    positions = [text.find(s, start) for s in stop if s]
    found = [p for p in positions if p >= 0]
    return min(found) if found else None


def truncate_at_stop(text: str, stop: Iterable[str]) -> str:
    """``text`` up to (not including) its earliest stop sequence."""
    index = find_stop(text, stop)
    return text if index is None else text[:index]


def sample_seed(seed: int, sample: int) -> int:
    """The seed of sample ``sample`` of a request seeded ``seed`` (63-bit, stable across
    processes and platforms)."""
    digest = hashlib.sha256(f"harness-sample:{seed}:{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def longest_stop(stop: Sequence[str]) -> int:
    return max((len(s) for s in stop), default=0)
