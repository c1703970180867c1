#!/usr/bin/env bash
# The whole test suite, in one command. Every server the tests talk to is started by
# the tests themselves (in-process HTTP/TLS servers on loopback); services that need a
# package (redis-server, Chroma, an SMTP server) are installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --locked --no-fail-fast "$@"
