"""The shell around the commands: one-line errors and their exit codes, signals, writing to
standard output, and the logging that ``-v`` turns on and ``-qq`` off.

Exit codes: 0 done; 1 the work failed (model, output, internal error); 2 a usage or input
error; 130 interrupted by SIGINT (Ctrl-C); 143 stopped by SIGTERM. Errors are one line
``Error: ...`` on stderr, followed by the flag of the setting a library error concerns;
``-v`` adds the traceback of a failure.
"""

from __future__ import annotations

import _thread
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from dedup.errors import DedupError, OutputError, one_line, os_reason

log = logging.getLogger("dedup")


class OneLineErrors(TyperGroup):
    """Every failure, Click's usage errors included, ends as one ``Error: ...`` line."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        previous = _catch_signals()
        unraisable = sys.unraisablehook
        if previous:
            sys.unraisablehook = _redeliver(unraisable)
        try:
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as exc:  # Click's usage errors, vendored by Typer
            if isinstance(exc, typer.BadParameter):
                _name_the_source(exc)
            _fail(exc.format_message(), exc.exit_code)
        except typer.Abort:
            _fail("aborted", 130)
        except _Interrupted as exc:
            _fail("interrupted", exc.exit_code)
        except DedupError as exc:
            flag = getattr(exc, "source", None)  # the variable and flag, by Command.invoke
            if flag is None and exc.setting:
                flag = self.flag_for(exc.setting)
            _fail(f"{exc} ({flag})" if flag else str(exc), exc.exit_code)
        except _ReaderGone:
            # Nothing more can reach the reader; the interpreter must not try to flush again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(128 + 13)  # as if killed by SIGPIPE, like other tools in a pipeline
        except Exception as exc:  # a bug, not a user's mistake: say so, keep it one line
            if log.isEnabledFor(logging.INFO):  # -v: the traceback the message promises
                log.exception("internal error")
            _fail(
                f"internal error: {type(exc).__name__}: {one_line(exc)} (run with -v for details)",
                1,
            )
        finally:
            sys.unraisablehook = unraisable
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def flag_for(self, setting: str) -> str | None:
        """The long flag of the option named ``setting`` in this group or its sub-commands
        (an option of that name means the same in every command), or None."""
        commands: list[Any] = [self]
        while commands:
            command = commands.pop()
            for param in command.params:
                if param.name == setting and isinstance(param, TyperOption):
                    return next((o for o in param.opts if o.startswith("--")), param.opts[0])
            if isinstance(command, TyperGroup):
                commands.extend(command.commands.values())
        return None


def _name_the_source(exc: typer.BadParameter) -> None:
    """A bad option value names its long flag, and the environment variable when the value
    came from there: Typer names both, whichever it came from. A command's own check that
    names the flag (``param_hint="--since"``) gets the variable too."""
    param, ctx = exc.param, exc.ctx
    if ctx is None:
        return
    if isinstance(exc.param_hint, str):
        param = _option_of(ctx, exc.param_hint)
    elif exc.param_hint is not None:
        return
    if isinstance(param, TyperOption):
        variable, flag = _source_of(ctx, param)
        exc.param_hint = f"{variable} ({flag})" if variable else flag


def _option_of(ctx: Any, flag: str) -> TyperOption | None:
    """The option of ``ctx``'s command that ``flag`` names, or None."""
    return next(
        (p for p in ctx.command.params if isinstance(p, TyperOption) and flag in p.opts), None
    )


def _source_of(ctx: Any, param: TyperOption) -> tuple[str | None, str]:
    """The environment variable the option's value came from (None if it did not), and the
    option's long flag."""
    flag = next((o for o in param.opts if o.startswith("--")), param.opts[0])
    source = ctx.get_parameter_source(str(param.name))
    if getattr(source, "name", "") == "ENVIRONMENT" and isinstance(param.envvar, str):
        return param.envvar, flag
    return None, flag


class Command(TyperCommand):
    """A command whose arguments show as their metavar alone (``PATH...``, ``FILE``), in the
    usage line and the help, rather than Typer's ``{paths}...`` and ``<list[str]>``; a
    library error about a setting names the variable that set it, if one did."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument and param.metavar:
                param.__class__ = _NamedArgument

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except DedupError as exc:
            param = next((p for p in self.params if p.name == exc.setting), None)
            if exc.setting and isinstance(param, TyperOption):
                variable, flag = _source_of(ctx, param)
                if variable:
                    exc.source = f"{variable}, for {flag}"  # type: ignore[attr-defined]
            raise


class _NamedArgument(TyperArgument):
    """An argument shown by its metavar: ``PATH...`` when required, ``[PATH]...`` when not."""

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = str(self.metavar)
        return [name if self.required else f"[{name}]"]

    def get_help_record(self, ctx: Any) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        return None if record is None else (str(self.metavar), record[1])


class _Interrupted(BaseException):
    """SIGINT or SIGTERM, raised where the program is, so that it unwinds and exits cleanly.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` swallows it and
    every ``finally`` (temporary files) runs; not a KeyboardInterrupt, which Typer would turn
    into a silent exit.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


def _on_signal(signum: int, frame: object) -> None:
    raise _Interrupted(signum)


# How long a swallowed signal waits before it is raised again: time for the code that could
# not raise it (a ``__del__``, a weakref callback) to return.
REDELIVER_SECONDS = 0.05


def _redeliver(hook: Any) -> Any:
    """``sys.unraisablehook`` that raises a swallowed interruption again a moment later.

    Python runs a signal's handler wherever the main thread is: inside a ``__del__`` or a
    weakref callback (a thread pool's, as it is collected), the exception cannot propagate and
    is printed and dropped, and the run would go on to the end (exit 0, the store written). The
    signal is delivered again from a timer thread, so that it is raised in code that unwinds;
    any other unraisable exception goes to ``hook``.
    """

    def on_unraisable(unraisable: Any) -> None:
        exc = unraisable.exc_value
        if not isinstance(exc, _Interrupted):
            hook(unraisable)
            return
        timer = threading.Timer(REDELIVER_SECONDS, _thread.interrupt_main, (exc.signum,))
        timer.daemon = True
        timer.start()

    return on_unraisable


def _catch_signals() -> dict[int, Any]:
    """Route SIGINT, SIGTERM and SIGHUP to ``_Interrupted``; return the handlers to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}  # only the main thread may set signal handlers
    previous: dict[int, Any] = {}
    # SIGHUP: the terminal closed under the run; it unwinds like Ctrl-C (exit 129).
    hangup = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()
    for signum in (signal.SIGINT, signal.SIGTERM, *hangup):
        current = signal.getsignal(signum)
        # An ignored SIGINT (a background job of a shell) stays ignored.
        if current in (signal.SIG_DFL, signal.default_int_handler):
            previous[signum] = signal.signal(signum, _on_signal)
    return previous


def _fail(message: str, code: int) -> None:
    with contextlib.suppress(OSError):  # no terminal left to tell (SIGHUP): the code says it
        typer.echo(f"Error: {message}", err=True)
    sys.exit(code)


class _ReaderGone(Exception):
    """The reader of standard output went away (``dedup ... | head``): stop, quietly."""


def write_stdout(text: str, *, nl: bool = True) -> None:
    """Write to standard output and flush: a closed or failing stdout is an OutputError, never
    a silent success; a reader that closed the pipe ends the run quietly (exit 141)."""
    if sys.stdout is None:
        raise OutputError("cannot write the report: standard output is closed")
    try:
        sys.stdout.write(text + ("\n" if nl else ""))
        sys.stdout.flush()
    except BrokenPipeError:
        raise _ReaderGone from None
    except OSError as exc:
        raise OutputError(f"cannot write to standard output: {os_reason(exc)}") from exc


class _Stderr(logging.Handler):
    """Writes each record to standard error as it is when the record comes: above the
    progress display while one is drawn (which stands in for standard error meanwhile)."""

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr
        if stream is None:
            return
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def setup_logging(verbose: int, quiet: int = 0) -> None:
    """``-v``: each stage with its counts and seconds, and what else the run does (INFO) on
    stderr; ``-vv``: debug. ``-qq``: errors only, no warnings."""
    if verbose and quiet:
        raise typer.BadParameter("give -v or -q, not both", param_hint="--quiet")
    if verbose or quiet > 1:
        level = logging.ERROR if quiet else logging.DEBUG if verbose > 1 else logging.INFO
        logging.basicConfig(
            level=level, format="%(levelname)s %(name)s: %(message)s", handlers=[_Stderr()]
        )
    if quiet > 1:
        warnings.simplefilter("ignore")


def help_without_a_command(ctx: typer.Context) -> None:
    """A group called with no command prints its help and succeeds, as ``--help`` does."""
    if ctx.invoked_subcommand is None:
        write_stdout(ctx.get_help())


def command_group(help: str, example: str) -> typer.Typer:
    """A group of commands under ``dedup`` (``evaluate``, ``store``): one-line errors, plain
    help ending in ``example``, and its help when called with no command."""
    group = typer.Typer(
        cls=OneLineErrors, rich_markup_mode=None, help=help, epilog=f"Example: {example}"
    )
    group.callback(invoke_without_command=True)(help_without_a_command)
    return group


def print_json(doc: object) -> None:
    """A JSON document on standard output, as the commands print them."""
    write_stdout(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=False))
