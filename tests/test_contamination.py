"""The contamination check on a corpus of our own: thousands of unrelated functions (the
Python standard library's) with HumanEval and MBPP solutions hidden among them, verbatim,
reformatted (tabs, comments, parentheses, quotes) and renamed (every identifier). The
report must flag exactly the hidden problems at the default threshold."""

from __future__ import annotations

import ast
import builtins
import json
import random
import sysconfig
import warnings
from pathlib import Path
from typing import Any

import pytest
from shared_data import SHARED_DATA, need_shared

from harness.cli import main
from harness.contamination import code_lex, code_offsets, code_stream, normalize
from harness.contamination_report import check, problem_texts, read_report
from harness.corpus import ReadStats, read_corpus
from harness.errors import HarnessError
from harness.exclusions import exclusion_ids, load_exclusions
from harness.tasks import Problem, Task, TaskOptions, create_task

pytestmark = pytest.mark.timeout(600)
STDLIB = Path(sysconfig.get_paths()["stdlib"])
UNRELATED = 3000


def stdlib_functions(limit: int) -> list[str]:
    found: list[str] = []
    for path in sorted(STDLIB.glob("*.py")):
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                text = ast.get_source_segment(source, node)
                if text and 3 <= text.count("\n") <= 60:
                    found.append(text)
        if len(found) >= limit:
            break
    return found[:limit]


class Renamer(ast.NodeTransformer):
    """Every identifier that is not a builtin gets a new name, consistently."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def rename(self, name: str) -> str:
        if hasattr(builtins, name):
            return name
        return self.names.setdefault(name, f"v{len(self.names)}_{name[::-1][:3]}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.rename(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.rename(node.arg)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self.rename(node.name)
        self.generic_visit(node)
        return node


def parse(code: str) -> ast.Module:
    with warnings.catch_warnings():  # invalid escapes in some solutions' strings
        warnings.simplefilter("ignore", DeprecationWarning)
        return ast.parse(code)


def renamed(code: str) -> str:
    return ast.unparse(Renamer().visit(parse(code)))


def reformatted(code: str) -> str:
    """ast.unparse's layout (its own parentheses and quotes, no comments), tabs for
    indentation, comments added."""
    lines = []
    for number, line in enumerate(ast.unparse(parse(code)).splitlines()):
        body = line.lstrip(" ")
        lines.append("\t" * ((len(line) - len(body)) // 4) + body
                     + ("  # note" if number % 3 == 1 else ""))
        if number % 4 == 0:
            lines.append("# a comment")
    return "\n".join(lines) + "\n"


Hidden = dict[tuple[str, str], str]  # (task, key) -> how


@pytest.fixture(scope="module")
def tasks() -> dict[str, tuple[Task, list[Problem]]]:
    need_shared(SHARED_DATA / "mbpp")
    out = {}
    for name in ("humaneval", "mbpp"):
        task = create_task(name, TaskOptions(data_dir=SHARED_DATA))
        out[name] = (task, task.load())
    return out


def code_tokens(task: Task, problem: Problem) -> int:
    return len(code_lex(task.solution(problem, problem.reference)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory,
           tasks: dict[str, tuple[Task, list[Problem]]]) -> tuple[Path, Hidden, dict[str, Any]]:
    """The corpus: 40% as .py files of 100 functions, 40% as JSON Lines, 20% as Parquet."""
    rng = random.Random(13)
    documents = stdlib_functions(UNRELATED)
    assert len(documents) == UNRELATED
    hidden: Hidden = {}
    where: dict[str, Any] = {}
    for name, (task, problems) in tasks.items():
        # A renamed copy of a solution shorter than one n-gram is any function of that
        # shape: only longer ones are hidden renamed.
        chosen = rng.sample(problems, 24)
        for number, problem in enumerate(chosen):
            code = task.solution(problem, problem.reference)
            if number < 8:
                how, text = "verbatim", code
            elif number < 14:
                how, text = "reformatted", reformatted(code)
            elif number < 20 and code_tokens(task, problem) >= 13:
                how, text = "renamed", renamed(code)
            elif name == "humaneval" and len(code_lex(problem.reference)) >= 20:
                how, text = "body only", problem.reference
            else:
                continue
            hidden[(name, problem.key)] = how
            where[text] = (name, problem.key)
            documents.append(text)
    rng.shuffle(documents)
    root = tmp_path_factory.mktemp("corpus")
    (root / "src").mkdir()
    first, second = int(len(documents) * 0.4), int(len(documents) * 0.8)
    for start in range(0, first, 100):
        (root / "src" / f"part{start:05d}.py").write_text("\n\n".join(documents[start:start + 100]))
    with (root / "rows.jsonl").open("w") as handle:
        for text in documents[first:second]:
            handle.write(json.dumps({"text": text}) + "\n")
    parquet = documents[second:]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"content": parquet}), root / "rows.parquet",
                       row_group_size=200)
    except ImportError:  # without pyarrow these documents go to JSON Lines instead
        with (root / "more.jsonl").open("w") as handle:
            for text in parquet:
                handle.write(json.dumps({"content": text}) + "\n")
    return root, hidden, where


# ------------------------------------------------------------------------ normalising


def test_code_stream_ignores_layout_comments_docstrings_and_names() -> None:
    original = 'def add(a, b):\n    """Add."""\n    return (a + b)  # sum\n'
    other = "def plus(x,y,):\n\t# different\n\treturn x+y;\n"
    assert code_lex(original) == ["def", "add", "a", ",", "b", ":", "return", "a", "+", "b"]
    assert code_stream(original).norm == code_stream(other).norm
    # Strings compare by content: quotes, prefixes and escaping do not matter.
    assert code_lex("s = 'it' + u\"it\" + r'\\w' + '\\\\w'") == [
        "s", "=", '"it"', "+", '"it"', "+", '"w"', "+", '"w"']
    # Attributes, builtins and imported modules keep their names.
    assert normalize(code_lex("import os\nx.append(len(os.sep))")) == [
        "import", "os", "\0", ".", "append", "len", "\0", ".", "sep"]


def test_offsets_follow_the_tokens_on_real_files() -> None:
    for path in sorted(STDLIB.glob("*.py"))[:40]:
        text = path.read_text(encoding="utf-8", errors="replace")
        tokens, offsets = code_lex(text), code_offsets(text)
        assert len(tokens) == len(offsets), path
        for token, offset in list(zip(tokens, offsets, strict=True))[::97]:
            if not token.startswith('"'):
                assert text.startswith(token, offset), (path, token, offset)


# ------------------------------------------------------------------ the hidden solutions


def run_cli(*args: str) -> int:
    return main(["-q", "contamination", "--data-dir", str(SHARED_DATA), *args])


@pytest.mark.parametrize("name", ["humaneval", "mbpp"])
def test_hidden_solutions_are_flagged_and_nothing_else(
        name: str, corpus: tuple[Path, Hidden, dict[str, Any]], tmp_path: Path) -> None:
    root, hidden, where = corpus
    truth = {key for (task, key) in hidden if task == name}
    assert len(truth) >= 18
    output = tmp_path / "report.json"
    assert run_cli("--task", name, "--corpus", str(root), "--output", str(output)) == 0
    report = read_report(output)
    assert set(report.flagged) == truth, {
        "missed": {k: hidden[(name, k)] for k in truth - set(report.flagged)},
        "wrongly flagged": sorted(set(report.flagged) - truth)}
    assert report.num_problems == len(report.problems) and report.scan.documents > 1000
    rows = {row.key: row for row in report.problems}
    for key in truth:
        how, row = hidden[(name, key)], rows[key]
        # ast.unparse may respell a token (2. -> 2.0): nearly all of it is still there.
        assert row.solution.document_share >= 0.9, (key, how, row.solution)
        place = row.solution.document
        assert place is not None
        kind = row.solution.kind
        assert kind == ("renamed" if how == "renamed" else "exact"), (key, how, kind)
        # The location names the document that holds the copy.
        if place.source.endswith(".jsonl"):
            assert place.row is not None
            text = json.loads(Path(place.source).read_text().splitlines()[place.row - 1])["text"]
            assert where[text] == (name, key)
        elif place.source.endswith(".py"):
            lines = Path(place.source).read_text().splitlines()
            assert lines[place.line - 1].strip(), (place, key)
    if name == "humaneval":  # verbatim copies hold the docstring: the prompt is found too
        verbatim = [k for k in truth if hidden[(name, k)] == "verbatim"]
        assert all(rows[k].prompt.document_share == 1.0 for k in verbatim)


def test_workers_give_the_same_report(corpus: tuple[Path, Hidden, dict[str, Any]],
                                      tasks: dict[str, tuple[Task, list[Problem]]]) -> None:
    root, _, _ = corpus
    task, problems = tasks["humaneval"]
    one = check(task, problems, [root], workers=1)
    two = check(task, problems, [root], workers=2)
    assert one.flagged == two.flagged
    assert [p.model_dump() for p in one.problems] == [p.model_dump() for p in two.problems]


def test_problem_texts_score_the_canonical_solution(
        tasks: dict[str, tuple[Task, list[Problem]]]) -> None:
    task, problems = tasks["humaneval"]
    solution, prompt, context = problem_texts(task, problems[0])
    assert solution == context + problems[0].reference and prompt == context
    mbpp, mbpp_problems = tasks["mbpp"]
    solution, prompt, context = problem_texts(mbpp, mbpp_problems[0])
    assert solution.startswith("def ") and context == "" and "assert" in prompt


# --------------------------------------------------------------------------- streaming


def test_readers_stream_one_document_at_a_time(tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"text": f"x = {i}"}) + "\n" for i in range(1000))
                    + "not json\n")
    stats = ReadStats()
    documents = read_corpus(rows, "text", stats)
    first = next(documents)
    # Nothing was read ahead: the broken last line is not reached yet.
    assert (first.row, first.text, stats.documents) == (1, "x = 0", 1)
    with pytest.raises(HarnessError, match=r"rows\.jsonl:1001: not valid JSON"):
        list(documents)
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = tmp_path / "t.parquet"
    pq.write_table(pa.table({"code": [f"y = {i}" for i in range(2000)], "n": list(range(2000))}),
                   table, row_group_size=500)
    stats = ReadStats()
    documents = read_corpus(table, "text", stats)
    assert next(documents).text == "y = 0"  # the `code` column, as The Stack-style sets
    assert stats.documents == 1
    assert sum(1 for _ in documents) == 1999


def test_folders_skip_binary_files_and_read_every_kind(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def f():\n    pass\n")
    (tmp_path / "b.bin").write_bytes(b"\0\1\2")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.jsonl").write_text(json.dumps({"content": "z = 1"}) + "\n")
    stats = ReadStats()
    found = [(Path(d.source).name, d.row) for d in read_corpus(tmp_path, "text", stats)]
    assert found == [("a.py", None), ("c.jsonl", 1)] and stats.skipped == 1


def test_bad_arguments_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--task", "humaneval", "--corpus", str(tmp_path / "missing"), "--output",
                   str(tmp_path / "r.json")) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "c.py").write_text("x = 1\n")
    assert run_cli("--task", "humaneval", "--corpus", str(tmp_path), "--ngram", "2",
                   "--output", str(tmp_path / "r.json")) == 2
    assert "--ngram" in capsys.readouterr().err


# ------------------------------------------------------------------------- exclusions


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory,
                tasks: dict[str, tuple[Task, list[Problem]]]) -> Path:
    task, problems = tasks["humaneval"]
    root = tmp_path_factory.mktemp("small-corpus")
    for problem in problems[:3]:
        (root / f"{problem.key.replace('/', '_')}.py").write_text(
            task.solution(problem, problem.reference))
    path = root.parent / "he-report.json"
    assert run_cli("--task", "humaneval", "--corpus", str(root), "--output", str(path)) == 0
    return path


def test_exclusions_from_a_report_a_file_or_a_list(
        report_file: Path, tmp_path: Path, tasks: dict[str, tuple[Task, list[Problem]]]) -> None:
    task, problems = tasks["humaneval"]
    first = {"HumanEval/0", "HumanEval/1", "HumanEval/2"}
    assert load_exclusions(str(report_file), task, problems) == first
    listed = tmp_path / "ids.txt"
    listed.write_text("# contaminated\nHumanEval/5, humaneval_6\n7\n")
    assert load_exclusions(str(listed), task, problems) == {"HumanEval/5", "HumanEval/6",
                                                            "HumanEval/7"}
    assert load_exclusions("HumanEval/3,4", task, problems) == {"HumanEval/3", "HumanEval/4"}
    assert exclusion_ids(str(report_file))[1].startswith("report ")
    with pytest.raises(HarnessError, match="Mbpp/2 is not a problem of humaneval"):
        load_exclusions("HumanEval/3,Mbpp/2", task, problems)
    with pytest.raises(HarnessError, match="not found"):
        load_exclusions(str(tmp_path / "missing.json"), task, problems)


def test_a_humaneval_report_excludes_the_infilling_tasks_of_its_problems(
        report_file: Path) -> None:
    data = need_shared(SHARED_DATA / "humaneval-infilling")
    task = create_task("humaneval-infilling", TaskOptions(data_dir=data))
    problems = task.load()
    excluded = load_exclusions(str(report_file), task, problems)
    expected = {p.key for p in problems
                if p.metadata["source_id"] in {"HumanEval/0", "HumanEval/1", "HumanEval/2"}}
    assert excluded == expected and len(expected) > 3


# ------------------------------------------------------------------ the clean-subset score


def evaluate(*args: str) -> int:
    return main(["-q", "evaluate", "--task", "humaneval", "--data-dir", str(SHARED_DATA),
                 "--sandbox", "local", "--timeout", "5", *args])


@pytest.fixture(scope="module")
def mixed_samples(tmp_path_factory: pytest.TempPathFactory,
                  tasks: dict[str, tuple[Task, list[Problem]]]) -> Path:
    """Two samples for each of 20 problems: right and right, right and wrong, or wrong
    twice, so that pass@1 differs between subsets."""
    _, problems = tasks["humaneval"]
    path = tmp_path_factory.mktemp("samples") / "samples.jsonl"
    lines = []
    for number, problem in enumerate(problems[:20]):
        answers = [[problem.reference] * 2, [problem.reference, "    return None\n"],
                   ["    return None\n"] * 2][number % 3]
        lines += [json.dumps({"task_id": problem.task_id, "completion": a}) + "\n"
                  for a in answers]
    path.write_text("".join(lines))
    return path


EXCLUDED = ["HumanEval/0", "HumanEval/4", "HumanEval/5", "HumanEval/13"]


def test_clean_score_equals_a_run_on_the_remaining_problems(
        mixed_samples: Path, tmp_path: Path, tasks: dict[str, tuple[Task, list[Problem]]]) -> None:
    from harness.exclusions import Exclusions
    from harness.plan import RunPlan
    from harness.records import SamplingParams
    from harness.results import RunStore
    from harness.scoring import clean_score

    task, problems = tasks["humaneval"]
    full, rest = tmp_path / "full", tmp_path / "rest"
    assert evaluate("--samples", str(mixed_samples), "--output-dir", str(full)) == 0
    remaining = [p.key for p in problems[:20] if p.key not in EXCLUDED]
    assert evaluate("--samples", str(mixed_samples), "--problems", ",".join(remaining),
                    "--output-dir", str(rest)) == 0
    store = RunStore(full)
    plan = RunPlan(task=task, model_name="samples", spec=None, problems=problems[:20],
                   samples_per_problem={p.key: 2 for p in problems[:20]},
                   params=SamplingParams(), dataset_sha256="", config_hash="", run_dir=full,
                   mode="samples", k=[1, 10, 100])
    clean = clean_score(plan, store.samples(), store.executions(), None,
                        Exclusions(frozenset(EXCLUDED), "list"))
    expected = json.loads((rest / "metrics.json").read_text())
    assert clean is not None and clean.num_problems == expected["num_problems"] == 16
    assert clean.metrics == expected["metrics"] and clean.excluded == sorted(EXCLUDED)
    assert {k: list(v) for k, v in clean.ci95.items()} == expected["ci95"]
    everything = json.loads((full / "metrics.json").read_text())
    assert everything["metrics"] != expected["metrics"]
    nothing_left = Exclusions(frozenset(p.key for p in problems), "list")
    assert clean_score(plan, store.samples(), store.executions(), None, nothing_left) is None


def test_exclude_problems_on_the_command_line(
        mixed_samples: Path, report_file: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`evaluate --exclude-problems REPORT` keeps the full score and adds the clean one,
    which equals `evaluate --problems` over the problems the report does not flag."""
    problems = [f"HumanEval/{i}" for i in range(20)]  # those mixed_samples answers
    flagged = read_report(report_file).flagged
    assert sorted(flagged) == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    full, rest = tmp_path / "full", tmp_path / "rest"
    capsys.readouterr()
    assert evaluate("--samples", str(mixed_samples), "--output-dir", str(full),
                    "--exclude-problems", str(report_file)) == 0
    summary = capsys.readouterr().out
    assert evaluate("--samples", str(mixed_samples), "--output-dir", str(rest), "--problems",
                    ",".join(p for p in problems if p not in flagged)) == 0
    metrics = json.loads((full / "metrics.json").read_text())
    expected = json.loads((rest / "metrics.json").read_text())
    clean = metrics["clean"]
    assert metrics["num_problems"] == 20 and clean["num_problems"] == 17
    assert clean["num_excluded"] == 3 and clean["excluded"] == sorted(flagged)
    assert clean["source"] == f"report {report_file}"
    assert clean["metrics"]["pass@1"] == expected["metrics"]["pass@1"]
    assert clean["metrics"] == expected["metrics"] and clean["ci95"] == expected["ci95"]
    assert metrics["metrics"]["pass@1"] != clean["metrics"]["pass@1"]
    assert f"clean (report {report_file}, 3 problems excluded): 17 problems: pass@1 = " \
        f"{expected['metrics']['pass@1']:.2f}" in summary
    # The leaderboard shows both scores with the problems behind each.
    capsys.readouterr()
    assert main(["leaderboard", str(full)]) == 0
    table = capsys.readouterr().out.splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    row = dict(zip(header, (c.strip() for c in table[2].strip("|").split("|")), strict=True))
    assert row["humaneval problems×n"] == "20×2" and row["humaneval clean problems×n"] == "17×2"
    assert row["humaneval clean pass@1"].startswith(f"{expected['metrics']['pass@1']:.1f} [")
    # Not part of the results: the same folder without the flag resumes and drops `clean`.
    assert evaluate("--samples", str(mixed_samples), "--output-dir", str(full)) == 0
    assert "clean" not in json.loads((full / "metrics.json").read_text())
    # Bad values fail before anything runs, in one line.
    for value, message in [("HumanEval/999", "HumanEval/999 is not a problem of humaneval"),
                           (str(tmp_path / "missing.json"), "not found")]:
        capsys.readouterr()
        assert evaluate("--samples", str(mixed_samples), "--output-dir", str(tmp_path / "bad"),
                        "--exclude-problems", value) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "bad").exists()


BLOCK_PYARROW = """
import importlib.abc, sys


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pyarrow":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
"""


def test_parquet_corpus_without_pyarrow_is_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_PYARROW)
    (tmp_path / "corpus.parquet").write_bytes(b"PAR1")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-q", "contamination", "--task", "humaneval",
         "--corpus", str(tmp_path / "corpus.parquet"), "--output", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("harness: error: reading Parquet corpora needs pyarrow; "
                               "pyarrow is not installed")
    assert "harness[contamination]" in lines[0]
