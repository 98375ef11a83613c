"""The typer application every command registers on, the consoles, and the handling of errors:
user errors (`AnobenchError`) are printed as one line on stderr with exit code 2, never a
traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import traceback
import warnings
from typing import Any, Iterator

import typer
import typer.core
from rich.console import Console

from anobench.errors import AnobenchError


class _FlagsWithoutType:
    """Help that shows no type beside a flag (typer writes `<bool>` there, which a flag never takes)."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params


class _Command(_FlagsWithoutType, typer.core.TyperCommand):
    pass


class _Group(_FlagsWithoutType, typer.core.TyperGroup):
    pass


class _Typer(typer.Typer):
    """Every command made with `_Command`, every group with `_Group`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cls=_Group, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = _Typer(
    help="Benchmark diffusion-model anomaly detectors on medical images.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = _Typer(help="Make and inspect data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
prepare_app = _Typer(help="Prepare real data sets from their raw releases.", no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")
console = Console()
error_console = Console(stderr=True)
_debug = False  # set by --debug: show the traceback behind an error


def _print_version(wanted: bool) -> None:
    if wanted:
        from anobench import __version__

        console.print(f"anobench {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def options(
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback behind an error (e.g. a plugin's exception)."
    ),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print anobench's version and exit."
    ),
) -> None:
    global _debug
    _debug = debug


@contextlib.contextmanager
def interrupted() -> Iterator[None]:
    """On ^C, one line saying what was interrupted and how to resume (the harness's message)."""
    try:
        yield
    except KeyboardInterrupt as interrupt:
        error_console.print(
            f"interrupted: {interrupt}" if str(interrupt) else "interrupted",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    error_console.print(f"warning: {message}", style="yellow", markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    warnings.showwarning = _show_warning  # one readable line instead of a source excerpt
    try:
        app()  # typer exits 130 on ^C, after `_interrupted` has said what to do
    except AnobenchError as error:
        if _debug and error.__cause__ is not None:
            traceback.print_exception(error.__cause__)
        hint = " (anobench --debug … shows its traceback)" if error.__cause__ is not None and not _debug else ""
        error_console.print(f"error: {error}{hint}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    finally:
        # the interpreter's last collections at exit walk every object torch and monai made (about 1 s
        # after the command has finished); frozen, they are left to the exit itself
        gc.freeze()
