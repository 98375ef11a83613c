"""Evaluation: everything computed from run folders, never from a method or a data set.

- protocols: `pixel_protocol` (pooled max-Dice per lesion size, AUPRC, calibrated Dice) and
  `box_protocol` (the THOR paper's thor-compat recall / F1 per class, FROC), each computing its
  metrics with their bootstrap resamples in one place, on top of `pixel_metrics`, `box_metrics`,
  `froc`, `calibration` (the one meaning of a calibrated threshold) and `bootstrap`;
- `identity`: what a board shows of a run besides its metrics, and which runs share a board;
- `comparisons`: paired bootstrap and Wilcoxon with Holm;
- `layouts` (by name: `full`, `table1`, `table2`) and `cells` (the text of a board, its page
  frame); `boards.compare` writes a board, `report.write_report` a report with `figures`;
- `published`: the THOR paper's tables, shown beside anobench's rows, never mixed into them.

Nothing here imports a method or a data set plugin.
"""
