#!/usr/bin/env bash
# Lint what GitHub reads: every workflow (.github/workflows/, examples/) and action.yml
# against GitHub's schemas (check-jsonschema), zizmor's security audits (offline), the
# README's action tables against action.yml, and action.yml's image tag against the
# crate version. The tools come from PyPI, pinned, into .venv-lint (gitignored).
#
#   scripts/lint-workflows.sh            lint
#   scripts/lint-workflows.sh --install  only set up .venv-lint
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-lint
PINS="check-jsonschema==0.39.0 zizmor==1.32.0"

if [ ! -x "$VENV/bin/zizmor" ] || [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PINS" ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV"; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
  # shellcheck disable=SC2086 # PINS is a list of requirements
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $PINS
  echo "$PINS" >"$VENV/.pins"
fi
[ "${1:-}" = "--install" ] && exit 0

workflows=(.github/workflows/*.yml)
for f in examples/*.yml; do
  case "$f" in *.vaktpost.yml) ;; *) workflows+=("$f") ;; esac
done
# `vaktpost init` writes this workflow into users' repositories: schema-checked too (it
# uses actions by tag, so zizmor's hash-pin policy is not applied to it).
schema_only=()
[ -f config/init/workflow.yml ] && schema_only+=(config/init/workflow.yml)

echo "lint-workflows: schema: ${workflows[*]} ${schema_only[*]}"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}" "${schema_only[@]}"
echo "lint-workflows: schema: action.yml"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml

echo "lint-workflows: zizmor --offline"
"$VENV/bin/zizmor" --offline --no-progress --config .github/zizmor.yml action.yml "${workflows[@]}"

echo "lint-workflows: README action tables"
"$VENV/bin/python" scripts/action-docs.py --check

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
if ! grep -qxF "  image: docker://ghcr.io/vaktpost/vaktpost:v$version" action.yml; then
  echo "lint-workflows: FAIL: action.yml runs.image must be docker://ghcr.io/vaktpost/vaktpost:v$version (Cargo.toml version)" >&2
  exit 1
fi
echo "lint-workflows: action.yml image tag v$version = Cargo.toml version"
echo "lint-workflows: PASS"
