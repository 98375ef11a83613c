#!/usr/bin/env bash
# The cross-dataset board leaderboards/phantom-cross.md from the runs the other board scripts make
# (bench/phantom_boards.sh, bench/volume_boards.sh, bench/wrist_boards.sh; run them first): every
# method on the brain phantom's slices and volumes, the wrist phantom's three, and the consensus rank
# of the methods on all three data sets.
#   bash bench/cross_board.sh      (seconds: it reads run folders only)
set -euo pipefail
BIN=${BIN:-.venv/bin}
BRAIN="thor-gaussian ddpm autoddpm thor-simplex anoddpm pddpm dae andi cddpm ldm intensity"
"$BIN/anobench" compare $(for m in $BRAIN; do echo runs/phantom-boards/$m; done) \
  $(for m in $BRAIN; do echo runs/volume-boards/$m; done) runs/wrist-boards/{thor,ddpm,autoddpm} \
  --layout cross --name phantom-cross --overwrite
