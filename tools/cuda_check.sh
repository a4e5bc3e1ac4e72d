#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build seqcore._cuda, run the CUDA tests, run them again under
# compute-sanitizer memcheck, then the CUDA benchmarks.  One command, for a GPU session with little time.
#
#   tools/cuda_check.sh [out-dir]        logs and the benchmark JSON go to out-dir (default build/cuda_check)
#
# It builds in place with CMake (not pip), so it needs what the build needs on PYTHONPATH: pybind11 and
# cmeel-eigen (a machine without a package index: carry their wheels, docs/cuda.md).  OpenBLAS is off here
# (SEQCORE_OPENBLAS=OFF): the CPU side only serves as the reference.  Environment: CUDA_ARCH (default 90),
# BUILD_DIR (default /tmp/seqcore_cuda_build), PYTHON (default python3), SKIP_SANITIZER=1, SKIP_BENCH=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="${1:-$root/build/cuda_check}"
mkdir -p "$out"
py="${PYTHON:-python3}"
build="${BUILD_DIR:-/tmp/seqcore_cuda_build}"

echo "== nvidia-smi"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

echo "== configure + build (_core and _cuda) in $build"
start=$SECONDS
cmeel_prefix="$("$py" -c 'import cmeel, pathlib; print(pathlib.Path(cmeel.__file__).resolve().parent.parent / "cmeel.prefix")')"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSEQCORE_CUDA=ON -DSEQCORE_OPENBLAS=OFF \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" -DPython_EXECUTABLE="$(command -v "$py")" \
    -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" -DCMAKE_PREFIX_PATH="$cmeel_prefix" >"$out/configure.log"
ninja -C "$build" _core _cuda 2>&1 | tee "$out/build.log" | tail -3
for lib in "$build"/_core.*.so "$build"/_cuda.*.so; do
    ln -sf "$lib" "$root/python/seqcore/$(basename "$lib")"
done
echo "   built in $((SECONDS - start)) s"
export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"
"$py" -m seqcore info | tee "$out/info.txt" | sed -n '/^cuda/,/^cpu/p'

echo "== CUDA tests"
"$py" -m pytest -q -p no:cacheprovider tests/cuda -rs 2>&1 | tee "$out/tests.log" | tail -15

if [[ -z "${SKIP_SANITIZER:-}" ]]; then
    echo "== compute-sanitizer memcheck over the kernel tests"
    # The engine tests run the same kernels many times over; the kernel tests cover every launcher.
    compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 \
        "$py" -m pytest -q -p no:cacheprovider tests/cuda --deselect tests/cuda/test_cuda_engine.py \
        2>&1 | tee "$out/memcheck.log" | tail -15
fi

if [[ -z "${SKIP_BENCH:-}" ]]; then
    echo "== benchmarks (side by side with torch on the same GPU)"
    "$py" benchmarks/cuda_compare.py --json "$out/cuda_compare.json" 2>&1 | tee "$out/bench.txt"
fi
