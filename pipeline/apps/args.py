"""Command-line arguments shared by the CLI and the chat: flags → ``Settings``.

Precedence: defaults < ``belegt.toml`` < environment < these flags.
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from ..settings import Settings, SettingsError, describe


def settings_from_args(args: argparse.Namespace) -> Settings:
    """File, environment and flags → Settings; a bad value → SettingsError naming it and where it came from."""
    try:
        return _settings_from_args(args)
    except ValidationError as err:
        raise SettingsError(describe(err)) from None


def _settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, dict[str, Any]] = {}
    if getattr(args, "embedder", None):
        overrides["embedder"] = {"model": args.embedder}
    if getattr(args, "ray", None):
        overrides["ray"] = {"address": args.ray}
    llm = {key: getattr(args, f"llm_{key}", None) for key in ("provider", "base_url", "model", "timeout_s")}
    if any(v is not None for v in llm.values()):
        overrides["llm"] = {k: v for k, v in llm.items() if v is not None}
    settings = Settings()
    if overrides:
        # Flags win over file and environment: merge them into what was loaded.
        merged = settings.model_dump()
        for section, values in overrides.items():
            merged[section].update(values)
        settings = Settings(**merged)
    return settings


def add_ray_argument(p: argparse.ArgumentParser) -> None:
    """``--ray ADDRESS``: read, chunk and embed on a Ray cluster (overrides settings.ray.address)."""
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="read, chunk and embed on Ray: 'local' (start Ray here), 'auto' (the cluster this machine joined), "
        "ray://HOST:PORT (Ray Client); the index is the same as without it",
    )


def add_llm_arguments(p: argparse.ArgumentParser) -> None:
    """The flags that turn on generated answers (they override settings.llm)."""
    g = p.add_argument_group("generated answers (optional; default: extractive quotes)")
    g.add_argument(
        "--llm",
        dest="llm_provider",
        choices=["none", "openai", "ollama"],
        help="'openai': any OpenAI-compatible server; 'ollama': an Ollama server",
    )
    g.add_argument("--llm-url", dest="llm_base_url", help="server URL, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("--llm-model", dest="llm_model", help="model name as the server knows it")
    g.add_argument(
        "--llm-timeout", dest="llm_timeout_s", type=float, help="seconds before the extractive answer is given instead"
    )
