"""Fill-in-the-middle (FIM) prompting: each model family's sentinel tokens and their order.

A FIM model is given the code before and after a gap and writes the gap (the *middle*). The
prompt is plain text holding the family's sentinel strings; tokenizers that register the
sentinels as special tokens turn each one into a single token (``tokenizer(text)`` does),
and completion endpoints take the text unchanged. The model ends the middle with an
end-of-middle token, which the backends stop at and post-processing cuts at.

An alias picks a format with ``fim = "FAMILY"`` (:data:`FAMILIES`, :data:`ALIASES`), or
spells one out::

    fim = {family = "codellama", order = "spm"}                 # a family, other order
    fim = {prefix = "<PRE>", suffix = "<SUF>", middle = "<MID>", order = "psm",
           stop = ["<EOT>"]}                                     # explicit tokens
    fim = {template = "[SUFFIX]{suffix}[PREFIX]{prefix}", stop = ["</s>"]}

Orders: ``psm`` (prefix-suffix-middle: ``P prefix S suffix M``) and ``spm``
(suffix-prefix-middle in the layout the StarCoder and Code Llama trainings used:
``P S suffix M prefix``; the middle then continues the prefix directly). Other layouts
(Codestral's ``[SUFFIX]suffix[PREFIX]prefix``) are templates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import HarnessError
from harness.records import Prompt

# ModelSpec is not imported (spec.py validates `fim` with this module): any object with its
# `name` and `fim` attributes will do.
ModelSpec = Any

if TYPE_CHECKING:
    from harness.tasks.base import Problem

Order = Literal["psm", "spm", "template"]
_FIELD = re.compile(r"\{(prefix|suffix)\}")
# What `fim = {...}` may hold.
_KEYS = {"family", "prefix", "suffix", "middle", "order", "template", "stop"}


@dataclass(frozen=True)
class FimFormat:
    """One FIM prompt format: the text layout, the end-of-middle strings and the sentinels
    that must be single tokens of the model's tokenizer."""

    name: str
    order: Order
    template: str  # with the fields {prefix} and {suffix}, each once
    stop: tuple[str, ...]  # end-of-middle strings, most important first
    sentinels: tuple[str, ...]

    def render(self, prefix: str, suffix: str) -> str:
        """The prompt: the template with the code filled in (one pass, so code that
        contains ``{suffix}`` stays as it is)."""
        values = {"prefix": prefix, "suffix": suffix}
        return _FIELD.sub(lambda match: values[match.group(1)], self.template)


def tokens_format(name: str, prefix: str, suffix: str, middle: str, order: str,
                  stop: Iterable[str], *, spaced: bool = False) -> FimFormat:
    """A format from its three sentinels. ``spaced`` puts Code Llama's spaces around the
    code (``<PRE> {prefix} <SUF>{suffix} <MID>``): its tokenizer encodes the prefix with a
    leading word boundary and the suffix without one."""
    space = " " if spaced else ""
    layout: Order
    if order == "psm":
        layout = "psm"
        template = f"{prefix}{space}{{prefix}}{space}{suffix}{{suffix}}{space}{middle}"
    elif order == "spm":
        layout = "spm"
        template = f"{prefix}{space}{suffix}{{suffix}}{space}{middle}{space}{{prefix}}"
    else:
        raise HarnessError(f"fim: order must be 'psm' or 'spm', not {order!r}")
    return FimFormat(name, layout, template, tuple(stop),
                     tuple(t for t in (prefix, suffix, middle) if t))


def _family(name: str, prefix: str, suffix: str, middle: str, stop: tuple[str, ...],
            spaced: bool = False) -> dict[str, FimFormat]:
    return {f"{name}{tag}": tokens_format(f"{name}{tag}", prefix, suffix, middle, order, stop,
                                          spaced=spaced)
            for tag, order in (("", "psm"), ("-spm", "spm"))}


# DeepSeek-Coder's sentinels use FULLWIDTH VERTICAL LINE (U+FF5C) and LOWER ONE EIGHTH
# BLOCK (U+2581), not ASCII.
_DS = "\uff5c"
_SP = "\u2581"

# Each family's documented format (PSM unless the name says -spm) and end-of-middle tokens.
FAMILIES: dict[str, FimFormat] = {
    # StarCoder, StarCoderBase, StarCoder2: the middle ends with the document's end.
    **_family("starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>",
              ("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_pad>")),
    # SantaCoder spells its sentinels with hyphens.
    **_family("santacoder", "<fim-prefix>", "<fim-suffix>", "<fim-middle>",
              ("<|endoftext|>", "<fim-prefix>", "<fim-pad>")),
    # Code Llama (and Code Llama - Python/Instruct 7B/13B): the middle ends with <EOT>,
    # which is not its eos.
    **_family("codellama", "<PRE>", "<SUF>", "<MID>", ("<EOT>", "</s>"), spaced=True),
    **_family("deepseek-coder", f"<{_DS}fim{_SP}begin{_DS}>", f"<{_DS}fim{_SP}hole{_DS}>",
              f"<{_DS}fim{_SP}end{_DS}>",
              (f"<{_DS}end{_SP}of{_SP}sentence{_DS}>", "<|EOT|>", f"<{_DS}fim{_SP}begin{_DS}>")),
    **_family("qwen2.5-coder", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
              ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>",
               "<|fim_prefix|>", "<|im_end|>")),
    # CodeGemma uses Qwen's sentinel spellings; its middle ends with <|file_separator|>.
    **_family("codegemma", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>",
              ("<|file_separator|>", "<eos>", "<|fim_prefix|>", "<|fim_suffix|>",
               "<|fim_middle|>")),
    # Codestral (Mistral): suffix first, no middle token; the middle ends with eos.
    "codestral": FimFormat("codestral", "template", "[SUFFIX]{suffix}[PREFIX]{prefix}",
                           ("</s>",), ("[SUFFIX]", "[PREFIX]")),
}

# Other spellings people use for the families (lower case; "-", "_", "." and spaces ignored).
ALIASES: dict[str, str] = {
    "starcoder": "starcoder", "starcoderbase": "starcoder", "starcoder2": "starcoder",
    "bigcode": "starcoder", "santacoder": "santacoder",
    "codellama": "codellama", "llama": "codellama",
    "deepseekcoder": "deepseek-coder", "deepseek": "deepseek-coder",
    "deepseekcoderv2": "deepseek-coder",
    "qwen25coder": "qwen2.5-coder", "qwencoder": "qwen2.5-coder", "qwen": "qwen2.5-coder",
    "qwen2coder": "qwen2.5-coder", "qwen3coder": "qwen2.5-coder",
    "codegemma": "codegemma", "gemma": "codegemma",
    "codestral": "codestral", "mistral": "codestral",
}

# Every known end-of-middle and sentinel string: a middle never contains one, so task
# post-processing cuts at the first of them whatever the model's family.
# Codestral's bracketed sentinels are left out: ``[PREFIX]`` is also valid Python.
ALL_END_STRINGS: tuple[str, ...] = tuple(sorted(
    {s for f in FAMILIES.values() for s in (*f.stop, *f.sentinels)
     if not re.fullmatch(r"\[\w+\]", s)}, key=lambda s: (-len(s), s)))


def _squash(name: str) -> str:
    return re.sub(r"[-_.\s]", "", name.lower())


def family(name: str) -> FimFormat:
    """A family's format by name or alias (``starcoder``, ``codellama-spm``, ``qwen``...)."""
    key = name.strip().lower()
    if key in FAMILIES:
        return FAMILIES[key]
    base, spm = (key[:-4], True) if key.endswith("-spm") else (key, False)
    resolved = ALIASES.get(_squash(base))
    if resolved is None:
        known = ", ".join(sorted(FAMILIES))
        raise HarnessError(f"fim: unknown family {name!r} (known: {known}; or give the "
                           "tokens: {prefix, suffix, middle, order, stop})")
    full = f"{resolved}-spm" if spm else resolved
    if full not in FAMILIES:
        raise HarnessError(f"fim: {resolved} has no suffix-first (spm) format")
    return FAMILIES[full]


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise HarnessError(f"fim: {what} must be a string or a list of non-empty strings")


def resolve(value: str | Mapping[str, Any] | FimFormat | None) -> FimFormat | None:
    """The format an alias's ``fim`` field names (None: the model has no FIM)."""
    if value is None or isinstance(value, FimFormat):
        return value
    if isinstance(value, str):
        return family(value)
    if not isinstance(value, Mapping):
        raise HarnessError("fim: expected a family name or a table of tokens")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise HarnessError(f"fim: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    base = family(str(value["family"])) if "family" in value else None
    stop = _strings(value["stop"], "stop") if "stop" in value else None
    if "template" in value:
        template = str(value["template"])
        fields = _FIELD.findall(template)
        if sorted(fields) != ["prefix", "suffix"]:
            raise HarnessError("fim: a template needs the fields {prefix} and {suffix}, once each")
        literal = _FIELD.sub(" ", template).split()
        return FimFormat("custom", "template", template,
                         stop if stop is not None else (base.stop if base else ()), tuple(literal))
    tokens = [value.get(k) for k in ("prefix", "suffix", "middle")]
    order = str(value.get("order", base.order if base else "psm"))
    if base is not None and not any(tokens):
        if order != base.order:
            spm = base.name.removesuffix("-spm") + ("-spm" if order == "spm" else "")
            base = family(spm)
        return FimFormat(base.name, base.order, base.template,
                         stop if stop is not None else base.stop, base.sentinels)
    if not all(isinstance(t, str) and t for t in tokens):
        raise HarnessError("fim: explicit tokens need prefix, suffix and middle (strings), "
                           "or a template with {prefix} and {suffix}")
    prefix, suffix, middle = (str(t) for t in tokens)
    return tokens_format("custom", prefix, suffix, middle, order,
                         stop if stop is not None else (base.stop if base else ()))


def validate(value: Any) -> Any:
    """For ``ModelSpec.fim``: the value unchanged, or a ValueError saying what is wrong."""
    try:
        resolve(value)
    except HarnessError as exc:
        raise ValueError(str(exc).removeprefix("fim: ")) from None
    return value


def render(value: str | Mapping[str, Any] | FimFormat, prefix: str, suffix: str) -> str:
    fmt = resolve(value)
    if fmt is None:
        raise HarnessError("fim: no format given")
    return fmt.render(prefix, suffix)


def stop_sequences(value: str | Mapping[str, Any] | FimFormat | None) -> tuple[str, ...]:
    """The end-of-middle strings of a format (empty when there is none)."""
    fmt = resolve(value)
    return fmt.stop if fmt is not None else ()


def cut_at_end_of_middle(text: str, stops: Iterable[str] = ALL_END_STRINGS) -> str:
    """The middle: ``text`` up to its first end-of-middle (or sentinel) string. Nothing is
    stripped: the middle's leading indentation and trailing newline are part of it."""
    positions = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return text[: min(positions)] if positions else text


# ------------------------------------------------------------------ runner and backends


def needs_fim(problem: Problem) -> bool:
    return isinstance(problem.metadata.get("fim"), Mapping)


def fim_prompt(spec: ModelSpec | None, problem: Problem, mode: str) -> Prompt | None:
    """The prompt of an infilling problem (one whose ``metadata["fim"]`` holds ``prefix``
    and ``suffix``) for this model, or None for other problems (and for the reference
    model and samples files, which need no prompt). A model without a FIM format is one
    clear error."""
    if not needs_fim(problem) or spec is None or spec.backend in ("reference", "samples"):
        return None
    parts = problem.metadata["fim"]
    if mode == "chat" or spec.chat:
        raise HarnessError(
            f"model {spec.name!r} is in chat mode; infilling tasks need a completion model "
            "with a fill-in-the-middle format (set chat = false and fim = FAMILY)")
    if spec.fim is None:
        raise HarnessError(
            f"model {spec.name!r} has no fill-in-the-middle format: this task gives the code "
            "before and after a gap; set fim = \"FAMILY\" in its alias (one of "
            f"{', '.join(sorted(FAMILIES))}) or fim = {{prefix, suffix, middle, order, stop}}")
    return Prompt(render(spec.fim, str(parts["prefix"]), str(parts["suffix"])))


def request_stops(spec: ModelSpec | None, problems: Iterable[Problem]) -> tuple[str, ...]:
    """Stop sequences to add to a run's sampling parameters: the alias's end-of-middle
    strings when the run has infilling problems."""
    if spec is None or spec.fim is None or not any(needs_fim(p) for p in problems):
        return ()
    return stop_sequences(spec.fim)


def single_token_id(tokenizer: Any, text: str) -> int | None:
    """The id of ``text`` when the tokenizer encodes it as exactly one token, else None."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        return None
    token_id = int(ids[0])
    return None if token_id == getattr(tokenizer, "unk_token_id", None) else token_id


def end_of_middle_ids(spec: ModelSpec, tokenizer: Any) -> set[int]:
    """For local backends (transformers, vLLM): checks that every sentinel of the alias's
    format is one token of ``tokenizer`` (else one clear error: the model has no FIM, or
    the alias names the wrong family), and returns the ids of the end-of-middle strings
    that are single tokens, to stop generation at. Special tokens are left out of the
    decoded text, so a stop *string* would never match them."""
    fmt = resolve(spec.fim)
    if fmt is None:
        return set()
    for sentinel in fmt.sentinels:
        if single_token_id(tokenizer, sentinel) is None:
            raise HarnessError(
                f"model {spec.name!r}: its tokenizer has no fill-in-the-middle token "
                f"{sentinel!r} (fim = {fmt.name}): the model was not trained to fill in the "
                "middle, or its alias names the wrong family")
    return {i for i in (single_token_id(tokenizer, s) for s in fmt.stop) if i is not None}


__all__ = [
    "ALIASES", "ALL_END_STRINGS", "FAMILIES", "FimFormat", "cut_at_end_of_middle",
    "end_of_middle_ids", "family", "fim_prompt", "needs_fim", "render", "request_stops",
    "resolve", "stop_sequences", "tokens_format", "validate",
]
