#!/usr/bin/env bash
# One short check for a machine with a GPU, as one device call (~8 minutes on an H200):
#  1. correctness: THOR's maps on CUDA (device ops: kornia/torch) against the CPU path (scipy),
#     same checkpoint and cases, the largest absolute difference printed;
#  2. timing: THOR at the paper preset (weights of a 1-step training: speed does not depend on
#     them), images/s at batch 16 against batch 1 (target ≥ 3×), CUDA-event timing;
#  3. bf16 / fp16 autocast and torch.compile maps against fp32 eager maps on the GPU;
#  4. the performance report measured on the GPU ($OUT/performance-gpu.md).
# On the lent machine (no registry; its python3 holds torch): first `bash bench/gpu_prepare.sh`
# here, then run(command="bash bench/gpu_check.sh", carry=[".whl", ".gpu-cache"], timeout_s=540).
# Elsewhere it uses $BIN (default .venv/bin). Everything it prints goes to $OUT/gpu-check.txt too.
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
ANOBENCH=("$PYTHON" -m anobench)
WORK=$(mktemp -d)
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
  for device in cpu cuda; do
    "${ANOBENCH[@]}" run --method thor --dataset brain-phantom --limit 16 --device $device --latency-cases 0 \
      --out "$WORK/thor-$device" --overwrite
  done
  "$PYTHON" - "$WORK" <<'PY'
import sys, numpy as np
from pathlib import Path
from anobench import runs
cpu, gpu = (runs.read_results(*runs.run_files(Path(sys.argv[1]) / f"thor-{d}")) for d in ("cpu", "cuda"))
print(f"THOR cpu-small, 16 cases: max |map_cuda - map_cpu| = {np.abs(cpu.maps - gpu.maps).max():.2e}")
PY
  "${ANOBENCH[@]}" train --preset paper --steps 1 --batch-size 2 --device cuda --out "$WORK/paper.pt"
  for batch in 16 1; do
    "${ANOBENCH[@]}" run --method thor --dataset brain-phantom --preset paper --checkpoint "$WORK/paper.pt" \
      --device cuda --limit 32 --batch-size $batch --latency-cases 4 --out "$WORK/paper-b$batch" --overwrite
  done
  "$PYTHON" - "$WORK" <<'PY'
import json, sys
from pathlib import Path
rates = {}
for batch in (16, 1):
    timing = json.loads((Path(sys.argv[1]) / f"paper-b{batch}" / "provenance.json").read_text())["timing"]
    rates[batch] = timing["cases"] / timing["predict_seconds"]
    print(f"paper preset, batch {batch}: {rates[batch]:.2f} images/s, peak {timing['peak_memory']['bytes'] / 2**30:.1f} GiB")
print(f"batch 16 / batch 1 throughput: {rates[16] / rates[1]:.2f} (target >= 3)")
PY
  "$PYTHON" bench/precision_check.py --device cuda --options bf16,fp16,compile
  "$PYTHON" bench/performance_report.py --out "$OUT/performance-gpu.md"
} 2>&1 | tee "$OUT/gpu-check.txt"
