"""HumanEval(+) and MBPP(+) tasks: loading, prompts, post-processing, programs, ids."""

from __future__ import annotations

import subprocess
import sys

import pytest
from shared_data import SHARED_DATA, need_shared

from harness.errors import DataNotFoundError, HarnessError, UnknownNameError
from harness.tasks import Problem, TaskOptions, create_task, tasks


def run_program(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-"], input=source, capture_output=True, text=True,
                          timeout=120, check=False)


def test_registry_lists_tasks_and_suggests_names() -> None:
    assert {"humaneval", "humaneval-plus", "mbpp", "mbpp-sanitized", "mbpp-plus"} <= set(
        tasks.names())
    with pytest.raises(UnknownNameError, match="did you mean 'humaneval'"):
        create_task("humaneva")


def test_humaneval_loads_from_package() -> None:
    task = create_task("humaneval")
    problems = task.load()
    assert len(problems) == 164
    assert problems[0].task_id == "HumanEval/0"
    assert len(task.dataset_files) == 1 and len(task.dataset_files[0].sha256) == 64


def test_humaneval_postprocess_stops_at_next_top_level_statement() -> None:
    task = create_task("humaneval")
    problem = task.load()[0]
    raw = "    return 1\n\ndef other():\n    pass\n"
    assert task.postprocess(problem, raw) == "    return 1\n"
    assert task.postprocess(problem, "    x = 1\nif __name__ == '__main__':\n") == "    x = 1"


@pytest.mark.parametrize("raw", ["HumanEval/7", "humaneval/7", "7", 7])
def test_humaneval_id_forms(raw: object) -> None:
    assert create_task("humaneval").normalize_task_id(raw) == "HumanEval/7"


def always_equal_completion() -> str:
    return ("    class AlwaysEqual(list):\n"
            "        def __eq__(self, other):\n            return True\n"
            "        def __ne__(self, other):\n            return False\n"
            "    return AlwaysEqual()\n")


def test_strict_mode_rejects_always_equal_object() -> None:
    problem = create_task("humaneval").load()[0]  # has_close_elements returns a bool
    for strict, should_pass in ((False, True), (True, False)):
        task = create_task("humaneval", TaskOptions(strict=strict))
        program = task.program(problem, task.solution(problem, always_equal_completion()))
        assert (run_program(program.source).returncode == 0) is should_pass


def test_strict_mode_passes_reference() -> None:
    task = create_task("humaneval", TaskOptions(strict=True))
    for problem in task.load()[:5]:
        program = task.program(problem, task.solution(problem, problem.reference))
        assert run_program(program.source).returncode == 0, problem.key


def mbpp(name: str = "mbpp", **args: str) -> tuple[object, list[Problem]]:
    task = create_task(name, TaskOptions(data_dir=need_shared(SHARED_DATA / "mbpp"), args=args))
    return task, task.load()


def test_mbpp_test_split_and_three_shot_prompt() -> None:
    _, problems = mbpp()
    assert len(problems) == 500
    assert problems[0].key == "11" and problems[-1].key == "510"
    prompt = problems[0].prompt.text
    assert prompt.count("[BEGIN]") == 4 and prompt.count("[DONE]") == 3
    assert prompt.endswith("[BEGIN]\n")
    assert "\r" not in problems[0].reference


def test_mbpp_setup_code_and_challenge_tests() -> None:
    task, problems = mbpp()
    by_key = {p.key: p for p in problems}
    assert "Node" in by_key["367"].metadata["setup"]
    program = task.program(by_key["367"], by_key["367"].reference)  # type: ignore[attr-defined]
    assert run_program(program.source).returncode == 0
    plain = sum(len(p.metadata["tests"]) for p in problems)
    _, challenged = mbpp(challenge_tests="1")
    assert sum(len(p.metadata["tests"]) for p in challenged) > plain


def test_mbpp_postprocess_and_ids() -> None:
    task, problems = mbpp()
    assert task.postprocess(problems[0], "def f():\n    return 1\n[DONE]\nmore") == (  # type: ignore[attr-defined]
        "def f():\n    return 1\n")
    for raw in (11, "11", "MBPP/11", "Mbpp/11"):
        assert task.normalize_task_id(raw) == "11"  # type: ignore[attr-defined]


def test_mbpp_unknown_task_arg_is_an_error() -> None:
    with pytest.raises(HarnessError, match="unknown --task-arg 'shots'"):
        create_task("mbpp", TaskOptions(args={"shots": "0"}))


def test_mbpp_sanitized() -> None:
    _, problems = mbpp("mbpp-sanitized")
    assert len(problems) == 257


def test_missing_data_names_file_and_places(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    task = create_task("mbpp", TaskOptions(data_dir=tmp_path))
    with pytest.raises(DataNotFoundError) as error:
        task.load()
    message = str(error.value)
    assert "mbpp.jsonl" in message and "--data-dir" in message and "HARNESS_MBPP_DIR" in message
    assert "\n" not in message


def test_data_dir_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_MBPP_DIR", str(need_shared(SHARED_DATA / "mbpp")))
    assert len(create_task("mbpp").load()) == 500


@pytest.mark.parametrize(("name", "folder", "count", "key"), [
    ("humaneval-plus", "humanevalplus", 164, "HumanEval/32"),
    ("mbpp-plus", "mbppplus", 378, "Mbpp/124"),  # complex-number inputs restored
])
def test_plus_tasks_reference_passes_and_wrong_fails(name, folder, count, key) -> None:
    task = create_task(name, TaskOptions(data_dir=need_shared(SHARED_DATA / folder)))
    problems = {p.key: p for p in task.load()}
    assert len(problems) == count
    problem = problems[key]
    good = task.program(problem, task.solution(problem, problem.reference))
    assert run_program(good.source).returncode == 0
    wrong = problem.reference.replace("return", "return None and ", 1)
    bad = task.program(problem, task.solution(problem, wrong))
    assert run_program(bad.source).returncode != 0


def test_plus_tests_base_only_has_fewer_inputs() -> None:
    folder = need_shared(SHARED_DATA / "humanevalplus")
    full = create_task("humaneval-plus", TaskOptions(data_dir=folder)).load()[0]
    base = create_task("humaneval-plus", TaskOptions(data_dir=folder, args={"tests": "base"})
                       ).load()[0]
    assert len(base.metadata["inputs"]) < len(full.metadata["inputs"])
