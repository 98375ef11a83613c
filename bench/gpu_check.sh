#!/usr/bin/env bash
# One short check for a machine with a GPU (run it as one `device` call, ~10 minutes):
#  1. correctness: THOR's maps on CUDA (device ops: kornia/torch) against the CPU path (scipy),
#     same checkpoint and cases, the largest absolute difference printed;
#  2. timing: THOR at the paper preset (weights of a 1-step training: speed does not depend on
#     them), images/s at batch 16 against batch 1 (target ≥ 3×), CUDA-event timing;
#  3. bf16 / fp16 autocast and torch.compile maps against fp32 eager maps on the GPU;
#  4. reports/performance.md measured on the GPU.
#   bash bench/gpu_check.sh            (writes $OUT/gpu-check.txt when $OUT is set)
set -euo pipefail
BIN=${BIN:-.venv/bin}
LOG=${OUT:-/tmp}/gpu-check.txt
WORK=$(mktemp -d)
{
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  for device in cpu cuda; do
    "$BIN/anobench" run --method thor --dataset brain-phantom --limit 16 --device $device --latency-cases 0 \
      --out "$WORK/thor-$device" --overwrite
  done
  "$BIN/python" - "$WORK" <<'PY'
import sys, numpy as np
from pathlib import Path
from anobench import runs
cpu, gpu = (runs.read_results(*runs.run_files(Path(sys.argv[1]) / f"thor-{d}")) for d in ("cpu", "cuda"))
print(f"THOR cpu-small, 16 cases: max |map_cuda - map_cpu| = {np.abs(cpu.maps - gpu.maps).max():.2e}")
PY
  "$BIN/anobench" train --preset paper --steps 1 --batch-size 2 --device cuda --out "$WORK/paper.pt"
  for batch in 16 1; do
    "$BIN/anobench" run --method thor --dataset brain-phantom --preset paper --checkpoint "$WORK/paper.pt" \
      --limit 32 --batch-size $batch --latency-cases 4 --out "$WORK/paper-b$batch" --overwrite
  done
  "$BIN/python" - "$WORK" <<'PY'
import json, sys
from pathlib import Path
rates = {}
for batch in (16, 1):
    timing = json.loads((Path(sys.argv[1]) / f"paper-b{batch}" / "provenance.json").read_text())["timing"]
    rates[batch] = timing["cases"] / timing["predict_seconds"]
    print(f"paper preset, batch {batch}: {rates[batch]:.2f} images/s, peak {timing['peak_memory']['bytes'] / 2**30:.1f} GiB")
print(f"batch 16 / batch 1 throughput: {rates[16] / rates[1]:.2f} (target >= 3)")
PY
  "$BIN/python" bench/precision_check.py --device cuda --options bf16,fp16,compile
  "$BIN/python" bench/performance_report.py
} 2>&1 | tee "$LOG"
