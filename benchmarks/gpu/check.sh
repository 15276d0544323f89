#!/usr/bin/env bash
# The one-shot GPU check. On a machine with an NVIDIA GPU and no .NET SDK: unpack the archive pack.sh made and run
#   bash check.sh [ARCHIVE]          (or, from the unpacked folder: bash check.sh)
# Within 8 minutes (every step has its own limit, 475 s in all) it writes into $RESULTS (default ./gpu-results): the
# accelerators ILGPU sees, the launch plan of one VGG step, the whole test suite on CUDA, the benchmarks (launch
# overhead, every GEMM shape of the MLP and VGG steps and the square sizes against cuBLAS, convolutions, the model steps
# with their launches and host waits), the full VGG (5000 steps, stopped by SIGTERM at its limit with its metrics so far)
# and mlp-deep (4000 steps) on the embedded Fashion-MNIST, PyTorch's step times for the same models, a one-rank NCCL
# all-reduce when libnccl.so.2 is found, and summary.txt with the figures side by side.
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

# A pip PyTorch keeps cuBLAS (the benchmarks' yardstick) and NCCL under site-packages/nvidia/*/lib, not on the loader's
# path: find them there, so the yardstick is not silently missing, and say which libraries are used.
nvidia_libs=$(python3 - 2>/dev/null <<'PY'
import glob, os, site, sys
roots = list(site.getsitepackages()) + [site.getusersitepackages()] + [p for p in sys.path if p.endswith("-packages")]
try:
    import nvidia
    roots += [os.path.dirname(p) for p in nvidia.__path__]
except Exception:
    pass
found = []
for root in roots:
    for lib in sorted(glob.glob(os.path.join(root, "nvidia", "*", "lib"))):
        if lib not in found and (glob.glob(os.path.join(lib, "libcublas*.so*")) or glob.glob(os.path.join(lib, "libnccl.so*"))):
            found.append(lib)
print(":".join(found))
PY
)
if [ -n "$nvidia_libs" ]; then
  export LD_LIBRARY_PATH="$nvidia_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
find_lib() { # find_lib NAME: the first file of that name on LD_LIBRARY_PATH or in the loader's cache
  local d
  for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }}; do [ -e "$d/$1" ] && { echo "$d/$1"; return; }; done
  ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }'
}
cublas=$(find_lib libcublas.so.12)
nccl=$(find_lib libnccl.so.2)
echo "cuBLAS: ${cublas:-not found (the GEMM rows will have no yardstick)}" | tee "$results/libraries.txt"
echo "NCCL: ${nccl:-not found (no NCCL all-reduce check)}" | tee -a "$results/libraries.txt"
[ -n "$nccl" ] && export GPUNET_NCCL="$nccl"

step() { # step NAME SECONDS COMMAND...  (SIGTERM at the limit, so a training run stops with its metrics so far)
  local name=$1 seconds=$2; shift 2
  local start=$SECONDS
  echo "== $name (limit ${seconds}s)"
  timeout -k 10 "$seconds" "$@" > "$results/$name.log" 2>&1
  local status=$?
  echo "   exit $status after $((SECONDS - start))s; last lines:"
  tail -n 4 "$results/$name.log" | sed 's/^/   | /'
  # A training run cut at its limit (timeout's 124) has written its metrics so far: that is a result, not a failure.
  if [ "$status" -eq 124 ] && [ "${name#train-}" != "$name" ]; then
    echo "   (stopped at its limit; the metrics so far are kept)"
  elif [ "$status" -ne 0 ]; then
    failures=$((failures + 1))
  fi
}

if [ "$dry" = 1 ]; then
  accel=cpu
  step devices 60 "$app/gpunet" devices
  step plan 60 "$app/GpuNet.Benchmarks" --plan vgg --width 0.125 --sms 132
  # The kernel tests and the tests that read the embedded data, as the published archive runs them (data unzipped, no
  # ONNX Runtime): CI has just run the whole suite from the build, so the dry run checks the archive, not the code
  # again, and its limits only guard against a hang on a CI machine that may be busy.
  step tests 900 "$app/GpuNet.Tests" -namespace GpuNet.Tests.Kernels
  step tests-data 600 "$app/GpuNet.Tests" -class GpuNet.Tests.Cli.PredictTests
  step bench 300 "$app/GpuNet.Benchmarks" --accelerator cpu --quick --filter gemm --out "$results/bench"
  step bench-steps 300 "$app/GpuNet.Benchmarks" --accelerator cpu --quick --filter launch --out "$results/bench-launch"
  step train-vgg 300 "$app/gpunet" train --model vgg --width 0.0625 --steps 4 --eval-every 2 --accelerator cpu --out "$results/vgg" --force
  step train-mlp-deep 300 "$app/gpunet" train --model mlp-deep --steps 4 --eval-every 2 --accelerator cpu --out "$results/mlp-deep" --force
  if python3 -c "import torch" 2>/dev/null; then
    step torch 300 python3 "$app/torch_reference.py" --dry --out "$results/torch.json"
  else
    echo "== torch: PyTorch is not installed here; skipped in dry mode"
  fi
else
  accel=cuda
  step devices 20 "$app/gpunet" devices
  step plan 20 "$app/GpuNet.Benchmarks" --plan vgg --sms 132
  step tests 120 "$app/GpuNet.Tests"
  step bench 100 "$app/GpuNet.Benchmarks" --accelerator cuda --out "$results/bench"
  step train-vgg 90 "$app/gpunet" train --model vgg --accelerator cuda --out "$results/vgg" --force
  step train-mlp-deep 45 "$app/gpunet" train --model mlp-deep --accelerator cuda --out "$results/mlp-deep" --force
  step torch 60 python3 "$app/torch_reference.py" --out "$results/torch.json"
  if [ -n "$nccl" ]; then
    step nccl 20 "$app/GpuNet.Tests" -class GpuNet.Tests.Distributed.NcclOnCudaTests
  fi
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
def rows_of(path):
    try:
        with open(path) as f:
            return list(csv.DictReader(f))
    except Exception:
        return []
rows = rows_of(os.path.join(results, "bench", "bench.csv")) + rows_of(os.path.join(results, "bench-launch", "bench.csv"))
try:
    print(open(os.path.join(results, "libraries.txt")).read().strip())
except Exception:
    pass
try:
    plan = open(os.path.join(results, "plan.log")).read().strip().splitlines()
    print("launch plan:", plan[-1] if plan else "n/a")
except Exception:
    pass
for r in rows:
    if r["kernel"] == "launch_overhead":
        print(f"launch overhead: {float(r['median_ms']) * 1000:.1f} us per kernel launch through ILGPU")
squares = ("4096x4096x4096", "1024x1024x1024", "512x512x512", "256x256x256", "128x128x128")
model_ratios = []
for r in rows:
    if r["kernel"] != "gemm":
        continue
    if r["shape"] in squares:
        print(f"gemm {r['shape']}: {r['gflops']} GFLOP/s, ratio to cuBLAS {r['yardstick_ratio'] or 'n/a'}")
    elif r["yardstick_ratio"]:
        model_ratios.append((float(r["yardstick_ratio"]), r["shape"], r["gflops"]))
if model_ratios:
    model_ratios.sort()
    mid = model_ratios[len(model_ratios) // 2]
    print(f"gemm at the {len(model_ratios)} model-step shapes: ratio to cuBLAS min {model_ratios[0][0]:.2f} ({model_ratios[0][1]}), "
          f"median {mid[0]:.2f} ({mid[1]}), max {model_ratios[-1][0]:.2f} ({model_ratios[-1][1]})")
torch = load(os.path.join(results, "torch.json")) or {}
steps = {r["kernel"]: r for r in rows if r["kernel"].startswith("step_")}
for model, batch in (("mlp", 200), ("mlp-deep", 400), ("vgg", 32), ("vgg-w0.125", 32)):
    r = steps.get("step_" + model)
    ours = batch / (float(r["median_ms"]) / 1e3) if r else None
    t = torch.get(model, {})
    line = f"{model}: GpuNet {ours:.0f} images/s" if ours else f"{model}: GpuNet n/a"
    if r and r.get("launches_per_step"):
        line += f" ({r['launches_per_step']} launches, {r['host_waits_per_step']} host waits per step)"
    for mode in ("fp32", "tf32"):
        if mode in t and ours:
            line += f"; PyTorch {mode} {t[mode]:.0f} images/s (ratio {ours / t[mode]:.2f})"
    print(line)
for run in ("vgg", "mlp-deep"):
    s = load(os.path.join(results, run, "summary.json"))
    if s:
        print(f"train {run}: final_test_accuracy {s['final_test_accuracy']:.4f}, best {s['best_test_accuracy']:.4f}, "
              f"{s['train_images_per_second']:.0f} training images/s, {s['wall_seconds']:.1f} s wall, "
              f"{s.get('launches_per_step', 'n/a')} launches and {s.get('host_waits_per_step', 'n/a')} host waits per step")
    else:
        metrics = rows_of(os.path.join(results, run, "metrics.csv"))
        if metrics:
            last = metrics[-1]
            print(f"train {run}: stopped at its time limit after step {last['step']}: test accuracy {float(last['test_accuracy']):.4f} "
                  f"after {float(last['elapsed_seconds']):.1f} s")
PY
echo "== summary ($results/summary.txt)"
cat "$results/summary.txt"
echo "check.sh: $failures step(s) failed"
[ "$failures" -eq 0 ]
