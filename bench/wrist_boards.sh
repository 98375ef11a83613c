#!/usr/bin/env bash
# Regenerates leaderboards/wrist-phantom-table2.md and reports/wrist-phantom/: THOR, DDPM and AutoDDPM on the wrist phantom
# (shipped Gaussian cpu-small checkpoint, preset defaults), each with the healthy test split scored
# alongside for the thor-compat threshold.
#   bash bench/wrist_boards.sh [RUNS_DIR]      (about 8 minutes on 2 CPU cores)
set -euo pipefail
BIN=${BIN:-.venv/bin}
RUNS=${1:-runs/wrist-boards}
for method in thor ddpm autoddpm; do
  "$BIN/anobench" run --method $method --dataset wrist-phantom --healthy-split auto --overwrite --out "$RUNS/$method"
done
"$BIN/anobench" compare "$RUNS"/{thor,ddpm,autoddpm} --layout table2 --name wrist-phantom-table2 --overwrite
rm -rf reports/wrist-phantom  # made anew: the report records this command line
"$BIN/anobench" report "$RUNS"/{thor,ddpm,autoddpm} --out reports/wrist-phantom
