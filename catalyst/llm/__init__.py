"""Talking to models: an OpenAI-compatible client with one retry policy, a concurrency limit and per-verdict budgets.

>>> from catalyst.llm import LLM, LLMConfig
>>> llm = LLM(LLMConfig(base_url="http://127.0.0.1:8000/v1", model="gemma", timeout=10, budget_calls=8))
>>> resp = llm.chat([{"role": "user", "content": "Capital of France?"}], key=record.id, logprobs=True)

Checks that use a model get their client with :func:`resolve_llm` (``services["llm"]`` or the check's
own ``llm:`` config). Failures raise :class:`catalyst.errors.ModelCallError`; a spent budget raises
:class:`catalyst.errors.ModelBudgetExceeded`; the engine turns either into a review with the reason.
"""

from catalyst.llm._client import LLM, CallRecord, Usage
from catalyst.llm._config import LLMConfig
from catalyst.llm._log import ModelCallLog
from catalyst.llm._resolve import as_llm, resolve_llm, shared_llm
from catalyst.llm._retry import Retryable, RetryRule, retry_after_seconds, retryable_status, sdk_failure

__all__ = ["LLM", "CallRecord", "LLMConfig", "ModelCallLog", "RetryRule", "Retryable", "Usage", "as_llm", "resolve_llm",
           "retry_after_seconds", "retryable_status", "sdk_failure", "shared_llm"]
