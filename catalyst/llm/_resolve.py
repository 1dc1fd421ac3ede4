"""Where a check gets its model client: the runtime's ``services["llm"]`` or its own ``llm:`` config.

Clients built from a check's config are cached per distinct config, so every check instance (and
every verdict) with the same settings shares one connection pool, built on first use.
"""

from __future__ import annotations

import threading
from typing import Any

from catalyst.errors import ConfigError
from catalyst.llm._client import LLM
from catalyst.llm._config import LLMConfig

__all__ = ["as_llm", "resolve_llm", "shared_llm"]

_shared: dict[LLMConfig, LLM] = {}
_shared_lock = threading.Lock()


def shared_llm(config: LLMConfig) -> LLM:
    """The process-wide :class:`LLM` for ``config`` (built once, lazily)."""
    llm = _shared.get(config)
    if llm is None:
        with _shared_lock:
            llm = _shared.get(config)
            if llm is None:
                llm = _shared[config] = LLM(config)
    return llm


def as_llm(obj: Any) -> LLM:
    """Coerce what a caller put in ``services["llm"]``: an LLM, an LLMConfig, a dict, or an ``openai.OpenAI``."""
    if isinstance(obj, LLM):
        return obj
    if isinstance(obj, LLMConfig):
        return shared_llm(obj)
    if isinstance(obj, dict):
        return shared_llm(LLMConfig.model_validate(obj))
    if hasattr(obj, "chat") and hasattr(obj, "with_options"):  # an openai.OpenAI client
        return LLM(client=obj)
    raise ConfigError(f"services['llm'] is a {type(obj).__name__}; give a catalyst.llm.LLM, an LLMConfig, "
                      "a dict like {'base_url': ..., 'model': ...}, or an openai.OpenAI client")


def resolve_llm(services: dict[str, Any], config: LLMConfig | None, check_name: str) -> LLM:
    """The client a check uses.

    A check's own ``llm`` config with a ``base_url`` wins; otherwise ``services["llm"]`` (the check
    then passes its config's ``model``, if any, per call); otherwise the check's config as is (OpenAI).
    """
    if config is not None and config.base_url is not None:
        return shared_llm(config)
    if services.get("llm") is not None:
        return as_llm(services["llm"])
    if config is not None:
        return shared_llm(config)
    raise ConfigError(f"check `{check_name}` needs a model: pass services={{'llm': catalyst.llm.LLM(...)}} to the "
                      f"Validator, or set `llm: {{base_url: ..., model: ...}}` in the check's config")
