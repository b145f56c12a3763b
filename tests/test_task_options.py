"""Typed task options: validation of --task-arg into each task's Options model, one-line
errors, settings (and so the config hash) stable across spellings, ``harness tasks NAME``."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pydantic import BaseModel

from harness.config import RunConfig
from harness.errors import HarnessError
from harness.tasks import TaskOptions, create_task, tasks
from harness.tasks.docgen import PROMPTS, DocGen


def settings(name: str, **args: str) -> dict[str, Any]:
    return create_task(name, TaskOptions(args=args)).settings()


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize("name", tasks.names())
def test_every_task_has_a_forbidding_options_model(name: str) -> None:
    task = tasks.get(name)
    assert issubclass(task.Options, BaseModel)
    assert task.Options.model_config.get("extra") == "forbid"
    for field_name, field in task.Options.model_fields.items():
        assert field.description, f"{name}: option {field_name} has no description"
    with pytest.raises(HarnessError, match=rf"^{name}: .*--task-arg"):
        create_task(name, TaskOptions(args={"no_such_option": "1"}))


@pytest.mark.parametrize(("name", "args", "message"), [
    ("conala", {"spilt": "train"},
     "conala: unknown --task-arg 'spilt'; did you mean 'split'? (known: split; "
     "see `harness tasks conala`)"),
    ("humaneval-plus", {"test": "base"}, "unknown --task-arg 'test'; did you mean 'tests'?"),
    ("odex", {"language": "en"}, "unknown --task-arg 'language'; did you mean 'lang'?"),
    ("humaneval", {"tests": "base"}, "humaneval: takes no --task-arg (got 'tests')"),
    ("conala", {"split": "dev"},
     "conala: --task-arg split='dev' is not valid: expected one of test|train"),
    ("mbpp", {"challenge_tests": "maybe"},
     "--task-arg challenge_tests='maybe' is not valid: expected bool (1/0/true/false/yes/no)"),
    ("odex", {"prompt_tests": "-1"}, "prompt_tests='-1' is not valid: expected int >= 0"),
    ("odex", {"prompt_tests": "two"}, "prompt_tests='two' is not valid: expected int >= 0"),
    ("docgen", {"test_fraction": "0"},
     "test_fraction='0' is not valid: expected float > 0, <= 1"),
    ("docgen", {"target": "summary"}, "expected one of full|first_paragraph"),
])
def test_bad_options_are_one_line_errors(name: str, args: dict[str, str], message: str) -> None:
    with pytest.raises(HarnessError) as caught:
        create_task(name, TaskOptions(args=args))
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_several_mistakes_are_reported_together_on_one_line() -> None:
    with pytest.raises(HarnessError) as caught:
        create_task("docgen", TaskOptions(args={"kind": "module", "seed": "x"}))
    text = str(caught.value)
    assert "kind='module'" in text and "seed='x'" in text and "\n" not in text


@pytest.mark.parametrize(("word", "value"), [
    ("1", True), ("true", True), ("yes", True), ("True", True), ("YES", True),
    ("0", False), ("false", False), ("no", False), ("No", False),
])
def test_booleans_accept_the_usual_words(word: str, value: bool) -> None:
    assert settings("mbpp", challenge_tests=word)["challenge_tests"] is value


def test_settings_hold_typed_values_with_defaults() -> None:
    assert settings("humaneval") == {"strict": False}
    assert settings("mbpp-plus") == {"strict": False, "tests": "plus"}
    assert settings("mbpp") == {"strict": False, "challenge_tests": False}
    assert settings("conala") == {"strict": False, "split": "test"}
    odex = settings("odex", prompt_tests="2")
    assert odex["prompt_tests"] == 2 and odex["lang"] == "en"
    assert odex["known_issues"] == "exclude"
    assert settings("odex", lang="ES")["lang"] == "es"
    docgen = settings("docgen")
    assert docgen["source"] == "codexglue" and docgen["test_fraction"] == 0.2
    assert docgen["target"] == "first_paragraph" and docgen["max_items"] == 0  # resolved


@pytest.mark.parametrize(("name", "spelled_out"), [
    ("mbpp", {"challenge_tests": "0"}),
    ("mbpp", {"challenge_tests": "no"}),
    ("humaneval-plus", {"tests": "plus"}),
    ("conala", {"split": "test"}),
    ("odex", {"lang": "EN", "prompt_tests": "0", "known_issues": "exclude"}),
    ("docgen", {"source": "codexglue", "seed": "42", "test_fraction": "0.20"}),
])
def test_spelling_out_a_default_keeps_the_settings_and_config_hash(
        name: str, spelled_out: dict[str, str]) -> None:
    plain, explicit = settings(name), settings(name, **spelled_out)
    assert plain == explicit
    config = RunConfig.model_validate({"task": name, "model": "reference"})
    assert (config.config_hash(extra={"task_settings": plain})
            == config.config_hash(extra={"task_settings": explicit}))
    assert json.dumps(plain, sort_keys=True)  # JSON-safe: run.json records them


def test_a_changed_option_changes_the_settings() -> None:
    assert settings("mbpp") != settings("mbpp", challenge_tests="1")
    assert settings("mbpp-plus") != settings("mbpp-plus", tests="base")


def test_docgen_source_is_an_option() -> None:
    task = create_task("docgen", TaskOptions(args={"source": "stdlib"}))
    assert isinstance(task, DocGen)
    assert task.args.source == "stdlib" and task.args.is_tree
    assert task.settings()["source"] == "stdlib"
    assert task.settings()["max_items"] == 500  # the stdlib default cap
    assert task.settings()["target"] == "full"
    assert "source" not in TaskOptions.__dataclass_fields__  # no core config field any more
    assert set(PROMPTS) == set(DocGen.Options.model_fields["prompt"].annotation.__args__)


def test_tasks_name_describes_options_execution_and_chat_style() -> None:
    done = harness("tasks", "conala")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("conala: CoNaLa curated")
    assert "execution: does not execute" in out
    assert "reference scorers: bleu, codebleu" in out
    assert "  split: one of test|train (default test)\n" in out
    assert "chat prompt" in out and "Reply with the code only, in a markdown code block" in out
    humaneval = harness("tasks", "humaneval").stdout
    assert "executes its tests (pass@k)" in humaneval and "(none)" in humaneval
    assert "self-contained Python script" in humaneval


def test_tasks_help_lists_every_tasks_options() -> None:
    done = harness("tasks", "--help")
    assert done.returncode == 0, done.stderr
    assert "NAME" in done.stdout
    for line in ("  odex\n", "    lang: one of en|es|ja|ru|all (default en)",
                 "    tests: one of base|plus (default plus)",
                 "    source: str (default codexglue)"):
        assert line in done.stdout


def test_tasks_json_has_options_as_json_schema() -> None:
    done = harness("tasks", "--json")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert set(rows) == set(tasks.names())
    schema = rows["odex"]["options"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["lang"]["enum"] == ["en", "es", "ja", "ru", "all"]
    assert schema["properties"]["prompt_tests"]["minimum"] == 0
    one = json.loads(harness("tasks", "--json", "mbpp").stdout)
    assert one["name"] == "mbpp" and "challenge_tests" in one["options"]["properties"]
    assert one["chat"]["instruction"].startswith("Please provide a self-contained")


def test_unknown_task_name_is_a_one_line_error() -> None:
    done = harness("tasks", "conalla")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        done.stderr.strip()] and "did you mean 'conala'" in done.stderr


@pytest.mark.parametrize(("name", "foreign"), [
    ("humaneval", ["Mbpp/11", "MBPP/11", "mbpp_11", "conala/11"]),
    ("humaneval-plus", ["Mbpp/11", "MBPP/11"]),
    ("mbpp", ["HumanEval/11", "humaneval_11", "conala/11"]),
    ("mbpp-sanitized", ["HumanEval/11"]),
    ("mbpp-plus", ["HumanEval/11", "humaneval/11"]),
    ("conala", ["HumanEval/11", "Mbpp/11", "MBPP/11"]),
    ("odex", ["HumanEval/11", "Mbpp/11"]),
])
def test_other_benchmarks_ids_stay_unrecognised(name: str, foreign: list[str]) -> None:
    task = create_task(name)
    own = {"humaneval": "HumanEval/11", "humaneval-plus": "HumanEval/11", "mbpp": "11",
           "mbpp-sanitized": "11", "mbpp-plus": "Mbpp/11", "conala": "11", "odex": "11"}[name]
    for raw in foreign:
        assert task.normalize_task_id(raw) != own, raw
        assert task.normalize_task_id(raw) == raw  # left as given: reported, not matched


def test_run_with_a_mistyped_option_stops_with_one_line() -> None:
    done = harness("run", "--model", "reference", "--task", "conala", "--task-arg",
                   "spilt=train")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "harness: error: conala: unknown --task-arg 'spilt'; did you mean 'split'? "
        "(known: split; see `harness tasks conala`)")
