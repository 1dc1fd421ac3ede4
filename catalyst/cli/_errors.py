"""How the ``catalyst`` command ends on failure: one ``error:`` line (cause and fix) and an exit code.

=============================================  ====  ==============================================
what reached ``main()``                        exit  line
=============================================  ====  ==============================================
``UserError`` (policy, record, config, review)    2  its message (it names the thing and the fix)
``StoreLockedError``                              2  who holds the log, and what to do
bad option / argument (click ``UsageError``)      2  click's message + ``see `catalyst CMD --help```
``OSError`` about a path (``filename`` set)       2  the path, the OS reason, check path/permissions
``RuntimeFailure``                                1  its cause + ``rerun with --debug``
anything else (a bug)                             1  type and message + ``--debug`` + report it
Ctrl-C                                          130  ``interrupted``
=============================================  ====  ==============================================
"""

from __future__ import annotations

import os
import sys
import traceback

from catalyst.errors import CatalystError, RuntimeFailure, StoreError, StoreLockedError

DEBUG_HINT = "rerun with --debug (or CATALYST_DEBUG=1) for the traceback"


def one_line(text: str) -> str:
    """Collapse a message onto one line (DuckDB and pydantic messages span several)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def say(message: str) -> None:
    """Print ``error: message`` as exactly one line on stderr (never wrapped, no markup)."""
    colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    head = "\x1b[1;31merror:\x1b[0m" if colour else "error:"
    sys.stderr.write(f"{head} {one_line(message)}\n")
    sys.stderr.flush()


def _command(args: list[str]) -> str:
    words = []
    for a in args:
        if a.startswith("-"):
            break
        words.append(a)
    return " ".join(["catalyst", *words[:2]])


def _db_of(args: list[str]) -> str:
    for i, a in enumerate(args):
        if a == "--db" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--db="):
            return a.split("=", 1)[1]
    return "catalyst.duckdb"


def handle(e: BaseException, args: list[str], *, debug: bool) -> int:
    """Print what ``e`` means for the user; return the exit code."""
    import typer
    from typer._click import exceptions as click_exc

    if isinstance(e, SystemExit):
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    if isinstance(e, typer.Exit):
        return e.exit_code
    if isinstance(e, click_exc.NoArgsIsHelpError):  # `catalyst` or `catalyst policy` alone: help was printed
        return 0
    if debug and not isinstance(e, click_exc.ClickException | KeyboardInterrupt):
        traceback.print_exception(e)
    if isinstance(e, click_exc.UsageError):
        cmd = e.ctx.command_path if e.ctx is not None else _command(args)
        say(f"{e.format_message().rstrip('.')}; see `{cmd} --help`")
        return e.exit_code
    if isinstance(e, click_exc.ClickException):
        say(e.format_message())
        return e.exit_code
    if isinstance(e, typer.Abort):
        say("aborted")
        return 1
    if isinstance(e, KeyboardInterrupt):
        say("interrupted (Ctrl-C); what was committed before stays in the log")
        return 130
    if isinstance(e, BrokenPipeError):  # `catalyst sql ... | head`: the reader left; not an error
        _silence_stdout()
        return 141
    if isinstance(e, StoreLockedError) and "PID" not in str(e):  # name the holder, whichever command hit it
        from catalyst.cli._paths import locked

        e = locked(_db_of(args), reading=False)
        if args[:2] == ["review", "token"]:
            e = type(e)(f"{e}. Tokens are written to the log, and the web reviewer has no page for that: stop it, "
                        "run `catalyst review token ...`, then start it again")
    if isinstance(e, StoreError) and "not a valid DuckDB database file" in str(e):
        say(f"`{_db_of(args)}` is not a DuckDB file (so not a Catalyst log); pass the --db that `catalyst validate` "
            "wrote, or a new path to start a log")
        return 2
    if isinstance(e, CatalystError):
        text = str(e)
        if isinstance(e, RuntimeFailure) and e.exit_code == 1 and not debug:
            text += f" ({DEBUG_HINT})"
        say(text)
        return e.exit_code
    if isinstance(e, OSError) and e.filename:
        say(f"cannot use `{e.filename}`: {e.strerror or e}; check the path and its permissions")
        return 2
    say(f"unexpected {type(e).__name__}: {e}. This is a bug in catalyst or in a check; "
        + ("please report it with the traceback above" if debug else f"{DEBUG_HINT} and report it"))
    return 1


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
