#!/usr/bin/env bash
# Regenerates the brain-phantom boards of the README (shipped cpu-small checkpoints, 96 test
# slices, preset defaults; the 64 healthy validation slices scored alongside for the calibrated
# threshold): leaderboards/phantom-table1.md (the THOR paper's Table 1 layout with its reported
# rows), phantom-methods.md (with the intensity baseline as the floor), phantom-thor-ablation.md, phantom-pddpm-variants.md,
# phantom-cddpm-variants.md, phantom-ldm-variants.md, and the report reports/phantom/.
# pDDPM, the DAE, ANDi, cDDPM and the LDM each read their own shipped checkpoint.
#   bash bench/phantom_boards.sh [RUNS_DIR]      (about 50 minutes on 2 CPU cores, ANDi's run 5 of them)
set -euo pipefail
BIN=${BIN:-.venv/bin}
RUNS=${1:-runs/phantom-boards}
run() { "$BIN/anobench" run --dataset brain-phantom --healthy-split auto --overwrite "$@"; }

run --method ddpm --out "$RUNS/ddpm"
run --method thor --out "$RUNS/thor-gaussian"
run --method thor --set noise=simplex --out "$RUNS/thor-simplex"
run --method anoddpm --out "$RUNS/anoddpm"
run --method autoddpm --out "$RUNS/autoddpm"
run --method pddpm --out "$RUNS/pddpm"
run --method dae --out "$RUNS/dae"
run --method andi --out "$RUNS/andi"
run --method cddpm --out "$RUNS/cddpm"
run --method ldm --out "$RUNS/ldm"
run --method intensity --out "$RUNS/intensity"
METHODS="ddpm thor-gaussian autoddpm thor-simplex anoddpm pddpm dae andi cddpm ldm intensity"
TABLE1="thor-gaussian ddpm autoddpm thor-simplex anoddpm pddpm dae andi cddpm ldm intensity"
"$BIN/anobench" compare $(for m in $METHODS; do echo "$RUNS/$m"; done) --name phantom-methods --overwrite
"$BIN/anobench" compare $(for m in $TABLE1; do echo "$RUNS/$m"; done) --layout table1 --name phantom-table1 --overwrite
rm -rf reports/phantom  # made anew: the report records this command line
"$BIN/anobench" report $(for m in $TABLE1; do echo "$RUNS/$m"; done) --out reports/phantom

for protocol in reference paper; do
  for backend in unet ssim none; do
    run --method thor --set protocol=$protocol --set perceptual=$backend --out "$RUNS/ablation/$protocol-$backend"
  done
done
"$BIN/anobench" compare "$RUNS"/ablation/* --name phantom-thor-ablation --overwrite

run --method pddpm --set stitching=avg --out "$RUNS/variants/pddpm-avg"
run --method pddpm --set stitching=cut --out "$RUNS/variants/pddpm-cut"
run --method pddpm --set stitching=cut-release --out "$RUNS/variants/pddpm-cut-release"
run --method pddpm --set postprocess=true --out "$RUNS/variants/pddpm-post"
run --method pddpm --set clamp_reconstruction=true --set noise_precision=float32 --out "$RUNS/variants/pddpm-before"
"$BIN/anobench" compare "$RUNS/pddpm" "$RUNS"/variants/pddpm-{avg,cut,cut-release,post,before} \
  --name phantom-pddpm-variants --overwrite

run --method cddpm --set postprocess=false --out "$RUNS/variants/cddpm-raw"
run --method cddpm --set erosion=3 --set remove_small_components=true --set noise_precision=float32 \
  --out "$RUNS/variants/cddpm-before"
"$BIN/anobench" compare "$RUNS/cddpm" "$RUNS"/variants/cddpm-{raw,before} --name phantom-cddpm-variants --overwrite

run --method ldm --set clip=false --out "$RUNS/variants/ldm-noclip"
run --method ldm --set map=residual --out "$RUNS/variants/ldm-residual"
"$BIN/anobench" compare "$RUNS/ldm" "$RUNS"/variants/ldm-{noclip,residual} --name phantom-ldm-variants --overwrite
