#!/usr/bin/env bash
# The whole test suite, in one command. Every server the tests talk to is started by
# the tests themselves (in-process HTTP/TLS servers on loopback); services that need a
# package (redis-server, Chroma, an SMTP server) are installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# Email tests (tests/alerts_email.rs) run a real SMTP server: aiosmtpd from PyPI.
if ! python3 -c "import aiosmtpd" 2>/dev/null; then
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet aiosmtpd \
    || PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --break-system-packages aiosmtpd
fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
# Redis tests (tests/redis.rs) start real redis-server processes on free ports.
if [ -z "${VAKTPOST_REDIS_SERVER:-}" ]; then
  if ! command -v redis-server >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  fi
  VAKTPOST_REDIS_SERVER="$(command -v redis-server)"
  export VAKTPOST_REDIS_SERVER
fi
# Chroma tests (tests/chroma.rs) run one real Chroma server from a venv in the repo
# (.venv-chroma, gitignored). Pinned so the /api/v2 routes the tests use stay put.
if [ -z "${VAKTPOST_CHROMA:-}" ]; then
  if [ ! -x .venv-chroma/bin/chroma ]; then
    rm -rf .venv-chroma
    if ! python3 -m venv .venv-chroma; then
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv-chroma
      python3 -m venv .venv-chroma
    fi
    .venv-chroma/bin/pip install --quiet --disable-pip-version-check "chromadb==1.5.9"
  fi
  VAKTPOST_CHROMA="$PWD/.venv-chroma/bin/chroma"
  export VAKTPOST_CHROMA
fi
exec cargo test --locked --no-fail-fast "$@"
