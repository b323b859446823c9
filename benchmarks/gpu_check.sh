#!/usr/bin/env bash
# The GPU check of minigan, in one go (a few minutes; every section has its own time limit, 6.5 min in all):
#   versions, the CuPy tests, the book's GAN step on CuPy against PyTorch CUDA (benchmarks/step_bench.py),
#   the per-layer breakdown on CuPy, and a timed 1,000-iteration run of examples/frog_dcgan.py.
#
#   bash benchmarks/gpu_check.sh [FROG_DATA_DIR]        # or MINIGAN_DATA=... ; default .data/cifar-10-batches-py
#
# Runs from a source checkout (PYTHONPATH=.), nothing is installed: numpy, cupy-cuda13x, torch (CUDA),
# pillow, tqdm, pytest and hypothesis must already be there. The GPU machine gets the repository only, so
# copy the frog batches (19 MB) into an ignored folder of the checkout first and send that folder along:
#   mkdir -p .data && cp -r ../shared/data/cifar-10-frogs/cifar-10-batches-py .data/
# Output goes to the terminal and to $OUT/gpu_check.log (with JSON results and the frog run's log and
# pictures) when $OUT is set, else to /tmp/minigan_gpu_check. A failing section prints
# "=== SECTION FAILED: <name>" and the next one still runs; the exit status is 1 if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
DATA="${1:-${MINIGAN_DATA:-.data/cifar-10-batches-py}}"
RESULTS="${OUT:-/tmp/minigan_gpu_check}"
RUN=/tmp/minigan_gpu_frogs  # the frog run's folder (its 60 MB checkpoint stays out of $OUT)
mkdir -p "$RESULTS"
exec > >(tee -a "$RESULTS/gpu_check.log") 2>&1
failed=()

section() {  # section NAME SECONDS COMMAND... : run it under a time limit, report, never stop the script
  local name=$1 limit=$2 start=$SECONDS rc=0
  shift 2
  echo; echo "=== $name (limit ${limit} s) $(date +%T)"
  timeout --kill-after=10 "$limit" bash -c '"$@"' _ "$@" || rc=$?  # bash -c: the functions below too
  if ((rc == 0)); then
    echo "=== $name: ok, $((SECONDS - start)) s"
  else
    echo "=== SECTION FAILED: $name (exit $rc$( ((rc == 124)) && echo ', timed out'), $((SECONDS - start)) s)"
    failed+=("$name")
  fi
}

versions() {
  nvidia-smi || echo "nvidia-smi: not available"
  git describe --always --dirty 2>/dev/null || echo "(not a git checkout)"
  python - <<'EOF'
import platform, numpy, cupy, torch
print("python", platform.python_version(), "| numpy", numpy.__version__, "| cupy", cupy.__version__,
      "| CUDA runtime", cupy.cuda.runtime.runtimeGetVersion(), "| torch", torch.__version__, "CUDA", torch.version.cuda)
print("GPU:", cupy.cuda.runtime.getDeviceProperties(0)["name"].decode(), "| torch sees", torch.cuda.get_device_name(0))
import minigan
minigan.set_backend("cupy")
print("minigan", minigan.__version__, "backend", minigan.get_backend())
EOF
}

frogs() {  # the book's run, 1,000 steps; frog_dcgan synchronises at the end of every step it logs
  set -eo pipefail
  if [[ ! -d "$DATA" ]]; then
    echo "no frog data at '$DATA': copy cifar-10-batches-py into .data/ (see the top of this script)"
    return 2
  fi
  python examples/frog_dcgan.py --backend cupy --iterations 1000 --data "$DATA" --out "$RUN" --force \
    --save-every 500
}

frog_summary() {  # per-step times from the run's log (there even when the run was cut short)
  set -eo pipefail
  python - "$RUN/log.jsonl" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
times = [r["time"] for r in rows[2:]] or [r["time"] for r in rows]  # steps 0-1 compile CuPy kernels
print(f"frog_dcgan on CuPy: {len(rows)} steps logged; step time median {1000 * statistics.median(times):.1f} ms, "
      f"total {sum(r['time'] for r in rows):.1f} s; last d_loss {rows[-1]['d_loss']:.4f}, a_loss {rows[-1]['a_loss']:.4f}")
EOF
  mkdir -p "$RESULTS/frog_run"
  cp "$RUN"/log.jsonl "$RUN"/*.png "$RESULTS/frog_run/" 2>/dev/null || true
}

export DATA RESULTS RUN TQDM_MININTERVAL=10  # tqdm: a progress line every 10 s, not every 0.1 s
export -f versions frogs frog_summary
section "versions" 30 versions
section "CuPy tests" 60 python -m pytest -q -p no:cacheprovider -k "cupy or gpu" tests
section "step bench: CuPy auto vs PyTorch CUDA" 60 \
  python benchmarks/step_bench.py --backend cupy --torch-device cuda --json "$RESULTS/step_cupy_auto.json"
section "step bench: CuPy im2col" 40 \
  python benchmarks/step_bench.py --backend cupy --algorithm im2col --no-torch --json "$RESULTS/step_cupy_im2col.json"
section "step bench: CuPy batch 128" 30 \
  python benchmarks/step_bench.py --backend cupy --batch-size 128 --steps 3 --no-torch \
  --json "$RESULTS/step_cupy_b128.json"
section "per-layer breakdown: CuPy" 40 python benchmarks/profile_layers.py --backend cupy
section "frog_dcgan: 1,000 iterations on CuPy" 120 frogs
section "frog_dcgan summary" 10 frog_summary

echo
if ((${#failed[@]})); then
  echo "=== gpu_check: ${#failed[@]} section(s) failed: $(IFS=';'; echo "${failed[*]}")"
  exit 1
fi
echo "=== gpu_check: all sections ok; results in $RESULTS"
