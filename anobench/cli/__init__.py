"""The `anobench` command: a thin shell over the Python API. Its commands live by theme (`running`:
list, run, sweep, merge; `results`: compare, report; `models`: train, import-checkpoint; `data`:
data make|verify, prepare) and register on the one application of `app`, which also turns user
errors into one line.
"""

from anobench.cli.app import app, main

# each module registers its commands on `app`; imported in the order `anobench --help` lists them
# isort: off
from anobench.cli import running, results, models, data  # noqa: F401, E402
# isort: on

__all__ = ["app", "main"]
