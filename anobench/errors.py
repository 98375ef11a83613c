"""Errors that reach the user as one line.

Everything a user can get wrong (a name, a path, a checkpoint) raises `AnobenchError`; the CLI
prints its message and exits with code 2 (`anobench --debug` adds the traceback of what caused it).
Anything else is a bug and keeps its traceback. An interrupted run says how to resume it, exit 130.
"""


class AnobenchError(Exception):
    """A problem with the user's input, reported as one clear line."""


class SettingsError(AnobenchError):
    """Unknown keys among a plugin's options; whoever knows the plugin names it (`for_plugin`)."""

    def __init__(self, unknown: list[str], valid: list[str]) -> None:
        self.unknown, self.valid = unknown, valid
        super().__init__(f"unknown setting(s) {', '.join(unknown)}; valid: {', '.join(valid)}")

    def for_plugin(self, kind: str, name: str, flag: str) -> AnobenchError:
        """The same error in the user's words: `kind` 'method' or 'data set', `flag` --set or --data."""
        noun = "setting(s)" if flag == "--set" else "option(s)"
        return AnobenchError(
            f"unknown {noun} {', '.join(self.unknown)} for {kind} {name!r} ({flag} KEY=VALUE); "
            f"valid: {', '.join(self.valid)} (`anobench list {name}` explains each)"
        )


class RunInterrupted(KeyboardInterrupt):
    """^C (SIGINT) during a run, with what to do next as its message."""
