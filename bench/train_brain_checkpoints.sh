#!/usr/bin/env bash
# Trains every brain-phantom checkpoint that anobench ships, one after another, into
# anobench/checkpoints/ (each writes its manifest entry there): the paper methods' three and the
# DAE's, ANDi's, cDDPM's and the LDM's. All at the cpu-small preset, 3,400 steps, seed 0, as documented in
# docs/checkpoints.md. An interrupted run resumes from its saved state when this script is run again.
#   bash bench/train_brain_checkpoints.sh      (45-70 minutes per checkpoint on 2 CPU cores,
#                                                the LDM's 9; another torch job beside it slows it several-fold)
set -euo pipefail
BIN=${BIN:-.venv/bin}
train() { "$BIN/anobench" train --dataset brain-phantom --preset cpu-small --lr 0.0002 --no-augment "$@"; }
OUT=anobench/checkpoints

train --noise gaussian --out "$OUT/brain-phantom-gaussian-cpu-small.pt"
train --noise simplex --out "$OUT/brain-phantom-simplex-cpu-small.pt"
train --noise coarse --scheme dae --out "$OUT/brain-phantom-coarse-dae-cpu-small.pt"
train --noise simplex-2d --scheme patched --out "$OUT/brain-phantom-simplex-2d-patched-cpu-small.pt"
train --noise pyramid --out "$OUT/brain-phantom-pyramid-cpu-small.pt"
train --noise simplex-2d --scheme conditioned --out "$OUT/brain-phantom-simplex-2d-conditioned-cpu-small.pt"
train --noise gaussian --scheme latent --out "$OUT/brain-phantom-gaussian-latent-cpu-small.pt"
