#!/usr/bin/env bash
# Rewrite the README's action input/output tables from action.yml (or, with --check,
# fail when they disagree). Runs scripts/action-docs.py in .venv-lint (ruamel.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-lint/bin/python ] || ! .venv-lint/bin/python -c 'import ruamel.yaml' 2>/dev/null; then
  bash scripts/lint-workflows.sh --install
fi
exec .venv-lint/bin/python scripts/action-docs.py "$@"
