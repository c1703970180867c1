#!/usr/bin/env bash
# The whole test suite, in one command. Every server the tests talk to is started by
# the tests themselves (in-process HTTP/TLS servers on loopback); services that need a
# package (redis-server, dnsmasq, Prometheus and its Pushgateway, Chroma, an SMTP server) are installed here when missing.
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
# Metrics tests (tests/suite/metrics.rs) start a real Pushgateway and Prometheus (with its
# remote-write receiver) on free ports, and run promtool on the text file.
if [ -z "${VAKTPOST_PROMETHEUS:-}" ] || [ -z "${VAKTPOST_PUSHGATEWAY:-}" ] || [ -z "${VAKTPOST_PROMTOOL:-}" ]; then
  if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq prometheus >/dev/null
  fi
  if ! command -v prometheus-pushgateway >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq prometheus-pushgateway >/dev/null
  fi
  VAKTPOST_PROMETHEUS="${VAKTPOST_PROMETHEUS:-$(command -v prometheus)}"
  VAKTPOST_PUSHGATEWAY="${VAKTPOST_PUSHGATEWAY:-$(command -v prometheus-pushgateway)}"
  VAKTPOST_PROMTOOL="${VAKTPOST_PROMTOOL:-$(command -v promtool)}"
  export VAKTPOST_PROMETHEUS VAKTPOST_PUSHGATEWAY VAKTPOST_PROMTOOL
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
# The job summary rendered as GitHub renders it (tests/suite/golden.rs): headless Chromium
# with a colour emoji font, and Mermaid from npm, pinned, kept outside the clone.
if [ -z "${VAKTPOST_CHROMIUM:-}" ]; then
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  fi
  VAKTPOST_CHROMIUM="$(command -v chromium || command -v chromium-browser)"
  export VAKTPOST_CHROMIUM
fi
if ! fc-list 2>/dev/null | grep -qi "color emoji"; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-noto-color-emoji >/dev/null
fi
MERMAID_PIN="11.12.0"  # tests/suite/golden.rs MERMAID_PIN
if [ -z "${VAKTPOST_MERMAID:-}" ]; then
  MDIR="${VAKTPOST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vaktpost}/mermaid-$MERMAID_PIN"
  VAKTPOST_MERMAID="$MDIR/node_modules/mermaid/dist/mermaid.min.js"
  installed="$(node -p "require('$MDIR/node_modules/mermaid/package.json').version" 2>/dev/null || true)"
  if [ "$installed" != "$MERMAID_PIN" ] || [ ! -f "$VAKTPOST_MERMAID" ]; then
    if ! command -v npm >/dev/null 2>&1; then
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
    fi
    rm -rf "$MDIR"
    mkdir -p "$MDIR"
    npm install --prefix "$MDIR" --silent --no-audit --no-fund "mermaid@$MERMAID_PIN" >/dev/null
  fi
  export VAKTPOST_MERMAID
fi
exec cargo test --locked --no-fail-fast "$@"
