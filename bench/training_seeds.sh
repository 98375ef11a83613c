#!/usr/bin/env bash
# Training-seed variance of the shared Gaussian brain checkpoint (THOR-G, DDPM and AutoDDPM read it):
# seeds 1 and 2 trained exactly as the shipped one (seed 0, anobench/checkpoints/) but for --seed,
# each method run on each, and one board whose rows merge a method's three training seeds
# (leaderboards/phantom-training-seeds.md; docs/uncertainty.md says how the intervals cover them).
#   bash bench/training_seeds.sh [RUNS_DIR]      (two trainings of 45-70 minutes on 2 CPU cores, then
#                                                 nine runs of under a minute; an interrupted training resumes)
set -euo pipefail
BIN=${BIN:-.venv/bin}
RUNS=${1:-runs/training-seeds}
CHECKPOINTS="$RUNS/checkpoints"
mkdir -p "$CHECKPOINTS"
for seed in 1 2; do
  out="$CHECKPOINTS/brain-phantom-gaussian-cpu-small-seed$seed.pt"
  [ -f "$out" ] || "$BIN/anobench" train --dataset brain-phantom --noise gaussian --preset cpu-small --lr 0.0002 \
    --no-augment --seed "$seed" --out "$out"
done
run() { "$BIN/anobench" run --dataset brain-phantom --healthy-split auto --overwrite "$@"; }
for method in thor ddpm autoddpm; do
  run --method "$method" --out "$RUNS/$method-seed0"  # the shipped checkpoint
  for seed in 1 2; do
    run --method "$method" --checkpoint "$CHECKPOINTS/brain-phantom-gaussian-cpu-small-seed$seed.pt" \
      --out "$RUNS/$method-seed$seed"
  done
done
"$BIN/anobench" compare "$RUNS"/{thor,ddpm,autoddpm}-seed{0,1,2} --name phantom-training-seeds --overwrite
