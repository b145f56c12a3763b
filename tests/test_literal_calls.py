"""Replayed tests whose calls run from the test's own source in the candidate's process
(tasks/literal_calls.py): a set literal reaches the candidate as the test builds it, so
verdicts that depend on its iteration order are those of running the asserts in-process."""

from __future__ import annotations

from typing import Any

import pytest
from shared_data import SHARED_DATA, need_shared
from test_judge import expectation_of, verdict

from harness.tasks import TaskOptions, tasks
from harness.tasks.judge import Expectation, ReplayChecker
from harness.tasks.literal_calls import (
    LiteralCallsChecker,
    placeholder,
    set_literal_calls,
    setup_calls,
)


def test_only_asserts_calling_once_with_literal_arguments_and_a_set_are_taken() -> None:
    names = ["f", "g"]
    test = "assert f({1, 2}, k=[3]) == (1, 2)\nassert not g((1,), 'a')\n"
    assert set_literal_calls(test, names) == [("f", "f({1, 2}, k=[3])"),
                                              ("g", "g((1,), 'a')")]
    for other in ("x = 1\nassert f(x) == 1", "assert f(f(1)) == 1", "assert f(len('a')) == 1",
                  "assert h(1) == 1", "assert f(*[1]) == 1", "assert f(**{'a': 1}) == 1",
                  "assert f(1) == 1\nprint(2)", "assert f(1) ==", "assert 1 == 1"):
        assert set_literal_calls(other + "\nassert f({1}) == 1", names) is None, other
    assert set_literal_calls("", names) is None
    assert set_literal_calls("assert f([{1, 2}]) == 1", names) == [("f", "f([{1, 2}])")]
    assert set_literal_calls("assert f(k=[{1}]) == 1", names) == [("f", "f(k=[{1}])")]
    # Without a set passed to a function under test, the plain replay is as good.
    assert set_literal_calls("assert f([1, 2]) == {1, 2}", names) is None
    assert set_literal_calls("assert f([1, 2]) == 1\nassert g('a')", names) is None


CANDIDATES = [
    "def set_to_tuple(s):\n    return tuple(sorted(s))\n",
    "def set_to_tuple(s):\n    return tuple(s)\n",  # order of iteration: LDB's sample
    "def set_to_tuple(s):\n    return tuple(sorted(s, reverse=True))\n",
    "def set_to_tuple(s):\n    return tuple(list(s))\n",
    "def set_to_tuple(s):\n    return list(sorted(s))\n",
    "def set_to_tuple(s):\n    return tuple(x for x in s if x < 16)\n",
]


def in_process(problem: Any, solution: str) -> str:
    """The verdict of running the test's asserts in this process (what evaluators do)."""
    namespace: dict[str, Any] = {"__name__": "__test__"}
    parts = [solution, problem.metadata["setup"], *problem.metadata["tests"]]
    try:
        exec(compile("\n".join(parts), "<t>", "exec"), namespace)
    except AssertionError:
        return "failed"
    except Exception:
        return "error"
    return "passed"


def mbpp_checked(key: str) -> tuple[Any, LiteralCallsChecker, Expectation]:
    """MBPP problem ``key``, its checker and the expectation its reference run gives."""
    task = tasks.get("mbpp")(TaskOptions(data_dir=need_shared(SHARED_DATA)))
    problem = next(p for p in task.load() if p.key == key)
    checker = task.checker(problem)
    assert isinstance(checker, LiteralCallsChecker)
    return problem, checker, expectation_of(checker)


@pytest.mark.parametrize("candidate", CANDIDATES)
def test_mbpp_341_gets_the_verdict_of_its_asserts_in_process(candidate: str) -> None:
    problem, checker, expectation = mbpp_checked("341")
    assert "12" not in checker.wire_calls  # the calls' source builds the arguments
    assert "(1, 2, 3, 4, 5)" not in checker.candidate("")  # and no expected value is there
    assert verdict(checker, expectation, candidate)[0] == in_process(problem, candidate)


def test_other_mbpp_problems_keep_the_recorded_replay() -> None:
    task = tasks.get("mbpp")(TaskOptions(data_dir=need_shared(SHARED_DATA)))
    kinds: dict[str, list[str]] = {}
    for problem in task.load():
        kinds.setdefault(type(task.checker(problem)).__name__, []).append(problem.key)
    assert kinds["LiteralCallsChecker"] == ["115", "341", "367"]
    assert issubclass(LiteralCallsChecker, ReplayChecker)


def test_calls_may_take_the_names_that_test_setup_code_binds() -> None:
    setup = "root = Node(1)\nroot.left = Node(2)\nother: int = 3\nfor i in range(2):\n    x = i\n"
    test = "assert f(root) == False\nassert f(other, [1]) == 2"
    assert setup_calls(test, setup, ["f"]) == [("f", "f(root)"), ("f", "f(other, [1])")]
    # Names bound only inside a block, or not at all, are not arguments the calls can take.
    assert setup_calls("assert f(x) == 1", setup, ["f"]) is None
    assert setup_calls("assert f(root.left) == 1", setup, ["f"]) is None
    assert setup_calls(test, "root = (", ["f"]) is None
    assert setup_calls("print(root)\n" + test, setup, ["f"]) is None
    assert setup_calls("", setup, ["f"]) is None


MBPP_367 = [
    None,  # the reference
    "class Node:\n    def __init__(self, data):\n        self.data = data\n"
    "        self.left = self.right = None\n"
    "def is_tree_balanced(root):\n    return root.left is None or root.right is not None\n",
    "class Node:\n    def __init__(self, data):\n        self.data = data\n"
    "        self.left = self.right = None\n"
    "def is_tree_balanced(root):\n    return True\n",
]


@pytest.mark.parametrize("index", range(len(MBPP_367)))
def test_mbpp_367_runs_its_setup_code_in_the_sandbox_and_is_checked_outside(index: int) -> None:
    problem, checker, expectation = mbpp_checked("367")
    assert [call[1] for call in expectation.calls] == [
        [placeholder("root")], [placeholder("root1")], [placeholder("root2")]]
    assert "False" not in checker.candidate("")  # the asserts never enter the sandbox
    candidate = MBPP_367[index] or problem.reference
    assert verdict(checker, expectation, candidate)[0] == in_process(problem, candidate)
