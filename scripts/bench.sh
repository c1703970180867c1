#!/usr/bin/env bash
# SPEC §8 benchmark: the release binary against an in-process loopback server.
# Arguments go to benches/fleet.rs, e.g. `scripts/bench.sh --monitors 10000`
# (see `scripts/bench.sh --help`). Exit code 0 when every case is within budget.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
exec cargo bench --bench fleet -- "$@"
