"""Errors that reach the user as one line.

Everything a user can get wrong (a name, a path, a checkpoint) raises `AnobenchError`; the CLI
prints its message and exits with code 2 (`anobench --debug` adds the traceback of what caused it).
Anything else is a bug and keeps its traceback. An interrupted run says how to resume it, exit 130.
"""


class AnobenchError(Exception):
    """A problem with the user's input, reported as one clear line."""


class RunInterrupted(KeyboardInterrupt):
    """^C (SIGINT) during a run, with what to do next as its message."""
