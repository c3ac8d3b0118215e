# Floodgate. `make run` and `make test` are the two commands a fresh machine needs.
SHELL := /bin/bash
NODE  ?= node
NPM   ?= npm
TSC   := node_modules/.bin/tsc

UNIT_TESTS        = $(wildcard dist/test/unit/*.test.js)
INTEGRATION_TESTS = $(wildcard dist/test/integration/*.test.js)
# Raw-socket HTTP/1.1 conformance (test/conformance/http1/): one gateway for the whole corpus, ~20 s.
CONFORMANCE_TESTS = $(wildcard dist/test/conformance/http1/*.test.js)

.PHONY: all deps native build run test test-unit test-deps test-integration conformance-report check bench-router bench-nginx bench-tools bench bench-quick bench-auth bench-offload bench-metrics bench-proxy-cache bench-ratelimit bench-balancer clean

all: build

# npm packages, exactly as locked.
node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	touch $@

deps: node_modules/.installed

# The N-API addon (native/README.md). Node's headers ship with Node; nothing is downloaded.
native/build/Release/floodgate_native.node: native/binding.gyp $(wildcard native/src/*.c) $(wildcard native/src/*.h) | deps
	sh native/build.sh

# uWebSockets.js v20.57 on this glibc (native/uws-compat/prepare.js): nothing to do on glibc >= 2.38;
# below it, a copy of the binary whose GLIBC_2.38 need is relaxed for the three C23 functions the
# addon provides. Says in one line why when it falls back to v20.30.
native/build/uws/status.json: native/build/Release/floodgate_native.node native/uws-compat/prepare.js native/uws-compat/elf-versions.js node_modules/.installed
	$(NODE) native/uws-compat/prepare.js

native: native/build/Release/floodgate_native.node native/build/uws/status.json

build: deps native
	$(TSC) -p tsconfig.json

# Two demo upstreams and the gateway with the example config, in the foreground (Ctrl-C stops all).
DEV_CERT := dist/dev-tls/localhost

run: build $(DEV_CERT).crt
	@trap 'kill 0' EXIT; \
	$(NODE) dist/src/dev/echo-upstream.js --port 9001 --name blue & \
	$(NODE) dist/src/dev/echo-upstream.js --port 9002 --name green & \
	sleep 0.3; \
	$(NODE) dist/src/cli.js start -c examples/gateway.yaml --tls-cert $(DEV_CERT).crt --tls-key $(DEV_CERT).key

# A self-signed certificate for localhost, made on first `make run` (dist/ is not committed), so
# the quick start's `curl -k https://localhost:8443/...` works without a key in the repository.
$(DEV_CERT).crt:
	@mkdir -p $(dir $(DEV_CERT))
	@openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
	  -keyout $(DEV_CERT).key -out $(DEV_CERT).crt -subj /CN=localhost \
	  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null

# The rate-limiting tests run a real redis-server (test/helpers/redis.ts): install Debian's when it
# is missing. Only `make test` needs it; `make run` and `make build` never do.
test-deps:
	@PATH="$$PATH:/usr/sbin:/usr/bin"; command -v redis-server >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server)

test: build test-deps
	$(MAKE) --no-print-directory test-unit test-integration

test-unit:
	$(NODE) --test --test-reporter=spec $(UNIT_TESTS)

# Integration tests start real gateways (2 workers each) and real upstreams; one file at a time
# keeps a 2-core machine from timing them out. The whole suite runs once per upstream engine
# (--upstream-engine, via FLOODGATE_TEST_UPSTREAM_ENGINE in test/helpers/gateway.ts), about 4 min
# each; `make test-integration UPSTREAM_ENGINES=js` runs one.
UPSTREAM_ENGINES ?= js native
test-integration:
	@set -e; for engine in $(UPSTREAM_ENGINES); do \
	  echo "== integration suite, --upstream-engine $$engine"; \
	  FLOODGATE_TEST_UPSTREAM_ENGINE=$$engine $(NODE) --test --test-reporter=spec --test-concurrency=1 $(INTEGRATION_TESTS) $(CONFORMANCE_TESTS); \
	done

check: build
	$(NODE) dist/src/cli.js check examples/gateway.yaml

# The HTTP/1.1 conformance corpus against Floodgate and NGINX (reference), 1 worker each: counts of
# rejected / normalized / closed / hung / smuggled and the cases where they differ (~1 min).
# NGINX from /usr/sbin/nginx (`make bench-tools`), or NGINX=path; without it, Floodgate only.
conformance-report: build
	$(NODE) dist/test/conformance/http1/report.js

bench-router: build
	$(NODE) dist/bench/router-match.js

# Debian packages the peer benchmarks need (never needed by `make test`).
bench-tools:
	@PATH="$$PATH:/usr/sbin"; command -v nginx >/dev/null && command -v wrk >/dev/null && command -v haproxy >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk haproxy)

bench-nginx: build bench-tools
	SKIP_BUILD=1 bench/quick-vs-nginx.sh

# Peer comparison (bench/peers/, GUIDE §6): Floodgate, NGINX, HAProxy, @fastify/http-proxy,
# http-proxy, fast-gateway; 1 then all cores; tiny, 64k, 1 MiB upload, 100 routes; about 21 min.
# Env overrides: ROUNDS DURATION WARMUP WORKERS SCENARIOS CONTENDERS (see bench/peers/settings.ts).
# Report: stdout and bench/results/bench-<date>.md (+ .json).
bench: build bench-tools
	$(NODE) dist/bench/peers/main.js

# Same harness, tiny scenario only, 1 worker, 3 rounds: under 3 minutes.
bench-quick: build bench-tools
	$(NODE) dist/bench/peers/main.js --quick

# The uWS upgrade's before and after in one run: Floodgate on v20.57 and on the v20.30 fallback
# (FLOODGATE_UWS=legacy), NGINX as the baseline; tiny GET, 1 worker, 3 rounds: about 2 min.
.PHONY: bench-uws
bench-uws: build bench-tools
	SCENARIOS=uws $(NODE) dist/bench/peers/main.js --quick

# --jwt-verify inline | pool | batch under proxy load (bench/offload/main.ts): 1 worker, NGINX
# upstream, HS256/RS256/ES256 x cache on/off, plain proxy as the baseline; about 6 min.
# Env overrides: ROUNDS DURATION WARMUP CONNS TOKENS MODES ALGS. Report: bench/results/offload-<date>.md.
bench-offload: build bench-tools
	$(NODE) dist/bench/offload/main.js

# What each load-balancing algorithm and the health checks cost, as ratios to plain round-robin in
# the same run (bench/balancer/main.ts): 1 worker, 3 NGINX upstreams, 6 contenders interleaved;
# about 7 min with the defaults. Env overrides: ROUNDS DURATION WARMUP CONNS.
# Report: stdout and bench/results/balancer-<date>.md.
bench-balancer: build bench-tools
	$(NODE) dist/bench/balancer/main.js

# What the auth plugins cost: Floodgate with key-auth, basic-auth, jwt (HS256, RS256, RS256 with
# cache misses), key-auth + acl, as a ratio to plain Floodgate; NGINX as a reference. The optional
# `auth` scenario, 1 worker, 5 rounds x 5 s: about 5 min. Same env overrides as `bench`.
# Report: stdout and bench/results/bench-auth-<date>.md (+ .json).
bench-auth: build bench-tools
	$(NODE) dist/bench/peers/main.js --auth

# What metrics cost: --metrics on vs off, 1 worker each, NGINX upstream, wrk -t1 -c50, 5 interleaved
# rounds x 5 s, medians, ratio on/off (target >= 0.95x); about 1 min. Env: ROUNDS DURATION WARMUP
# CONNS THREADS WORKERS ROUTES. Report: stdout and bench/results/metrics-<date>.md.
bench-metrics: build bench-tools
	$(NODE) dist/bench/metrics/main.js

# What Kong's prometheus plugin costs: a global prometheus entry (all switches but per_consumer)
# vs none, 1 worker each, NGINX upstream, wrk -t1 -c50, 5 interleaved rounds x 5 s, medians,
# ratio on/off; about 1 min. Env: ROUNDS DURATION WARMUP CONNS THREADS WORKERS.
# Report: stdout and bench/results/prometheus-<date>.md.
.PHONY: bench-prometheus
bench-prometheus: build bench-tools
	$(NODE) dist/bench/prometheus/main.js

# proxy-cache hit vs NGINX proxy_cache hit, and request-transformer vs no plugin, in one run: 4
# contenders, 1 worker each, NGINX upstream, wrk -t1 -c50, 5 interleaved rounds x 5 s, medians;
# about 2 min. Env: ROUNDS DURATION WARMUP CONNS THREADS WORKERS. Report: stdout and
# bench/results/proxy-cache-<date>.md.
bench-proxy-cache: build bench-tools
	$(NODE) dist/bench/proxy-cache/main.js
# What access logs, sampling, file-log, http-log and opentelemetry cost, as a ratio to the access
# log off; 7 gateways (1 worker each), interleaved. Env: ROUNDS=5 DURATION=5 CONNS=50 (~3.5 min).
.PHONY: bench-logging
bench-logging: build
	$(NODE) dist/bench/logging/main.js

# Trace/span ids: a crypto call per id vs randomUUID vs the pooled buffer (tracing/random-ids.ts).
.PHONY: bench-trace-ids
bench-trace-ids: build
	$(NODE) dist/bench/micro/trace-ids.js

# The HTTP/2 downstream design decision (ARCHITECTURE.md "HTTP/2 downstream"): uWS SSLApp alone,
# node:http2 allowHTTP1, and the ALPN front, same run, interleaved, medians, ratios to uWS.
# Env: ROUNDS=3 DURATION=3 CONNS=50 STREAMS=50. About 1 min.
.PHONY: bench-h2-design
bench-h2-design: build bench-tools
	$(NODE) dist/bench/h2-design/main.js

# What TLS costs: Floodgate's HTTPS listener vs NGINX with TLS (1 worker each, same certificate and
# suites) and Floodgate's plain listener, kept-alive GETs and a new TLS connection per request
# (handshake rate); 5 interleaved rounds x 5 s, medians, ratios to NGINX; about 2 min. Env: ROUNDS
# DURATION WARMUP CONNS THREADS. Report: stdout and bench/results/tls-<date>.md.
.PHONY: bench-tls
bench-tls: build bench-tools
	$(NODE) dist/bench/tls/main.js

# The upstream engine alone (src/upstream/), native vs js parser kernel, vs bare undici
# Pool.dispatch, a bare net.Socket floor and the addon's libuv probe, same local upstream,
# interleaved rounds, medians of req/s and CPU per request; then parse-only rounds per kernel.
# Env: ROUNDS=5 DURATION=5 CONCURRENCY=50 RESPONSE=tiny|nginx PARSE_ROUNDS=15 PARSE_MS=200
# PARTS=sockets,parser.
.PHONY: bench-engine
bench-engine: build
	$(NODE) dist/bench/micro/engine.js

# ns per per-request step with no plugins (head copy, route, upstream headers, engine write, parse,
# response head, log/metrics decision), changed steps old vs new. Env: ROUNDS=5 ITERATIONS=200000.
.PHONY: bench-pipeline
bench-pipeline: build
	$(NODE) dist/bench/micro/pipeline.js

# What rate limiting costs (bench/ratelimit/main.ts): plain proxy vs rate-limiting with the local
# policy, redis sync_rate -1 and redis sync_rate 1, same gateway, interleaved, medians and ratios
# to the plain proxy; about 2 min. Env overrides: ROUNDS DURATION WARMUP CONNS THREADS WORKERS.
# Report: stdout and bench/results/ratelimit-<date>.md.
bench-ratelimit: build bench-tools test-deps
	$(NODE) dist/bench/ratelimit/main.js

# The latency curve past saturation (issue 11): saturation S = what a flood of 1000 connections gets served, then open-loop
# paced load at 50/90/100/130% of S against the gateway with shedding off and with --shed-lag-ms,
# interleaved, medians of 3 rounds (bench/overload/main.ts); about 6 min. NGINX upstream when
# installed. Env: OVERLOAD_ROUNDS DURATION_S WARMUP_S SAT_S CONNS SHED_LAG_MS LEVELS WORKERS
# (each prefixed OVERLOAD_). Report: stdout and bench/results/overload-<date>.md (+ .json).
.PHONY: bench-overload
bench-overload: build bench-tools
	$(NODE) dist/bench/overload/main.js

# Load tests (loadtest/README.md), never part of `make test`. Upstream: NGINX when installed
# (`make bench-tools`), else the Node echo upstream. Reports: stdout and loadtest/results/.
#   loadtest-capacity  keep-alive connections up to the open-file limit, memory per connection (~5 min)
#   loadtest-scaling   req/s with 1 and 2 workers, autocannon, 3 interleaved rounds (~3 min)
#   loadtest-soak      30 min at 2000 req/s, 2 workers: RSS, per-worker heap and external memory,
#                      slopes over minutes 5-30 and a PNG plot (SOAK_MINUTES overrides); = `make soak`
# `loadtest` runs all three, in order, even if one fails, and fails if any did.
.PHONY: loadtest loadtest-capacity loadtest-scaling loadtest-soak

loadtest: build
	@rc=0; \
	$(NODE) dist/loadtest/capacity.js || rc=1; \
	$(NODE) dist/loadtest/scaling.js || rc=1; \
	$(NODE) dist/loadtest/soak.js || rc=1; \
	exit $$rc

loadtest-capacity: build
	$(NODE) dist/loadtest/capacity.js

loadtest-scaling: build
	$(NODE) dist/loadtest/scaling.js

loadtest-soak: build
	$(NODE) dist/loadtest/soak.js

# The memory soak of issue 11 (not in CI): 30 minutes (SOAK_MINUTES overrides), 2 workers, a steady
# 2000 req/s. Report, figures and plot: loadtest/results/soak-<date>.{md,json,png}.
.PHONY: soak
soak: build
	SOAK_WORKERS=$${SOAK_WORKERS:-2} SOAK_MINUTES=$${SOAK_MINUTES:-30} $(NODE) dist/loadtest/soak.js

# A clinic flamegraph of one data plane under autocannon load (bench/flame.sh says how).
flame: build
	bench/flame.sh

clean:
	rm -rf dist native/build node_modules

.PHONY: bench-log-shippers
bench-log-shippers: build
	$(NODE) dist/bench/micro/log-shippers.js
