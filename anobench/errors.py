"""Errors that reach the user as one line.

Everything a user can get wrong (a name, a path, a checkpoint) raises `AnobenchError`; the CLI
prints its message and exits with code 2. Anything else is a bug and keeps its traceback.
"""


class AnobenchError(Exception):
    """A problem with the user's input, reported as one clear line."""
