"""Generation backends, registered by name and imported only when used."""

from __future__ import annotations

from harness.backends.base import BackendContext, ModelAPI
from harness.backends.registry import backends
from harness.backends.spec import ModelSpec, resolve_model


def create_backend(spec: ModelSpec, context: BackendContext) -> ModelAPI:
    backend: ModelAPI = backends.get(spec.backend)(spec, context)
    return backend


__all__ = ["BackendContext", "ModelAPI", "ModelSpec", "backends", "create_backend", "resolve_model"]
