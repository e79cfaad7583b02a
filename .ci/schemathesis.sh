#!/usr/bin/env bash
# Property-based tests of the HTTP API against its own OpenAPI document:
# starts `orbflow dev` on a fresh SQLite database on 127.0.0.1, seeds a
# published workflow and a run, and runs schemathesis for a bounded number of
# examples. Any server error (5xx) or response that violates the document
# fails the run. DELETE /v1/tokens/{id} is left out: schemathesis learns ids
# from responses and would revoke the very token it tests with (revocation
# has its own tests in crates/api/tests/security.rs).
#   usage: .ci/schemathesis.sh PATH/TO/orbflow [MAX_EXAMPLES]
set -euo pipefail
bin=${1:?path to the orbflow binary}
examples=${2:-25}
venv=${ORBFLOW_VENV:-/var/tmp/orbflow-venv}
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis>=4,<5"
fi
work=$(mktemp -d)
port=$(( 20000 + RANDOM % 20000 ))
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ORBFLOW_API_RATE_PER_MINUTE=1000000 ORBFLOW_API_RATE_BURST=1000000 \
  ORBFLOW_API_WEBHOOK_RATE_PER_MINUTE=1000000 ORBFLOW_API_WEBHOOK_RATE_BURST=1000000 \
  ORBFLOW_API_AUTH_FAILURE_RATE_PER_MINUTE=1000000 ORBFLOW_API_AUTH_FAILURE_RATE_BURST=1000000 \
  "$bin" dev --db "$work/o.db" --listen "127.0.0.1:$port" 2> "$work/dev.err" &
pid=$!
for _ in $(seq 1 100); do
  grep -q 'development token' "$work/dev.err" 2>/dev/null && break
  sleep 0.1
done
token=$(grep -o 'orb_[A-Za-z0-9_-]*' "$work/dev.err" | head -1)
[ -n "$token" ] || { cat "$work/dev.err" >&2; echo "orbflow dev did not start" >&2; exit 1; }
export ORBFLOW_API_URL="http://127.0.0.1:$port" ORBFLOW_TOKEN="$token"
cat > "$work/hello.yaml" <<'YAML'
schemaVersion: 1
name: hello
inputs:
  type: object
  properties: { name: { type: string } }
triggers:
  - type: manual
  - { type: schedule, cron: "0 0 1 1 *" }
  - { type: webhook, key: in, verify: { scheme: none } }
  - { type: event, event: test.event }
steps:
  - key: greet
    action: TRANSFORM
    config: { value: "Hello, {{ input.name }}!" }
YAML
"$bin" workflows push "$work/hello.yaml" >/dev/null
"$bin" workflows publish hello >/dev/null
run_id=$("$bin" runs start hello --input '{"name": "schemathesis"}' --wait | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
# Real objects for the path parameters, so that generated cases reach the
# handlers behind the lookups (not only their 404s).
cat > "$work/schemathesis.toml" <<TOML
[parameters]
"path.workflow" = "hello"
"path.number" = 1
"path.id" = "$run_id"
"path.workspace" = "default"
"path.key" = "in"
TOML
"$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run "http://127.0.0.1:$port/openapi.json" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$examples" \
  --phases examples,coverage,fuzzing \
  --request-timeout 10 \
  --max-time "${ORBFLOW_SCHEMATHESIS_SECONDS:-150}" \
  --exclude-method DELETE \
  --seed 1 \
  --no-color
