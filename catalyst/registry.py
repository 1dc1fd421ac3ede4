"""Where check names come from: the ``catalyst.checks`` entry-point group, plus in-process ``register``.

Built-in checks register through the same entry-point group a third-party plugin uses, so the core
never imports a built-in check by name.
"""

from __future__ import annotations

import difflib
import threading
from importlib.metadata import entry_points

from catalyst.checks import Check
from catalyst.errors import ConfigError, UnknownCheckError

GROUP = "catalyst.checks"

_lock = threading.Lock()
_local: dict[str, type[Check]] = {}
_loaded: dict[str, type[Check]] = {}
_eps: dict[str, object] | None = None


def _entry_points() -> dict[str, object]:
    global _eps
    if _eps is None:
        _eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    return _eps


def register(cls: type[Check], *, replace: bool = False) -> type[Check]:
    """Register a check class in this process (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Check)) or not cls.name:
        raise ConfigError(f"{cls!r} is not a Check subclass with a `name`")
    with _lock:
        if not replace and (cls.name in _local or cls.name in _entry_points()):
            existing = _local.get(cls.name) or _entry_points()[cls.name]
            raise ConfigError(f"a check named `{cls.name}` is already registered ({existing}); pick another name")
        _local[cls.name] = cls
    return cls


def names() -> list[str]:
    """Every known check name, sorted."""
    return sorted(set(_local) | set(_entry_points()))


def get(name: str) -> type[Check]:
    """The check class registered as ``name``; raises with close matches when unknown."""
    if name in _local:
        return _local[name]
    if name in _loaded:
        return _loaded[name]
    ep = _entry_points().get(name)
    if ep is None:
        raise UnknownCheckError(unknown_message(name))
    cls = ep.load()  # type: ignore[attr-defined]
    if not (isinstance(cls, type) and issubclass(cls, Check)):
        raise ConfigError(f"entry point `{name}` ({ep}) is not a Check subclass")
    with _lock:
        _loaded[name] = cls
    return cls


def all_checks() -> dict[str, type[Check]]:
    return {n: get(n) for n in names()}


def unknown_message(name: str, where: str | None = None) -> str:
    """``unknown check `toxicty` at a.yaml:4 (did you mean `toxicity`?); known: ...``"""
    known = names()
    close = difflib.get_close_matches(name, known, n=1)
    at = f" at {where}" if where else ""
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return f"unknown check `{name}`{at}{hint}; known: {', '.join(known)}"
