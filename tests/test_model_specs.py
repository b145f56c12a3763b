"""Model specs: shipped aliases, user models files, overrides, direct specs, prompt helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends.prompting import (
    apply_template,
    chat_messages,
    sample_seed,
)
from harness.backends.spec import ModelSpec, load_aliases, resolve_model
from harness.errors import HarnessError, UnknownNameError
from harness.records import Prompt
from harness.text import find_stop, truncate_at_stop

LORA_TEMPLATE = "### Instruction: Create a Python script for this problem: {prompt} ### Response:"


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Isolate from the developer's own config dir and environment."""
    monkeypatch.setenv("HARNESS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("HARNESS_MODELS_FILE", raising=False)
    monkeypatch.delenv("HARNESS_CODET5P_LORA_ADAPTER", raising=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_shipped_aliases() -> None:
    aliases = load_aliases()

    assert aliases["codet5p-220m"].model == "Salesforce/codet5p-220m"
    assert aliases["codet5p-770m"].model == "Salesforce/codet5p-770m"
    lora = aliases["codet5p-770m-lora"]
    assert (lora.backend, lora.model) == ("hf", "Salesforce/codet5p-770m")
    assert lora.adapter == "adapters/codet5p-770m-lora"
    assert lora.template == LORA_TEMPLATE
    assert aliases["codegen-350m-mono"].backend == "hf"
    assert aliases["codeparrot-small"].backend == "hf"
    assert aliases["qwen2.5-coder-1.5b-instruct"].chat
    assert {spec.backend for spec in aliases.values()} >= {"hf", "vllm", "openai"}
    assert all(spec.description for spec in aliases.values())


def test_lora_adapter_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_CODET5P_LORA_ADAPTER", "me/my-codet5p-lora")
    assert resolve_model("codet5p-770m-lora").adapter == "me/my-codet5p-lora"


def test_models_file_updates_only_the_fields_it_sets(tmp_path: Path) -> None:
    adapter = tmp_path / "adapters" / "mine"
    adapter.mkdir(parents=True)
    user = write(
        tmp_path / "my-models.toml",
        '[models.codet5p-770m-lora]\nadapter = "./adapters/mine"\n'
        "[models.codet5p-770m-lora.sampling]\ntemperature = 0.2\n",
    )

    spec = resolve_model("codet5p-770m-lora", [user])

    assert spec.adapter == str(adapter)  # ./ paths are relative to the models file
    assert spec.model == "Salesforce/codet5p-770m"
    assert spec.template == LORA_TEMPLATE
    assert spec.sampling == {"temperature": 0.2}


def test_extends_and_new_aliases(tmp_path: Path) -> None:
    user = write(
        tmp_path / "m.toml",
        '[models.ft-b]\nextends = "ft-a"\nadapter = "/ckpt/b"\n\n'
        '[models.ft-a]\nextends = "codet5p-220m"\ndtype = "bfloat16"\n'
        "sampling = { n = 10, temperature = 0.8, max_new_tokens = 256 }\n"
        "options = { batch_size = 8 }\n\n"
        '[models."my.model"]\nbackend = "hf"\nmodel = "~/models/x"\n',
    )

    aliases = load_aliases([user])

    b = aliases["ft-b"]
    assert (b.model, b.adapter, b.dtype) == ("Salesforce/codet5p-220m", "/ckpt/b", "bfloat16")
    assert b.sampling == {"n": 10, "temperature": 0.8, "max_new_tokens": 256}
    assert b.options == {"batch_size": 8}
    assert aliases["my.model"].model == str(Path.home() / "models" / "x")


def test_file_order_later_files_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config" / "models.toml", '[models.x]\nbackend = "hf"\nmodel = "config"\n')
    assert resolve_model("x").model == "config"
    env_file = write(tmp_path / "env.toml", '[models.x]\nmodel = "env"\n')
    monkeypatch.setenv("HARNESS_MODELS_FILE", str(env_file))
    assert resolve_model("x").model == "env"
    cli_file = write(tmp_path / "cli.toml", '[models.x]\nmodel = "cli"\n')
    assert resolve_model("x", [cli_file]).model == "cli"


def test_xdg_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    write(
        tmp_path / "xdg" / "harness" / "models.toml", '[models.y]\nbackend = "vllm"\nmodel = "m"\n'
    )
    assert resolve_model("y").backend == "vllm"


def test_direct_specs() -> None:
    assert resolve_model("reference").backend == "reference"
    for text, backend, target in [
        ("hf:/models/llama", "hf", "/models/llama"),
        ("vllm:org/model", "vllm", "org/model"),
        ("openai:gpt-4o", "openai", "gpt-4o"),
        ("samples:out/samples.jsonl", "samples", "out/samples.jsonl"),
    ]:
        spec = resolve_model(text)
        assert (spec.name, spec.backend, spec.model) == (text, backend, target)


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'codet5p-770m'"):
        resolve_model("codet5p-770")
    with pytest.raises(UnknownNameError, match="unknown model 'tgi:x'"):
        resolve_model("tgi:x")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[models.a]\nbackend = "hf"\nsampling = { beams = 4 }\n', "unknown sampling key 'beams'"),
        ('[models.a]\nbackend = "hf"\nsampling = { n = 2.5 }\n', "sampling.n must be an integer"),
        ('[models.a]\nbackend = "hf"\ntemplate = "no field"\n', "must contain the field"),
        ('[models.a]\nbackend = "tgi"\n', "unknown backend 'tgi'"),
        ('[models.a]\nbackend = "hf"\nmodle = "x"\n', "alias 'a': modle: Extra inputs"),
        ("[models.a\n", "is not valid TOML"),
        ('[models.a]\nextends = "b"\n[models.b]\nextends = "a"\n', "extend each other"),
        ('[models.a]\nextends = "codet5p-22m"\n', "did you mean 'codet5p-220m'"),
        ('[models.qwen2.5]\nbackend = "hf"\n', "quote alias names that contain dots"),
    ],
)
def test_bad_models_file_is_one_clear_error(tmp_path: Path, body: str, message: str) -> None:
    user = write(tmp_path / "bad.toml", body)
    with pytest.raises(HarnessError, match=message):
        load_aliases([user])


def test_missing_models_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="models file not found"):
        load_aliases([tmp_path / "nope.toml"])


def test_unset_variable_is_reported_when_the_alias_is_used(tmp_path: Path) -> None:
    user = write(tmp_path / "m.toml", '[models.a]\nbackend = "hf"\nmodel = "${NO_SUCH_VAR_X}"\n')
    assert "a" in load_aliases([user])  # listing still works
    with pytest.raises(HarnessError, match="NO_SUCH_VAR_X, which is not set"):
        resolve_model("a", [user])


def test_fingerprint_follows_what_changes_generations(tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    write(adapter / "adapter_model.safetensors", "weights-1")
    spec = ModelSpec(name="a", backend="hf", model="m", adapter=str(adapter))
    first = spec.fingerprint()

    renamed = spec.model_copy(update={"name": "b", "description": "x", "sampling": {"n": 5}})
    assert renamed.fingerprint() == first
    assert spec.model_copy(update={"template": "Q: {prompt}"}).fingerprint() != first
    write(adapter / "adapter_model.safetensors", "weights-2")
    assert spec.fingerprint() != first  # new adapter weights at the same path


def test_template_chat_messages_and_stops() -> None:
    spec = ModelSpec(name="a", backend="hf", template="<{prompt}>")
    assert apply_template(spec, "def f(): return {1: 2}") == "<def f(): return {1: 2}>"
    assert chat_messages(spec, Prompt("hi")) == [{"role": "user", "content": "<hi>"}]
    given = Prompt("hi", messages=({"role": "user", "content": "raw"},))
    assert chat_messages(spec, given) == [{"role": "user", "content": "raw"}]

    assert truncate_at_stop("a\ndef b\nclass c", ["\nclass", "\ndef"]) == "a"
    assert truncate_at_stop("abc", []) == "abc"
    assert find_stop("xxstop", ["stop"], start=3) is None


def test_sample_seeds_are_stable_and_distinct() -> None:
    seeds = {sample_seed(0, i) for i in range(100)}
    assert len(seeds) == 100
    assert sample_seed(1, 0) != sample_seed(0, 1)
    # Fixed across releases: changing it would change every cached sample.
    assert sample_seed(0, 0) == 2457685020402275743
    # Each prompt draws from its own stream: sample i of two problems gets different seeds.
    one, other = Prompt("def f():\n"), Prompt("def g():\n")
    assert sample_seed(0, 0, one) != sample_seed(0, 0, other)
    assert sample_seed(0, 0, one) == sample_seed(0, 0, Prompt("def f():\n"))
    assert sample_seed(0, 0, one) != sample_seed(0, 0, Prompt("def f():\n", ({"role": "user",
                                                                              "content": "x"},)))
