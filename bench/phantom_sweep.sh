#!/usr/bin/env bash
# The THOR paper's Fig. 4 on the brain phantom: THOR and DDPM (Gaussian, shipped cpu-small
# checkpoint, preset stride) at four noise levels, every run kept, and a report with the plot of
# Dice against T0: reports/phantom-sweep/.
#   bash bench/phantom_sweep.sh [RUNS_DIR]      (about 10 minutes on 2 CPU cores)
set -euo pipefail
BIN=${BIN:-.venv/bin}
RUNS=${1:-runs/phantom-sweep}
"$BIN/anobench" sweep --method thor --method ddpm --noise-levels 100,200,350,500 --out "$RUNS" --overwrite
rm -rf reports/phantom-sweep  # made anew: the report records this command line
"$BIN/anobench" report "$RUNS"/*/t0-* --out reports/phantom-sweep
