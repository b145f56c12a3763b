"""``harness score``: score a predictions file against a references file with one metric.

Both files are read line by line: plain text (one text per line) or JSON lines with a
``text`` field. In a references file a line may hold several references: in JSONL a list in
``text``, in plain text a JSON array of strings (e.g. ``["a = 1", "a=1"]``). Prints one JSON
object, scores in percent (0-100), like ``sacrebleu -f json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.io import JSON_ERRORS, parsed_line
from harness.metrics.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED

INPUT_FORMATS = ("auto", "text", "jsonl")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``harness score``."""
    parser = subparsers.add_parser(
        "score",
        help="score predictions against references (CodeBLEU, BLEU, chrF, ROUGE-L)",
        description="Score a predictions file against a references file with one metric.\n\n"
        "Both files are read line by line: plain text (one text per line) or JSON lines with a "
        "'text' field. In a references file a line may hold several references: in JSONL a "
        "list in 'text', in plain text a JSON array of strings (e.g. [\"a = 1\", \"a=1\"]). "
        "Prints one JSON object, scores in percent (0-100), like `sacrebleu -f json`.",
    )
    parser.add_argument(
        "--metric", required=True, help="codebleu, bleu, chrf or rouge_l (or a plugin scorer)"
    )
    parser.add_argument("--references", required=True, type=Path, metavar="FILE")
    parser.add_argument("--predictions", required=True, type=Path, metavar="FILE")
    parser.add_argument("--lang", default="python", help="CodeBLEU language (default: python)")
    parser.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        default="auto",
        help="auto (default): JSONL if the file ends in .jsonl or its first line is a JSON "
        "object with a text field, else plain text",
    )
    parser.add_argument(
        "--resamples",
        type=int,
        default=DEFAULT_RESAMPLES,
        help=f"bootstrap resamples for the 95%% interval; 0 = none (default {DEFAULT_RESAMPLES})",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed")
    codebleu = parser.add_argument_group("codebleu")
    codebleu.add_argument(
        "--codebleu-dataflow-zero",
        choices=("one", "keep"),
        default="one",
        help="a zero data-flow score counts as 1 (codebleu package, default) or stays 0 "
        "(CodeXGLUE's original)",
    )
    codebleu.add_argument(
        "--codebleu-ngram-counting",
        choices=("exact", "package"),
        default="exact",
        help="exact (default) or package: the codebleu package's n-gram counts, under which "
        "exact copies of texts shorter than 4 tokens score below 100",
    )
    codebleu.add_argument(
        "--codebleu-tokenizer",
        choices=("whitespace", "code"),
        default="whitespace",
        help="whitespace (default, the package's str.split) or code (split operators too)",
    )
    codebleu.add_argument(
        "--codebleu-weights",
        default="0.25,0.25,0.25,0.25",
        help="ngram,weighted-ngram,syntax,dataflow weights (default 0.25 each)",
    )
    sacre = parser.add_argument_group("bleu / chrf / rouge_l")
    sacre.add_argument("--tokenize", help="sacrebleu BLEU tokenizer (default 13a)")
    sacre.add_argument("--lowercase", action="store_true", help="BLEU/chrF: ignore case")
    sacre.add_argument(
        "--chrf-word-order", type=int, default=0, help="chrF word n-gram order (2 = chrF++)"
    )
    sacre.add_argument("--rouge-stemmer", action="store_true", help="ROUGE-L: Porter stemmer")
    parser.set_defaults(handler=run_score)


def scorer_options(args: argparse.Namespace) -> dict[str, Any]:
    common: dict[str, Any] = {"resamples": args.resamples, "seed": args.seed}
    if args.metric == "codebleu":
        try:
            weights = tuple(float(part) for part in args.codebleu_weights.split(","))
        except ValueError as exc:
            raise HarnessError(f"--codebleu-weights: not numbers: {args.codebleu_weights}") from exc
        return {
            **common,
            "weights": weights,
            "dataflow_zero": args.codebleu_dataflow_zero,
            "ngram_counting": args.codebleu_ngram_counting,
            "tokenizer": args.codebleu_tokenizer,
        }
    if args.metric == "bleu":
        return {**common, "tokenize": args.tokenize, "lowercase": args.lowercase}
    if args.metric == "chrf":
        return {**common, "word_order": args.chrf_word_order, "lowercase": args.lowercase}
    if args.metric == "rouge_l":
        return {**common, "use_stemmer": args.rouge_stemmer}
    return {}


def run_score(args: argparse.Namespace) -> int:
    from harness.metrics import scorers

    scorer_class = scorers.get(args.metric)
    predictions = read_entries(args.predictions, args.input_format, several=False)
    references = read_entries(args.references, args.input_format, several=True)
    if len(predictions) != len(references):
        raise HarnessError(
            f"{args.predictions} has {len(predictions)} entries but {args.references} has "
            f"{len(references)}; they must match line by line"
        )
    result = scorer_class(**scorer_options(args)).score(
        [str(entry) for entry in predictions],
        [[entry] if isinstance(entry, str) else entry for entry in references],
        args.lang,
    )
    main_score = result.metrics.get(args.metric, next(iter(result.metrics.values())))
    output: dict[str, Any] = {"name": args.metric, "score": round(main_score, 4)}
    output.update({name: round(value, 4) for name, value in result.metrics.items()})
    output["ci95"] = {name: list(interval) for name, interval in result.ci95.items()}
    output["signature"] = result.signature
    output["num_samples"] = len(predictions)
    output["bootstrap"] = {"resamples": args.resamples, "seed": args.seed, "method": "percentile"}
    print(json.dumps(output, indent=1))
    return 0


def read_entries(path: Path, input_format: str, *, several: bool) -> list[str | list[str]]:
    """One entry per line: a text or, if ``several`` (references), possibly a list of texts."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"cannot read {path}: {exc}") from exc
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if _is_jsonl(path, lines, input_format):
        entries = [_jsonl_entry(path, number, line) for number, line in _numbered(lines)]
        for number, entry in enumerate(entries, 1):
            if not several and not isinstance(entry, str):
                raise HarnessError(f"{path}: record {number}: a prediction must be one text")
        return entries
    return [_text_entry(line) if several else line for line in lines]


def _numbered(lines: list[str]) -> list[tuple[int, str]]:
    return [(number, line) for number, line in enumerate(lines, 1) if line.strip()]


def _is_jsonl(path: Path, lines: list[str], input_format: str) -> bool:
    if input_format != "auto":
        return input_format == "jsonl"
    if path.suffix == ".jsonl":
        return True
    first = next((line for line in lines if line.strip()), "")
    try:
        record = json.loads(first)
    except JSON_ERRORS:
        return False
    return isinstance(record, dict) and "text" in record


def _jsonl_entry(path: Path, number: int, line: str) -> str | list[str]:
    record = parsed_line(path, number, line)
    text = record.get("text") if isinstance(record, dict) else None
    if isinstance(text, str):
        return text
    if isinstance(text, list) and text and all(isinstance(item, str) for item in text):
        return list(text)
    raise HarnessError(
        f"{path}:{number}: expected an object with a 'text' string (or list of strings)"
    )


def _text_entry(line: str) -> str | list[str]:
    """A plain line; a JSON array of strings on a line means several references."""
    if line.startswith("["):
        try:
            value = json.loads(line)
        except JSON_ERRORS:
            return line
        if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            return value
    return line
