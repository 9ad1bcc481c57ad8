#!/usr/bin/env bash
# Brings every package's PublicAPI.Unshipped.txt in line with its public surface, for review: new public APIs are
# added (RS0016), removed ones are dropped (RS0017). Sources are not touched. Run it after changing a public API and
# commit the diff of the PublicAPI files with the change; at a release, move Unshipped's lines into PublicAPI.Shipped.txt.
#   bash scripts/update-public-api.sh                 # every package under src/
#   bash scripts/update-public-api.sh src/Hook        # one package
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t projects < <(if [ $# -gt 0 ]; then for d in "$@"; do ls "$d"/*.csproj; done; else find src -name '*.csproj' | sort; fi)
for project in "${projects[@]}"; do
  dir=$(dirname "$project")
  for file in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
    [ -f "$dir/$file" ] || printf '#nullable enable\n' > "$dir/$file"
  done
  echo "== $project"
  dotnet format analyzers "$project" --diagnostics RS0016 RS0017 --severity warn -v quiet
  # Keep the files sorted, so a change shows as the lines it adds or removes.
  f="$dir/PublicAPI.Unshipped.txt"
  { head -n 1 "$f"; tail -n +2 "$f" | LC_ALL=C sort -u; } > "$f.tmp" && mv "$f.tmp" "$f"
done
