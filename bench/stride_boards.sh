#!/usr/bin/env bash
# Accuracy against cost on the brain phantom: THOR and DDPM at sampler strides 1–25 with the
# ancestral sampler (reports/stride-tradeoff/) and 5–25 with DDIM (reports/stride-tradeoff-ddim/),
# then the two samplers paired at stride 10 (leaderboards/phantom-sampler.md).
#   bash bench/stride_boards.sh      (about an hour on 2 CPU cores; finished runs are reused)
set -euo pipefail
BIN=${BIN:-.venv/bin}
RUNS=runs/stride-tradeoff
"$BIN/python" bench/stride_tradeoff.py --runs "$RUNS"
"$BIN/python" bench/stride_tradeoff.py --runs "$RUNS" --strides 5,10,25 --sampler ddim --out reports/stride-tradeoff-ddim
"$BIN/anobench" compare "$RUNS"/ddpm/thor/k10 "$RUNS"/ddim/thor/k10 "$RUNS"/ddpm/ddpm/k10 "$RUNS"/ddim/ddpm/k10 \
    --name phantom-sampler --overwrite
