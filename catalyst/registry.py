"""Where check names come from: the ``catalyst.checks`` entry-point group, in-process ``register``, and
plugin modules (a policy's ``plugins:`` list, the CLI's ``--import``).

Built-in checks register through the same entry-point group a third-party plugin uses, so the core
never imports a built-in check by name.

A name cannot be shadowed by accident: registering a check under a name a built-in, an installed plugin
or another in-process check already uses is refused (:class:`~catalyst.errors.CheckNameTaken`) unless the
caller passes ``override=True``. Registering the same class again (a module re-imported, a notebook cell
run twice) is not a conflict.
"""

from __future__ import annotations

import difflib
import inspect
import threading
import typing
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, ClassVar

from pydantic import Field

from catalyst.checks import Check, CheckContext
from catalyst.errors import CheckNameTaken, ConfigError, UnknownCheckError

__all__ = ["GROUP", "all_checks", "function_check", "get", "names", "origin", "register", "unknown_message"]

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


def _qualname(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def origin(name: str) -> str:
    """Where the check registered as ``name`` comes from: ``module:Class (built-in|plugin|this process)``."""
    if name in _local:
        return f"{_qualname(_local[name])} (registered in this process)"
    ep = _entry_points().get(name)
    if ep is None:
        return "nowhere"
    value = getattr(ep, "value", str(ep))
    kind = "built-in" if value.startswith("catalyst_checks") else "installed plugin"
    return f"{value} ({kind})"


def register(cls: type[Check], *, override: bool = False, replace: bool = False) -> type[Check]:
    """Register a check class in this process (usable as a class decorator).

    A name already used by a built-in, an installed plugin or another class registered here raises
    :class:`CheckNameTaken`; ``override=True`` replaces it in this process on purpose (``replace`` is the
    older spelling of the same flag). The same class (same module and qualified name) may register again.
    """
    if not (isinstance(cls, type) and issubclass(cls, Check)) or not cls.name:
        raise ConfigError(f"{cls!r} is not a Check subclass with a `name`")
    override = override or replace
    with _lock:
        taken = _local.get(cls.name)
        ep = _entry_points().get(cls.name)
        same = (taken is not None and _qualname(taken) == _qualname(cls)) or (
            taken is None and ep is not None and getattr(ep, "value", "") == _qualname(cls))
        if not override and not same and (taken is not None or ep is not None):
            raise CheckNameTaken(
                f"a check named `{cls.name}` already exists: {origin(cls.name)}; {_qualname(cls)} would replace "
                f"it. Pick another name (e.g. `@catalyst.check(name=\"my_{cls.name}\")`), or pass "
                f"`override=True` to replace it in this process on purpose")
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
    """``unknown check `toxicty` at a.yaml:4 (did you mean `toxicity`?); known: ...; fix``"""
    known = names()
    close = difflib.get_close_matches(name, known, n=1)
    at = f" at {where}" if where else ""
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return (f"unknown check `{name}`{at}{hint}; known: {', '.join(known)}. A check of your own: list its module "
            "under `plugins:` in the policy, or pass `--import MODULE_OR_FILE.py` to the command")


# -- checks from functions (``@catalyst.check``) --------------------------------------------------------

_RESERVED = {"name", "costly", "catches", "cost", "evidence", "model_config", "run", "run_batch", "result"}


def function_check(f: Callable[..., Any], *, name: str | None = None, costly: bool = False, threshold: float = 0.5,
                   catches: str = "", evidence: bool = False, register_it: bool = True,
                   override: bool = False) -> type[Check]:
    """A Check class from ``f(ctx, *, setting: type = default, ...)``.

    Parameters after ``ctx`` are the check's settings: typed pydantic fields, validated when a policy is
    loaded (``- my_check: {max_words: 3}``) and passed to ``f`` as keyword arguments on every call. A
    ``threshold`` parameter receives the check's threshold.
    """
    check_name = name or f.__name__
    params = list(inspect.signature(f).parameters.values())
    if not params or params[0].kind not in (inspect.Parameter.POSITIONAL_ONLY,
                                            inspect.Parameter.POSITIONAL_OR_KEYWORD):
        raise ConfigError(f"check function `{f.__qualname__}` must take the context first: "
                          f"`def {f.__name__}(ctx, ...)`")
    try:
        hints = typing.get_type_hints(f)
    except Exception:  # annotations that do not resolve: fall back to the defaults' types
        hints = {}
    annotations: dict[str, Any] = {"name": ClassVar[str], "costly": ClassVar[bool], "catches": ClassVar[str],
                                   "evidence": ClassVar[bool], "threshold": float}
    fields: dict[str, Any] = {"threshold": Field(default=threshold, ge=0.0, le=1.0,
                                                 description="a score below this fails the check")}
    settings: list[str] = []
    for p in params[1:]:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ConfigError(f"check function `{f.__qualname__}`: `*{p.name}` cannot be a setting; "
                              "give each setting a name, a type and a default")
        if p.name in _RESERVED:
            raise ConfigError(f"check function `{f.__qualname__}`: `{p.name}` is reserved; rename the parameter")
        if p.name == "threshold":
            settings.append(p.name)
            continue
        default = p.default
        ann = hints.get(p.name, type(default) if default is not inspect.Parameter.empty and default is not None
                        else Any)
        annotations[p.name] = ann
        fields[p.name] = Field(...) if default is inspect.Parameter.empty else Field(default=default)
        settings.append(p.name)

    if inspect.iscoroutinefunction(f):
        async def arun(self: Check, ctx: CheckContext) -> Any:
            return await f(ctx, **{k: getattr(self, k) for k in settings})
        body: dict[str, Any] = {"run": arun}
    else:
        def srun(self: Check, ctx: CheckContext) -> Any:
            return f(ctx, **{k: getattr(self, k) for k in settings})
        body = {"run": srun}
    body.update({"__module__": f.__module__, "__qualname__": f.__qualname__, "__doc__": f.__doc__,
                 "__annotations__": annotations, "name": check_name, "costly": costly,
                 "catches": catches or (inspect.getdoc(f) or "").split("\n")[0], "evidence": evidence, **fields})
    cls = type(f.__name__, (Check,), body)
    if register_it:
        register(cls, override=override)
    return cls
