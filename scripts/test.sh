#!/usr/bin/env bash
# The whole test suite, in one command. Every server the tests talk to is started by
# the tests themselves (in-process HTTP/TLS servers on loopback); services that need a
# package (redis-server, dnsmasq, Chroma, an SMTP server) are installed here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# Email tests (tests/suite/alerts_email.rs) run a real SMTP server: aiosmtpd from PyPI.
if ! python3 -c "import aiosmtpd" 2>/dev/null; then
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet aiosmtpd \
    || PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --break-system-packages aiosmtpd
fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
# Redis tests (tests/suite/redis.rs) start real redis-server processes on free ports.
if [ -z "${VAKTPOST_REDIS_SERVER:-}" ]; then
  if ! command -v redis-server >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  fi
  VAKTPOST_REDIS_SERVER="$(command -v redis-server)"
  export VAKTPOST_REDIS_SERVER
fi
# DNS tests (tests/suite/dns.rs) start real dnsmasq processes on free ports.
if [ -z "${VAKTPOST_DNSMASQ:-}" ]; then
  if ! command -v dnsmasq >/dev/null 2>&1 && [ ! -x /usr/sbin/dnsmasq ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dnsmasq >/dev/null
  fi
  VAKTPOST_DNSMASQ="$(command -v dnsmasq || echo /usr/sbin/dnsmasq)"
  export VAKTPOST_DNSMASQ
fi
# Status-site browser tests (tests/suite/pages.rs) load the generated site in headless
# Chromium (Debian's `chromium` package).
if [ -z "${VAKTPOST_CHROMIUM:-}" ]; then
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  VAKTPOST_CHROMIUM="$(command -v chromium || command -v chromium-browser)"
  export VAKTPOST_CHROMIUM
fi
# Chroma tests (tests/suite/chroma.rs) run one real Chroma server from a venv. The venv
# lives outside the clone (it is ~600 MB: chromadb, onnxruntime, numpy, grpcio) so a clean
# clone reuses it, and it is named for and checked against its pin: the /api/v2 routes the
# tests use stay put, and a venv left by another pin or a broken install is rebuilt.
CHROMA_PIN="1.5.9"
if [ -z "${VAKTPOST_CHROMA:-}" ]; then
  VENV="${VAKTPOST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vaktpost}/venv-chroma-$CHROMA_PIN"
  installed="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("chromadb"))' 2>/dev/null || true)"
  if [ "$installed" != "$CHROMA_PIN" ] || [ ! -x "$VENV/bin/chroma" ]; then
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    if ! python3 -m venv "$VENV"; then
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$VENV"
      python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "chromadb==$CHROMA_PIN"
  fi
  VAKTPOST_CHROMA="$VENV/bin/chroma"
  export VAKTPOST_CHROMA
fi
exec cargo test --locked --no-fail-fast "$@"
