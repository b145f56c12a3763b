"""BLEU and chrF against sacrebleu itself; ROUGE-L against rouge-score itself."""

from __future__ import annotations

from typing import Any

import pytest
import sacrebleu
from rouge_score.rouge_scorer import RougeScorer

from harness.errors import HarnessError
from harness.metrics import scorers
from harness.metrics.rouge import RougeLScorer
from harness.metrics.sacre import BLEUScorer, ChrFScorer

REFERENCES = [
    "Return the sum of the two arguments.",
    "Sort the list in place and return it.",
    "Open the file and read every line into a list of strings.",
    "Raise ValueError when the input is empty.",
    "Convert the timestamp to UTC and format it as ISO 8601.",
    "Compute the mean of the values, ignoring missing entries.",
    "Return True if the string is a palindrome.",
    "Split the path into its directory and file name.",
]
PREDICTIONS = [
    "Return the sum of both arguments.",
    "Sort the list and return it.",
    "Read all lines of the file into a list.",
    "Raise an error if the input is empty.",
    "Format the timestamp as an ISO 8601 string in UTC.",
    "Compute the average of the values.",
    "Check whether a string is a palindrome.",
    "Split a path into directory and name.",
]
SECOND_REFERENCES = [f"{text} (second)" for text in REFERENCES]


def test_bleu_equals_sacrebleu_corpus_and_sentence_scores() -> None:
    result = BLEUScorer(resamples=0).score(PREDICTIONS, [[r] for r in REFERENCES])
    expected = sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES])
    assert result.metrics == {"bleu": pytest.approx(expected.score, abs=1e-9)}
    metric = sacrebleu.BLEU()
    metric.corpus_score(PREDICTIONS, [REFERENCES])
    assert result.signature == str(metric.get_signature())
    assert result.signature == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    for prediction, reference, sample in zip(
        PREDICTIONS, REFERENCES, result.per_sample, strict=True
    ):
        sentence = sacrebleu.sentence_bleu(prediction, [reference])  # effective order
        assert sample["bleu"] == pytest.approx(sentence.score, abs=1e-9)


def test_bleu_hand_computed() -> None:
    # 1-4-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths, so no brevity penalty.
    result = BLEUScorer(resamples=0).score(["the cat sat on the mat"], [["the cat sat on a mat"]])
    assert result.metrics["bleu"] == pytest.approx(100 * (1 / 12) ** 0.25, abs=1e-9)


def test_bleu_several_references_per_sentence() -> None:
    references = [
        [REFERENCES[i], SECOND_REFERENCES[i]] if i % 2 else [REFERENCES[i]]
        for i in range(len(REFERENCES))
    ]
    result = BLEUScorer(resamples=0).score(PREDICTIONS, references)
    streams: list[list[Any]] = [
        REFERENCES,
        [SECOND_REFERENCES[i] if i % 2 else None for i in range(8)],
    ]
    assert result.metrics["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(PREDICTIONS, streams).score, abs=1e-9
    )
    assert (result.signature or "").startswith("nrefs:var|")


def test_chrf_and_chrf_plus_plus_equal_sacrebleu() -> None:
    references = [[r] for r in REFERENCES]
    chrf = ChrFScorer(resamples=0).score(PREDICTIONS, references)
    assert chrf.metrics["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf(PREDICTIONS, [REFERENCES]).score, abs=1e-9
    )
    assert chrf.per_sample[0]["chrf"] == pytest.approx(
        sacrebleu.sentence_chrf(PREDICTIONS[0], [REFERENCES[0]]).score, abs=1e-9
    )
    assert (chrf.signature or "").startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|")
    plus = ChrFScorer(word_order=2, resamples=0).score(PREDICTIONS, references)
    expected = sacrebleu.CHRF(word_order=2).corpus_score(PREDICTIONS, [REFERENCES]).score
    assert plus.metrics["chrf"] == pytest.approx(expected, abs=1e-9)


def test_rouge_l_equals_rouge_score_mean_with_best_reference() -> None:
    scorer = RougeScorer(["rougeL"])
    result = RougeLScorer(resamples=0).score(
        PREDICTIONS, [[r, s] for r, s in zip(REFERENCES, SECOND_REFERENCES, strict=True)]
    )
    best = [
        max(scorer.score(ref, pred)["rougeL"].fmeasure for ref in (r, s))
        for pred, r, s in zip(PREDICTIONS, REFERENCES, SECOND_REFERENCES, strict=True)
    ]
    assert result.metrics["rouge_l"] == pytest.approx(100 * sum(best) / len(best), abs=1e-9)
    assert [s["rouge_l"] for s in result.per_sample] == pytest.approx([100 * b for b in best])
    # Hand check: LCS 2, precision 2/2, recall 2/3 -> F 0.8.
    assert RougeLScorer(resamples=0).score(["the cat"], [["the cat sat"]]).metrics == {
        "rouge_l": pytest.approx(80.0)
    }


@pytest.mark.parametrize("name", ["bleu", "chrf", "rouge_l"])
def test_identical_texts_score_100_with_a_degenerate_interval(name: str) -> None:
    scorer_class: Any = scorers.get(name)
    result = scorer_class(resamples=200).score(REFERENCES, [[r] for r in REFERENCES])
    assert result.metrics == {name: 100.0}
    assert result.ci95 == {name: (100.0, 100.0)}
    assert all(sample == {name: 100.0} for sample in result.per_sample)


@pytest.mark.parametrize("name", ["bleu", "chrf", "rouge_l"])
def test_interval_contains_the_score_and_is_reproducible(name: str) -> None:
    scorer_class: Any = scorers.get(name)
    scorer = scorer_class(resamples=500, seed=3)
    references = [[r] for r in REFERENCES]
    first, again = scorer.score(PREDICTIONS, references), scorer.score(PREDICTIONS, references)
    low, high = first.ci95[name]
    assert low < first.metrics[name] < high
    assert first.ci95 == again.ci95
    other = scorer_class(resamples=500, seed=4).score(PREDICTIONS, references)
    assert other.ci95 != first.ci95


def test_bad_inputs_and_options() -> None:
    with pytest.raises(HarnessError, match="unusable tokenize"):
        BLEUScorer(tokenize="no-such-tokenizer")
    with pytest.raises(HarnessError, match="1 predictions but 2 reference"):
        BLEUScorer().score(["a"], [["a"], ["b"]])
    with pytest.raises(HarnessError, match="non-empty list"):
        ChrFScorer().score(["a"], [[]])
    with pytest.raises(HarnessError, match="nothing to score"):
        RougeLScorer().score([], [])
