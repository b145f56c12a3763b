"""The backends registry: backend names -> classes, imported only when a backend is used.

It lives apart from ``harness.backends`` so that model specs (which ``base.py`` imports) can
check backend names, without importing a backend, and without an import cycle.
"""

from __future__ import annotations

from typing import Any

from harness.registry import Registry

# Values are ModelAPI subclasses; typed loosely because base.py imports the specs that
# check names here. create_backend() types what it builds.
backends: Registry[type[Any]] = Registry(
    "backend",
    "harness.backends",
    {
        "reference": "harness.backends.reference:ReferenceBackend",
        "hf": "harness.backends.hf:HFBackend",
        "vllm": "harness.backends.vllm:VLLMBackend",
        "openai": "harness.backends.openai:OpenAIBackend",
    },
)
