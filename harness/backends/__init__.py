"""Generation backends, registered by name and imported only when used."""

from __future__ import annotations

from harness.backends.base import BackendContext, ModelAPI
from harness.backends.spec import ModelSpec, resolve_model
from harness.registry import Registry

backends: Registry[type[ModelAPI]] = Registry(
    "backend",
    "harness.backends",
    {
        "reference": "harness.backends.reference:ReferenceBackend",
        "samples": "harness.backends.replay:ReplayBackend",
        "hf": "harness.backends.hf:HFBackend",
        "vllm": "harness.backends.vllm:VLLMBackend",
        "openai": "harness.backends.openai:OpenAIBackend",
    },
)


def create_backend(spec: ModelSpec, context: BackendContext) -> ModelAPI:
    return backends.get(spec.backend)(spec, context)


__all__ = ["BackendContext", "ModelAPI", "ModelSpec", "backends", "create_backend", "resolve_model"]
