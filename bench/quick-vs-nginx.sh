#!/usr/bin/env bash
# bench/quick-vs-nginx.sh — quick, reproducible Floodgate vs NGINX proxy comparison on loopback.
#
# What it measures
#   Throughput (req/s) and latency (p50, p99) of a 1-worker reverse proxy in front of a tiny
#   upstream, with wrk (-t1 -c50, keep-alive, GET /) on 127.0.0.1. Three targets:
#     direct    wrk straight at the upstream (an NGINX `return 200 "ok\n"`): the ceiling / reference
#     nginx     NGINX 1 worker_process, proxy_pass to an upstream{} with keepalive 64, HTTP/1.1
#     floodgate node dist/src/cli.js start --workers 1 --access-log off, one service + route "/"
#   Both proxies talk to the same upstream, have access logging off, and keep upstream
#   connections alive, so the difference is the proxy's own per-request cost.
#
# Why interleaved rounds
#   The machine is small (2 cores) and shared, so background load drifts over minutes. Running
#   all nginx rounds and then all floodgate rounds would attribute that drift to whichever
#   contender ran during the noisy minute. Instead every round runs direct, nginx, floodgate
#   back-to-back, ROUNDS times, and we report medians (robust to one bad round) plus every
#   round's value, so drift shows up as a pattern across rows rather than as a fake difference.
#   "direct" in every round is the canary: if it moves, the machine moved.
#
# Usage
#   bench/quick-vs-nginx.sh                 # 5 rounds x 10 s, 2 s warm-up per contender
#   ROUNDS=3 DURATION=5 WARMUP=1 bench/quick-vs-nginx.sh
#   Env: ROUNDS (5) DURATION (10, seconds) WARMUP (2, seconds) THREADS (1) CONNS (50)
#        NGINX (/usr/sbin/nginx) WRK (wrk) NODE (node) SKIP_BUILD=1 (don't run `make build`)
#   Output: table on stdout and in bench/results/quick-vs-nginx-<date>.txt (with machine info
#   and the raw wrk outputs of any run that reported errors).
#
# Notes
#   No CPU pinning: wrk, the proxy and the upstream share the 2 cores, same for both proxies.
#   keepalive_requests is raised to 100000 in the NGINX configs (default 1000) so NGINX does not
#   close client/upstream connections mid-run; Floodgate does not close them either.
#   Needs: nginx, wrk, curl, node; ports are picked free at start; everything lives in a
#   temp dir under /tmp and every process started here is stopped on exit.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-1}
CONNS=${CONNS:-50}
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-wrk}
NODE=${NODE:-node}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RESULTS_DIR="$HERE/results"
STAMP=$(date +%Y-%m-%d-%H%M%S)
OUT="$RESULTS_DIR/quick-vs-nginx-$STAMP.txt"

for bin in "$NGINX" "$WRK" "$NODE" curl; do
  command -v "$bin" >/dev/null || { echo "missing: $bin (apt-get install -y nginx-light wrk curl)" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/fg-quick-vs-nginx.XXXXXX)
PIDS=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null || true
  done
  # give them a moment to drain, then make sure
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local alive=0
    for pid in "${PIDS[@]:-}"; do
      [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && alive=1
    done
    [[ $alive == 0 ]] && break
    sleep 0.3
  done
  for pid in "${PIDS[@]:-}"; do
    [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# build

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  echo "# make build" >&2
  (cd "$ROOT" && make build >"$TMP/build.log" 2>&1) || {
    echo "make build failed (see below); if someone is mid-edit, retry in a minute" >&2
    tail -30 "$TMP/build.log" >&2
    exit 1
  }
fi
[[ -f "$ROOT/dist/src/cli.js" ]] || { echo "dist/src/cli.js missing; run make build" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# free ports: hold three ephemeral listeners open at once so they are distinct, then release

read -r UP_PORT NGX_PORT FG_PORT < <("$NODE" -e '
  const net = require("net");
  const servers = [0, 1, 2].map(() => net.createServer());
  Promise.all(servers.map(s => new Promise(r => s.listen(0, "127.0.0.1", r)))).then(() => {
    console.log(servers.map(s => s.address().port).join(" "));
    servers.forEach(s => s.close());
  });')

# ---------------------------------------------------------------------------------------------
# processes

render() { # template prefix port upstream_port > conf
  sed -e "s|@PREFIX@|$2|g" -e "s|@PORT@|$3|g" -e "s|@UPSTREAM_PORT@|${4:-}|g" "$1"
}

wait_http() { # port name
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; then return 0; fi
    sleep 0.1
  done
  echo "$2 on port $1 did not answer 200" >&2
  return 1
}

start_nginx() { # name template port [upstream_port]
  local name=$1 prefix="$TMP/$1"
  mkdir -p "$prefix"
  render "$2" "$prefix" "$3" "${4:-}" >"$prefix/nginx.conf"
  "$NGINX" -t -q -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" 2>"$prefix/test.log" || {
    cat "$prefix/test.log" >&2; return 1; }
  "$NGINX" -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" -g 'daemon off;' \
    >"$prefix/stdout.log" 2>"$prefix/stderr.log" &
  PIDS+=("$!")
  wait_http "$3" "$name"
}

start_floodgate() {
  local dir="$TMP/floodgate"
  mkdir -p "$dir"
  cat >"$dir/bench.yaml" <<EOF
_format_version: "3.0"
services:
  - name: bench
    url: http://127.0.0.1:$UP_PORT
    routes:
      - name: bench
        paths: [/]
EOF
  (cd "$ROOT" && exec "$NODE" dist/src/cli.js start -c "$dir/bench.yaml" --workers 1 \
      --listen "127.0.0.1:$FG_PORT" --access-log off >"$dir/stdout.log" 2>"$dir/stderr.log") &
  PIDS+=("$!")
  local pid=$!
  for _ in $(seq 1 150); do
    grep -q '"msg":"floodgate listening"' "$dir/stderr.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { echo "floodgate exited:" >&2; cat "$dir/stderr.log" >&2; return 1; }
    sleep 0.1
  done
  grep -q '"msg":"floodgate listening"' "$dir/stderr.log" ||
    { echo "floodgate not ready after 15 s:" >&2; cat "$dir/stderr.log" >&2; return 1; }
  wait_http "$FG_PORT" floodgate
}

start_nginx upstream "$HERE/nginx/upstream.conf.tmpl" "$UP_PORT"
start_nginx nginx "$HERE/nginx/proxy.conf.tmpl" "$NGX_PORT" "$UP_PORT"
start_floodgate

NAMES=(direct nginx floodgate)
declare -A PORT=([direct]=$UP_PORT [nginx]=$NGX_PORT [floodgate]=$FG_PORT)

# ---------------------------------------------------------------------------------------------
# wrk

to_ms() { # "1.23ms" | "456.00us" | "1.02s" -> milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "nan" }'
}

ERRLOG="$TMP/errors.txt"
: >"$ERRLOG"
declare -A RPS P50 P99

run_wrk() { # name seconds outfile  (backgrounded + wait, so INT/TERM traps fire immediately)
  "$WRK" -t"$THREADS" -c"$CONNS" -d"$2"s --latency "http://127.0.0.1:${PORT[$1]}/" >"$3" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait "$pid" || true
  unset 'PIDS[-1]'
}

record() { # name round file
  local name=$1 round=$2 f=$3 rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$f")
  p50=$(awk '$1 == "50%" {print $2}' "$f")
  p99=$(awk '$1 == "99%" {print $2}' "$f")
  RPS[$name]+="${rps:-0} "
  P50[$name]+="$(to_ms "${p50:-nan}") "
  P99[$name]+="$(to_ms "${p99:-nan}") "
  if grep -qE 'Non-2xx|Socket errors|unable to connect' "$f" || [[ -z "$rps" ]]; then
    { echo "== $name round $round: wrk reported errors"; cat "$f"; echo; } >>"$ERRLOG"
    echo "   !! $name round $round: $(grep -E 'Non-2xx|Socket errors|unable' "$f" | tr -s ' ' | paste -sd';')" >&2
  fi
}

echo "# ports: upstream=$UP_PORT nginx=$NGX_PORT floodgate=$FG_PORT; tmp=$TMP" >&2
echo "# warm-up ${WARMUP}s each" >&2
for n in "${NAMES[@]}"; do
  run_wrk "$n" "$WARMUP" "$TMP/warmup-$n.txt"
  if grep -qE 'Non-2xx|Socket errors' "$TMP/warmup-$n.txt"; then
    { echo "== $n warm-up: wrk reported errors"; cat "$TMP/warmup-$n.txt"; echo; } >>"$ERRLOG"
  fi
done

for r in $(seq 1 "$ROUNDS"); do
  for n in "${NAMES[@]}"; do
    f="$TMP/round$r-$n.txt"
    run_wrk "$n" "$DURATION" "$f"
    record "$n" "$r" "$f"
    echo "# round $r/$ROUNDS $n: $(awk '/^Requests\/sec:/ {print $2}' "$f") req/s" >&2
  done
done

# ---------------------------------------------------------------------------------------------
# report

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {
  if (NR == 0) { print "nan"; exit }
  if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

NGX_MED=$(echo "${RPS[nginx]}" | median)

table() {
  printf '%-10s %12s %9s %10s %10s   %s\n' contender "median rps" "vs nginx" "p50 ms" "p99 ms" "all rounds rps"
  for n in "${NAMES[@]}"; do
    local med p50 p99 ratio
    med=$(echo "${RPS[$n]}" | median)
    p50=$(echo "${P50[$n]}" | median)
    p99=$(echo "${P99[$n]}" | median)
    ratio=$(awk -v a="$med" -v b="$NGX_MED" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')
    printf '%-10s %12.0f %9s %10.3f %10.3f   %s\n' "$n" "$med" "$ratio" "$p50" "$p99" "${RPS[$n]% }"
  done
}

machine() {
  echo "date:     $(date -Is)"
  echo "host:     $(uname -srm)"
  echo "nproc:    $(nproc)"
  echo "cpu:      $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "loadavg:  $(cut -d' ' -f1-3 /proc/loadavg) (at end of run)"
  echo "node:     $("$NODE" -v)"
  echo "nginx:    $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
  echo "wrk:      $("$WRK" -v 2>&1 | head -1 | awk '{print $1, $2}')"
  echo "command:  ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP bench/quick-vs-nginx.sh"
  echo "load:     wrk -t$THREADS -c$CONNS -d${DURATION}s --latency, GET /, upstream body \"ok\\n\" (3 bytes)"
  echo "order:    warm-up ${WARMUP}s each, then $ROUNDS rounds of: ${NAMES[*]}"
}

mkdir -p "$RESULTS_DIR"
{
  echo "# Floodgate vs NGINX, 1 worker each, loopback (bench/quick-vs-nginx.sh)"
  machine
  echo
  table
  echo
  echo "p50/p99: median over rounds of wrk's per-round percentile. vs nginx: median rps / nginx median rps."
  if [[ -s "$ERRLOG" ]]; then
    echo
    echo "# wrk reported errors (raw output):"
    cat "$ERRLOG"
  else
    echo "wrk errors: none (no non-2xx, no socket errors in any run)"
  fi
  for n in nginx floodgate; do
    local_log="$TMP/$n/error.log"; [[ $n == floodgate ]] && local_log="$TMP/floodgate/stderr.log"
    if [[ -f "$local_log" ]] && grep -qiE 'error|warn|alert|crit|"level":(40|50|60)' "$local_log"; then
      echo
      echo "# $n log lines with warnings/errors (first 20):"
      grep -iE 'error|warn|alert|crit|"level":(40|50|60)' "$local_log" | head -20
    fi
  done
} | tee "$OUT"
echo "# written: ${OUT#"$ROOT"/}" >&2
