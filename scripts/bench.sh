#!/usr/bin/env bash
# SPEC §8 benchmark: the release binary against an in-process loopback server.
# Arguments go to benches/fleet.rs, e.g. `scripts/bench.sh --monitors 10000`;
# `scripts/bench.sh --pages` measures `vaktpost pages` (benches/pages.rs) instead.
# (see `scripts/bench.sh --help`). Exit code 0 when every case is within budget.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
# `--pages`: the status-site budget (benches/pages.rs) instead of the fleet run.
if [ "${1:-}" = "--pages" ]; then
  shift
  exec cargo bench --bench pages -- "$@"
fi
exec cargo bench --bench fleet -- "$@"
