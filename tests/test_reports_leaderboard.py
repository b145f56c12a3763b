"""harness leaderboard: md/csv/json tables and the HTML page rendered in headless Chromium,
on run folders written by the harness (tests/fixtures/reports/runs.py)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.reports.runs import (
    RunMaker,
    build_results_tree,
    derive,
    read_metrics,
    read_png,
    run_maker,
)

from harness.cli import main
from harness.reports.loading import parse_time

# Expected order, best humaneval pass@1 first.
ORDER = ["reference", "coder-lora", "coder-small (n=20 T=0.8)", "coder-220m",
         "coder-small (n=1 T=0)"]
HUMANEVAL_PASS1 = [100.0, 75.0, 34.8, 33.5, 20.1]


@pytest.fixture(scope="module")
def maker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunMaker]:
    with run_maker(tmp_path_factory.mktemp("inputs")) as made:
        yield made


@pytest.fixture(scope="module")
def tree(maker: RunMaker, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_results_tree(tmp_path_factory.mktemp("results"), maker)


def board(tree: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["leaderboard", str(tree), *args]) == 0
    return capsys.readouterr().out


def interval(low: float, high: float) -> str:
    return f"[{low:.1f}, {high:.1f}]"


def test_markdown_table(tree, capsys) -> None:
    text = board(tree, capsys)
    lines = text.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["model", "settings", "humaneval pass@1", "humaneval pass@10",
                      "humaneval problems×n", "mbpp pass@1", "mbpp pass@10", "mbpp codebleu",
                      "mbpp bleu", "mbpp problems×n", "conala codebleu", "conala bleu",
                      "conala problems×n"]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:7]]
    assert [r[0] for r in rows] == ORDER
    lora = rows[1]
    # The newer run's own interval is shown; the older run of the same configuration is not.
    newest = read_metrics(tree / "humaneval__coder-lora__new")
    assert lora[2] == f"75.0 {interval(*newest.ci95['pass@1'])}"
    assert lora[4] == "164×1"
    conala = read_metrics(tree / "conala__coder-lora")
    assert lora[10] == f"{conala.metrics['codebleu']:.1f} {interval(*conala.ci95['codebleu'])}"
    assert lora[12] == "40×1"
    sampled = rows[2]
    assert sampled[1] == "n=20 T=0.8"
    assert sampled[3].startswith("66.4 [")  # pass@10 with n = 20
    assert sampled[4] == "164×20"
    assert rows[0][3] == "–"  # pass@10 impossible with n = 1
    assert rows[3][4] == "164×1‡"  # a different dataset file is flagged
    assert "‡ dataset differs" in text
    assert "skipped unfinished run" in text and "humaneval__unfinished" in text
    assert "1 older run(s)" in text


def test_json_rows(tree, capsys) -> None:
    rows = json.loads(board(tree, capsys, "--format", "json"))
    assert [r["label"] for r in rows] == ORDER
    assert [round(r["humaneval"]["pass@1"], 1) for r in rows] == HUMANEVAL_PASS1
    lora = rows[1]
    assert lora["model"] == "coder-lora"
    newest = tree / "humaneval__coder-lora__new"
    assert lora["humaneval"]["source"] == str(newest / "metrics.json")
    assert lora["humaneval"]["pass@1_ci95"] == list(read_metrics(newest).ci95["pass@1"])
    assert lora["humaneval"]["problems"] == 164 and lora["humaneval"]["n"] == 1
    assert lora["humaneval"]["pass@10"] is None
    conala = read_metrics(tree / "conala__coder-lora")
    assert lora["conala"]["codebleu"] == pytest.approx(conala.metrics["codebleu"])
    sampled = rows[2]
    assert sampled["settings"] == {"n": 20, "temperature": 0.8}
    assert sampled["humaneval"]["samples"] == 164 * 20
    low, high = sampled["humaneval"]["pass@10_ci95"]
    assert low < sampled["humaneval"]["pass@10"] < high
    assert rows[4]["settings"] == {"n": 1, "temperature": 0.0}
    assert rows[0]["mbpp"] is None
    assert rows[3]["humaneval"]["flags"] == ["dataset differs"]


def test_csv_columns(tree, capsys) -> None:
    table = list(csv.DictReader(io.StringIO(board(tree, capsys, "--format", "csv"))))
    assert [r["model"] for r in table] == ORDER
    lora = table[1]
    assert lora["humaneval pass@1"] == "75.0000"
    low, high = read_metrics(tree / "humaneval__coder-lora__new").ci95["pass@1"]
    assert (lora["humaneval pass@1 low"], lora["humaneval pass@1 high"]) == (f"{low:.4f}",
                                                                           f"{high:.4f}")
    assert lora["mbpp problems"] == "50" and lora["mbpp n"] == "1"
    assert table[0]["mbpp pass@1"] == ""
    assert table[3]["humaneval flags"] == "dataset differs"


def test_all_runs_and_metric_selection(tree, capsys) -> None:
    rows = json.loads(board(tree, capsys, "--format", "json", "--all-runs"))
    lora_rows = [r for r in rows if r["model"] == "coder-lora" and r["humaneval"]]
    old, new = (read_metrics(tree / f"humaneval__coder-lora__{age}") for age in ("old", "new"))
    assert parse_time(old.created) < parse_time(new.created)
    assert [(r["label"], r["humaneval"]["created"]) for r in lora_rows] == [
        ("coder-lora", new.created),
        (f"coder-lora [{parse_time(old.created):%Y-%m-%d %H:%M}]", old.created)]
    assert [r["humaneval"]["pass@1"] for r in lora_rows] == [75.0, 75.0]
    text = board(tree, capsys, "--metrics", "pass@1")
    assert "pass@10" not in text.splitlines()[0] and "codebleu" not in text.splitlines()[0]


def test_wilson_interval_when_the_run_has_none(maker, tmp_path, capsys) -> None:
    made = maker.run(tmp_path / "made" / "run", {"HumanEval/0": 1, "HumanEval/1": 0,
                                                  "HumanEval/2": 1, "HumanEval/3": 1})
    # This harness always writes intervals; files from other tools may have none.
    derive(made, tmp_path / "board" / "run", metrics={"ci95": {}})
    capsys.readouterr()  # the runs' own output
    (row,) = json.loads(board(tmp_path / "board", capsys, "--format", "json"))
    low, high = row["humaneval"]["pass@1_ci95"]
    assert (low, high) == (pytest.approx(30.06, abs=0.01), pytest.approx(95.44, abs=0.01))


def test_empty_folder_is_an_error(tmp_path, capsys) -> None:
    assert main(["leaderboard", str(tmp_path)]) == 2
    assert "no finished runs" in capsys.readouterr().err


# --- HTML in a real browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def page(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "leaderboard.html"
    assert main(["leaderboard", str(tree), "--format", "html", "--output", str(path)]) == 0
    return path


def chromium(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "headless Chromium is needed: apt-get install -y chromium"
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", *args, url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_page_is_self_contained(page) -> None:
    html = page.read_text()
    for needle in ("http://", "https://", "<link", " src=", "@import", "url("):
        assert needle not in html
    assert html.count('<svg class="plot bars"') == 3  # humaneval, mbpp, conala
    assert html.count('<svg class="plot passk"') == 2  # n = 20 runs on humaneval and mbpp
    assert page.stat().st_mode & 0o044  # readable by others: made to be shared


def rows_in_dom(dom: str) -> list[str]:
    body = dom.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [m.replace("&amp;", "&") for m in re.findall(r'<tr data-model="([^"]*)"', body)]


def test_page_renders_and_sorts_in_chromium(page, tmp_path) -> None:
    dom = chromium(tmp_path, page.as_uri(), "--dump-dom").stdout
    assert 'data-ready="true"' in dom  # the script ran
    assert rows_in_dom(dom) == ORDER
    bars = dom.split('<svg class="plot bars" data-task="humaneval"', 1)[1].split("</svg>", 1)[0]
    assert bars.count('class="bar"') == 5
    assert bars.count('class="whisker"') == 15  # each interval: a line and two caps

    url = page.as_uri() + "#sort=" + "humaneval%20pass%401" + ":ascending"
    dom = chromium(tmp_path, url, "--dump-dom").stdout
    assert 'data-sorted-by="humaneval pass@1:ascending"' in dom
    assert rows_in_dom(dom) == ORDER[::-1]

    dom = chromium(tmp_path, page.as_uri() + "#sort=model:ascending", "--dump-dom").stdout
    assert rows_in_dom(dom) == sorted(ORDER)
    # Rows without an mbpp result stay last in either direction.
    dom = chromium(tmp_path, page.as_uri() + "#sort=mbpp%20pass%401:ascending",
                   "--dump-dom").stdout
    assert rows_in_dom(dom)[:2] == ["coder-small (n=20 T=0.8)", "coder-lora"]


def test_page_screenshot_shows_the_plots(page, tmp_path) -> None:
    shot = tmp_path / "leaderboard.png"
    chromium(tmp_path, page.as_uri(), "--window-size=1000,900", f"--screenshot={shot}",
             "--hide-scrollbars")
    width, height, rows = read_png(shot)
    assert (width, height) == (1000, 900)
    pixels = Counter(row[i:i + 3] for row in rows for i in range(0, len(row), 3))
    assert len(pixels) > 100  # text, table and plots, not a blank page
    # The humaneval bars of the first two rows are on screen: far more pixels of their
    # colours than the 10x10 swatches in the table hold.
    assert pixels[bytes.fromhex("4e79a7")] > 2000
    assert pixels[bytes.fromhex("f28e2b")] > 2000


def test_partial_runs_are_flagged(maker, tmp_path, capsys) -> None:
    maker.run(tmp_path / "board" / "full", {"HumanEval/0": 1, "HumanEval/1": 1}, model="full")
    made = maker.run(tmp_path / "made" / "partial", {"HumanEval/0": 1}, model="partial")
    # This harness scores finished runs only; older versions scored partial ones too.
    derive(made, tmp_path / "board" / "partial", metrics={"complete": False})
    capsys.readouterr()  # the runs' own output
    text = board(tmp_path / "board", capsys)
    assert "| partial | n=1 T=0 | 100.0 [" in text
    assert "1×1†¶" in text  # partial, and fewer problems than the other run
    assert "† partial" in text and "¶ problem set differs" in text
