#!/usr/bin/env bash
# Runs the whole test suite the way CI does, on a fresh machine: restores, builds once in Release, runs every test
# project, and prints one summary line "tests: N passed, N failed, N skipped". Exits non-zero when anything fails or
# when any test was skipped (emulator-backed tests must run, never skip).
set -euo pipefail
cd "$(dirname "$0")/.."

configuration=${CONFIGURATION:-Release}
results_dir=${TEST_RESULTS_DIR:-$(mktemp -d)}
log="$results_dir/test-output.log"

echo "== emulators"
# Azurite (Azure Blob) comes from npm, pinned with its lock file; the tests start it themselves on free ports.
if [ -f tests/emulators/package.json ]; then
  (cd tests/emulators && npm ci --no-audit --no-fund --loglevel=error)
fi
# moto_server (S3) is Python's moto, preinstalled on this machine image; the S3 tests fail with a message if it is missing.
if ! command -v moto_server >/dev/null 2>&1; then
  echo "warning: moto_server is not on PATH; install it with 'pip install \"moto[server]\"' or the S3 tests will fail." >&2
fi
# The GCS emulator is this repository's tests/GcsEmulator, built with the solution and started in-process.

echo "== restore and build ($configuration)"
dotnet build Sdk.sln -c "$configuration" -warnaserror -nologo -v minimal

echo "== package: dotnet pack, then the ckpt tool installed from its nupkg and run on a chain"
# A packaging break (a missing dependency, a tool that does not start) fails here, as it would for a user.
pack_dir="$results_dir/packages"
version=$(dotnet msbuild src/Cli -getProperty:Version -p:Configuration="$configuration")
dotnet pack Sdk.sln -c "$configuration" --no-build -nologo -v quiet -o "$pack_dir"
for package in Abstractions AzureBlob Cli Gcs HealthChecks Local Pipeline Preemption S3 Testing TorchSharp; do
  test -f "$pack_dir/InputPipeline.Checkpointing.$package.$version.nupkg" || { echo "FAILED: no package InputPipeline.Checkpointing.$package $version" >&2; exit 1; }
done
test -f "$pack_dir/InputPipeline.Checkpointing.$version.nupkg" && test -f "$pack_dir/InputPipeline.Checkpointing.$version.snupkg"
NUGET_PACKAGES="$results_dir/nuget-cache" dotnet tool install InputPipeline.Checkpointing.Cli --version "$version" \
  --tool-path "$results_dir/tool" --add-source "$pack_dir" >/dev/null
dotnet "samples/SpotTraining/bin/$configuration/net10.0/SpotTraining.dll" --Training:Steps=30 --Training:StepDelayMs=0 \
  --Training:DataDir="$results_dir/chain-data" --InputPipelineCheckpointing:Local:Path="$results_dir/chain" \
  --Progress:Mode=Off >/dev/null 2>&1
"$results_dir/tool/ckpt" list "$results_dir/chain" | tee "$results_dir/ckpt-list.txt"
grep -Eq "^ +30 .*latest$" "$results_dir/ckpt-list.txt" || { echo "FAILED: the installed ckpt did not list step 30 of the chain" >&2; exit 1; }
"$results_dir/tool/ckpt" verify "$results_dir/chain" --all

echo "== test"
start=$(date +%s)
set +e
dotnet test Sdk.sln -c "$configuration" --no-build -nologo \
  --logger "console;verbosity=minimal" \
  --results-directory "$results_dir" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))

# Sum the per-project summaries ("Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, Duration: ...").
read -r passed failed skipped < <(python3 - "$log" <<'PY'
import re, sys
p = f = s = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.search(r"Failed:\s*(\d+),\s*Passed:\s*(\d+),\s*Skipped:\s*(\d+)", line)
    if m:
        f += int(m.group(1)); p += int(m.group(2)); s += int(m.group(3))
print(p, f, s)
PY
)
echo "== test run took ${elapsed}s"
echo "tests: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
  echo "FAILED: see the output above." >&2
  exit 1
fi
if [ "$skipped" -ne 0 ]; then
  echo "FAILED: ${skipped} tests were skipped; every test must run." >&2
  exit 1
fi
if [ "$passed" -eq 0 ]; then
  echo "FAILED: no test ran." >&2
  exit 1
fi
