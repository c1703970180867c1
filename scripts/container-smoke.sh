#!/usr/bin/env bash
# Container smoke test: build the image (scripts/build-image.sh) and run it the way the
# GitHub runner runs a Docker action — workspace and file-command dirs mounted at
# /github/..., GITHUB_* variables, every input of action.yml present as INPUT_* (""
# when not given), host network — against a local HTTP target, then check the report,
# the job summary, the step outputs and the exit codes.
#
# Engine: VAKTPOST_ENGINE=podman (default; vfs storage, runc, no systemd) or docker.
# VAKTPOST_SMOKE_IMAGE=TAG skips the build and tests that image.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE="${VAKTPOST_ENGINE:-podman}"
TAG="${VAKTPOST_SMOKE_IMAGE:-}"

if [ -z "$TAG" ]; then
  TAG=localhost/vaktpost:smoke
  bash scripts/build-image.sh "$TAG"
fi
case "$ENGINE" in
  podman)
    RUN=(podman --storage-driver=vfs --runtime runc --cgroup-manager=cgroupfs run --rm
      --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024) ;;
  docker) RUN=(docker run --rm --network host) ;;
  *) echo "container-smoke: VAKTPOST_ENGINE must be podman or docker" >&2; exit 2 ;;
esac

TMP="$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/vaktpost-smoke.XXXXXX")"
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  if [ -n "${VAKTPOST_SMOKE_KEEP:-}" ]; then echo "container-smoke: kept $TMP"; else rm -rf "$TMP" 2>/dev/null || true; fi
}
trap cleanup EXIT

# The target: /health answers 200 with JSON, /memory reports 93% (over the seed's 90%
# high_memory rule: one medium finding, on purpose).
mkdir -p "$TMP/site" "$TMP/workspace" "$TMP/file_commands"
printf '{"status": "ok", "version": "1.4.2"}\n' >"$TMP/site/health"
printf '{"percent": 93}\n' >"$TMP/site/memory"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$TMP/site" >"$TMP/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

# `localhost`, not 127.0.0.1: the name must resolve inside the scratch image (hickory
# reads the /etc/hosts the container runtime provides).
cat >"$TMP/workspace/vaktpost.yml" <<EOF
defaults:
  timeout: 5s
monitors:
  - name: api_health
    type: http
    url: http://localhost:$PORT/health
    expected_status: 200
    json: {/status: ok}
  - name: memory_status
    type: http
    url: http://localhost:$PORT/memory
    extract: {percent: /percent}
# high_memory waits for a second run over the line by default (for: 2); each step below
# checks the outputs of one run.
rules:
  - name: high_memory
    for: 1
EOF

# Every input action.yml declares, as GitHub sets it: INPUT_<NAME> = "" unless given.
mapfile -t INPUTS < <(awk '/^inputs:/ {on=1; next} /^[^ #]/ {on=0}
  on && /^  [A-Za-z_][A-Za-z0-9_-]*:/ {sub(/^  /, ""); sub(/:.*/, ""); print toupper($0)}' action.yml)
if [ "${#INPUTS[@]}" -lt 10 ]; then
  echo "container-smoke: FAIL: could not read the inputs of action.yml" >&2
  exit 1
fi

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "container-smoke: PASS $*"; }
bad() { fail=$((fail + 1)); echo "container-smoke: FAIL $*"; }

# run_action NAME=VALUE... : one step of the action (the subcommand is $CMD, default
# `run` as in action.yml, then the words of $MERGE_ARGS); sets $code, output in $TMP/out.
run_action() {
  local args=() given=" " kv
  for kv in "$@"; do given+="${kv%%=*} "; args+=(-e "INPUT_$kv"); done
  for kv in "${INPUTS[@]}"; do
    [[ "$given" == *" $kv "* ]] || args+=(-e "INPUT_$kv=")
  done
  rm -f "$TMP/file_commands/"*
  : >"$TMP/file_commands/set_output"
  : >"$TMP/file_commands/step_summary"
  set +e
  # shellcheck disable=SC2086 # MERGE_ARGS is split into words on purpose
  "${RUN[@]}" \
    -v "$TMP/workspace:/github/workspace" -w /github/workspace \
    -v "$TMP/file_commands:/github/file_commands" \
    -e GITHUB_ACTIONS=true -e CI=true -e HOME=/github/home \
    -e GITHUB_WORKSPACE=/github/workspace \
    -e GITHUB_STEP_SUMMARY=/github/file_commands/step_summary \
    -e GITHUB_OUTPUT=/github/file_commands/set_output \
    -e GITHUB_REPOSITORY=acme/shop -e GITHUB_RUN_ID=1 -e GITHUB_SERVER_URL=https://github.com \
    -e GITHUB_API_URL=http://127.0.0.1:9 \
    -e SLACK_WEBHOOK_URL= -e EXPECT_VERSION=0123abc \
    "${args[@]}" "$TAG" "${CMD:-run}" ${MERGE_ARGS:-} >"$TMP/out" 2>&1
  code=$?
  set -e
}

# Gate at high; the only finding is medium.
run_action FAIL_ON=high CONFIG=vaktpost.yml SUMMARY=vaktpost-summary.md
if [ "$code" -eq 0 ]; then ok "exit 0 with fail_on=high (only a medium finding)"; else
  bad "exit $code with fail_on=high, want 0"; sed 's/^/  | /' "$TMP/out"; fi
report="$TMP/workspace/vaktpost-report.json"
if [ -f "$report" ] && python3 - "$report" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
c = r["counts"]
assert c["up"] == 2, c
assert [f["rule"] for f in r["findings"]] == ["high_memory"], r["findings"]
PY
  ok "report in the workspace: counts.up = 2, one high_memory finding"
else bad "report $report missing or wrong"; fi
summary="$TMP/file_commands/step_summary"
if grep -q '^## .*vaktpost' "$summary" && grep -q '^|.*| Monitor |' "$summary" \
  && grep -q '^| .* memory_status |' "$summary"; then
  ok "job summary has the headline and the monitors table"
else bad "job summary lacks the headline or the monitors table"; sed 's/^/  | /' "$summary"; fi
outputs="$TMP/file_commands/set_output"
missing=""
for k in status findings high medium low report-path summary-path; do
  grep -q "^$k<<" "$outputs" || missing+=" $k"
done
if [ -z "$missing" ] && awk '/^medium<</ {getline; exit !($0 == "1")}' "$outputs"; then
  ok "step outputs: status, findings, high, medium (= 1), low, report-path, summary-path"
else bad "step outputs missing:${missing:- none} (or medium != 1)"; sed 's/^/  | /' "$outputs"; fi
if grep -q '^::warning' "$TMP/out"; then ok "annotation ::warning for the medium finding"; else
  bad "no ::warning annotation"; fi
if [ -f "$report" ] && python3 - "$report" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["checks"]:
    assert c["status"] == "up" and "dns_ms" in c["metrics"], c
PY
  ok "localhost resolved inside the scratch container (both checks up, dns_ms measured)"
else bad "a check of http://localhost:$PORT failed inside the container"; sed 's/^/  | /' "$TMP/out"; fi
if [ -f "$TMP/workspace/.vaktpost/state.json" ]; then ok "state saved in the workspace (.vaktpost)"; else
  bad "no state in $TMP/workspace/.vaktpost"; fi

# Later steps (upload-artifact, cache/save) run on the host as the runner user, not the
# container's root: every file vaktpost wrote must be readable by others, and the output
# paths must be workspace-relative, not /github/... container paths.
unreadable="$(cd "$TMP/workspace" && find . -type f ! -perm -o=r | tr '\n' ' ')"
if [ -z "$unreadable" ]; then ok "every file written in the workspace is readable by later steps"; else
  bad "files later steps cannot read: $unreadable"; fi
rp="$(awk '/^report-path<</ {getline; print; exit}' "$outputs")"
sp="$(awk '/^summary-path<</ {getline; print; exit}' "$outputs")"
if [ "$rp" = vaktpost-report.json ] && [ "$sp" = vaktpost-summary.md ] && [ -f "$TMP/workspace/$sp" ]; then
  ok "outputs report-path = $rp, summary-path = $sp (workspace-relative)"
else bad "outputs report-path = '$rp', summary-path = '$sp'; want vaktpost-report.json, vaktpost-summary.md"; fi

# Gate at medium trips; dry_run=false is the boolean input spelled out.
run_action FAIL_ON=medium CONFIG=vaktpost.yml DRY_RUN=false
if [ "$code" -eq 1 ]; then ok "exit 1 with fail_on=medium"; else
  bad "exit $code with fail_on=medium, want 1"; sed 's/^/  | /' "$TMP/out"; fi
if python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["run"]["dry_run"] is not False)' "$report"; then
  ok "dry_run=false is read as false"; else bad "dry_run=false was read as true"; fi
run_action FAIL_ON=never CONFIG=vaktpost.yml DRY_RUN=true
if [ "$code" -eq 0 ] && python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["run"]["dry_run"] is not True)' "$report"; then
  ok "dry_run=true and fail_on=never: exit 0, report marked dry run"; else
  bad "dry_run=true / fail_on=never: exit $code"; sed 's/^/  | /' "$TMP/out"; fi

# The gate input: healthy targets pass at once, long before the wait runs out.
start=$SECONDS
run_action FAIL_ON=high CONFIG=vaktpost.yml WAIT=30s
if [ "$code" -eq 0 ] && [ $((SECONDS - start)) -lt 20 ]; then ok "wait=30s with healthy targets: exit 0 at once"; else
  bad "wait=30s: exit $code after $((SECONDS - start))s"; sed 's/^/  | /' "$TMP/out"; fi

# A bad config is a usage error (2), not a finding.
printf 'monitors:\n  - name: x\n    type: htp\n' >"$TMP/workspace/broken.yml"
run_action CONFIG=broken.yml
if [ "$code" -eq 2 ]; then ok "exit 2 for an invalid config"; else
  bad "exit $code for an invalid config, want 2"; sed 's/^/  | /' "$TMP/out"; fi

# The sharded example's flow: two shards write their reports, then `merge` (the image
# run directly with arguments, as examples/sharded-monitor.yml does) combines them.
run_action CONFIG=vaktpost.yml SHARD=1/2 FAIL_ON=never REPORT=shard-0.json
c1=$code
run_action CONFIG=vaktpost.yml SHARD=2/2 FAIL_ON=never REPORT=shard-1.json
c2=$code
CMD=merge MERGE_ARGS="--fail-on medium shard-0.json shard-1.json" run_action CONFIG=vaktpost.yml
if [ "$c1$c2" = 00 ] && [ "$code" -eq 1 ] && python3 - "$report" <<'PY'; then
import json, sys
r = json.load(open(sys.argv[1]))
assert r["counts"]["monitors"] == 2 and r["counts"]["medium"] == 1, r["counts"]
PY
  ok "shards 1/2 and 2/2, then merge: one report of 2 monitors, the gate trips on the medium finding"
else bad "shards exit $c1 $c2, merge exit $code"; sed 's/^/  | /' "$TMP/out"; fi

# The example configs (examples/*.vaktpost.yml) are valid, checked by the image.
for f in examples/*.vaktpost.yml; do
  cp "$f" "$TMP/workspace/"
  CMD=validate run_action CONFIG="$(basename "$f")"
  if [ "$code" -eq 0 ]; then ok "$f is valid"; else bad "$f: validate exit $code"; sed 's/^/  | /' "$TMP/out"; fi
done

echo "container-smoke: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then echo "container-smoke: FAIL"; exit 1; fi
echo "container-smoke: PASS"
