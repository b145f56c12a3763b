"""User-facing run configuration, validated (pydantic)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.errors import HarnessError

DEFAULT_K = (1, 10, 100)

# Settings that do not change results: excluded from the config hash (and so from run ids).
NON_RESULT_FIELDS = {"output_dir", "fresh", "progress", "workers", "batch_size", "exec_cache",
                     "generation_cache", "models_files", "overlap", "executor", "ray_address",
                     "replicas",
                     # Adds a clean-subset score beside the full one; changes no result.
                     "exclude_problems",
                     # The task's validated options (defaults included) are hashed instead,
                     # so spelling out a default changes nothing.
                     "task_args"}


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str
    model: str
    n: int = Field(1, ge=1)
    k: list[int] | None = None
    temperature: float | None = Field(None, ge=0.0, allow_inf_nan=False)
    top_p: float | None = Field(None, gt=0.0, le=1.0, allow_inf_nan=False)
    max_new_tokens: int | None = Field(None, ge=1)
    seed: int = 0
    batch_size: int | None = Field(None, ge=1)
    base_url: str | None = None
    models_files: list[str] = Field(default_factory=list)
    data_dir: str | None = None
    limit: int | None = Field(None, ge=1)
    problems: list[str] | None = None
    strict: bool = False
    chat: bool = False
    system_prompt: str | None = None
    sanitize: bool = False
    # A contamination report, a file of ids or a comma-separated list: metrics.json also
    # scores the problems it does not name (harness.exclusions).
    exclude_problems: str | None = None
    task_args: dict[str, str] = Field(default_factory=dict)
    output_dir: str | None = None
    fresh: bool = False
    sandbox: str | None = None
    workers: int | None = Field(None, ge=1)
    timeout: float | None = Field(None, gt=0, le=86400, allow_inf_nan=False)
    exec_cache: bool = True
    overlap: bool = True  # execute samples while the model is still generating
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    replicas: int = Field(1, ge=1)  # data-parallel model replicas (Ray actors)
    generation_cache: bool = True
    progress: bool = True

    @field_validator("k")
    @classmethod
    def _positive_k(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(k < 1 for k in value):
            raise ValueError("k values must be >= 1")
        return value

    def requested_k(self) -> list[int]:
        return sorted(set(self.k or DEFAULT_K))

    def result_settings(self) -> dict[str, Any]:
        return self.model_dump(exclude=NON_RESULT_FIELDS)

    def config_hash(self, extra: dict[str, Any] | None = None) -> str:
        payload = {**self.result_settings(), **(extra or {})}
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def data_path(self) -> Path | None:
        return Path(self.data_dir).expanduser() if self.data_dir else None


def parse_k(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise HarnessError(f"--k must be comma-separated integers, got {text!r}") from exc
    if not values or any(v < 1 for v in values):
        raise HarnessError(f"--k values must be positive integers, got {text!r}")
    return values


def parse_task_args(items: list[str]) -> dict[str, str]:
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise HarnessError(f"--task-arg expects KEY=VALUE, got {item!r}")
        parsed[key.strip()] = value.strip()
    return parsed
