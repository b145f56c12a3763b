"""A real OpenAI-compatible HTTP server for tests: 127.0.0.1, an ephemeral port, stdlib only.

It answers ``POST /v1/completions`` and ``POST /v1/chat/completions`` (and ``GET
/v1/models``) either with scripted text or by generating with a tiny transformers model, and
can misbehave on purpose: injected HTTP errors (with ``Retry-After``), delays, ignoring
``n``, requiring an API key. It records every request and the largest number of requests
it was serving at once.

    with OpenAIServer() as server:
        backend = OpenAIBackend(spec, BackendContext(base_url=server.base_url))
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Reply = Callable[[str, dict[str, Any], int], str]


@dataclass
class Fault:
    """An error answer: ``status`` with an OpenAI-style error body."""

    status: int
    retry_after: str | None = None
    message: str = "injected failure"


@dataclass
class Seen:
    endpoint: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 200


def prompt_of(endpoint: str, body: dict[str, Any]) -> str:
    if endpoint == "chat/completions":
        return str(body["messages"][-1]["content"])
    return str(body["prompt"])


def scripted_reply(endpoint: str, body: dict[str, Any], index: int) -> str:
    """Deterministic text that names the request: its seed and choice index, then more
    code after a blank line (a stop sequence like ``"\\ndef"`` cuts it)."""
    return f"    return {body.get('seed')}_{index}\n\ndef extra():\n    pass\n"


@dataclass
class OpenAIServer:
    reply: Reply = scripted_reply
    model_dir: Path | None = None  # generate with this tiny transformers model instead
    ignore_n: bool = False  # answer one choice whatever n asks
    delay: float = 0.0  # seconds each answer takes
    api_key: str | None = None  # require "Authorization: Bearer <api_key>"
    fail_when: Callable[[dict[str, Any]], Fault | None] | None = None
    faults: deque[Fault] = field(default_factory=deque)  # answers for the next requests
    requests: list[Seen] = field(default_factory=list)
    max_active: int = 0
    _active: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _generator: Any = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        self.faults.extend(Fault(status, retry_after) for _ in range(times))

    def start(self) -> OpenAIServer:
        if self.model_dir is not None:
            self._generator = TinyModelGenerator(self.model_dir)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="openai-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ answers

    def answer(
        self, endpoint: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        seen = Seen(endpoint, body, headers)
        with self._lock:
            self.requests.append(seen)
            self._active += 1
            self.max_active = max(self.max_active, self._active)
        try:
            if self.delay:
                time.sleep(self.delay)
            status, extra_headers, payload = self._answer(endpoint, body, headers)
            seen.status = status
            return status, extra_headers, payload
        finally:
            with self._lock:
                self._active -= 1

    def _answer(
        self, endpoint: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(Fault(401, message="Incorrect API key provided"))
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
        if fault is None and self.fail_when is not None:
            fault = self.fail_when(body)
        if fault is not None:
            return _error(fault)
        if endpoint not in ("completions", "chat/completions") or "model" not in body:
            return _error(Fault(400, message=f"bad request to {endpoint}"))
        n = 1 if self.ignore_n else int(body.get("n", 1))
        if self._generator is not None:
            generated = self._generator.generate(endpoint, body, n)
        else:
            generated = [(self.reply(endpoint, body, i), "length", 7) for i in range(n)]
        choices = []
        for index, (text, finish, _) in enumerate(generated):
            if endpoint == "chat/completions":
                content = {"role": "assistant", "content": text}
                choices.append({"index": index, "message": content, "finish_reason": finish})
            else:
                choices.append({"index": index, "text": text, "finish_reason": finish})
        tokens = sum(count for _, _, count in generated)
        return (
            200,
            {},
            {
                "id": f"cmpl-{len(self.requests)}",
                "object": "chat.completion"
                if endpoint == "chat/completions"
                else "text_completion",
                "model": body["model"],
                "choices": choices,
                "usage": {
                    "prompt_tokens": 1,
                    "completion_tokens": tokens,
                    "total_tokens": tokens + 1,
                },
            },
        )


def _error(fault: Fault) -> tuple[int, dict[str, str], dict[str, Any]]:
    headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    return fault.status, headers, {"error": {"message": fault.message, "type": "test"}}


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._send(400, {}, {"error": {"message": "body is not JSON"}})
                return
            endpoint = self.path.removeprefix("/v1/").strip("/")
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(*server.answer(endpoint, body, headers))

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {}, {"object": "list", "data": [{"id": "tiny", "object": "model"}]})
            else:
                self._send(404, {}, {"error": {"message": "not found"}})

        def _send(self, status: int, headers: dict[str, str], payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class TinyModelGenerator:
    """Serves a local transformers model: greedy, or seeded sampling per choice (choice i
    uses seed + i, as vLLM's server does)."""

    def __init__(self, model_dir: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.lock = threading.Lock()

    def generate(self, endpoint: str, body: dict[str, Any], n: int) -> list[tuple[str, str, int]]:
        torch = self.torch
        if endpoint == "chat/completions":
            text = self.tokenizer.apply_chat_template(
                body["messages"], tokenize=False, add_generation_prompt=True
            )
            ids = self.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
        else:
            ids = self.tokenizer(body["prompt"], return_tensors="pt").input_ids
        temperature = float(body.get("temperature", 1.0))
        max_tokens = int(body.get("max_tokens", 16))
        seed = int(body.get("seed") or 0)
        stop = body.get("stop") or []
        out = []
        with self.lock, torch.no_grad():
            for index in range(n):
                kwargs: dict[str, Any] = {"max_new_tokens": max_tokens, "eos_token_id": None}
                if temperature > 0:
                    torch.manual_seed(seed + index)
                    kwargs.update(
                        do_sample=True, temperature=temperature, top_p=float(body.get("top_p", 1.0))
                    )
                else:
                    kwargs["do_sample"] = False
                tokens = self.model.generate(input_ids=ids, **kwargs)[0, ids.shape[1] :]
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                finish = "length"
                cuts = [text.find(s) for s in stop if s and s in text]
                if cuts:
                    text, finish = text[: min(cuts)], "stop"
                out.append((text, finish, int(tokens.shape[0])))
        return out
