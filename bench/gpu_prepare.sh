#!/usr/bin/env bash
# Run here, where the package registry is reachable, before the one device call of
# bench/gpu_check.sh. The GPU machine reaches no registry, and its python3 already holds torch,
# torchvision, numpy, scipy, pandas, pyarrow, rich, typer, tabulate, statsmodels, scikit-learn,
# scikit-image, matplotlib, numba, einops and setuptools. This puts into git-ignored folders that
# the call carries:
#   .whl/       wheels of the rest for its Python 3.12 (SimpleITK, nibabel and nilearn stay behind:
#               only `prepare ixi`, the real-data adapters and the phantom's generation import them);
#   .gpu-cache/ the default brain phantom (8.6 MB), generated here, so nothing is generated there.
# Then: run(command="bash bench/gpu_check.sh", carry=[".whl", ".gpu-cache"], timeout_s=540).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
WHEELS=(monai==1.6.1 lpips==0.1.4 opensimplex==0.4.5.1 kornia==0.9.0 kornia_rs==0.2.0)
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64)
PYTHON_VERSION=${PYTHON_VERSION:-3.12}
rm -rf .whl .gpu-cache
"$BIN/python" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYTHON_VERSION" \
  --implementation cp "${PLATFORMS[@]/#/--platform=}" -d .whl "${WHEELS[@]}"
ANOBENCH_CACHE=.gpu-cache "$BIN/anobench" data make brain-phantom >/dev/null
du -sh .whl .gpu-cache
