#!/usr/bin/env bash
# Runs the performance benchmarks (docs/BENCHMARKS.md) the way the README shows, on a fresh machine: installs Azurite
# (pinned in tests/emulators), builds tests/Benchmarks and the GCS emulator in Release, and runs the benchmarks, which
# start Azurite, moto and the GCS emulator themselves on free 127.0.0.1 ports. Arguments go to the benchmark program:
#   bash scripts/bench.sh --quick                      # under 10 minutes on 2 cores
#   bash scripts/bench.sh --quick --json bench.json    # also writes [{name, ours, baseline, unit, ratio, goal, ...}]
#   bash scripts/bench.sh --only 1 2 --stores local    # some goals, some stores
#   bash scripts/bench.sh --torch [--quick] [--only 9]  # the TorchSharp goals 9-10 (tests/TorchSharp.Benchmarks, LibTorch)
# Not part of the test command: the figures are ratios measured side by side, never asserted by a test.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f tests/emulators/package.json ]; then
  (cd tests/emulators && npm ci --no-audit --no-fund --loglevel=error)
fi
if ! command -v moto_server >/dev/null 2>&1; then
  echo "warning: moto_server is not on PATH; install it with 'pip install \"moto[server]\"' or the S3 benchmarks will fail." >&2
fi

if [ "${1:-}" = "--torch" ]; then
  # The TorchSharp goals live in their own project, so that LibTorch (about 480 MB of build output) stays out of the
  # main benchmarks; they need no emulator.
  shift
  dotnet build tests/TorchSharp.Benchmarks/InputPipeline.Checkpointing.TorchSharp.Benchmarks.csproj -c Release -nologo -v minimal
  exec dotnet tests/TorchSharp.Benchmarks/bin/Release/net10.0/InputPipeline.Checkpointing.TorchSharp.Benchmarks.dll "$@"
fi

dotnet build tests/Benchmarks/InputPipeline.Checkpointing.Benchmarks.csproj -c Release -nologo -v minimal
exec dotnet tests/Benchmarks/bin/Release/net10.0/InputPipeline.Checkpointing.Benchmarks.dll "$@"
