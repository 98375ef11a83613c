#!/usr/bin/env bash
# One short check for a machine with a GPU, as one device call (~8 minutes on an H200):
#  1. correctness: THOR's maps on CUDA (device ops: kornia/torch) against the CPU path (scipy),
#     same checkpoint and cases, the largest absolute difference printed;
#  2. timing: THOR at the paper preset (weights of a 1-step training: speed does not depend on
#     them), images/s at batch 16 against batch 1 (target ≥ 3×), CUDA-event timing;
#  3. simplex fields computed on the GPU against opensimplex on the host (time per step, |Δ|);
#     bf16 / fp16 autocast and torch.compile maps against fp32 eager maps on the GPU;
#  4. the performance report measured on the GPU ($OUT/performance-gpu.md).
# On the lent machine (no registry; its python3 holds torch): first `bash bench/gpu_prepare.sh`
# here, then run(command="bash bench/gpu_check.sh", carry=[".whl", ".gpu-cache"], timeout_s=540).
# Elsewhere it uses $BIN (default .venv/bin). Everything it prints goes to $OUT/gpu-check.txt too.
# REHEARSE=1 runs every step on the CPU at toy sizes (the paper preset replaced by cpu-small), to
# try the script itself before spending device time.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp}
if [ -d .whl ] && ! [ -x "${BIN:-.venv/bin}/python" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --no-cache-dir --target /tmp/site .
  export PYTHONPATH=/tmp/site PYTHON=python3
fi
PYTHON=${PYTHON:-${BIN:-.venv/bin}/python}
[ -d .gpu-cache ] && export ANOBENCH_CACHE=$PWD/.gpu-cache
export PYTHONUNBUFFERED=1
if [ "${REHEARSE:-0}" = 1 ]; then
  DEVICE=cpu PRESET=cpu-small BATCH=2 CASES=4 LATENCY=1 OPTIONS=bf16 REPORT_CASES=4
else
  DEVICE=cuda PRESET=paper BATCH=16 CASES=32 LATENCY=4 OPTIONS=bf16,fp16 REPORT_CASES=16
fi
ANOBENCH=("$PYTHON" -m anobench)
WORK=$(mktemp -d)
{
  [ "$DEVICE" = cpu ] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
  for order in 1 2; do  # 1: the CPU path, 2: the device's
    device=$([ $order = 1 ] && echo cpu || echo "$DEVICE")
    "${ANOBENCH[@]}" run --method thor --dataset brain-phantom --limit 16 --device $device --latency-cases 0 \
      --out "$WORK/thor-$order-$device" --overwrite
  done
  "$PYTHON" - "$WORK" <<'PY'
import sys, numpy as np
from pathlib import Path
from anobench.store.results import read_results
first, second = (read_results(folder) for folder in sorted(Path(sys.argv[1]).glob("thor-*")))
print(f"THOR cpu-small, 16 cases: max |map_device - map_cpu| = {np.abs(first.maps - second.maps).max():.2e}")
PY
  "${ANOBENCH[@]}" train --preset $PRESET --steps 1 --batch-size 2 --device $DEVICE --out "$WORK/preset.pt"
  for batch in $BATCH 1; do
    "${ANOBENCH[@]}" run --method thor --dataset brain-phantom --preset $PRESET --checkpoint "$WORK/preset.pt" \
      --device $DEVICE --limit $CASES --batch-size $batch --latency-cases $LATENCY --out "$WORK/preset-b$batch" --overwrite
  done
  "$PYTHON" - "$WORK" "$PRESET" "$BATCH" <<'PY'
import json, sys
from pathlib import Path
work, preset, batch_size = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rates = {}
for batch in (batch_size, 1):
    timing = json.loads((work / f"preset-b{batch}" / "provenance.json").read_text())["timing"]
    rates[batch] = timing["cases"] / timing["predict_seconds"]
    print(f"{preset} preset, batch {batch}: {rates[batch]:.2f} images/s, peak {timing['peak_memory']['bytes'] / 2**30:.1f} GiB")
print(f"batch {batch_size} / batch 1 throughput: {rates[batch_size] / rates[1]:.2f} (target >= 3 at the paper preset)")
PY
  "$PYTHON" - "$DEVICE" "$BATCH" <<'PY'
import sys, time, torch
from anobench.devices import Stopwatch
from anobench.diffusion.noise import noise_kind
device, batch = torch.device(sys.argv[1]), int(sys.argv[2])
side = 128 if device.type == "cuda" else 32
for name in ("simplex", "simplex-2d"):
    kind, fields, seconds = noise_kind(name), {}, {}
    for on_device in (False, True):
        generators = [torch.Generator().manual_seed(seed) for seed in range(batch)]
        kind.draw_batch(generators, (1, side, side), 1, device, on_device=on_device)  # warm-up (numba, tables)
        stopwatch = Stopwatch(device)
        stopwatch.start()
        for step in range(10):
            fields[on_device] = kind.draw_batch(generators, (1, side, side), step, device, on_device=on_device)
        seconds[on_device] = stopwatch.stop() / 10
    print(f"{name} noise, {batch} fields of {side}²: host (opensimplex + copy) {1e3 * seconds[False]:.2f} ms, "
          f"device {1e3 * seconds[True]:.2f} ms per step; max |Δ| {float((fields[True] - fields[False]).abs().max()):.1e}")
PY
  "$PYTHON" bench/precision_check.py --device $DEVICE --methods ddpm,thor --options $OPTIONS
  [ "$DEVICE" = cpu ] || "$PYTHON" bench/precision_check.py --device $DEVICE --methods ddpm --options compile
  "$PYTHON" bench/performance_report.py --cases $REPORT_CASES --out "$OUT/performance-gpu.md"
} 2>&1 | tee "$OUT/gpu-check.txt"
