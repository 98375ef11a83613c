"""Where real data sets live: `--data-root DIR` (the data set's own folder), else
`$ANOBENCH_DATA/<dataset>`; anything missing is one line naming it, its source and the layout."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from anobench.api import DatasetContext
from anobench.errors import AnobenchError

DATA_ENVIRONMENT = "ANOBENCH_DATA"


@dataclass(frozen=True)
class DataSource:
    """How a user gets a data set and what anobench expects to find in its folder."""

    name: str
    source: str
    layout: str

    def missing(self, what: str) -> AnobenchError:
        return AnobenchError(f"{self.name}: {what}; get it from {self.source}; expected layout: {self.layout}")


def dataset_root(data: DataSource, context: DatasetContext) -> Path:
    if context.data_root is not None:
        root = context.data_root
    elif os.environ.get(DATA_ENVIRONMENT):
        root = Path(os.environ[DATA_ENVIRONMENT]) / data.name
    else:
        raise data.missing(
            f"no data folder given (pass --data-root DIR, or --data-root {data.name}=DIR where another data set is "
            f"the one scored, or set {DATA_ENVIRONMENT} to a folder holding {data.name}/)"
        )
    if not root.is_dir():
        raise data.missing(f"data folder {root} does not exist")
    return root
