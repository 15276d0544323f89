#!/usr/bin/env bash
# The one-shot GPU check. On a machine with an NVIDIA GPU and no .NET SDK: unpack the archive pack.sh made and run
#   bash check.sh [ARCHIVE]          (or, from the unpacked folder: bash check.sh)
# Within 9 minutes in all (every step has its own limit, 500 s together; a deadline 530 s after the start shortens or
# skips whatever would run past it, kill grace included, so unpacking and a slow step cannot push the script over), it
# writes into $RESULTS (default ./gpu-results): the accelerators ILGPU sees, the launch plans of a VGG step in fp32 and
# in TF32 (also at step 1876, the first of the second epoch), every kernel's sm_90 PTX, the whole test suite on CUDA,
# the benchmarks (launch overhead; every GEMM shape of the MLP and VGG steps and the square sizes, fp32 against cuBLAS
# fp32 and TF32 against cuBLAS TF32; convolutions; the model steps in both precisions with their launches and host
# waits), the full VGG (5000 steps) and mlp-deep (4000 steps) on the embedded Fashion-MNIST in fp32 and in TF32 (each
# stopped by SIGTERM at its limit with its metrics so far), PyTorch's step times for the same models with TF32 off and
# on, a one-rank NCCL all-reduce when libnccl.so.2 is found, and summary.txt with the figures side by side per
# precision.
#   bash check.sh --dry [ARCHIVE]    the same steps on ILGPU's CPU accelerator with tiny sizes (CI runs this; no deadline).
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

# The GPU check's deadline: the device session that runs it lasts 15 minutes, startup included, so the script keeps
# within 9; a step that would end past the deadline (its limit plus timeout's 10 s kill grace) gets what is left.
deadline=$((dry == 1 ? 0 : 530))
step() { # step NAME SECONDS COMMAND...  (SIGTERM at the limit, so a training run stops with its metrics so far)
  local name=$1 seconds=$2; shift 2
  local start=$SECONDS
  if [ "$deadline" -gt 0 ] && [ $((deadline - SECONDS - 10)) -lt "$seconds" ]; then
    seconds=$((deadline - SECONDS - 10))
    if [ "$seconds" -lt 5 ]; then
      echo "== $name: skipped, the check's time is spent"
      failures=$((failures + 1))
      return
    fi
  fi
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
  step plan-fp32 60 "$app/GpuNet.Benchmarks" --plan vgg --width 0.125 --sms 132 --precision fp32
  step plan-tf32 60 "$app/GpuNet.Benchmarks" --plan vgg --width 0.125 --sms 132 --precision tf32
  step plan-tf32-step1876 60 "$app/GpuNet.Benchmarks" --plan vgg --width 0.125 --sms 132 --precision tf32 --at-step 1876
  step ptx 120 "$app/GpuNet.Benchmarks" --ptx "$results/ptx"
  # The kernel tests and the tests that read the embedded data, as the published archive runs them (data unzipped, no
  # ONNX Runtime): CI has just run the whole suite from the build, so the dry run checks the archive, not the code
  # again, and its limits only guard against a hang on a CI machine that may be busy.
  step tests 900 "$app/GpuNet.Tests" -namespace GpuNet.Tests.Kernels
  step tests-data 600 "$app/GpuNet.Tests" -class GpuNet.Tests.Cli.PredictTests
  step bench 300 "$app/GpuNet.Benchmarks" --accelerator cpu --quick --filter gemm --out "$results/bench"
  step bench-steps 300 "$app/GpuNet.Benchmarks" --accelerator cpu --quick --filter launch --out "$results/bench-launch"
  for precision in fp32 tf32; do
    step train-vgg-$precision 300 "$app/gpunet" train --model vgg --width 0.0625 --steps 4 --eval-every 2 --precision $precision \
      --accelerator cpu --out "$results/vgg-$precision" --force
    step train-mlp-deep-$precision 300 "$app/gpunet" train --model mlp-deep --steps 4 --eval-every 2 --precision $precision \
      --accelerator cpu --out "$results/mlp-deep-$precision" --force
  done
  if python3 -c "import torch" 2>/dev/null; then
    step torch-fp32 300 python3 "$app/torch_reference.py" --dry --out "$results/torch-fp32.json"
    step torch-tf32 300 python3 "$app/torch_reference.py" --dry --tf32 --out "$results/torch-tf32.json"
  else
    echo "== torch: PyTorch is not installed here; skipped in dry mode"
  fi
else
  accel=cuda
  # Limits: 15 + 3 x 10 + 20 + 100 + 110 + 2 x 40 + 2 x 35 + 2 x 30 + 15 = 500 s.
  step devices 15 "$app/gpunet" devices
  step plan-fp32 10 "$app/GpuNet.Benchmarks" --plan vgg --sms 132 --precision fp32
  step plan-tf32 10 "$app/GpuNet.Benchmarks" --plan vgg --sms 132 --precision tf32
  step plan-tf32-step1876 10 "$app/GpuNet.Benchmarks" --plan vgg --sms 132 --precision tf32 --at-step 1876
  step ptx 20 "$app/GpuNet.Benchmarks" --ptx "$results/ptx"
  step tests 100 "$app/GpuNet.Tests"
  step bench 110 "$app/GpuNet.Benchmarks" --accelerator cuda --out "$results/bench"
  for precision in fp32 tf32; do
    step train-vgg-$precision 40 "$app/gpunet" train --model vgg --precision $precision --accelerator cuda --out "$results/vgg-$precision" --force
  done
  for precision in fp32 tf32; do
    step train-mlp-deep-$precision 35 "$app/gpunet" train --model mlp-deep --precision $precision --accelerator cuda \
      --out "$results/mlp-deep-$precision" --force
  done
  step torch-fp32 30 python3 "$app/torch_reference.py" --out "$results/torch-fp32.json"
  step torch-tf32 30 python3 "$app/torch_reference.py" --tf32 --out "$results/torch-tf32.json"
  if [ -n "$nccl" ]; then
    step nccl 15 "$app/GpuNet.Tests" -class GpuNet.Tests.Distributed.NcclOnCudaTests
  fi
fi

# summary.txt: the figures the resolve note needs, side by side.
python3 - "$results" "$accel" > "$results/summary.txt" <<'PY' || echo "summary: python3 unavailable or failed" > "$results/summary.txt"
import csv, glob, json, os, sys
results, accel = sys.argv[1], sys.argv[2]
PRECISIONS = ("fp32", "tf32")
YARDSTICK = {"fp32": "cuBLAS fp32", "tf32": "cuBLAS TF32"} if accel == "cuda" else {"fp32": "managed fp32", "tf32": "managed fp32"}
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
def last_line(name):
    try:
        lines = open(os.path.join(results, name)).read().strip().splitlines()
        return lines[-1] if lines else "n/a"
    except Exception:
        return "n/a"
def named(kernel, precision):  # the benchmarks name a tf32 row "<kernel>_tf32"
    return kernel if precision == "fp32" else kernel + "_tf32"
rows = rows_of(os.path.join(results, "bench", "bench.csv")) + rows_of(os.path.join(results, "bench-launch", "bench.csv"))
by_name = {(r["kernel"], r["shape"]): r for r in rows}
try:
    print(open(os.path.join(results, "libraries.txt")).read().strip())
except Exception:
    pass
for log, what in (("plan-fp32.log", "fp32, step 1"), ("plan-tf32.log", "tf32, step 1"), ("plan-tf32-step1876.log", "tf32, step 1876")):
    print(f"launch plan ({what}): {last_line(log)}")
ptx = sorted(glob.glob(os.path.join(results, "ptx", "*.ptx")))
if ptx:
    tensor = os.path.join(results, "ptx", "GemmTf32_128x128.ptx")
    mma = open(tensor).read().count("mma.sync") if os.path.exists(tensor) else 0
    print(f"ptx: {len(ptx)} kernels' sm_90 PTX in ptx/ (GemmTf32_128x128.ptx: {mma} mma.sync)")
for r in rows:
    if r["kernel"] == "launch_overhead":
        print(f"launch overhead: {float(r['median_ms']) * 1000:.1f} us per kernel launch through ILGPU")
def figures(r, precision, unit="GFLOP/s"):
    if r is None:
        return f"{precision} n/a"
    return f"{precision} {r['gflops']} {unit} (ratio to {YARDSTICK[precision]} {r['yardstick_ratio'] or 'n/a'})"
squares = ("4096x4096x4096", "1024x1024x1024", "512x512x512", "256x256x256", "128x128x128")
shapes = []
for r in rows:
    if r["kernel"] in ("gemm", "gemm_tf32") and r["shape"] not in shapes:
        shapes.append(r["shape"])
for shape in squares:
    if shape in shapes:
        print(f"gemm {shape}: " + "; ".join(figures(by_name.get((named("gemm", p), shape)), p) for p in PRECISIONS))
for p in PRECISIONS:
    ratios = sorted((float(r["yardstick_ratio"]), r["shape"]) for r in rows
                    if r["kernel"] == named("gemm", p) and r["shape"] not in squares and r["yardstick_ratio"])
    if ratios:
        mid = ratios[len(ratios) // 2]
        print(f"gemm {p} at the {len(ratios)} model-step shapes: ratio to {YARDSTICK[p]} min {ratios[0][0]:.2f} ({ratios[0][1]}), "
              f"median {mid[0]:.2f} ({mid[1]}), max {ratios[-1][0]:.2f} ({ratios[-1][1]})")
for shape in dict.fromkeys(r["shape"] for r in rows if r["kernel"].startswith("conv_forward")):
    print(f"conv_forward {shape}: " + "; ".join(figures(by_name.get((named("conv_forward", p), shape)), p) for p in PRECISIONS))
torch = {p: load(os.path.join(results, f"torch-{p}.json")) or {} for p in PRECISIONS}
for model, batch in (("mlp", 200), ("mlp-deep", 400), ("vgg", 32), ("vgg-w0.125", 32)):
    parts = []
    for p in PRECISIONS:
        r = next((r for r in rows if r["kernel"] == named("step_" + model, p)), None)
        ours = batch / (float(r["median_ms"]) / 1e3) if r else None
        part = f"{p}: GpuNet {ours:.0f} images/s" if ours else f"{p}: GpuNet n/a"
        if r and r.get("launches_per_step"):
            part += f" ({r['launches_per_step']} launches, {r['host_waits_per_step']} host waits per step)"
        theirs = torch[p].get(model)
        if theirs:
            part += f", PyTorch {theirs:.0f} images/s" + (f" (ratio {ours / theirs:.2f})" if ours else "")
        parts.append(part)
    print(f"{model}: " + "; ".join(parts))
for run in ("vgg", "mlp-deep"):
    for p in PRECISIONS:
        s = load(os.path.join(results, f"{run}-{p}", "summary.json"))
        if s:
            print(f"train {run} {p}: final_test_accuracy {s['final_test_accuracy']:.4f}, best {s['best_test_accuracy']:.4f}, "
                  f"{s['train_images_per_second']:.0f} training images/s, {s['wall_seconds']:.1f} s wall, "
                  f"{s.get('launches_per_step', 'n/a')} launches and {s.get('host_waits_per_step', 'n/a')} host waits per step")
            continue
        metrics = rows_of(os.path.join(results, f"{run}-{p}", "metrics.csv"))
        if metrics:
            last = metrics[-1]
            print(f"train {run} {p}: stopped at its time limit after step {last['step']}: test accuracy {float(last['test_accuracy']):.4f} "
                  f"after {float(last['elapsed_seconds']):.1f} s")
        else:
            print(f"train {run} {p}: n/a")
PY
echo "== summary ($results/summary.txt)"
cat "$results/summary.txt"
echo "check.sh: $failures step(s) failed"
[ "$failures" -eq 0 ]
