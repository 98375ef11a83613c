"""The per-case rows of a result set (`cases.parquet`) and its annotated boxes (`boxes.parquet`): the
columns every reader relies on, and the lesion-size bin each row records (the THOR paper's bins).

A row's size bin is recorded when the case is scored, so that boards group cases without reading a
mask: by lesion pixel count n at 128×128, small 3 < n ≤ 71, medium 71 < n ≤ 570, large 570 < n ≤
10000 (n ≤ 3: not scored), both limits scaled by (H·W)/(128·128) at another image size.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from anobench.errors import AnobenchError
from anobench.store.atomic import atomic_write

CASES = "cases.parquet"
BOXES = "boxes.parquet"
BOX_COLUMNS = ["index", "case_id", "label", "top", "left", "bottom", "right"]
ROW_COLUMNS = [
    "index",
    "case_id",
    "subject_id",
    "lesion_pixels",
    "size_bin",
    "score",
    "nfe",
    "seconds",
    "batch_size",
    "batch",
    "slice_index",
]
# runs made before the warm-up timing lack batch, and before volumes slice_index
REQUIRED_COLUMNS = [column for column in ROW_COLUMNS if column not in ("batch", "slice_index")]

REFERENCE_SIDE = 128
# (name, lower, upper) on lesion pixel counts at 128×128: lower < n ≤ upper (n ≤ 3: not scored).
SIZE_BINS = (("small", 3.0, 71.0), ("medium", 71.0, 570.0), ("large", 570.0, 10000.0))


def size_bins(height: int, width: int) -> tuple[tuple[str, float, float], ...]:
    """The size bins with both limits scaled by (H·W)/(128·128)."""
    scale = height * width / REFERENCE_SIDE**2
    return tuple((name, lower * scale, upper * scale) for name, lower, upper in SIZE_BINS)


def size_bin(lesion_pixels: int, height: int, width: int) -> str | None:
    """The bin of a slice with `lesion_pixels` lesion pixels, or None if it is not scored."""
    for name, lower, upper in size_bins(height, width):
        if lower < lesion_pixels <= upper:
            return name
    return None


def write_rows(path: Path, rows: pd.DataFrame, durable: bool = False) -> None:
    """Rows to parquet, atomically (flushed by the publication of the result set unless `durable`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda p: rows.to_parquet(p, index=False), durable)


def read_rows(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Rows of a result set (the `columns` only, when given); damage or foreign files are one clear error."""
    try:
        rows = pd.read_parquet(path, columns=columns)
    except Exception as error:  # pyarrow's errors share no base class with a useful message
        raise damaged(path, error) from None
    missing = [column for column in (columns or REQUIRED_COLUMNS) if column not in rows.columns]
    if missing:
        raise AnobenchError(f"{path} lacks the column(s) {', '.join(missing)}: not written by anobench, or damaged")
    return rows


def write_boxes(path: Path, boxes: pd.DataFrame) -> None:
    write_rows(path, boxes[BOX_COLUMNS])


def read_boxes(folder: Path) -> pd.DataFrame:
    if not (folder / BOXES).is_file():
        raise AnobenchError(f"run {folder} has no {BOXES}: its data set has no annotated boxes")
    return read_rows(folder / BOXES, BOX_COLUMNS)


def damaged(path: Path, error: Exception | str) -> AnobenchError:
    """The one line for a file of a result set that cannot be read as written (`error`: why)."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return AnobenchError(
        f"cannot read {path}: the file is damaged ({reason}); run the run's command again with "
        "--overwrite to score it afresh"
    )
