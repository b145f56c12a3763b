"""Fill-in-the-middle prompting: each family's sentinels and order, through a real
OpenAI-compatible server (completions endpoint) and a real tiny transformers model.

The server here knows each family's published format on its own (regular expressions
written from the model cards, not harness.fim): it answers the canonical middle, followed by
the family's end-of-middle token and more text, only when the prompt has that family's
sentinels in that family's order; any other prompt gets a wrong middle.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai_server import OpenAIServer
from shared_data import SHARED_DATA, need_shared

from harness.backends.spec import ModelSpec, load_aliases
from harness.cli import main
from harness.errors import HarnessError
from harness.fim import (
    ALL_END_STRINGS,
    FAMILIES,
    cut_at_end_of_middle,
    family,
    fim_prompt,
    render,
    request_stops,
    resolve,
    stop_sequences,
)
from harness.records import Prompt
from harness.tasks import Problem

pytestmark = pytest.mark.timeout(600)

DATA = SHARED_DATA / "humaneval-infilling"
DS_BAR, DS_SPACE = "\uff5c", "\u2581"
ANY = "(?P<{}>.*)"
P, S = ANY.format("p"), ANY.format("s")
# family -> (the prompt layout, as a regular expression; the end-of-middle token)
PUBLISHED = {
    "starcoder": (f"<fim_prefix>{P}<fim_suffix>{S}<fim_middle>", "<|endoftext|>"),
    "santacoder": (f"<fim-prefix>{P}<fim-suffix>{S}<fim-middle>", "<|endoftext|>"),
    "codellama": (f"<PRE> {P} <SUF>{S} <MID>", "<EOT>"),
    "deepseek-coder": (
        f"<{DS_BAR}fim{DS_SPACE}begin{DS_BAR}>{P}<{DS_BAR}fim{DS_SPACE}hole{DS_BAR}>{S}"
        f"<{DS_BAR}fim{DS_SPACE}end{DS_BAR}>",
        f"<{DS_BAR}end{DS_SPACE}of{DS_SPACE}sentence{DS_BAR}>"),
    "qwen2.5-coder": (r"<\|fim_prefix\|>" + P + r"<\|fim_suffix\|>" + S + r"<\|fim_middle\|>",
                      "<|endoftext|>"),
    "codegemma": (r"<\|fim_prefix\|>" + P + r"<\|fim_suffix\|>" + S + r"<\|fim_middle\|>",
                  "<|file_separator|>"),
    "codellama-spm": (f"<PRE> <SUF>{S} <MID> {P}", "<EOT>"),
    "starcoder-spm": (f"<fim_prefix><fim_suffix>{S}<fim_middle>{P}", "<|endoftext|>"),
    "codestral": (r"\[SUFFIX\]" + S + r"\[PREFIX\]" + P, "</s>"),
}
# The families the issue names, and the order each one's documented format uses.
ORDERS = {"starcoder": "psm", "santacoder": "psm", "codellama": "psm",
          "deepseek-coder": "psm", "qwen2.5-coder": "psm", "codegemma": "psm",
          "codellama-spm": "spm", "starcoder-spm": "spm", "codestral": "template"}
WRONG_MIDDLE = "    return None\n"


def load(benchmark: str = "SingleLine") -> list[dict[str, Any]]:
    path = need_shared(DATA / f"HumanEval-{benchmark}Infilling.jsonl.gz")
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle]


class FimServer:
    """Replies as a FIM model of ``family`` would: the middle of the problem whose prefix
    and suffix the prompt holds in the family's layout, then the end-of-middle token and
    whatever a model writes after it."""

    def __init__(self, family_name: str, records: list[dict[str, Any]]) -> None:
        layout, self.end = PUBLISHED[family_name]
        self.layout = re.compile(layout, re.DOTALL)
        self.middles = {(r["prompt"], r["suffix"]): r["canonical_solution"] for r in records}
        self.understood = 0

    def reply(self, endpoint: str, body: dict[str, Any], index: int) -> str:
        match = self.layout.fullmatch(str(body.get("prompt", "")))
        middle = self.middles.get((match["p"], match["s"])) if match else None
        if middle is None:
            return WRONG_MIDDLE + self.end
        self.understood += 1
        return f"{middle}{self.end}\ndef unrelated():\n    pass\n"


def models_file(tmp_path: Path, base_url: str, aliases: dict[str, str | dict[str, Any]],
                options: str = "") -> Path:
    lines = []
    for name, fim in aliases.items():
        value = json.dumps(fim) if isinstance(fim, str) else "{" + ", ".join(
            f"{k} = {json.dumps(v)}" for k, v in fim.items()) + "}"
        lines += [f'[models."{name}"]', 'backend = "openai"', 'model = "fim-test"',
                  f"fim = {value}", f'options = {{base_url = "{base_url}"{options}}}', ""]
    path = tmp_path / "models.toml"
    path.write_text("\n".join(lines))
    return path


def run_infilling(tmp_path: Path, alias: str, models: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / f"run-{alias}"
    code = main(["-q", "run", "--model", alias, "--models-file", str(models),
                 "--task", "humaneval-infilling", "--data-dir", str(DATA), "--sandbox", "local",
                 "--timeout", "5", "--output-dir", str(out), "--no-generation-cache", *extra])
    assert code == 0
    return dict(json.loads((out / "metrics.json").read_text()))


# ------------------------------------------------------------------------------ formats


def test_published_layouts_and_orders() -> None:
    for name, (layout, end) in PUBLISHED.items():
        fmt = family(name)
        text = fmt.render("PRE_TEXT", "SUF_TEXT")
        match = re.fullmatch(layout, text, re.DOTALL)
        assert match and match["p"] == "PRE_TEXT" and match["s"] == "SUF_TEXT", (name, text)
        assert fmt.stop[0] == end and fmt.order == ORDERS[name]
        for sentinel in fmt.sentinels:
            assert sentinel in text
    assert set(ORDERS) <= set(FAMILIES)


@pytest.mark.parametrize(("alias", "name"), [
    ("StarCoder2", "starcoder"), ("starcoderbase", "starcoder"), ("SantaCoder", "santacoder"),
    ("code-llama", "codellama"), ("deepseek", "deepseek-coder"), ("Qwen2.5-Coder", "qwen2.5-coder"),
    ("qwen", "qwen2.5-coder"), ("CodeGemma", "codegemma"), ("codellama-spm", "codellama-spm"),
    ("deepseek_coder-spm", "deepseek-coder-spm")])
def test_family_aliases(alias: str, name: str) -> None:
    assert family(alias).name == name


def test_explicit_tokens_template_and_overrides() -> None:
    psm = resolve({"prefix": "<A>", "suffix": "<B>", "middle": "<C>", "stop": ["<E>"]})
    assert psm is not None and psm.render("x", "y") == "<A>x<B>y<C>" and psm.stop == ("<E>",)
    spm = resolve({"prefix": "<A>", "suffix": "<B>", "middle": "<C>", "order": "spm"})
    assert spm is not None and spm.render("x", "y") == "<A><B>y<C>x"
    template = resolve({"template": "<S>{suffix}<P>{prefix}", "stop": "</s>"})
    assert template is not None and template.render("x", "{prefix}") == "<S>{prefix}<P>x"
    assert template.sentinels == ("<S>", "<P>")
    other_order = resolve({"family": "codellama", "order": "spm"})
    assert other_order is not None and other_order.name == "codellama-spm"
    more_stops = resolve({"family": "starcoder", "stop": ["<|endoftext|>", "\n\n\n"]})
    assert more_stops is not None and more_stops.stop == ("<|endoftext|>", "\n\n\n")
    assert stop_sequences("codellama")[0] == "<EOT>" and stop_sequences(None) == ()
    assert render("starcoder", "a", "b") == "<fim_prefix>a<fim_suffix>b<fim_middle>"


@pytest.mark.parametrize(("value", "says"), [
    ("gpt2", "unknown family"), ({"prefix": "<A>"}, "prefix, suffix and middle"),
    ({"template": "{prefix}"}, "{prefix} and {suffix}"), ({"tokens": 1}, "unknown key"),
    ({"prefix": "<A>", "suffix": "<B>", "middle": "<C>", "order": "msp"}, "order"),
    ({"family": "codestral", "order": "spm"}, "codestral")])
def test_bad_formats_are_clear_errors(value: Any, says: str) -> None:
    with pytest.raises(HarnessError, match=re.escape(says)):
        resolve(value)


def test_models_file_fim_field(tmp_path: Path) -> None:
    good = models_file(tmp_path, "http://127.0.0.1:1/v1", {
        "a": "codellama", "b": {"prefix": "<A>", "suffix": "<B>", "middle": "<C>"}})
    aliases = load_aliases([good])
    assert aliases["a"].fim == "codellama" and aliases["b"].fim == {
        "prefix": "<A>", "suffix": "<B>", "middle": "<C>"}
    # The field is left out of the fingerprint when unset: existing aliases keep theirs.
    plain = ModelSpec(name="x", backend="hf", model="m")
    assert plain.fingerprint() == ModelSpec(name="x", backend="hf", model="m",
                                            fim=None).fingerprint()
    assert plain.fingerprint() != ModelSpec(name="x", backend="hf", model="m",
                                            fim="starcoder").fingerprint()
    bad = models_file(tmp_path, "http://127.0.0.1:1/v1", {"c": "gpt2"})
    with pytest.raises(HarnessError, match=r"alias 'c': fim: .*unknown family 'gpt2'"):
        load_aliases([bad])


def test_cut_at_end_of_middle_keeps_indentation() -> None:
    middle = "        if x:\n            return y\n"
    for end in ("<|endoftext|>", "<EOT>", "<|file_separator|>", "<|fim_pad|>"):
        assert cut_at_end_of_middle(f"{middle}{end}\ndef more():\n") == middle
    assert cut_at_end_of_middle(middle) == middle
    assert cut_at_end_of_middle("    x = 1") == "    x = 1"
    assert "[PREFIX]" not in ALL_END_STRINGS  # valid Python: a[PREFIX]


def problem(fim: bool = True) -> Problem:
    meta = {"fim": {"prefix": "def f():\n", "suffix": "\n"}} if fim else {}
    return Problem("k", "k", Prompt("def f():\n"), "    return 1\n", metadata=meta)


def test_fim_prompt_and_the_error_for_a_model_without_fim() -> None:
    spec = ModelSpec(name="sc", backend="openai", model="m", fim="starcoder")
    prompt = fim_prompt(spec, problem(), "completion")
    assert prompt is not None
    assert prompt.text == "<fim_prefix>def f():\n<fim_suffix>\n<fim_middle>"
    assert fim_prompt(spec, problem(fim=False), "completion") is None
    assert fim_prompt(ModelSpec(name="reference", backend="reference"), problem(),
                      "completion") is None
    assert request_stops(spec, [problem()])[0] == "<|endoftext|>"
    assert request_stops(spec, [problem(fim=False)]) == ()
    plain = ModelSpec(name="plain", backend="openai", model="m")
    with pytest.raises(HarnessError, match="'plain' has no fill-in-the-middle format"):
        fim_prompt(plain, problem(), "completion")
    with pytest.raises(HarnessError, match="chat mode"):
        fim_prompt(spec.model_copy(update={"chat": True}), problem(), "chat")


# ------------------------------------------------------------------- through a server


@pytest.fixture(scope="module")
def single_line() -> list[dict[str, Any]]:
    return load()


@pytest.fixture
def serve(single_line: list[dict[str, Any]]) -> Iterator[Any]:
    servers: list[OpenAIServer] = []

    def start(family_name: str) -> tuple[OpenAIServer, FimServer]:
        fim = FimServer(family_name, single_line)
        server = OpenAIServer(reply=fim.reply).start()
        servers.append(server)
        return server, fim

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("name", ["starcoder", "santacoder", "codellama", "deepseek-coder",
                                  "qwen2.5-coder", "codegemma", "codellama-spm", "codestral"])
def test_each_family_scores_100_through_the_completions_endpoint(
        tmp_path: Path, serve: Any, name: str) -> None:
    server, fim = serve(name)
    models = models_file(tmp_path, server.base_url, {f"fim-{name}": name})
    metrics = run_infilling(tmp_path, f"fim-{name}", models, "--limit", "25")
    assert metrics["metrics"]["pass@1"] == 100.0 and metrics["num_problems"] == 25
    assert fim.understood == 25
    sent = server.requests[0].body
    assert sent["stop"][0] == PUBLISHED[name][1]  # the end-of-middle token is a stop


def test_wrong_family_or_order_scores_0(tmp_path: Path, serve: Any) -> None:
    server, fim = serve("codellama")
    models = models_file(tmp_path, server.base_url, {"llama-spm": "codellama-spm",
                                                      "as-starcoder": "starcoder"})
    for alias in ("llama-spm", "as-starcoder"):
        metrics = run_infilling(tmp_path, alias, models, "--limit", "10")
        assert metrics["metrics"]["pass@1"] == 0.0
    assert fim.understood == 0


def test_end_of_middle_is_cut_when_the_server_ignores_stop(tmp_path: Path, serve: Any) -> None:
    server, _ = serve("codegemma")
    models = models_file(tmp_path, server.base_url, {"gemma": "codegemma"},
                         options=", max_stop_sequences = 0")
    metrics = run_infilling(tmp_path, "gemma", models, "--limit", "10")
    assert metrics["metrics"]["pass@1"] == 100.0
    assert not server.requests[0].body.get("stop")  # the server is told no stop
    samples = [json.loads(line) for line in
               (tmp_path / "run-gemma" / "samples.jsonl").read_text().splitlines()]
    assert all("<|file_separator|>" in s["raw"] or s["finish_reason"] == "stop" for s in samples)
    assert all("unrelated" not in s["completion"] for s in samples)


def test_a_model_without_fim_is_one_clear_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "plain.toml"
    models.write_text('[models.plain]\nbackend = "openai"\nmodel = "m"\n'
                      'options = {base_url = "http://127.0.0.1:9/v1"}\n')
    code = main(["-q", "run", "--model", "plain", "--models-file", str(models), "--task",
                 "humaneval-infilling", "--data-dir", str(DATA), "--limit", "2",
                 "--output-dir", str(tmp_path / "plain")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("harness: error: ") and "fill-in-the-middle" in err[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["starcoder", "codellama", "deepseek-coder", "qwen2.5-coder",
                                  "codegemma"])
def test_each_family_scores_100_on_all_of_single_line(tmp_path: Path, serve: Any,
                                                      name: str) -> None:
    server, _ = serve(name)
    models = models_file(tmp_path, server.base_url, {f"fim-{name}": name})
    metrics = run_infilling(tmp_path, f"fim-{name}", models)
    assert metrics["metrics"]["pass@1"] == 100.0 and metrics["num_problems"] == 1033


def test_shipped_fim_aliases_validate() -> None:
    aliases = load_aliases()
    fims = {name: spec.fim for name, spec in aliases.items() if spec.fim}
    for family_name in ("starcoder", "codellama", "deepseek-coder", "qwen2.5-coder",
                        "codegemma"):
        assert family_name in {family(str(v)).name.removesuffix("-spm")
                               for v in fims.values()}, family_name


# --------------------------------------------------------------- a tiny transformers model

LLAMA_FIM = {"prefix": "<PRE>", "suffix": "<SUF>", "middle": "<MID>", "stop": ["<EOT>"]}


@pytest.fixture(scope="module")
def fim_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama whose tokenizer has Code Llama's FIM tokens as special tokens,
    rigged so that the greedy middle of PROBE is <EOT> at once: the copy of the token it
    would pick, scaled up, is <EOT>'s output row."""
    import torch
    from tiny_models import build_tiny_llama
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = build_tiny_llama(tmp_path_factory.mktemp("fim") / "llama", chat_template=False)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<PRE>", "<SUF>", "<MID>",
                                                                 "<EOT>"]})
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.resize_token_embeddings(len(tokenizer))
    ids = tokenizer(render(LLAMA_FIM, *PROBE), return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, -1]
        chosen = int(logits.argmax())
        assert float(logits[chosen]) > 0
        model.lm_head.weight[tokenizer.convert_tokens_to_ids("<EOT>")] = (
            model.lm_head.weight[chosen] * 2)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


PROBE = ("def add(a, b):\n", "    return c\n")


def test_hf_sentinels_are_single_tokens_and_generation_stops_at_end_of_middle(
        fim_llama: Path) -> None:
    pytest.importorskip("transformers")
    from harness.backends.base import BackendContext
    from harness.backends.hf import HFBackend
    from harness.records import GenerationRequest, SamplingParams

    spec = ModelSpec(name="fim-llama", backend="hf", model=str(fim_llama), fim=LLAMA_FIM)
    backend = HFBackend(spec, BackendContext(show_progress=False))
    try:
        params = SamplingParams(max_new_tokens=6, stop=stop_sequences(spec.fim))
        request = GenerationRequest("k", "k", Prompt(render(spec.fim or {}, *PROBE)), params,
                                    (0,))
        ids = backend._make_rows([request])[0].input_ids
        sentinels = [backend.tokenizer.convert_tokens_to_ids(t) for t in ("<PRE>", "<SUF>",
                                                                          "<MID>")]
        positions = [ids.index(t) for t in sentinels]
        assert positions == sorted(positions) and all(ids.count(t) == 1 for t in sentinels)
        assert ids[-1] == sentinels[-1]  # the model continues right after <MID>
        (done,) = list(backend.generate([request]))
        assert (done.text, done.finish_reason, done.num_tokens) == ("", "stop", 0)
    finally:
        backend.close()
    # The same model told another end-of-middle token runs on (past <EOT>) to the limit.
    other = spec.model_copy(update={"fim": {**LLAMA_FIM, "stop": ["<SUF>"]}})
    backend = HFBackend(other, BackendContext(show_progress=False))
    try:
        (done,) = list(backend.generate([request]))
        assert done.finish_reason == "length" and done.num_tokens == 6
    finally:
        backend.close()


def test_hf_model_without_the_sentinels_is_one_clear_error(fim_llama: Path) -> None:
    pytest.importorskip("transformers")
    from harness.backends.base import BackendContext
    from harness.backends.hf import HFBackend

    spec = ModelSpec(name="not-starcoder", backend="hf", model=str(fim_llama), fim="starcoder")
    with pytest.raises(HarnessError, match="no fill-in-the-middle token '<fim_prefix>'"):
        HFBackend(spec, BackendContext(show_progress=False))
