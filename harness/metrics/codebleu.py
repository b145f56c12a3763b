"""CodeBLEU (Ren et al. 2020) through the ``codebleu`` package (k4black), with bootstrap CIs.

The package's ``calc_codebleu`` returns only corpus ratios. To get per-sample scores and a
fast bootstrap, each prediction is reduced once to the package's own *counts* (n-gram
matches via ``codebleu.bleu.modified_precision`` and
``codebleu.weighted_ngram_match.modified_recall``, AST subtree matches and data-flow
matches with the package's parser helpers, mirroring its loops) and every score is
computed from summed counts. With ``ngram_counting="package"`` every score equals
``calc_codebleu``'s (tested), except that the package's data-flow score depends on
Python's string hash seed and ours does not (see ``_deterministic_dataflow``).

Conventions (recorded in the signature; see docs/metrics.md):

- ``dataflow_zero``: ``"one"`` (default, the ``codebleu`` package: a data-flow score of 0,
  e.g. when the references have no data flow, counts as 1 in the weighted sum) or
  ``"keep"`` (CodeXGLUE's original ``calc_code_bleu.py``: 0 stays 0). The reported
  ``codebleu_dataflow`` component is the raw ratio in both cases.
- ``ngram_counting``: ``"exact"`` (default) or ``"package"``. The package counts
  ``max(1, count)`` n-grams per text and order (NLTK), adding phantom n-grams to texts
  under 4 tokens (and to references whose weighted unigram mass is below 1), and its
  weighted n-gram match takes 2 as every reference's length (the length of the
  ``[tokens, weights]`` pair), so a 1-token text gets a brevity penalty of 1/e. An exact
  copy of a short snippet therefore scores below 100. ``"exact"`` counts only real
  n-grams (orders with none are left out of the geometric mean) and gives the weighted
  match no brevity penalty, which is what the package does whenever hypotheses average 2
  or more tokens. The two agree on texts of 5 or more tokens.
- ``tokenizer``: ``"whitespace"`` (default, the package's ``str.split``; right for
  pre-tokenized corpora such as CodeXGLUE) or ``"code"`` (identifiers, numbers, string
  literals and operators become separate tokens; leaves space-separated input unchanged).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from harness.errors import HarnessError
from harness.metrics.base import Scorer, ScoreResult
from harness.metrics.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_ci, check_corpus

if TYPE_CHECKING:
    from harness.metrics.bootstrap import Array

log = logging.getLogger(__name__)

DATAFLOW_ZERO_CHOICES = ("one", "keep")
NGRAM_COUNTING_CHOICES = ("exact", "package")
TOKENIZER_CHOICES = ("whitespace", "code")
METRIC_NAMES = (
    "codebleu",
    "codebleu_ngram",
    "codebleu_weighted_ngram",
    "codebleu_syntax",
    "codebleu_dataflow",
)

MAX_ORDER = 4
SMOOTHING_EPSILON = 0.1  # NLTK SmoothingFunction.method1, used by the package
KEYWORD_WEIGHT, OTHER_WEIGHT = 1.0, 0.2  # the package's weighted n-gram token weights

# Columns of the per-sample statistics matrix.
NGRAM_MATCH = slice(0, 4)
NGRAM_TOTAL = slice(4, 8)
HYP_LEN, REF_LEN = 8, 9
WEIGHTED_MATCH = slice(10, 14)
WEIGHTED_TOTAL = slice(14, 18)
SYNTAX_MATCH, SYNTAX_TOTAL, DATAFLOW_MATCH, DATAFLOW_TOTAL = 18, 19, 20, 21
# The package's weighted n-gram match takes the closest length of the [tokens, weights]
# *pairs* (always 2) as the reference length; mirrored with ngram_counting="package",
# else 0 (no brevity penalty).
WEIGHTED_REF_LEN = 22
NUM_STATS = 23

_CODE_TOKEN = re.compile(
    r"""
      [^\W\d]\w*                                  # identifiers and keywords
    | (?<![\w)\]}.'"])[-+]\d[\w.]*                # a signed number literal (-1 in `? -1 :`)
    | \d[\w.]*                                    # numbers
    | "(?:\\.|[^"\\\n])*" | '(?:\\.|[^'\\\n])*'   # one-line string literals
    | >>>=|<<=|>>=|\*\*=|//=|>>>|\.\.\.|->|=>|::|:=|&&|\|\||\+\+|--|\*\*|//|<<|>>
    | [-+*/%&|^=<>!@:~]=
    | \S
    """,
    re.VERBOSE,
)


def code_tokens(text: str) -> list[str]:
    """Split code into identifiers, numbers, string literals and operators."""
    return _CODE_TOKEN.findall(text)


def whitespace_tokens(text: str) -> list[str]:
    return text.split()


@dataclass
class _Grammar:
    """What the counts need for one language: tokenizer, keywords, parser, DFG function."""

    lang: str
    tokenize: Callable[[str], list[str]]
    keywords: frozenset[str]
    parser: Any
    dfg_function: Any


def _load_grammar(lang: str, tokenizer: str) -> _Grammar:
    import codebleu
    from codebleu import dataflow_match
    from codebleu.utils import AVAILABLE_LANGS, get_tree_sitter_language
    from tree_sitter import Parser

    if lang not in AVAILABLE_LANGS:
        raise HarnessError(
            f"CodeBLEU has no language {lang!r} (available: {', '.join(AVAILABLE_LANGS)})"
        )
    try:
        language = get_tree_sitter_language(lang)
    except ImportError as exc:
        package = "tree-sitter-" + lang.replace("_", "-")
        raise HarnessError(f"CodeBLEU for {lang} needs the grammar: pip install {package}") from exc
    parser = Parser()
    parser.language = language
    keywords_file = Path(codebleu.__file__).parent / "keywords" / f"{lang}.txt"
    keywords = frozenset(line.strip() for line in keywords_file.read_text("utf-8").splitlines())
    return _Grammar(
        lang=lang,
        tokenize=code_tokens if tokenizer == "code" else whitespace_tokens,
        keywords=keywords,
        parser=parser,
        dfg_function=dataflow_match.dfg_function[lang],
    )


def _strip_comments(code: str, lang: str) -> str:
    from codebleu.parser import remove_comments_and_docstrings

    try:
        return str(remove_comments_and_docstrings(code, lang))
    except Exception:  # the package keeps the text when stripping fails (e.g. invalid code)
        return code


def _subtrees(grammar: _Grammar, code: str) -> list[str]:
    """S-expressions of the root and of every node with children (the package's AST units)."""
    root = grammar.parser.parse(code.encode("utf8")).root_node
    found: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        found.append(str(node))
        stack.extend(child for child in node.children if child.children)
    return found


def _syntax_counts(grammar: _Grammar, hypothesis: str, references: list[str]) -> tuple[int, int]:
    matched = total = 0
    candidate = hypothesis
    for reference in references:
        candidate = _strip_comments(candidate, grammar.lang)
        candidate_trees = set(_subtrees(grammar, candidate))
        reference_trees = _subtrees(grammar, _strip_comments(reference, grammar.lang))
        matched += sum(1 for tree in reference_trees if tree in candidate_trees)
        total += len(reference_trees)
    return matched, total


class _InsertionOrderedSet(dict[Any, None]):
    """A stand-in for ``set`` that iterates in insertion order (the few operations the
    package's data-flow code uses: construction from an iterable, ``add``, ``in``, iteration)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__((item, None) for item in items)

    def add(self, item: Any) -> None:
        self[item] = None


_set_patch_lock = threading.Lock()


@contextmanager
def _deterministic_dataflow() -> Iterator[None]:
    """Run the package's data-flow extraction with insertion-ordered sets.

    It builds variable lists with ``list(set(names))``; their order, and with it the
    normalised variable names that edges are matched by, then varies with Python's string
    hash seed (one corpus gave data-flow scores 75.13-75.27 in five runs). Insertion order
    is one of the orders a set may produce, so results are the package's, made stable.
    """
    from codebleu import dataflow_match
    from codebleu.parser import DFG

    modules = (dataflow_match, DFG)
    with _set_patch_lock:
        for module in modules:
            module.set = _InsertionOrderedSet  # type: ignore[attr-defined]
        try:
            yield
        finally:
            for module in modules:
                del module.set


def _dataflow_counts(grammar: _Grammar, hypothesis: str, references: list[str]) -> tuple[int, int]:
    from codebleu.dataflow_match import get_data_flow, normalize_dataflow

    parser = [grammar.parser, grammar.dfg_function]
    matched = total = 0
    candidate = hypothesis
    for reference in references:
        candidate = _strip_comments(candidate, grammar.lang)
        candidate_flow = normalize_dataflow(get_data_flow(candidate, parser))
        reference_flow = normalize_dataflow(
            get_data_flow(_strip_comments(reference, grammar.lang), parser)
        )
        total += len(reference_flow)
        for edge in reference_flow:
            if edge in candidate_flow:
                matched += 1
                candidate_flow.remove(edge)
    return matched, total


def sample_statistics(
    grammar: _Grammar, prediction: str, references: Sequence[str], package_counts: bool
) -> list[float]:
    """The counts every CodeBLEU component of one prediction is computed from
    (``package_counts``: with the package's n-gram quirks, see ``ngram_counting``)."""
    from codebleu.bleu import closest_ref_length, modified_precision
    from codebleu.weighted_ngram_match import closest_ref_length as weighted_closest_ref_length
    from codebleu.weighted_ngram_match import modified_recall

    hypothesis = prediction.strip()
    stripped_refs = [reference.strip() for reference in references]
    hyp_tokens = grammar.tokenize(hypothesis)
    ref_tokens = [grammar.tokenize(reference) for reference in stripped_refs]
    token_weights = [
        {t: KEYWORD_WEIGHT if t in grammar.keywords else OTHER_WEIGHT for t in tokens}
        for tokens in ref_tokens
    ]
    weighted_refs = [
        [tokens, weights] for tokens, weights in zip(ref_tokens, token_weights, strict=True)
    ]

    row = [0.0] * NUM_STATS
    for order in range(1, MAX_ORDER + 1):
        column = order - 1
        matched, padded_total = modified_precision(ref_tokens, hyp_tokens, order)
        row[NGRAM_MATCH.start + column] = matched
        row[NGRAM_TOTAL.start + column] = (
            padded_total if package_counts else max(0, len(hyp_tokens) - order + 1)
        )
        w_matched, w_padded_total = modified_recall(weighted_refs, hyp_tokens, order)
        row[WEIGHTED_MATCH.start + column] = w_matched
        if package_counts:
            row[WEIGHTED_TOTAL.start + column] = w_padded_total
        elif order == 1:
            row[WEIGHTED_TOTAL.start + column] = sum(
                weights[token]
                for tokens, weights in zip(ref_tokens, token_weights, strict=True)
                for token in tokens
            )
        else:
            row[WEIGHTED_TOTAL.start + column] = sum(
                max(0, len(tokens) - order + 1) for tokens in ref_tokens
            )
    row[HYP_LEN] = len(hyp_tokens)
    row[REF_LEN] = closest_ref_length(ref_tokens, len(hyp_tokens))
    if package_counts:
        row[WEIGHTED_REF_LEN] = weighted_closest_ref_length(weighted_refs, len(hyp_tokens))
    row[SYNTAX_MATCH], row[SYNTAX_TOTAL] = _syntax_counts(grammar, hypothesis, stripped_refs)
    row[DATAFLOW_MATCH], row[DATAFLOW_TOTAL] = _dataflow_counts(grammar, hypothesis, stripped_refs)
    return row


def _bleu_from_counts(matched: Array, total: Array, hyp_len: Array, ref_len: Array) -> Array:
    """The package's corpus BLEU (NLTK: method1 smoothing, 0 without unigram matches),
    vectorised over rows; orders without any n-gram are left out of the geometric mean."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        brevity = np.where(
            hyp_len > ref_len,
            1.0,
            np.where(hyp_len == 0, 0.0, np.exp(1.0 - ref_len / np.maximum(hyp_len, 1))),
        )
        present = total > 0
        smoothed = np.where(matched == 0, SMOOTHING_EPSILON, matched)
        log_precision = np.where(present, np.log(smoothed / np.where(present, total, 1.0)), 0.0)
        orders = present.sum(axis=1)
        mean_log = log_precision.sum(axis=1) / np.maximum(orders, 1)
        score = brevity * np.exp(mean_log)
    return np.where((matched[:, 0] == 0) | (orders == 0), 0.0, score)


class CodeBLEUScorer(Scorer):
    name: ClassVar[str] = "codebleu"

    def __init__(
        self,
        *,
        weights: Sequence[float] = (0.25, 0.25, 0.25, 0.25),
        dataflow_zero: str = "one",
        ngram_counting: str = "exact",
        tokenizer: str = "whitespace",
        resamples: int = DEFAULT_RESAMPLES,
        seed: int = DEFAULT_SEED,
    ) -> None:
        for option, value, choices in (
            ("dataflow_zero", dataflow_zero, DATAFLOW_ZERO_CHOICES),
            ("ngram_counting", ngram_counting, NGRAM_COUNTING_CHOICES),
            ("tokenizer", tokenizer, TOKENIZER_CHOICES),
        ):
            if value not in choices:
                raise HarnessError(
                    f"codebleu {option} must be one of {', '.join(choices)}, not {value!r}"
                )
        weights = tuple(float(weight) for weight in weights)
        if len(weights) != 4 or any(weight < 0 for weight in weights):
            raise HarnessError(
                "codebleu weights must be 4 non-negative numbers (ngram, weighted ngram, "
                f"syntax, dataflow), not {weights}"
            )
        self.weights: tuple[float, ...] = weights
        self.dataflow_zero = dataflow_zero
        self.ngram_counting = ngram_counting
        self.tokenizer = tokenizer
        self.resamples = resamples
        self.seed = seed

    def score(
        self,
        predictions: Sequence[str],
        references: Sequence[Sequence[str]],
        lang: str = "python",
    ) -> ScoreResult:
        check_corpus(predictions, references)
        stats = self.statistics(predictions, references, lang)
        if stats[:, DATAFLOW_TOTAL].sum() == 0:
            log.warning(
                "codebleu: the references have no data flow at all; the dataflow component "
                "is 0 (counted as %s under dataflow_zero=%s)",
                "1" if self.dataflow_zero == "one" else "0",
                self.dataflow_zero,
            )
        corpus = self.scores_from_statistics(stats.sum(axis=0, keepdims=True))
        per_sample = self.scores_from_statistics(stats)
        return ScoreResult(
            metrics={name: float(values[0]) for name, values in corpus.items()},
            per_sample=[
                {name: float(values[i]) for name, values in per_sample.items()}
                for i in range(len(stats))
            ],
            ci95=bootstrap_ci(stats, self.scores_from_statistics, self.resamples, self.seed),
            signature=self.signature(lang),
        )

    def statistics(
        self, predictions: Sequence[str], references: Sequence[Sequence[str]], lang: str
    ) -> Array:
        """The (n, NUM_STATS) matrix of per-sample counts."""
        import numpy as np

        grammar = _load_grammar(lang, self.tokenizer)
        package_counts = self.ngram_counting == "package"
        with _deterministic_dataflow():
            rows = [
                sample_statistics(grammar, prediction, refs, package_counts)
                for prediction, refs in zip(predictions, references, strict=True)
            ]
        return np.array(rows, dtype=np.float64).reshape(len(rows), NUM_STATS)

    def scores_from_statistics(self, sums: Array) -> dict[str, Array]:
        """Scores in percent for each row of (summed) statistics."""
        import numpy as np

        ngram = _bleu_from_counts(
            sums[:, NGRAM_MATCH], sums[:, NGRAM_TOTAL], sums[:, HYP_LEN], sums[:, REF_LEN]
        )
        weighted = _bleu_from_counts(
            sums[:, WEIGHTED_MATCH],
            sums[:, WEIGHTED_TOTAL],
            sums[:, HYP_LEN],
            sums[:, WEIGHTED_REF_LEN],
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            syntax = np.where(
                sums[:, SYNTAX_TOTAL] > 0, sums[:, SYNTAX_MATCH] / sums[:, SYNTAX_TOTAL], 0.0
            )
            dataflow = np.where(
                sums[:, DATAFLOW_TOTAL] > 0,
                sums[:, DATAFLOW_MATCH] / sums[:, DATAFLOW_TOTAL],
                0.0,
            )
        if self.dataflow_zero == "one":
            dataflow_used = np.where(dataflow == 0, 1.0, dataflow)
        else:
            dataflow_used = dataflow
        alpha, beta, gamma, theta = self.weights
        combined = alpha * ngram + beta * weighted + gamma * syntax + theta * dataflow_used
        components = (combined, ngram, weighted, syntax, dataflow)
        return {name: 100.0 * values for name, values in zip(METRIC_NAMES, components, strict=True)}

    def signature(self, lang: str) -> str:
        grammar_package = "tree-sitter-" + lang.replace("_", "-")
        return "|".join(
            [
                f"codebleu:{_version('codebleu')}",
                f"lang:{lang}",
                "weights:" + ",".join(f"{w:g}" for w in self.weights),
                f"tok:{self.tokenizer}",
                f"ngram-counting:{self.ngram_counting}",
                f"dataflow-zero:{self.dataflow_zero}",
                f"tree-sitter:{_version('tree-sitter')}",
                f"grammar:{grammar_package}-{_version(grammar_package)}",
            ]
        )


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"
