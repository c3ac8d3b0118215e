#!/usr/bin/env bash
# bench/flame.sh: a clinic flamegraph of the data plane under autocannon load.
#
# The gateway runs with --workers 0 (the data plane on the main thread): profilers see the main
# thread, and a process without worker threads exits normally, which clinic needs to write its
# report. clinic's --on-port cannot be used because uWS does not listen through node:net, so the
# script waits for the gateway's own "listening" log line, drives the load, then stops clinic
# with SIGINT, as Ctrl-C would.
#
#   bench/flame.sh            # writes the HTML report path on its last line
#   DURATION=20 CONNS=100 bench/flame.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
OUT_DIR=${OUT_DIR:-bench/results/flame}
TMP=$(mktemp -d /tmp/fg-flame.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
UP_PORT=$(free_port)
GW_PORT=$(free_port)

setsid node dist/src/dev/echo-upstream.js --port "$UP_PORT" --name flame 2>"$TMP/upstream.log" &
PIDS+=($!)
cat > "$TMP/gateway.yaml" <<YAML
_format_version: "3.0"
services:
  - name: flame
    url: http://127.0.0.1:$UP_PORT
    routes:
      - name: flame
        paths: [/]
YAML

mkdir -p "$OUT_DIR"
# setsid: clinic and the gateway get their own process group, so SIGINT reaches both as Ctrl-C does.
NO_INSIGHT=1 setsid node_modules/.bin/clinic flame --open=false --dest "$OUT_DIR" -- \
  node dist/src/cli.js start -c "$TMP/gateway.yaml" --workers 0 --listen "127.0.0.1:$GW_PORT" --access-log off \
  >"$TMP/clinic.out" 2>"$TMP/clinic.err" &
CLINIC=$!
for _ in $(seq 1 100); do grep -q '"msg":"floodgate listening"' "$TMP/clinic.err" && break; sleep 0.1; done
grep -q '"msg":"floodgate listening"' "$TMP/clinic.err" || { cat "$TMP/clinic.err" >&2; echo "gateway did not start" >&2; exit 1; }

node_modules/.bin/autocannon -c "$CONNS" -d "$DURATION" "http://127.0.0.1:$GW_PORT/" 2>&1 | tail -n 12
kill -INT -- "-$CLINIC"
wait "$CLINIC" || true
grep -o 'file://[^ ]*clinic-flame.html' "$TMP/clinic.out" | tail -n 1 || { cat "$TMP/clinic.out" "$TMP/clinic.err" >&2; exit 1; }
