#!/usr/bin/env bash
# Quick start: install vaktpost from this checkout and run it once against a local demo
# target (config/demo-site, served on 127.0.0.1:8787), offline. The run finds one
# problem on purpose (memory_status reports 93% > 90%), so you see a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo install --locked --quiet --path .
BIN="$(command -v vaktpost || echo "${CARGO_HOME:-$HOME/.cargo}/bin/vaktpost")"
python3 -m http.server 8787 --bind 127.0.0.1 --directory config/demo-site >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/8787) 2>/dev/null && break; sleep 0.1; done
"$BIN" run -c config/quickstart.yml --summary vaktpost-summary.md --fail-on high "$@"
