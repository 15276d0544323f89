#!/usr/bin/env bash
# The one-shot GPU check. On a machine with an NVIDIA GPU and no .NET SDK: unpack the archive pack.sh made and run
#   bash check.sh [ARCHIVE]          (or, from the unpacked folder: bash check.sh)
# Within 8 minutes it writes into $RESULTS (default ./gpu-results): the accelerators ILGPU sees, the whole test suite
# on CUDA, the kernel benchmarks against cuBLAS, the full VGG (5000 steps) and mlp-deep (4000 steps) on the embedded
# Fashion-MNIST, PyTorch's step times for the same models, and summary.txt with the figures side by side.
#   bash check.sh --dry [ARCHIVE]    the same steps on ILGPU's CPU accelerator with tiny sizes (CI runs this).
set -uo pipefail
dry=0
if [ "${1:-}" = "--dry" ]; then dry=1; shift; fi
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${1:-}" ]; then
  work=$(mktemp -d)
  tar -xJf "$1" -C "$work"
  app="$work/gpunet"
elif [ -x "$here/gpunet" ]; then
  app="$here"
else
  echo "check.sh: give the archive made by pack.sh, or run this script from its unpacked folder" >&2
  exit 2
fi
results=${RESULTS:-$PWD/gpu-results}
mkdir -p "$results"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# pack.sh leaves ONNX Runtime out of the archive; its export tests then report themselves skipped.
export GPUNET_ALLOW_NO_ONNXRUNTIME=1
failures=0

step() { # step NAME SECONDS COMMAND...
  local name=$1 seconds=$2; shift 2
  local start=$SECONDS
  echo "== $name (limit ${seconds}s)"
  timeout "$seconds" "$@" > "$results/$name.log" 2>&1
  local status=$?
  echo "   exit $status after $((SECONDS - start))s; last lines:"
  tail -n 4 "$results/$name.log" | sed 's/^/   | /'
  [ "$status" -eq 0 ] || failures=$((failures + 1))
}

if [ "$dry" = 1 ]; then
  accel=cpu
  step devices 60 "$app/gpunet" devices
  step tests 300 "$app/GpuNet.Tests"
  step bench 300 "$app/GpuNet.Benchmarks" --accelerator cpu --quick --filter gemm --out "$results/bench"
  step train-vgg 300 "$app/gpunet" train --model vgg --width 0.0625 --steps 4 --eval-every 2 --accelerator cpu --out "$results/vgg" --force
  step train-mlp-deep 300 "$app/gpunet" train --model mlp-deep --steps 4 --eval-every 2 --accelerator cpu --out "$results/mlp-deep" --force
  if python3 -c "import torch" 2>/dev/null; then
    step torch 300 python3 "$app/torch_reference.py" --dry --out "$results/torch.json"
  else
    echo "== torch: PyTorch is not installed here; skipped in dry mode"
  fi
else
  accel=cuda
  step devices 30 "$app/gpunet" devices
  step tests 90 "$app/GpuNet.Tests"
  step bench 90 "$app/GpuNet.Benchmarks" --accelerator cuda --out "$results/bench"
  step train-vgg 150 "$app/gpunet" train --model vgg --accelerator cuda --out "$results/vgg" --force
  step train-mlp-deep 60 "$app/gpunet" train --model mlp-deep --accelerator cuda --out "$results/mlp-deep" --force
  step torch 60 python3 "$app/torch_reference.py" --out "$results/torch.json"
fi

# summary.txt: the figures the resolve note needs, side by side.
python3 - "$results" "$accel" > "$results/summary.txt" <<'PY' || echo "summary: python3 unavailable or failed" > "$results/summary.txt"
import csv, json, os, sys
results, accel = sys.argv[1], sys.argv[2]
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return None
rows = []
try:
    with open(os.path.join(results, "bench", "bench.csv")) as f:
        rows = list(csv.DictReader(f))
except Exception:
    pass
for r in rows:
    if r["kernel"] == "gemm" and r["shape"] in ("4096x4096x4096", "1024x1024x1024", "256x256x256", "128x128x128"):
        print(f"gemm {r['shape']}: {r['gflops']} GFLOP/s, ratio to yardstick {r['yardstick_ratio'] or 'n/a'}")
torch = load(os.path.join(results, "torch.json")) or {}
steps = {r["kernel"]: r for r in rows if r["kernel"].startswith("step_")}
for model, batch in (("mlp", 200), ("mlp-deep", 400), ("vgg", 32), ("vgg-w0.125", 32)):
    r = steps.get("step_" + model)
    ours = batch / (float(r["median_ms"]) / 1e3) if r else None
    t = torch.get(model, {})
    line = f"{model}: GpuNet {ours:.0f} images/s" if ours else f"{model}: GpuNet n/a"
    for mode in ("fp32", "tf32"):
        if mode in t and ours:
            line += f"; PyTorch {mode} {t[mode]:.0f} images/s (ratio {ours / t[mode]:.2f})"
    print(line)
for run in ("vgg", "mlp-deep"):
    s = load(os.path.join(results, run, "summary.json"))
    if s:
        print(f"train {run}: final_test_accuracy {s['final_test_accuracy']:.4f}, best {s['best_test_accuracy']:.4f}, "
              f"{s['train_images_per_second']:.0f} training images/s, {s['wall_seconds']:.1f} s wall")
PY
echo "== summary ($results/summary.txt)"
cat "$results/summary.txt"
echo "check.sh: $failures step(s) failed"
[ "$failures" -eq 0 ]
