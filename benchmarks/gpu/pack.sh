#!/usr/bin/env bash
# Publishes the CLI (gpunet), the test suite (GpuNet.Tests, an xunit.v3 executable) and the benchmarks
# (GpuNet.Benchmarks) self-contained for linux-x64 into one folder, so the three share one copy of the .NET runtime,
# and packs that folder with check.sh and torch_reference.py as .gpu/gpunet-linux-x64.tar.xz (git-ignored).
# Not trimmed: trimming breaks ILGPU's reflection-based kernel compiler.
set -euo pipefail
cd "$(dirname "$0")/../.."
limit_mib=60
out=.gpu/gpunet
archive=.gpu/gpunet-linux-x64.tar.xz
rm -rf "$out" "$archive"
mkdir -p "$out"
for project in src/Cli tests benchmarks; do
  echo "== publishing $project"
  # No symbols or XML docs (size); invariant globalization, so no ICU is needed on the GPU machine.
  dotnet publish "$project" -c Release -r linux-x64 --self-contained -p:PublishTrimmed=false -p:DebugType=none \
    -p:GenerateDocumentationFile=false -p:InvariantGlobalization=true -o "$out" -v quiet -nologo | tail -2
done
cp benchmarks/gpu/check.sh benchmarks/gpu/torch_reference.py "$out"/
# ONNX Runtime only checks ONNX export in the tests, which CI runs; its native libraries (the Windows one comes along
# in a linux-x64 publish too) would push the archive past the limit, so the GPU check goes without them and its test
# run reports those tests as skipped (check.sh sets GPUNET_ALLOW_NO_ONNXRUNTIME=1).
rm -f "$out"/onnxruntime.dll "$out"/onnxruntime_providers_shared.dll "$out"/libonnxruntime*.so
# xz packs the raw IDX files tighter than their gzip copies do; the readers take either.
gunzip -f "$out"/data/fashion-mnist/*.gz
echo "== packing $archive"
XZ_OPT="-9 -T0" tar -cJf "$archive" -C .gpu gpunet
bytes=$(stat -c %s "$archive")
echo "$archive: $((bytes / 1024 / 1024)) MiB ($(du -sh "$out" | cut -f1) unpacked)"
if [ "$bytes" -gt $((limit_mib * 1024 * 1024)) ]; then
  echo "pack.sh: the archive is over ${limit_mib} MiB" >&2
  exit 1
fi
