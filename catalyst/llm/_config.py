"""How to reach a model: one small, validated config usable from code, policies and YAML.

``LLMConfig(base_url="http://127.0.0.1:8000/v1", model="gemma")`` in code and
``llm: {base_url: http://127.0.0.1:8000/v1, model: gemma}`` under a check in a policy are the same thing.
Nothing is read from the environment here: the API key is looked up (by variable *name*) when the
first call is made.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, model_validator

from catalyst.errors import ConfigError

__all__ = ["LLMConfig"]


class LLMConfig(BaseModel):
    """Where the model is and how hard to try. All times in seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint ending in /v1; None = OpenAI")
    model: str | None = Field(default=None, description="model name sent with every call")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="name of the environment variable with the key")
    timeout: float = Field(default=30.0, gt=0, description="one attempt's timeout (connect, read, write)")
    max_retries: int = Field(default=3, ge=0, le=20, description="retries after the first attempt")
    backoff_initial: float = Field(default=0.5, ge=0, description="first backoff; doubles each retry, with jitter")
    backoff_max: float = Field(default=20.0, ge=0, description="longest backoff between two attempts")
    retry_after_max: float = Field(default=60.0, ge=0,
                                   description="honour Retry-After up to this; a longer one fails at once")
    deadline: float | None = Field(default=120.0, gt=0, description="total time for one call, retries included")
    concurrency: int = Field(default=8, ge=1, le=1024, description="model calls in flight at once, per client")
    budget_calls: int | None = Field(default=16, ge=1, description="attempts allowed per verdict (None = no limit)")
    budget_tokens: int | None = Field(default=32_000, ge=1,
                                      description="prompt + completion tokens allowed per verdict (None = no limit)")

    @model_validator(mode="after")
    def _check(self) -> LLMConfig:
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url {self.base_url!r} must start with http:// or https://, "
                             "like http://127.0.0.1:8000/v1")
        if self.backoff_max < self.backoff_initial:
            raise ValueError(f"backoff_max ({self.backoff_max}) is below backoff_initial ({self.backoff_initial})")
        return self

    def api_key(self) -> str:
        """The key from ``api_key_env``; a local endpoint (``base_url`` set) works without one."""
        key = os.environ.get(self.api_key_env, "")
        if key:
            return key
        if self.base_url is not None:
            return "not-needed"  # llama.cpp, vLLM, Ollama and the scripted server accept any key
        raise ConfigError(f"no API key: set the environment variable {self.api_key_env}, or point `base_url` at a "
                          "local OpenAI-compatible server")

    def require_model(self, model: str | None = None) -> str:
        name = model or self.model
        if not name:
            raise ConfigError("no model name: set `model` in the check's `llm:` config or in the LLM client, "
                              "e.g. llm: {base_url: http://127.0.0.1:8000/v1, model: gemma}")
        return name
