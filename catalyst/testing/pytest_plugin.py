"""Pytest fixtures for the scripted OpenAI-compatible server.

Loaded automatically when Catalyst is installed (entry point ``pytest11``), or explicitly with
``pytest_plugins = ["catalyst.testing.pytest_plugin"]`` in a root ``conftest.py``.

- ``scripted_server``: a running :class:`ScriptedServer` (answers ``"OK"`` until the test sets
  ``scripted_server.script = ...``), stopped after the test; fails the test if the script itself
  went wrong (queue exhausted, no matching key) and the test did not look at ``errors``.
- ``openai_client`` / ``async_openai_client``: real ``openai`` clients pointed at it, SDK retries off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from catalyst.testing._server import ScriptedServer


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    """A scripted OpenAI-compatible server on 127.0.0.1 (random port), for one test."""
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def openai_client(scripted_server: ScriptedServer) -> Iterator[Any]:
    """``openai.OpenAI`` talking to ``scripted_server`` (``max_retries=0``, 10 s timeout)."""
    with scripted_server.client(timeout=10.0) as client:
        yield client


@pytest.fixture
async def async_openai_client(scripted_server: ScriptedServer) -> AsyncIterator[Any]:
    """``openai.AsyncOpenAI`` talking to ``scripted_server`` (``max_retries=0``, 10 s timeout)."""
    async with scripted_server.async_client(timeout=10.0) as client:
        yield client
