#!/usr/bin/env bash
# The volume board of the brain phantom (leaderboards/phantom-volumes.md): every built-in method on
# brain-phantom-volumes (12 test subjects of 16 slices, 4 healthy validation and 4 held-out healthy
# subjects; brain-phantom's shipped cpu-small denoisers, preset defaults), scored by the volume
# protocol (`--layout volume`). About an hour on 2 CPU cores, ANDi's run a quarter of it.
#   bash bench/volume_boards.sh [RUNS_DIR]
set -euo pipefail
BIN=${BIN:-.venv/bin}
RUNS=${1:-runs/volume-boards}
run() { "$BIN/anobench" run --dataset brain-phantom-volumes --healthy-split auto --overwrite "$@"; }

run --method ddpm --out "$RUNS/ddpm"
run --method thor --out "$RUNS/thor-gaussian"
run --method autoddpm --out "$RUNS/autoddpm"
run --method thor --set noise=simplex --out "$RUNS/thor-simplex"
run --method anoddpm --out "$RUNS/anoddpm"
run --method pddpm --out "$RUNS/pddpm"
run --method dae --out "$RUNS/dae"
run --method cddpm --out "$RUNS/cddpm"
run --method ldm --out "$RUNS/ldm"
run --method andi --out "$RUNS/andi"
run --method intensity --out "$RUNS/intensity"
METHODS="thor-gaussian ddpm autoddpm thor-simplex anoddpm pddpm dae andi cddpm ldm intensity"
"$BIN/anobench" compare $(for m in $METHODS; do echo "$RUNS/$m"; done) --layout volume --name phantom-volumes --overwrite
