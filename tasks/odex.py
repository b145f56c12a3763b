"""ODEX (Wang et al., 2023): open-domain NL-to-code with unit tests, intents in four languages.

Each example is a one-function program ``prompt + completion + suffix`` run against
``test_start`` + the tests + ``check(entry_point)``, exactly as ODEX's own evaluation builds it
(including its tab -> four-space rewrite of the code). Task ids are Stack Overflow post ids and
repeat, so problems are keyed ``<lang>/<position in the file>``.

Examples use third-party libraries; each program declares the modules it imports
(``Program.requires``) so that the runner can report examples whose libraries are missing from
the sandbox. Examples that cannot pass here for a known reason (no network in the sandbox,
tests written for older Python/library versions, flaky tests) are listed in ``KNOWN_ISSUES``
and left out by default (``--task-arg known_issues=include`` keeps them); ``ODEX.excluded``
names each one with its reason.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.records import Prompt
from harness.sandbox.base import Limits
from harness.tasks.base import DatasetFile, Problem, Program, Task
from harness.tasks.data import export_hub_dataset, locate, read_jsonl

log = logging.getLogger(__name__)

LANGUAGES = ("en", "es", "ja", "ru")
HUB_ID = "neulab/odex"

# ODEX's code post-processing (processor.CodeProcessor): a new top-level statement ends the
# function body.
ODEX_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")

# ``library`` entries are import names already; these map distribution names in case a copy
# of the data uses them.
IMPORT_NAMES = {
    "scikit-learn": "sklearn",
    "beautifulsoup4": "bs4",
    "pillow": "PIL",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "aspose-words": "aspose",
    "python-dateutil": "dateutil",
    "pyyaml": "yaml",
    "ipython": "IPython",
}

# Seconds a program may spend importing a library, added to the base time limit: the run's
# default limit is too short for tensorflow (20 s to import here) or seaborn/sklearn (~10 s).
IMPORT_SECONDS = {
    "tensorflow": 90.0,
    "sklearn": 30.0,
    "seaborn": 30.0,
    "pandas": 15.0,
    "matplotlib": 15.0,
    "mpl_toolkits": 15.0,
    "sympy": 10.0,
    "scipy": 10.0,
    "obspy": 15.0,
    "cv2": 5.0,
    "aspose": 10.0,
    "selenium": 5.0,
    "django": 5.0,
    "IPython": 5.0,
}
BASE_TIMEOUT_S = 10.0

# The environment ODEX's evaluation ran in (Hugging Face ``code_eval`` inside a process that
# had already imported ``requests``) made ``urllib.request`` reachable after a bare
# ``import urllib``; the .NET runtime behind aspose-words needs an ICU it finds only in
# invariant mode; matplotlib must not look for a display. (No names are bound beyond what the
# example's own imports bind.)
PREAMBLES = {
    "urllib": "import urllib.request, urllib.parse, urllib.error\n",
    "aspose": "__import__('os').environ.setdefault('DOTNET_SYSTEM_GLOBALIZATION_INVARIANT', '1')\n",
    "matplotlib": "__import__('os').environ.setdefault('MPLBACKEND', 'Agg')\n",
}
PREAMBLE_TRIGGERS = {"pandas": "matplotlib", "seaborn": "matplotlib", "mpl_toolkits": "matplotlib",
                     "obspy": "matplotlib"}


@dataclass(frozen=True)
class KnownIssue:
    task_id: int  # guards against a different copy of the data file
    kind: str  # network | environment | reference | flaky | broken
    detail: str


NET = "network"
ENV = "environment"  # the test itself cannot pass with Python 3.11 / current library versions
REF = "reference"  # the canonical solution uses a removed API; the test is fine
# Verified on CPython 3.11 with numpy 2.3, pandas 3.1, matplotlib 3.11, scipy 1.17,
# selenium 4.51, keras 3.15, SQLAlchemy 1.3.5 (ODEX's pin), no network.
KNOWN_ISSUES: dict[tuple[str, int], KnownIssue] = {
    ("en", 23): KnownIssue(22676, NET, "downloads from www.example.com"),
    ("en", 24): KnownIssue(22676, NET, "downloads from www.example.com"),
    ("en", 25): KnownIssue(22676, NET, "downloads from github.com"),
    ("en", 26): KnownIssue(22676, NET, "downloads from github.com"),
    ("en", 340): KnownIssue(2805231, NET, "resolves google.com"),
    ("en", 395): KnownIssue(7243750, NET, "downloads a URL"),
    ("ja", 12): KnownIssue(17145, NET, "opens a web page with mechanize"),
    ("ja", 49): KnownIssue(39340, NET, "opens a URL"),
    ("ja", 104): KnownIssue(27922, NET, "opens a URL"),
    ("ja", 152): KnownIssue(40646, NET, "opens a URL"),
    ("ru", 8): KnownIssue(681594, NET, "POSTs to www.google.com"),
    ("ru", 40): KnownIssue(182910, NET, "opens a URL"),
    ("ru", 75): KnownIssue(133137, NET, "queries an external IP service"),
    ("ru", 98): KnownIssue(45499, NET, "opens a URL"),
    ("ru", 157): KnownIssue(60925, NET, "downloads a URL"),
    ("ru", 174): KnownIssue(690089, NET, "POSTs to reqres.in"),
    ("ru", 195): KnownIssue(299217, NET, "reads cookies from google.com"),
    ("ru", 216): KnownIssue(205664, NET, "opens a URL"),
    ("ru", 220): KnownIssue(77855, NET, "POSTs to ptsv2.com"),
    ("ru", 230): KnownIssue(178993, NET, "opens a URL"),
    ("ru", 236): KnownIssue(93346, NET, "downloads a URL"),
    ("ru", 249): KnownIssue(14314, NET, "opens a URL"),
    ("es", 65): KnownIssue(148266, ENV, "test uses np.float (removed in numpy 1.24)"),
    ("es", 89): KnownIssue(191740, ENV, "test uses np.NaN (removed in numpy 2)"),
    ("ja", 141): KnownIssue(41336, ENV, "test uses np.mat (removed in numpy 2)"),
    ("ru", 196): KnownIssue(65166, ENV, "test uses inspect.ArgSpec (removed in Python 3.11)"),
    ("ru", 226): KnownIssue(295537, ENV, "test samples from dict keys (Python 3.11 refuses)"),
    ("en", 286): KnownIssue(9938130, ENV, "test expects class AxesSubplot (matplotlib < 3.7)"),
    ("en", 322): KnownIssue(18897261, ENV, "test expects class AxesSubplot (matplotlib < 3.7)"),
    ("en", 378): KnownIssue(20865487, ENV, "test expects class AxesSubplot (matplotlib < 3.7)"),
    ("ja", 154): KnownIssue(33034, ENV, "test expects class AxesSubplot (matplotlib < 3.7)"),
    ("ja", 136): KnownIssue(37831, ENV, "test passes SGD(lr=...) (removed in Keras 3)"),
    ("ja", 37): KnownIssue(33908, ENV, "test expects selenium 3 default Firefox preferences"),
    ("en", 231): KnownIssue(24189150, ENV, "pandas >= 2.2 needs SQLAlchemy >= 2, ODEX pins 1.3.5"),
    ("ru", 27): KnownIssue(515513, ENV, "aspose-words' .NET runtime needs OpenSSL 1.x to save"),
    ("ru", 188): KnownIssue(630116, ENV, "test imports scipy.misc.derivative (removed in 1.12)"),
    ("en", 33): KnownIssue(4490961, REF, "uses scipy.tensordot (removed in scipy 1.12)"),
    ("en", 224): KnownIssue(35622945, REF, "regex with a global flag mid-pattern (Python 3.11)"),
    ("en", 250): KnownIssue(28986489, REF, "inplace replace on a column (pandas copy-on-write)"),
    ("en", 407): KnownIssue(36402748, REF, "groupby().sum() over a text column (pandas 2)"),
    ("ja", 95): KnownIssue(19311, REF, "read_csv(delim_whitespace=) (removed in pandas 3)"),
    ("ja", 106): KnownIssue(35394, REF, "read_csv(delim_whitespace=) (removed in pandas 3)"),
    ("ja", 142): KnownIssue(48742, REF, "read_table(delim_whitespace=) (removed in pandas 3)"),
    ("ja", 36): KnownIssue(33908, REF, "FirefoxProfile.DEFAULT_PREFERENCES (selenium 3)"),
    ("ja", 114): KnownIssue(49558, REF, "positional x, y to sns.regplot (seaborn < 0.12)"),
    ("ru", 70): KnownIssue(407127, REF, "random.sample of a set (removed in Python 3.11)"),
    ("es", 66): KnownIssue(104440, REF, "compares a string frame with ints (pandas 3 strings)"),
    ("es", 13): KnownIssue(59300, "broken", "reference loops forever on the mocked input()"),
    ("ru", 47): KnownIssue(313184, "flaky", "asserts a call takes under 85 microseconds"),
    ("ru", 237): KnownIssue(319702, "flaky", "result order depends on set iteration (hash seed)"),
}


def import_name(library: str) -> str:
    return IMPORT_NAMES.get(library.lower(), library)


def imported_modules(source: str) -> set[str]:
    """Top-level modules imported by ``source`` (ODEX's ``test_start``, a function header)."""
    try:
        tree = ast.parse(source.replace("\t", "    ") + "\n    pass\n")
    except SyntaxError:
        return set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return modules


def required_modules(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The example's ``library`` list as import names, plus what its tests import (one
    example imports ``mock`` without listing it)."""
    names = {import_name(lib) for lib in record.get("library") or []}
    names |= imported_modules(record["test_start"])
    return tuple(sorted(names))


def preamble(requires: tuple[str, ...]) -> str:
    wanted = {PREAMBLE_TRIGGERS.get(name, name) for name in requires}
    return "".join(PREAMBLES[name] for name in sorted(wanted) if name in PREAMBLES)


def limits_for(requires: tuple[str, ...]) -> Limits | None:
    extra = sum(IMPORT_SECONDS.get(name, 0.0) for name in requires)
    return Limits(timeout_s=BASE_TIMEOUT_S + extra) if extra else None


def odex_prompt(record: Mapping[str, Any], num_tests: int) -> str:
    """ODEX's zero-shot NL-to-code prompt (prompt.create_prompt_nl2code, function names by
    id): the header, the intent as docstring (optionally with the first tests), the body's
    start, tabs written as four spaces."""
    head, body = record["prompt"].split("\n", 1)
    tests = "".join(record["test"][:num_tests])
    docstring = f'    """{record["intent"]}\n{tests}    """'
    return "\n".join([head, docstring, body.replace("\t", "    ")])


def truncate_at_stop(text: str, stops: tuple[str, ...]) -> str:
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:cut]


class ODEX(Task):
    name = "odex"
    description = "ODEX: open-domain NL-to-code with library use, intents in en/es/ja/ru (pass@k)"
    version = "1"
    stop_sequences = ODEX_STOP
    default_max_new_tokens = 256
    known_args = ("lang", "known_issues", "prompt_tests")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.excluded: dict[str, str] = {}  # key -> why it was left out
        self._all_keys: list[str] = []  # every example of the selected files, in order

    # -- options ---------------------------------------------------------------------------

    def languages(self) -> tuple[str, ...]:
        lang = self.options.args.get("lang", "en").lower()
        if lang == "all":
            return LANGUAGES
        if lang not in LANGUAGES:
            raise HarnessError(f"odex: unknown lang {lang!r} (known: {', '.join(LANGUAGES)}, all)")
        return (lang,)

    def include_known_issues(self) -> bool:
        value = self.options.args.get("known_issues", "exclude").lower()
        if value not in {"exclude", "include"}:
            raise HarnessError(f"odex: known_issues must be exclude or include, not {value!r}")
        return value == "include"

    def prompt_tests(self) -> int:
        raw = self.options.args.get("prompt_tests", "0")
        if not raw.isdigit():
            raise HarnessError(f"odex: prompt_tests must be a number >= 0, not {raw!r}")
        return int(raw)

    def settings(self) -> dict[str, Any]:
        unknown = set(self.options.args) - set(self.known_args)
        if unknown:
            raise HarnessError(f"odex: unknown --task-arg {sorted(unknown)} (known: lang="
                               f"{'|'.join(LANGUAGES)}|all, known_issues=exclude|include, "
                               "prompt_tests=N)")
        return {
            "lang": self.options.args.get("lang", "en").lower(),
            "known_issues": "include" if self.include_known_issues() else "exclude",
            "prompt_tests": self.prompt_tests(),
        }

    # -- data ------------------------------------------------------------------------------

    def data_path(self, lang: str) -> Path:
        return locate(f"{lang}_test.jsonl", subdir="odex", options=self.options,
                      hub=(f"{HUB_ID} ({lang})", export_hub_dataset(HUB_ID, "test", lang)))

    def load(self) -> list[Problem]:
        self.settings()  # validates the arguments before any work
        include = self.include_known_issues()
        problems: list[Problem] = []
        self.dataset_files = []
        self.excluded = {}
        self._all_keys = []
        for lang in self.languages():
            path = self.data_path(lang)
            self.dataset_files.append(DatasetFile.of(path))
            for position, record in enumerate(read_jsonl(path)):
                problem = self.make_problem(lang, position, record)
                self._all_keys.append(problem.key)
                issue = problem.metadata["known_issue"]
                if issue and not include:
                    self.excluded[problem.key] = issue
                    continue
                problems.append(problem)
        if self.excluded:
            kinds: dict[str, int] = {}
            for reason in self.excluded.values():
                kind = reason.split(":")[0]
                kinds[kind] = kinds.get(kind, 0) + 1
            log.warning("odex: left out %d examples with known issues (%s); "
                        "--task-arg known_issues=include keeps them", len(self.excluded),
                        ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
        return problems

    def make_problem(self, lang: str, position: int, record: Mapping[str, Any]) -> Problem:
        issue = KNOWN_ISSUES.get((lang, position))
        known = None
        if issue is not None and str(issue.task_id) == str(record["task_id"]):
            known = f"{issue.kind}: {issue.detail}"
        requires = required_modules(record)
        return Problem(
            key=f"{lang}/{position}",
            task_id=str(record["task_id"]),
            prompt=Prompt(odex_prompt(record, self.prompt_tests())),
            reference=record["canonical_solution"],
            references=(record["canonical_solution"],),
            metadata={
                "lang": lang,
                "position": position,
                "intent": record["intent"],
                "prompt": record["prompt"],
                "suffix": record["suffix"],
                "test_start": record["test_start"],
                "tests": list(record["test"]),
                "entry_point": record["entry_point"],
                "library": list(record.get("library") or []),
                "requires": list(requires),
                "known_issue": known,
            },
        )

    # -- evaluation ------------------------------------------------------------------------

    def postprocess(self, problem: Problem, completion: str) -> str:
        return truncate_at_stop(completion, self.stop_sequences)

    def solution(self, problem: Problem, completion: str) -> str:
        meta = problem.metadata
        return f"{meta['prompt']}{completion}{meta['suffix']}".replace("\t", "    ")

    def program(self, problem: Problem, solution: str) -> Program:
        meta = problem.metadata
        requires = tuple(meta["requires"])
        check = "\n".join([meta["test_start"], "".join(meta["tests"]), "",
                           f"check({meta['entry_point']})"])
        return Program(f"{preamble(requires)}{solution}\n{check}\n",
                       limits=limits_for(requires), requires=requires)

    def sample_key(self, record: Mapping[str, Any]) -> str | None:
        """Samples-file lines name their problem by ``key`` ("en/12"), or by ``index`` (the
        position in the file of ``lang``, or in the files en, es, ja, ru in turn with lang=all)."""
        if "key" in record:
            return str(record["key"])
        if "index" in record:
            index = int(record["index"])
            if "lang" in record:
                return f"{record['lang']}/{index}"
            langs = self.languages()
            if len(langs) == 1:
                return f"{langs[0]}/{index}"
            return self._all_keys[index] if 0 <= index < len(self._all_keys) else None
        return super().sample_key(record)


__all__ = ["KNOWN_ISSUES", "LANGUAGES", "ODEX", "ODEX_STOP", "required_modules"]
