"""OpenAI-compatible HTTP backend: ``/completions`` or ``/chat/completions`` (``chat = true``).

Works with the OpenAI API and with servers that speak its protocol (vLLM, TGI, llama.cpp,
LiteLLM, ...). Standard library only (``urllib``).

* Base URL: ``--base-url``, else ``options.base_url``, else ``$OPENAI_BASE_URL``, else
  ``https://api.openai.com/v1``. The key comes from ``$OPENAI_API_KEY`` or the variable named
  by ``options.api_key_env``; servers that need none (a local vLLM) get no header.
* Requests run in a thread pool of ``options.concurrency`` (default 8) workers; completions
  are yielded as each HTTP request returns, so the generation cache keeps them if the run
  stops part-way.
* 429 and 5xx answers, timeouts and connection errors are retried ``options.max_retries``
  times (default 6) with exponential backoff and jitter, honouring ``Retry-After``. Other
  4xx answers fail at once. A request that still fails ends the run with one line; the
  completions already yielded are kept.
* Samples: a request asks for up to ``options.n_per_request`` (default 128) choices at once
  with the seed of its first sample. A server that returns fewer choices than asked (it
  ignores ``n``) gets the missing samples as one request each, with each sample's own seed,
  and so does every later request. ``n_per_request = 1`` makes every sample its own request
  with its own seed: sample i is then reproducible on its own on servers that honour
  ``seed``. Greedy decoding (temperature 0) sends one request and reports it as each sample.
* Stop sequences are sent (the first ``options.max_stop_sequences``, default 4, the OpenAI
  limit) and all of them are applied to the returned text. With none (chat mode) the body
  has no ``stop`` field, and the answer ends where the server ends the turn.
* ``finish_reason`` is read per choice: ``"length"`` when the server says ``max_tokens`` cut
  it (or, for a server that gives none, when a single answer used all ``max_tokens``),
  else ``"stop"``.

Other options: ``timeout`` (seconds per socket operation, default 120), ``backoff_base``
(seconds, default 1), ``backoff_max`` (default 60), ``max_tokens_field`` (default
``max_tokens``; newer OpenAI chat models want ``max_completion_tokens``), ``extra_body``
(fields merged into every request body), ``headers``, ``system_prompt`` (chat mode).
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import logging
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from harness.backends.base import BackendContext, ModelAPI
from harness.backends.prompting import apply_template, chat_messages, sample_seed
from harness.backends.spec import ModelSpec
from harness.errors import HarnessError
from harness.progress import progress
from harness.records import Completion, GenerationRequest
from harness.text import truncate_at_stop

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
_RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
_KNOWN_OPTIONS = {
    "base_url",
    "api_key_env",
    "concurrency",
    "timeout",
    "max_retries",
    "backoff_base",
    "backoff_max",
    "n_per_request",
    "max_stop_sequences",
    "max_tokens_field",
    "extra_body",
    "headers",
    "system_prompt",
}


@dataclass(frozen=True)
class _Call:
    """One HTTP request: the samples it should return, in choice order."""

    request: GenerationRequest
    samples: tuple[int, ...]
    greedy: bool  # one generation reported as every sample in `samples`


@dataclass(frozen=True)
class _Settings:
    base_url: str
    api_key: str | None
    concurrency: int
    timeout: float
    max_retries: int
    backoff_base: float
    backoff_max: float
    n_per_request: int
    max_stop_sequences: int
    max_tokens_field: str
    extra_body: Mapping[str, Any]
    headers: Mapping[str, str]


class RetriesExhausted(HarnessError):
    """A request that kept failing with retryable errors."""


class OpenAIBackend(ModelAPI):
    """Generation through an OpenAI-compatible HTTP API (``openai:MODEL``)."""

    def __init__(self, spec: ModelSpec, context: BackendContext) -> None:
        super().__init__(spec, context)
        if not spec.model:
            raise HarnessError(f"model {spec.name!r}: no model name is set")
        self.settings = _settings(spec, context)
        self.endpoint = "/chat/completions" if spec.chat else "/completions"
        self._server_ignores_n = False
        self._lock = threading.Lock()

    def fingerprint(self) -> str:
        """The spec's fingerprint plus the server: the same name elsewhere is another model."""
        payload = f"{self.spec.fingerprint()}|{self.settings.base_url}"
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    # ---------------------------------------------------------------- generate

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[Completion]:
        calls = [call for request in requests for call in self._plan(request)]
        if not calls:
            return
        total = sum(len(call.samples) for call in calls)
        executor = ThreadPoolExecutor(
            max_workers=self.settings.concurrency, thread_name_prefix="harness-openai"
        )
        pending: set[Future[tuple[_Call, list[Completion], tuple[int, ...]]]] = {
            executor.submit(self._run_call, call) for call in calls
        }
        failure: BaseException | None = None
        try:
            description = f"generating ({self.spec.name})"
            with progress(total, description, self.context.show_progress) as bar:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        try:
                            call, completions, missing = future.result()
                        except BaseException as exc:
                            if failure is None:
                                failure = exc
                                for queued in pending:  # in-flight requests still finish
                                    queued.cancel()
                            continue
                        for completion in completions:
                            bar.update(1)
                            yield completion
                        if missing and failure is None:
                            pending |= {
                                executor.submit(self._run_call, single)
                                for single in self._one_per_sample(call.request, missing)
                            }
                    pending = {f for f in pending if not f.cancelled()}
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        if failure is not None:
            raise failure

    def _plan(self, request: GenerationRequest) -> list[_Call]:
        samples = tuple(request.sample_indices)
        if not samples:
            return []
        if request.params.temperature <= 0:
            return [_Call(request, samples, greedy=True)]
        if self._server_ignores_n or self.settings.n_per_request == 1:
            return self._one_per_sample(request, samples)
        size = self.settings.n_per_request
        return [
            _Call(request, samples[start : start + size], greedy=False)
            for start in range(0, len(samples), size)
        ]

    @staticmethod
    def _one_per_sample(request: GenerationRequest, samples: Sequence[int]) -> list[_Call]:
        return [_Call(request, (sample,), greedy=False) for sample in samples]

    def _run_call(self, call: _Call) -> tuple[_Call, list[Completion], tuple[int, ...]]:
        """Make one HTTP request; return its completions and the samples it did not get."""
        n = 1 if call.greedy else len(call.samples)
        response = self.post(self.endpoint, self._body(call, n))
        choices = _choices(response, self.spec.chat)
        if len(choices) < n:
            if not self._server_ignores_n:
                log.info(
                    "%s returned %d of %d choices; asking for one sample per request",
                    self.settings.base_url,
                    len(choices),
                    n,
                )
            with self._lock:
                self._server_ignores_n = True
        usage = response.get("usage") or {}
        tokens = usage.get("completion_tokens") if n == 1 else None
        tokens = tokens if isinstance(tokens, int) else None
        params = call.request.params
        completions: list[Completion] = []
        reported = call.samples if call.greedy else call.samples[: len(choices)]
        for position, sample in enumerate(reported):
            text, finish = choices[0 if call.greedy else position]
            cut = truncate_at_stop(text, params.stop)
            if finish is None and tokens is not None:  # a server that does not say
                finish = "length" if tokens >= params.max_new_tokens else "stop"
            completions.append(
                Completion(
                    key=call.request.key,
                    sample=sample,
                    text=cut,
                    finish_reason="length" if finish == "length" and cut == text else "stop",
                    num_tokens=tokens,
                )
            )
        missing = () if call.greedy else call.samples[len(choices) :]
        return call, completions, tuple(missing)

    def _body(self, call: _Call, n: int) -> dict[str, Any]:
        params = call.request.params
        body: dict[str, Any] = {"model": self.spec.model}
        if self.spec.chat:
            body["messages"] = chat_messages(self.spec, call.request.prompt)
        else:
            body["prompt"] = apply_template(self.spec, call.request.prompt.text)
        body[self.settings.max_tokens_field] = params.max_new_tokens
        body["temperature"] = params.temperature
        if params.temperature > 0:
            body["top_p"] = params.top_p
        body["n"] = n
        seed = sample_seed(params.seed, call.samples[0], call.request.prompt)
        body["seed"] = seed >> 32  # 31 bits: any server takes it
        stop = list(params.stop[: self.settings.max_stop_sequences])
        if stop:  # no field at all when there are none: some servers reject "stop": []
            body["stop"] = stop
        body.update(self.settings.extra_body)
        return body

    # -------------------------------------------------------------------- HTTP

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST JSON with retries; the decoded JSON answer."""
        url = self.settings.base_url + path
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers["User-Agent"] = "harness"
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        headers.update(self.settings.headers)
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.settings.timeout) as answer:
                    payload = answer.read()
                return _decode(payload, url)
            except urllib.error.HTTPError as exc:
                message = _error_message(exc)
                if exc.code not in _RETRY_STATUS:
                    raise HarnessError(f"{url}: HTTP {exc.code}: {message}") from exc
                problem = f"HTTP {exc.code}: {message}"
                delay = _retry_after(exc.headers.get("Retry-After"))
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                problem = _network_problem(exc)
                delay = None
            if attempt + 1 == attempts:
                raise RetriesExhausted(
                    f"{url}: failed after {attempts} attempt(s); last error: {problem}"
                )
            if delay is None:
                delay = self._backoff(attempt)
            log.info("%s: %s; retrying in %.1f s", url, problem, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.settings.backoff_max, self.settings.backoff_base * 2**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


# ---------------------------------------------------------------------- helpers


def _settings(spec: ModelSpec, context: BackendContext) -> _Settings:
    options = spec.options
    unknown = sorted(set(options) - _KNOWN_OPTIONS)
    if unknown:
        raise HarnessError(
            f"model {spec.name!r}: unknown openai option {unknown[0]!r} "
            f"(known: {', '.join(sorted(_KNOWN_OPTIONS))})"
        )
    base_url = (
        context.base_url
        or options.get("base_url")
        or os.environ.get("OPENAI_BASE_URL")
        or DEFAULT_BASE_URL
    )
    parsed = urlparse(str(base_url))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise HarnessError(f"base URL {base_url!r} is not an http(s) URL")
    key_env = str(options.get("api_key_env", DEFAULT_KEY_ENV))
    api_key = os.environ.get(key_env) or None
    if api_key is None and ("api_key_env" in options or parsed.hostname == "api.openai.com"):
        raise HarnessError(f"{base_url} needs an API key: set the environment variable {key_env}")
    extra_body = options.get("extra_body", {})
    headers = options.get("headers", {})
    if not isinstance(extra_body, Mapping) or not isinstance(headers, Mapping):
        raise HarnessError(f"model {spec.name!r}: options.extra_body and headers must be tables")
    return _Settings(
        base_url=str(base_url).rstrip("/"),
        api_key=api_key,
        concurrency=_number(spec, "concurrency", 8, int, minimum=1),
        timeout=_number(spec, "timeout", 120.0, float, minimum=0.001),
        max_retries=_number(spec, "max_retries", 6, int, minimum=0),
        backoff_base=_number(spec, "backoff_base", 1.0, float, minimum=0.0),
        backoff_max=_number(spec, "backoff_max", 60.0, float, minimum=0.0),
        n_per_request=_number(spec, "n_per_request", 128, int, minimum=1),
        max_stop_sequences=_number(spec, "max_stop_sequences", 4, int, minimum=0),
        max_tokens_field=str(options.get("max_tokens_field", "max_tokens")),
        extra_body=dict(extra_body),
        headers={str(k): str(v) for k, v in headers.items()},
    )


def _number(spec: ModelSpec, name: str, default: Any, kind: type, minimum: float) -> Any:
    value = spec.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HarnessError(f"model {spec.name!r}: options.{name} must be a number")
    if kind is int and not float(value).is_integer():
        raise HarnessError(f"model {spec.name!r}: options.{name} must be an integer")
    if value < minimum:
        raise HarnessError(f"model {spec.name!r}: options.{name} must be at least {minimum}")
    return kind(value)


def _choices(response: Mapping[str, Any], chat: bool) -> list[tuple[str, str | None]]:
    """(text, finish_reason) per choice, in choice-index order."""
    choices = response.get("choices")
    if not isinstance(choices, list):
        raise HarnessError(f"the server's answer has no 'choices' list: {str(response)[:200]}")
    ordered = sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
    result = []
    for choice in ordered:
        if not isinstance(choice, dict):
            raise HarnessError(f"malformed choice in the server's answer: {str(choice)[:200]}")
        if chat:
            message = choice.get("message") or {}
            text = message.get("content") if isinstance(message, dict) else None
        else:
            text = choice.get("text")
        result.append((str(text or ""), choice.get("finish_reason")))
    return result


def _decode(payload: bytes, url: str) -> dict[str, Any]:
    try:
        decoded = json.loads(payload)
    except ValueError as exc:
        raise HarnessError(f"{url}: the answer is not JSON: {payload[:200]!r}") from exc
    if not isinstance(decoded, dict):
        raise HarnessError(f"{url}: the answer is not a JSON object: {payload[:200]!r}")
    return decoded


def _error_message(exc: urllib.error.HTTPError) -> str:
    """The server's error message (OpenAI's ``{"error": {"message": ...}}``), one line."""
    try:
        raw = exc.read()
    except (OSError, http.client.HTTPException):
        raw = b""
    text = raw.decode("utf-8", "replace")
    try:
        decoded = json.loads(text)
        error = decoded.get("error", decoded) if isinstance(decoded, dict) else decoded
        if isinstance(error, dict):
            text = str(error.get("message") or error.get("detail") or error)
        else:
            text = str(error)
    except ValueError:
        pass
    line = " ".join(text.split())[:300]
    return line or str(exc.reason)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), capped."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), 600.0)


def _network_problem(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, socket.timeout | TimeoutError):
        return "timed out"
    return f"{type(reason).__name__}: {reason}".strip()
