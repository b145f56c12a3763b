"""Every problem of the four test splits is checked outside the candidate's process, through
the real CLI and the default sandbox, and cached verdicts follow the checking rules.

MBPP/341 (its test's set literals iterate in another order than sets decoded from the wire:
its calls now run from the test's source), MBPP/367 (its test_setup_code builds the
arguments: it runs in the sandbox before those calls) and MBPP+/255 (1.7 million tuples for
one input: its outputs come sealed, as a digest) were the last three checked in-process,
where an always-equal object passed (and, with --strict, a call of the reference solution
that strict mode put in the candidate's namespace).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_verdict_forgery import default_sandbox_is_isolated, evaluate

pytestmark = pytest.mark.timeout(1800)

ALWAYS_EQUAL = """
class Anything({base}):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = {base}.__hash__


def {name}(*args):
    return Anything()
"""


def write_samples(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def checking(out: Path) -> dict[str, str]:
    metrics = json.loads((out / "metrics.json").read_text())
    return {row["key"]: row["checking"] for row in metrics["per_problem"]}


def test_a_verdict_cached_without_strict_is_not_reused_with_it(tmp_path: Path) -> None:
    default_sandbox_is_isolated()
    ints_for_bools = ("def has_close_elements(numbers, threshold):\n"
                      "    return int(any(abs(a - b) < threshold for i, a in enumerate(numbers)"
                      " for j, b in enumerate(numbers) if i != j))\n")
    samples = write_samples(tmp_path / "samples.jsonl",
                            [{"task_id": "HumanEval/0", "completion": ints_for_bools}])
    cache = tmp_path / "cache"
    for flags, status, cached in (((), "passed", False), (("--strict",), "failed", False),
                                  (("--strict",), "failed", True), ((), "passed", True)):
        done, verdicts = evaluate("humaneval", samples, tmp_path / f"run{len(flags)}", *flags,
                                  "--fresh", cache=cache)
        assert done.returncode == 0, done.stderr[-2000:]
        record = verdicts["HumanEval/0#0"]
        assert (record["status"], record["cached"]) == (status, cached), (flags, record)


@pytest.mark.slow
@pytest.mark.parametrize("strict", [False, True], ids=["plain", "strict"])
def test_the_last_in_process_problems_are_checked_outside(strict: bool, tmp_path: Path) -> None:
    default_sandbox_is_isolated()
    flags = ("--strict",) if strict else ()
    node = ("class Node:\n    def __init__(self, data):\n        self.data = data\n"
            "        self.left = self.right = None\n")
    balanced = (node + "def height(n):\n    return 0 if n is None else "
                "1 + max(height(n.left), height(n.right))\n"
                "def is_tree_balanced(root):\n    return root is None or ("
                "abs(height(root.left) - height(root.right)) <= 1 and "
                "is_tree_balanced(root.left) and is_tree_balanced(root.right))\n")
    with_reference = (node + "def is_tree_balanced(root):\n"
                      "    for value in list(globals().values()):\n"
                      "        if isinstance(value, dict) and callable(value.get("
                      "'is_tree_balanced')):\n"
                      "            return value['is_tree_balanced'](root)\n"
                      "    return True\n")
    mbpp_367 = [balanced, node + ALWAYS_EQUAL.format(base="object", name="is_tree_balanced"),
                with_reference]
    mbpp = write_samples(tmp_path / "mbpp.jsonl", [
        {"task_id": 341, "completion": "def set_to_tuple(s):\n    return tuple(sorted(s))\n"},
        {"task_id": 341, "completion": ALWAYS_EQUAL.format(base="tuple", name="set_to_tuple")},
        # LDB's published sample: fails in-process, where {6, ..., 11} iterates 8, 9, ...
        {"task_id": 341, "completion": "def set_to_tuple(s):\n    return tuple(s)\n"},
        *({"task_id": 367, "completion": solution} for solution in mbpp_367),
    ])
    done, verdicts = evaluate("mbpp", mbpp, tmp_path / "mbpp", *flags, cache=tmp_path / "c")
    assert done.returncode == 0, done.stderr[-2000:]
    assert checking(tmp_path / "mbpp") == {"341": "outside", "367": "outside"}
    assert [verdicts[f"341#{i}"]["status"] for i in range(3)] == ["passed", "failed", "failed"]
    assert [verdicts[f"367#{i}"]["status"] for i in range(3)] == ["passed", "failed", "failed"]

    combinations = ("from itertools import combinations_with_replacement\n"
                    "def combinations_colors(l, n):\n"
                    "    return list(combinations_with_replacement(l, n))\n")
    last_one_wrong = combinations.replace(
        "    return list(", "    found = list(").rstrip("\n") + (
        "\n    return found[:-1] + [found[0]] if len(found) > 10**6 else found\n")
    plus = write_samples(tmp_path / "plus.jsonl", [
        {"task_id": "Mbpp/255", "solution": combinations},
        {"task_id": "Mbpp/255", "solution": ALWAYS_EQUAL.format(base="list",
                                                              name="combinations_colors")},
        {"task_id": "Mbpp/255", "solution": last_one_wrong},
    ])
    done, verdicts = evaluate("mbpp-plus", plus, tmp_path / "plus", *flags, cache=tmp_path / "c")
    assert done.returncode == 0, done.stderr[-2000:]
    assert checking(tmp_path / "plus") == {"Mbpp/255": "outside"}
    statuses = [verdicts[f"Mbpp/255#{i}"]["status"] for i in range(3)]
    assert statuses == ["passed", "failed", "failed"], verdicts
    assert verdicts["Mbpp/255#2"]["detail"].startswith("input 88: not the expected output")
