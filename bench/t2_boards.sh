#!/usr/bin/env bash
# Boards of the T2 phantom's three pathologies (leaderboards/phantom-t2-{tumour,ms,wmh}.md) and the
# cross-dataset board with them beside the T1 stroke phantom (leaderboards/phantom-cross-t2.md).
# The Gaussian denoiser of the T2 phantom's healthy slices is trained first unless it exists
# (anobench/checkpoints/brain-phantom-t2-gaussian-cpu-small.pt, as its manifest entry says; 45-70
# minutes on 2 CPU cores, resumed when interrupted); THOR-G, DDPM and AutoDDPM read it, the intensity
# baseline needs none. The T1 columns come from bench/phantom_boards.sh's runs.
#   bash bench/t2_boards.sh [RUNS_DIR]
set -euo pipefail
BIN=${BIN:-.venv/bin}
RUNS=${1:-runs/t2-boards}
CHECKPOINT=anobench/checkpoints/brain-phantom-t2-gaussian-cpu-small.pt
[ -f "$CHECKPOINT" ] || "$BIN/anobench" train --dataset brain-phantom-t2 --noise gaussian --preset cpu-small \
  --lr 0.0002 --no-augment --out "$CHECKPOINT"
METHODS="thor ddpm autoddpm intensity"
for pathology in tumour ms wmh; do
  for method in $METHODS; do
    "$BIN/anobench" run --method "$method" --dataset brain-phantom-t2 --data pathology=$pathology \
      --healthy-split auto --overwrite --out "$RUNS/$pathology/$method"
  done
  "$BIN/anobench" compare $(for m in $METHODS; do echo "$RUNS/$pathology/$m"; done) \
    --name phantom-t2-$pathology --overwrite
done
"$BIN/anobench" compare runs/phantom-boards/{thor-gaussian,ddpm,autoddpm,intensity} \
  $(for p in tumour ms wmh; do for m in $METHODS; do echo "$RUNS/$p/$m"; done; done) \
  --layout cross --name phantom-cross-t2 --overwrite
