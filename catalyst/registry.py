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
import importlib
import inspect
import os
import sys
import threading
import traceback
import typing
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from catalyst.checks import Check, CheckContext
from catalyst.errors import CheckNameTaken, ConfigError, PluginError, UnknownCheckError

__all__ = ["GROUP", "all_checks", "check", "function_check", "get", "import_plugin", "imported_plugins", "names",
           "origin", "register", "unknown_message"]

GROUP = "catalyst.checks"

_lock = threading.Lock()
_local: dict[str, type[Check]] = {}
_loaded: dict[str, type[Check]] = {}
_eps: dict[str, object] | None = None
_plugins: dict[str, str] = {}  # canonical spec (module name or absolute .py path) → module name


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


# -- plugin modules (``plugins:`` in a policy, ``--import`` on the command line) ------------------------

def imported_plugins() -> list[str]:
    """Canonical specs of the plugin modules imported so far (module names, absolute ``.py`` paths)."""
    return list(_plugins)


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or os.sep in spec


def _user_frame(exc: BaseException, path: str | None) -> str:
    """``file:line`` of the deepest frame in the plugin's own code (else the deepest outside importlib)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    mine = [f for f in frames if path and os.path.abspath(f.filename) == path]
    picks = mine or frames
    return f"{picks[-1].filename}:{picks[-1].lineno}" if picks else "?"


def import_plugin(spec: str, *, base: str | Path | None = None) -> str:
    """Import a module whose ``@catalyst.check`` functions (or ``register``-ed classes) a policy uses.

    ``spec`` is a module name (looked up on ``sys.path``, the working directory and ``base``, the policy's
    folder) or a path to a ``.py`` file (relative to ``base``, else the working directory). Importing the
    same spec twice does nothing. Returns the canonical spec (module name, or the file's absolute path), which
    is what worker processes import. Raises :class:`PluginError` naming what is missing and the fix.
    """
    spec = str(spec).strip()
    if not spec:
        raise PluginError("an empty plugin name; give a module name (`mychecks`) or a file (`./mychecks.py`)")
    if spec in _plugins:
        return spec
    path: str | None = None
    if _is_path(spec):
        cand = Path(spec).expanduser()
        if not cand.is_absolute():
            cand = Path(base or ".") / cand
        path = os.path.abspath(cand)
        if path in _plugins:
            return path
        if not os.path.isfile(path):
            raise PluginError(f"plugin file `{spec}` not found (looked for {path}); fix the path"
                              + (" (relative paths start at the policy's folder)" if base else ""))
        module_name = Path(path).stem
        if not module_name.isidentifier():
            raise PluginError(f"plugin file `{spec}`: `{module_name}` is not a valid module name; rename the file "
                              "to letters, digits and underscores")
        loaded = sys.modules.get(module_name)
        if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") != path:
            raise PluginError(f"plugin file `{spec}`: the module name `{module_name}` is already taken by "
                              f"{getattr(loaded, '__file__', None) or 'a built-in module'}; rename the file")
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
    else:
        module_name = spec
        for folder in [os.getcwd(), *([str(Path(base).resolve())] if base else [])]:
            if folder not in sys.path:
                sys.path.append(folder)
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise PluginError(
                f"plugin module `{spec}` not found; put {module_name.split('.')[0]}.py in the working directory"
                + (" or next to the policy" if base else "")
                + f", give its path (e.g. `./{module_name.split('.')[-1]}.py`), or install the package providing it"
            ) from None
        raise PluginError(f"plugin `{spec}` failed while importing at {_user_frame(e, path)}: {e}; "
                          f"install `{e.name}` or fix the import") from None
    except CheckNameTaken as e:
        raise PluginError(f"plugin `{spec}` at {_user_frame(e, path)}: {e}") from None
    except Exception as e:
        raise PluginError(f"plugin `{spec}` failed while importing at {_user_frame(e, path)}: "
                          f"{type(e).__name__}: {e}; fix the plugin's code") from None
    canonical = path or spec
    found = getattr(sys.modules.get(module_name), "__file__", None)
    if path is None and base and found and Path(found).parent == Path(base).resolve() \
            and Path(found).name != "__init__.py":
        canonical = os.path.abspath(found)  # found beside the policy: workers import it by path
    _plugins[canonical] = module_name
    return canonical


def check(fn: Callable[..., Any] | None = None, *, name: str | None = None, costly: bool = False,
          threshold: float = 0.5, catches: str = "", evidence: bool = False, register: bool = True,
          override: bool = False) -> Any:
    """Turn a function ``f(ctx, *, setting: type = default) -> CheckResult | float | bool`` (sync or async)
    into a Check class; parameters after ``ctx`` become its typed settings (see ``registry.function_check``).

    >>> @check
    ... def mentions_refund(ctx, word: str = "refund"):
    ...     return word in ctx.output
    >>> policy_uses = mentions_refund(word="money back")  # an instance, like any other check

    The class is registered under ``name`` (default: the function's name) so policies can use it; a name a
    built-in or plugin already has is refused unless ``override=True``.
    """
    def wrap(f: Callable[..., Any]) -> type[Check]:
        return function_check(f, name=name, costly=costly, threshold=threshold, catches=catches, evidence=evidence,
                              register_it=register, override=override)

    return wrap(fn) if fn is not None else wrap
