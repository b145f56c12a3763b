"""Model specs: what `--model` names, either an alias from a models file or a direct spec.

Direct specs: ``reference``, ``samples:PATH``, ``hf:ID_OR_PATH``, ``vllm:ID_OR_PATH``,
``openai:MODEL``. Aliases come from models files, read in this order, later definitions of an
alias updating earlier ones field by field:

1. the ``models.toml`` shipped with the package;
2. the user's config dir: ``$HARNESS_CONFIG_DIR/models.toml``, else
   ``$XDG_CONFIG_HOME/harness/models.toml``, else ``~/.config/harness/models.toml``;
3. ``$HARNESS_MODELS_FILE``;
4. each ``--models-file`` in the order given.

In a models file, ``extends = "other-alias"`` starts an alias from another one's fields;
``${VAR}`` and ``${VAR:-default}`` in ``model``/``adapter``/``tokenizer`` expand from the
environment; paths starting with ``./`` or ``../`` are relative to the models file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness import settings
from harness.backends.registry import backends
from harness.errors import HarnessError, UnknownNameError
from harness.registry import did_you_mean

# `samples:PATH` scores a samples file instead of generating: the runner reads the file, so
# this name has no entry in the backends registry.
SAMPLES = "samples"


def backend_names() -> list[str]:
    """Backend names a spec may use: the registry's (plugins included) and ``samples``."""
    return sorted({*backends.names(), SAMPLES})

# Keys an alias's `sampling` table may set; command-line flags override them.
SAMPLING_KEYS = {
    "n": int,
    "temperature": float,
    "top_p": float,
    "max_new_tokens": int,
    "seed": int,
}

# Fields whose values may name files and may use ${VAR} expansion.
_PATH_FIELDS = ("model", "adapter", "tokenizer")
_TABLE_FIELDS = ("sampling", "options", "fim")  # fim may be a table of tokens
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ModelSpec(BaseModel):
    """One model as the harness runs it. Fields left unset take the backend's defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the alias or the spec as given on the command line")
    backend: str
    model: str = Field(default="", description="hub id or local path; a samples file for `samples`")
    adapter: str | None = Field(default=None, description="PEFT/LoRA adapter: hub id or local path")
    merge_adapter: bool = False
    tokenizer: str | None = Field(
        default=None, description="tokenizer hub id or path (default: model)"
    )
    revision: str | None = Field(default=None, description="hub revision (branch, tag or commit)")
    trust_remote_code: bool = False
    dtype: str = "auto"
    device: str = "auto"
    template: str | None = Field(default=None, description="prompt template with a {prompt} field")
    chat: bool = False
    fim: str | dict[str, Any] | None = Field(
        default=None, description="fill-in-the-middle format: a family name (starcoder, "
        "codellama, deepseek-coder, qwen2.5-coder, codegemma, ...) or a table of tokens; see "
        "harness/fim.py")
    description: str = ""
    sampling: dict[str, Any] = Field(default_factory=dict, description="default sampling params")
    options: dict[str, Any] = Field(default_factory=dict, description="backend-specific options")

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        known = backend_names()
        if value not in known:
            raise ValueError(
                f"unknown backend {value!r}{did_you_mean(value, known)} (known: {', '.join(known)})"
            )
        return value

    @field_validator("template")
    @classmethod
    def _template_has_prompt(cls, value: str | None) -> str | None:
        if value is not None and "{prompt}" not in value:
            raise ValueError("a template must contain the field {prompt}")
        return value

    @field_validator("fim")
    @classmethod
    def _known_fim(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        from harness.fim import validate

        return validate(value)

    @field_validator("sampling")
    @classmethod
    def _known_sampling_keys(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            kind = SAMPLING_KEYS.get(key)
            if kind is None:
                raise ValueError(f"unknown sampling key {key!r}; one of {', '.join(SAMPLING_KEYS)}")
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise ValueError(f"sampling.{key} must be a number")
            if kind is int and not isinstance(item, int):
                raise ValueError(f"sampling.{key} must be an integer")
        return {key: SAMPLING_KEYS[key](item) for key, item in value.items()}

    def fingerprint(self) -> str:
        """Content-derived identity of everything that changes what the model generates.

        Fields left at their defaults are left out, so adding an optional field to this
        class keeps existing fingerprints (and generation caches) valid.
        """
        payload = self.model_dump(
            exclude={"name", "description", "sampling"}, exclude_defaults=True
        )
        payload["backend"] = self.backend
        for key in _PATH_FIELDS:
            value = payload.get(key)
            if value and Path(value).expanduser().exists():
                payload[f"{key}_content"] = _path_digest(Path(value).expanduser())
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _path_digest(path: Path) -> str:
    """Cheap content identity of a local model/adapter folder or file: names and sizes of all
    files, plus the contents of files up to 64 MiB (configs, tokenizers, adapter weights)."""
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


def user_models_file() -> Path:
    """The models file in the user's config dir (it need not exist)."""
    return settings.config_dir() / "models.toml"


def models_files(extra_files: list[Path] | None = None) -> list[Path]:
    """Models files in the order they are read; optional ones only if they exist."""
    files = [shipped_models_file()]
    if user_models_file().exists():
        files.append(user_models_file())
    env_file = settings.models_file()
    if env_file is not None:
        files.append(env_file)
    files.extend(Path(f).expanduser() for f in extra_files or [])
    return files


def load_aliases(extra_files: list[Path] | None = None) -> dict[str, ModelSpec]:
    entries: dict[str, dict[str, Any]] = {}
    for file in models_files(extra_files):
        if not file.exists():
            if file == shipped_models_file():
                continue
            raise HarnessError(f"models file not found: {file}")
        _apply_models_file(file, entries)
    aliases: dict[str, ModelSpec] = {}
    for name, entry in entries.items():
        fields = {k: v for k, v in entry.items() if k != "_file"}
        try:
            aliases[name] = ModelSpec(name=name, **fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise HarnessError(
                f"models file {entry['_file']}: alias {name!r}: {where}: {first['msg']}"
            ) from exc
    return aliases


def _apply_models_file(file: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Merge one file's aliases into ``entries``: an alias updates its earlier definition,
    or, with ``extends``, starts from another alias's fields."""
    raw = _read_models_file(file)
    done: set[str] = set()

    def apply(name: str, chain: tuple[str, ...]) -> None:
        entry = dict(raw[name])
        parent = entry.pop("extends", None)
        if parent is None:
            base = entries.get(name, {})
        else:
            if not isinstance(parent, str):
                raise HarnessError(f"models file {file}: alias {name!r}: extends must be a name")
            if parent in chain or parent == name:
                cycle = " -> ".join((*chain, name, parent))
                raise HarnessError(f"models file {file}: aliases extend each other: {cycle}")
            if parent in raw and parent not in done:
                apply(parent, (*chain, name))
            if parent not in entries:
                known = sorted(set(entries) | set(raw))
                raise HarnessError(
                    f"models file {file}: alias {name!r} extends unknown alias {parent!r}"
                    f"{did_you_mean(parent, known)}"
                )
            base = entries[parent]
        entries[name] = _merge(base, entry)
        done.add(name)

    for name in raw:
        if name not in done:
            apply(name, ())


def _read_models_file(file: Path) -> dict[str, dict[str, Any]]:
    """The alias tables of one file, with environment references and paths expanded."""
    try:
        table = tomllib.loads(file.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"models file {file} cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"models file {file} is not valid TOML: {exc}") from exc
    models = table.get("models", {})
    if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
        raise HarnessError(f"models file {file}: expected [models.<alias>] tables")
    for name, entry in models.items():
        nested = [k for k, v in entry.items() if isinstance(v, dict) and k not in _TABLE_FIELDS]
        if nested:
            raise HarnessError(
                f"models file {file}: alias {name!r} has a sub-table {nested[0]!r}; quote alias "
                f'names that contain dots: [models."{name}.{nested[0]}"]'
            )
    return {name: _localize(dict(entry), file) for name, entry in models.items()}


def _localize(entry: dict[str, Any], file: Path) -> dict[str, Any]:
    """Expand ${VAR} references and make ./relative paths relative to the models file."""
    for key in _PATH_FIELDS:
        value = entry.get(key)
        if not isinstance(value, str):
            continue
        value = _expand_env(value)
        if value.startswith(("./", "../")):
            value = str((file.parent / value).resolve())
        elif value.startswith("~"):
            value = str(Path(value).expanduser())
        entry[key] = value
    entry["_file"] = str(file)
    return entry


def _expand_env(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ and os.environ[name] != "":
            return os.environ[name]
        # An unset variable without a default stays visible; resolving the alias reports it.
        return default if default is not None else match.group(0)

    return _ENV_REFERENCE.sub(replace, value)


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if key in ("sampling", "options") and isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    return merged


def resolve_model(name: str, models_files: list[Path] | None = None) -> ModelSpec:
    """Turn a ``--model`` value into a spec: an alias, or ``backend:target``."""
    aliases = load_aliases(models_files)
    if name in aliases:
        spec = aliases[name]
    elif name == "reference":
        spec = ModelSpec(name=name, backend="reference")
    else:
        backend, sep, target = name.partition(":")
        known = backend_names()
        if not (sep and backend in known and target):
            direct = ", ".join(f"{b}:TARGET" for b in known)
            raise UnknownNameError(
                f"unknown model {name!r}{did_you_mean(name, [*sorted(aliases), 'reference'])}"
                f" (an alias listed by `harness models`, or one of: reference, {direct})"
            )
        spec = ModelSpec(name=name, backend=backend, model=target)
    _check_expanded(spec)
    return spec


def _check_expanded(spec: ModelSpec) -> None:
    for key in _PATH_FIELDS:
        value = getattr(spec, key)
        match = _ENV_REFERENCE.search(value) if isinstance(value, str) else None
        if match:
            raise HarnessError(
                f"model {spec.name!r}: {key} uses the environment variable {match.group(1)}, "
                "which is not set"
            )
