"""Model specs: what `--model` names, either an alias from a models file or a direct spec.

Direct specs: ``reference``, ``samples:PATH``, ``hf:ID_OR_PATH``, ``vllm:ID_OR_PATH``,
``openai:MODEL``. Aliases come from the shipped ``models.toml`` and from user files
(``--models-file`` or ``$HARNESS_MODELS_FILE``); later files override earlier ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import HarnessError, UnknownNameError
from harness.registry import did_you_mean

BACKENDS = ("reference", "samples", "hf", "vllm", "openai")


class ModelSpec(BaseModel):
    """One model as the harness runs it. Fields left unset take the backend's defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the alias or the spec as given on the command line")
    backend: str
    model: str = Field("", description="hub id or local path; a samples file for `samples`")
    adapter: str | None = Field(None, description="PEFT/LoRA adapter: hub id or local path")
    merge_adapter: bool = False
    dtype: str = "auto"
    device: str = "auto"
    template: str | None = Field(None, description="prompt template with a {prompt} field")
    chat: bool = False
    description: str = ""
    sampling: dict[str, Any] = Field(default_factory=dict, description="default sampling params")
    options: dict[str, Any] = Field(default_factory=dict, description="backend-specific options")

    def fingerprint(self) -> str:
        """Content-derived identity of everything that changes what the model generates."""
        payload = self.model_dump(exclude={"name", "description", "sampling"})
        for key in ("model", "adapter"):
            value = payload.get(key)
            if value and Path(value).exists():
                payload[f"{key}_content"] = _path_digest(Path(value))
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _path_digest(path: Path) -> str:
    """Cheap content identity of a local model/adapter folder or file: names, sizes, mtimes
    of small files' contents (configs, adapter weights up to 64 MiB)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(path.parent)}:{stat.st_size}".encode())
        if stat.st_size <= 64 * 2**20:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def shipped_models_file() -> Path:
    return Path(str(resources.files("harness").joinpath("models.toml")))


def load_aliases(extra_files: list[Path] | None = None) -> dict[str, ModelSpec]:
    files = [shipped_models_file()]
    env_file = os.environ.get("HARNESS_MODELS_FILE")
    if env_file:
        files.append(Path(env_file))
    files.extend(extra_files or [])
    aliases: dict[str, ModelSpec] = {}
    for file in files:
        if not file.exists():
            if file == shipped_models_file():
                continue
            raise HarnessError(f"models file not found: {file}")
        try:
            table = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise HarnessError(f"models file {file} is not valid TOML: {exc}") from exc
        for name, entry in table.get("models", {}).items():
            try:
                aliases[name] = ModelSpec(name=name, **entry)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise HarnessError(
                    f"models file {file}: alias {name!r}: {where}: {first['msg']}"
                ) from exc
    return aliases


def resolve_model(name: str, models_files: list[Path] | None = None) -> ModelSpec:
    """Turn a ``--model`` value into a spec: an alias, or ``backend:target``."""
    aliases = load_aliases(models_files)
    if name in aliases:
        return aliases[name]
    if name == "reference":
        return ModelSpec(name=name, backend="reference")
    backend, sep, target = name.partition(":")
    if sep and backend in BACKENDS and target:
        return ModelSpec(name=name, backend=backend, model=target)
    known = sorted(aliases) + ["reference", "samples:PATH", "hf:ID", "vllm:ID", "openai:MODEL"]
    raise UnknownNameError(
        f"unknown model {name!r}{did_you_mean(name, sorted(aliases) + ['reference'])}"
        f" (an alias from `harness models`, or one of: {', '.join(known[-5:])})"
    )
