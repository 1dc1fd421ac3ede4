"""Every problem of a policy file in one pass (``catalyst policy check``), each with ``file:line`` and the fix.

:func:`catalyst.load_policy` stops at the first mistake, which is right for a program. A person fixing a
file wants them all: this module checks the policy's own keys (pydantic reports every field at once), then
each check entry on its own (its shape, its name, every setting), then each segment override, and finally
loads the file for real, so it never calls a file clean that ``load_policy`` would refuse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from catalyst import registry
from catalyst.errors import PolicyError, UnknownCheckError
from catalyst.policy._compile import CompiledPolicy
from catalyst.policy._load import _folder, _line_map, _where_fn, format_error, load_policy, resolve
from catalyst.policy._model import CheckSpec, Policy, _expand_entry

__all__ = ["policy_problems"]


def _errors_of(e: ValidationError, where: Any, prefix: tuple[Any, ...] = (), name: str | None = None
               ) -> list[PolicyError]:
    out = []
    for detail in e.errors():
        err: dict[str, Any] = dict(detail)
        err["loc"] = (*prefix, *err["loc"])
        msg, loc = format_error(err)
        if name is not None:  # a check's own setting: say which check
            field = ".".join(str(p) for p in err["loc"][len(prefix):]) or name
            msg = f"check `{name}`: setting `{field}`: {err['msg'].removeprefix('Value error, ')}"
        out.append(PolicyError(msg, where=where(loc)))
    return out


def policy_problems(path_or_name: str | Path) -> tuple[CompiledPolicy | None, list[PolicyError]]:
    """(the compiled policy if there is no problem, every problem found)."""
    try:
        path = resolve(path_or_name)
        source = str(path)
        text = path.read_text(encoding="utf-8")
    except PolicyError as e:
        return None, [e]
    except UnicodeDecodeError as e:
        return None, [PolicyError(f"policy is not UTF-8 text ({e.reason} at byte {e.start})", where=str(path))]
    except OSError as e:
        return None, [PolicyError(f"cannot read the policy: {e.strerror}", where=str(path_or_name))]
    try:
        raw = yaml.safe_load(text)
        lines = _line_map(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        return None, [PolicyError(f"not valid YAML: {getattr(e, 'problem', e)}",
                                  where=f"{source}:{mark.line + 1}" if mark else source)]
    if not isinstance(raw, dict):
        return None, [PolicyError("a policy is a YAML mapping with at least `checks:`", where=source)]
    where = _where_fn(source, lines, raw)
    problems: list[PolicyError] = []
    entries = raw.get("checks")
    good: list[tuple[int, Any, CheckSpec]] = []
    shaky: list[tuple[int, str, dict[str, Any]]] = []  # entries with a bad policy key: still check the check
    if isinstance(entries, list):
        for i, entry in enumerate(entries):
            try:
                good.append((i, entry, CheckSpec.model_validate(entry)))
            except ValidationError as e:
                problems += _errors_of(e, where, ("checks", i))
                try:
                    expanded = _expand_entry(entry)
                except ValueError:
                    continue
                if isinstance(expanded, dict) and isinstance(expanded.get("check"), str) \
                        and isinstance(expanded.get("config", {}), dict):
                    shaky.append((i, expanded["check"], expanded.get("config", {})))
    # the policy's own keys (plugins are imported here), judged with only the well-formed check entries
    rest = dict(raw)
    if isinstance(entries, list) and good:
        rest["checks"] = [entry for _, entry, _ in good]
    try:
        Policy.model_validate(rest, context={"policy_dir": _folder(source)})
    except ValidationError as e:
        for p in _errors_of(e, where):
            if not (isinstance(entries, list) and entries and not good and "checks" in str(p).split(":")[0]):
                problems.append(p)
    # each check: its name, then every one of its settings
    configs: dict[str, tuple[type[Any], dict[str, Any], int]] = {}
    for i, _, spec in good:
        try:
            cls = registry.get(spec.check)
        except UnknownCheckError:
            problems.append(UnknownCheckError(registry.unknown_message(spec.check, where(("checks", i, spec.check))
                                                                       or source)))
            continue
        configs[spec.label] = (cls, spec.config, i)
        problems += _instantiate(cls, spec.config, where, ("checks", i, "config"), spec.check)
    for i, name, config in shaky:
        try:
            problems += _instantiate(registry.get(name), config, where, ("checks", i, "config"), name)
        except UnknownCheckError:
            problems.append(UnknownCheckError(registry.unknown_message(name, where(("checks", i, name)) or source)))
    # segment overrides: each override's settings, on top of the check's own
    for j, seg in enumerate(raw.get("segments") or []):
        over = seg.get("checks") if isinstance(seg, dict) else None
        for label, settings in (over or {}).items() if isinstance(over, dict) else ():
            if label in configs and isinstance(settings, dict):
                cls, base, _ = configs[label]
                found = _instantiate(cls, {**base, **settings}, where, ("segments", j, "checks", label), cls.name)
                problems += [p for p in found if any(f"setting `{k}" in str(p) for k in settings)]  # its own only
    problems = sorted(_unique(problems), key=_line)
    if problems:
        return None, problems
    try:
        return load_policy(path), []
    except PolicyError as e:  # whatever the passes above cannot see (calibration, compile-time rules)
        return None, [e]


def _instantiate(cls: type[Any], config: dict[str, Any], where: Any, prefix: tuple[Any, ...], name: str
                 ) -> list[PolicyError]:
    try:
        cls(**config)
    except ValidationError as e:
        return _errors_of(e, where, prefix, name)
    except (ValueError, TypeError) as e:
        return [PolicyError(f"check `{name}`: {e}", where=where(prefix))]
    return []


def _line(p: PolicyError) -> int:
    tail = (p.where or "").rsplit(":", 1)[-1] if p.where else ""
    if not tail.isdigit():  # UnknownCheckError carries its place in the message
        import re

        m = re.search(r":(\d+)\b", str(p))
        tail = m.group(1) if m else "0"
    return int(tail)


def _unique(problems: list[PolicyError]) -> list[PolicyError]:
    seen: set[str] = set()
    out = []
    for p in problems:
        if str(p) not in seen:
            seen.add(str(p))
            out.append(p)
    return out
