#!/usr/bin/env -S node --single-threaded-gc
/**
 * floodgate start -c FILE [--workers N] [--listen HOST:PORT] [...]
 * floodgate check FILE
 * floodgate version
 *
 * The shebang carries cluster/node-flags.ts's NODE_FLAGS (a shebang cannot import them).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatConfigErrors, loadConfigFile, type ConfigError } from './config/load';
import { compileCheck } from './proxy/snapshot';
import { compileRouter } from './router/router';
import { defaultSettings, type NodeSettings, type UpstreamEngineKind } from './settings';
import { defaultTlsSettings, tlsConfigProblem, type TlsSettings } from './tls/settings';
import { defaultWebSocketSettings } from './websocket/bridge';
import { systemLogger } from './util/logger';
import { formatLimit, raiseNofileLimit } from './util/file-limits';
import { nativeFallbackWarning } from './util/native';
import { describeCpuAffinity, parseCpuAffinity, startThreadPoolUnpinned } from './util/cpu-affinity';
import { exitProcess } from './util/process-exit';
import { JWT_VERIFY_MODES, type JwtVerifyMode } from './offload/modes';

const VERSION: string = (require('../../package.json') as { version: string }).version;

const USAGE = `Usage:
  floodgate start -c FILE [options]   run the gateway
  floodgate check FILE [--format text|json]
                                      validate FILE and print the compiled route table; json:
                                      errors and warnings with file, line, column, entity, field
  floodgate version                   print the version

Options for start:
  -c, --config FILE            declarative config (Kong 3.0 format, YAML or JSON)
  -w, --workers N              worker threads (default: one per core); 0 serves on the main
                               thread (no worker threads; for profiling and small hosts)
      --listen HOST:PORT       proxy listener (default 0.0.0.0:8000)
      --listen-tls HOST:PORT|off  HTTPS listener (default 0.0.0.0:8443, on when there is a
                               certificate: the config's "certificates" or --tls-cert)
      --tls-cert FILE          default certificate (PEM chain) for clients without SNI or with an
                               unknown name; re-read on SIGHUP
      --tls-key FILE           its private key (PEM, RSA or ECDSA, unencrypted)
      --http2 on|off           HTTP/2 for clients offering h2 by ALPN on the TLS port (default on)
      --tls-client-verify off|optional|required
                               ask TLS clients for a certificate and verify it against the
                               config's "ca_certificates" and --tls-client-ca (mTLS); a missing
                               (required) or unverified certificate gets 400 (default off)
      --tls-client-ca FILE     CA certificates (PEM) trusted for client certificates; re-read on SIGHUP
      --tls-client-xfcc on|off send the verified client certificate upstream as
                               x-forwarded-client-cert (Envoy's XFCC) (default on)
      --ws-max-message-bytes N largest proxied WebSocket message either way, else close 1009
                               (default 16777216)
      --ws-idle-timeout S      close a proxied WebSocket idle this many seconds; 0 = never (default 120)
      --drain-timeout MS       how long SIGTERM waits for in-flight requests (default 30000)
      --max-header-bytes N     request line + headers limit, else 431 (default 32768)
      --max-body-bytes N       request body limit, else 413; 0 = unlimited (default 0)
      --upstream-connections N connections per target per worker; 0 = unlimited (default 0)
      --upstream-keepalive MS  idle upstream keep-alive (default 60000)
      --upstream-keepalive-requests N
                               requests per upstream connection before it closes; 0 = unlimited
                               (default 0)
      --upstream-max-header-bytes N
                               largest upstream response head, else 502 (default 32768)
      --upstream-engine js|native
                               upstream engine's byte work: js (TypeScript, node sockets)
                               or native (the C addon: response parsing, and socket I/O
                               on the worker's libuv loop for plain-TCP IP targets; js
                               when not built) (default js)
      --access-log DEST        stdout | off | FILE (default stdout); SIGUSR1 reopens FILE
      --access-log-sample RATE share 0..1 of successful requests logged; errors (status >= 400,
                               aborts) are always logged (default 1)
      --request-id-header NAME header carrying the gateway's request id upstream and back to the
                               client, or off (default X-Floodgate-Request-Id)
      --trace-context on|off   W3C traceparent on every request, started when absent (on), or
                               only on routes with the opentelemetry plugin (off) (default on)
      --log-level LEVEL        trace | debug | info | warn | error (default info)
      --cpu-affinity MODE      pin worker threads to CPUs: off | auto | LIST such as 0,1 or 0-3;
                               auto: worker i -> CPU (i-1) mod nproc, LIST: worker i -> LIST[(i-1) mod len]
                               (default off; needs the native addon)
      --trusted-ips LIST       addresses or CIDRs whose X-Forwarded-For is believed when a plugin
                               needs the real client address (Kong's trusted_ips; default none)
      --dns-resolver HOST:PORT DNS server for upstream target names (A/AAAA, TTLs honoured; names it
                               cannot answer fall back to the system lookup); default resolv.conf
      --jwt-verify MODE        where the jwt plugin checks signatures on a cache miss: inline |
                               pool (a piscina thread per worker) | batch (pooled, ~1 ms batches)
                               (default inline)
      --ratelimit-slots N      capacity of the node-wide rate-limit counter table, 64 bytes a
                               slot, rounded up to a power of two; never grows (default 65536)
      --mem-cache-size SIZE    bytes each proxy-cache memory dictionary holds per worker, LRU beyond
                               that; bytes or 512k, 128m (Kong's mem_cache_size; default 128m)
      --max-connections N      downstream connections per worker; past it 503 + close (default 0 = off)
      --client-idle-timeout S  seconds a client connection may take to send a full request head
                               (slowloris, a stray CRLF) or sit idle between requests, then uWS
                               closes it; checked every 4 s (default 0 = uWS's own 30)
      --max-in-flight N        requests in progress per worker; past it wait, then 503 (default 0 = off)
      --in-flight-queue N      requests that may wait for an --max-in-flight slot (default 0)
      --in-flight-queue-timeout MS
                               longest wait for a slot before the 503 (default 1000)
      --shed-lag-ms MS         refuse new requests (503) while the worker's event loop is later
                               than this; 0 = off (default 0)
      --client-body-min-rate BYTES/S
                               request bodies slower than this get 408 and a closed connection
                               (default 0 = off)
      --admin-listen HOST:PORT admin API listener, or off (default 127.0.0.1:8001)
      --admin-token-file FILE  bearer token the admin API requires (also FLOODGATE_ADMIN_TOKEN);
                               /healthz and /ready stay open for load balancers
      --metrics on|off         per-route request counts and latency histograms on GET /metrics
                               (default on; off only to measure their cost)
      --metrics-consumer-labels
                               add a consumer label to floodgate_http_requests_total (one series
                               per consumer, at most 1000 per route; default off)

Signals: SIGHUP reloads the config file; SIGTERM/SIGINT drain and exit 0; SIGUSR1 reopens the
access log and file-log files (logrotate).`;

function fail(message: string): never {
  process.stderr.write(`floodgate: ${message}\n`);
  process.exit(2);
}

function intOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

/** Kong's size notation: bytes, or a number with k or m (g too): 128m. */
function sizeOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const m = /^(\d+)([kmg]?)$/i.exec(value.trim());
  if (m === null || Number(m[1]) < 1) fail(`--${name} must be a size such as 1048576, 512k or 128m, got "${value}"`);
  const unit = m[2].toLowerCase();
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : unit === 'g' ? 1024 * 1024 * 1024 : 1);
}

function parseListen(value: string | undefined, flag = 'listen'): { host: string; port: number } {
  if (value === undefined) return { host: defaultSettings.listenHost, port: defaultSettings.listenPort };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  if (m === null) fail(`--${flag} must be HOST:PORT or PORT, got "${value}"`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) fail(`--${flag} port out of range: ${port}`);
  return { host: m[1] || m[2] || defaultSettings.listenHost, port };
}

/** uWS takes 0 (never) or at least 8 seconds, in steps of about 4. */
function wsIdleOption(value: string | undefined): number {
  const n = intOption(value, 'ws-idle-timeout', defaultWebSocketSettings.idleTimeoutSeconds);
  if (n !== 0 && n < 8) fail(`--ws-idle-timeout must be 0 (never) or at least 8 seconds, got "${value}"`);
  return n;
}

interface ClientCertificateFlags {
  readonly verify: string | undefined;
  readonly ca: string | undefined;
  readonly xfcc: string | undefined;
}

function tlsOption(listen: string | undefined, certFile: string | undefined, keyFile: string | undefined, client: ClientCertificateFlags): TlsSettings {
  if ((certFile === undefined) !== (keyFile === undefined)) fail('--tls-cert and --tls-key go together');
  const verify = client.verify ?? 'off';
  if (verify !== 'off' && verify !== 'optional' && verify !== 'required') fail(`--tls-client-verify must be off, optional or required, got "${verify}"`);
  if (verify !== 'off' && listen === 'off') fail(`--tls-client-verify ${verify} needs the TLS listener, but --listen-tls is off`);
  const files = {
    certFile: certFile === undefined ? null : path.resolve(certFile),
    keyFile: keyFile === undefined ? null : path.resolve(keyFile),
    clientVerify: verify,
    clientCaFile: client.ca === undefined ? null : path.resolve(client.ca),
    clientXfcc: onOffOption(client.xfcc, 'tls-client-xfcc', true),
  } as const;
  if (listen === 'off') return { ...defaultTlsSettings, ...files, mode: 'off' };
  if (listen === undefined) return { ...defaultTlsSettings, ...files };
  const at = parseListen(listen, 'listen-tls');
  return { mode: 'on', host: at.host, port: at.port, ...files };
}

function http2Option(value: string | undefined): boolean {
  if (value === undefined || value === 'on') return true;
  if (value === 'off') return false;
  fail(`--http2 must be on or off, got "${value}"`);
}

function cpuAffinityOption(value: string | undefined): NodeSettings['cpuAffinity'] {
  try {
    return parseCpuAffinity(value);
  } catch (err) {
    fail((err as Error).message);
  }
}

function jwtVerifyOption(value: string | undefined): JwtVerifyMode {
  if (value === undefined) return defaultSettings.jwtVerify;
  if (!(JWT_VERIFY_MODES as readonly string[]).includes(value)) fail(`--jwt-verify must be one of ${JWT_VERIFY_MODES.join(' | ')}, got "${value}"`);
  return value as JwtVerifyMode;
}

function upstreamEngineOption(value: string | undefined): UpstreamEngineKind {
  if (value === undefined) return defaultSettings.upstreamEngine;
  if (value !== 'js' && value !== 'native') fail(`--upstream-engine must be js or native, got "${value}"`);
  return value;
}

function onOffOption(value: string | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value !== 'on' && value !== 'off') fail(`--${name} must be on or off, got "${value}"`);
  return value === 'on';
}

function sampleOption(value: string | undefined): number {
  if (value === undefined) return defaultSettings.accessLogSample;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) fail(`--access-log-sample must be a number from 0 to 1, got "${value}"`);
  return n;
}

function requestIdHeaderOption(value: string | undefined): string {
  if (value === undefined) return defaultSettings.requestIdHeader;
  if (value === 'off') return '';
  if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(value)) fail(`--request-id-header must be a header name or off, got "${value}"`);
  return value.toLowerCase();
}

/**
 * node:util parseArgs, with its errors (an unknown flag, a missing value) as one line and the
 * usage, exit 2, instead of a stack trace.
 */
function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS_')) throw err;
    fail(`${(err as Error).message.split('\n')[0]}\n\n${USAGE}`);
  }
}

function start(argv: string[]): void {
  const { values } = parseFlags({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      workers: { type: 'string', short: 'w' },
      listen: { type: 'string' },
      'drain-timeout': { type: 'string' },
      'max-header-bytes': { type: 'string' },
      'max-body-bytes': { type: 'string' },
      'upstream-connections': { type: 'string' },
      'upstream-keepalive': { type: 'string' },
      'upstream-keepalive-requests': { type: 'string' },
      'upstream-max-header-bytes': { type: 'string' },
      'upstream-engine': { type: 'string' },
      'access-log': { type: 'string' },
      'access-log-sample': { type: 'string' },
      'request-id-header': { type: 'string' },
      'trace-context': { type: 'string' },
      'log-level': { type: 'string' },
      'cpu-affinity': { type: 'string' },
      'trusted-ips': { type: 'string' },
      'dns-resolver': { type: 'string' },
      'jwt-verify': { type: 'string' },
      'ratelimit-slots': { type: 'string' },
      'mem-cache-size': { type: 'string' },
      'max-connections': { type: 'string' },
      'client-idle-timeout': { type: 'string' },
      'max-in-flight': { type: 'string' },
      'in-flight-queue': { type: 'string' },
      'in-flight-queue-timeout': { type: 'string' },
      'shed-lag-ms': { type: 'string' },
      'client-body-min-rate': { type: 'string' },
      'admin-listen': { type: 'string' },
      'admin-token-file': { type: 'string' },
      'listen-tls': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-client-verify': { type: 'string' },
      'tls-client-ca': { type: 'string' },
      'tls-client-xfcc': { type: 'string' },
      http2: { type: 'string' },
      'ws-max-message-bytes': { type: 'string' },
      'ws-idle-timeout': { type: 'string' },
      metrics: { type: 'string' },
      'metrics-consumer-labels': { type: 'boolean' },
    },
    strict: true,
  });
  if (values.config === undefined) fail('start needs -c FILE\n\n' + USAGE);
  const listen = parseListen(values.listen);
  const admin = adminOption(values['admin-listen'], values['admin-token-file']);
  const settings: NodeSettings = {
    listenHost: listen.host,
    listenPort: listen.port,
    workers: intOption(values.workers, 'workers', os.availableParallelism(), 0),
    drainTimeoutMs: intOption(values['drain-timeout'], 'drain-timeout', defaultSettings.drainTimeoutMs),
    maxHeaderBytes: intOption(values['max-header-bytes'], 'max-header-bytes', defaultSettings.maxHeaderBytes, 1024),
    maxBodyBytes: intOption(values['max-body-bytes'], 'max-body-bytes', defaultSettings.maxBodyBytes),
    upstreamConnections: intOption(values['upstream-connections'], 'upstream-connections', defaultSettings.upstreamConnections),
    upstreamKeepAliveMs: intOption(values['upstream-keepalive'], 'upstream-keepalive', defaultSettings.upstreamKeepAliveMs, 1),
    upstreamKeepAliveRequests: intOption(values['upstream-keepalive-requests'], 'upstream-keepalive-requests', defaultSettings.upstreamKeepAliveRequests),
    upstreamMaxHeadBytes: intOption(values['upstream-max-header-bytes'], 'upstream-max-header-bytes', defaultSettings.upstreamMaxHeadBytes, 1024),
    upstreamEngine: upstreamEngineOption(values['upstream-engine']),
    accessLog: values['access-log'] ?? defaultSettings.accessLog,
    accessLogSample: sampleOption(values['access-log-sample']),
    requestIdHeader: requestIdHeaderOption(values['request-id-header']),
    traceContext: onOffOption(values['trace-context'], 'trace-context', defaultSettings.traceContext),
    logLevel: values['log-level'] ?? defaultSettings.logLevel,
    faultInjection: process.env.FLOODGATE_FAULT_INJECTION === '1',
    trustedIps: values['trusted-ips'] === undefined ? [] : values['trusted-ips'].split(',').map((v) => v.trim()).filter((v) => v !== ''),
    cpuAffinity: cpuAffinityOption(values['cpu-affinity']),
    jwtVerify: jwtVerifyOption(values['jwt-verify']),
    metrics: onOffOption(values.metrics, 'metrics', defaultSettings.metrics),
    metricsConsumerLabels: values['metrics-consumer-labels'] ?? defaultSettings.metricsConsumerLabels,
    rateLimitSlots: intOption(values['ratelimit-slots'], 'ratelimit-slots', defaultSettings.rateLimitSlots, 64),
    memCacheSize: sizeOption(values['mem-cache-size'], 'mem-cache-size', defaultSettings.memCacheSize!),
    dnsResolver: dnsResolverOption(values['dns-resolver']),
    tls: tlsOption(values['listen-tls'], values['tls-cert'], values['tls-key'], {
      verify: values['tls-client-verify'],
      ca: values['tls-client-ca'],
      xfcc: values['tls-client-xfcc'],
    }),
    http2: http2Option(values.http2),
    websocket: {
      ...defaultWebSocketSettings,
      maxMessageBytes: intOption(values['ws-max-message-bytes'], 'ws-max-message-bytes', defaultWebSocketSettings.maxMessageBytes, 1),
      idleTimeoutSeconds: wsIdleOption(values['ws-idle-timeout']),
    },
    maxConnections: intOption(values['max-connections'], 'max-connections', 0),
    clientIdleTimeoutS: intOption(values['client-idle-timeout'], 'client-idle-timeout', 0),
    maxInFlight: intOption(values['max-in-flight'], 'max-in-flight', 0),
    inFlightQueue: intOption(values['in-flight-queue'], 'in-flight-queue', 0),
    inFlightQueueTimeoutMs: intOption(values['in-flight-queue-timeout'], 'in-flight-queue-timeout', 1000, 1),
    shedLagMs: intOption(values['shed-lag-ms'], 'shed-lag-ms', 0),
    clientBodyMinRate: intOption(values['client-body-min-rate'], 'client-body-min-rate', 0),
  };
  const logger = systemLogger(settings.logLevel, { role: 'primary', pid: process.pid });

  const loaded = loadConfigFile(values.config);
  if (!loaded.ok) {
    process.stderr.write(`floodgate: invalid config, not starting:\n${formatConfigErrors(loaded.errors, values.config)}\n`);
    process.exit(1);
  }
  const problem = compileCheck(loaded.config, settings.trustedIps) ?? tlsConfigProblem(loaded.config, settings.tls, null);
  if (problem !== null) {
    process.stderr.write(`floodgate: invalid config, not starting: ${problem}\n`);
    process.exit(1);
  }
  // Deprecated Kong fields, pre-3.0 path migrations: the file loads, but the user should know.
  if (loaded.warnings.length > 0) logger.warn({ warnings: loaded.warnings }, `config loaded with warnings:\n${formatWarnings(loaded.warnings, values.config)}`);

  // RLIMIT_NOFILE is per process, so raising it once here covers every worker thread.
  const nofile = raiseNofileLimit();
  const nofileLog = { soft: formatLimit(nofile.soft), hard: formatLimit(nofile.hard), raised: nofile.raised, source: nofile.source, reason: nofile.reason };
  if (nofile.soft < 1024) logger.warn(nofileLog, 'open-file limit is low; raise the hard limit (LimitNOFILE=, ulimit -Hn) for many connections');
  else logger.info(nofileLog, 'open-file limit');
  const fallback = nativeFallbackWarning();
  if (fallback !== null) logger.warn(fallback);
  // uWS answers a head over UWS_HTTP_MAX_HEADERS_SIZE (4 KiB by default in v20.57) with its own
  // HTML 431 before our handler runs, and reads it when the library loads: set it first, to twice
  // --max-header-bytes, so our JSON 431 answers heads between the two.
  process.env.UWS_HTTP_MAX_HEADERS_SIZE ??= String(settings.maxHeaderBytes * 2);
  const { uwsBuild } = require('./proxy/uws') as typeof import('./proxy/uws');
  if (uwsBuild.warning !== null) logger.warn(uwsBuild.warning);
  else logger.info({ version: uwsBuild.version, variant: uwsBuild.variant }, 'uWebSockets.js');
  if (settings.cpuAffinity.mode !== 'off') {
    logger.info({ cpuAffinity: describeCpuAffinity(settings.cpuAffinity) }, 'CPU affinity requested; each worker pins itself and logs the result');
    startThreadPoolUnpinned(); // before any worker pins itself; see cpu-affinity.ts for why
  }

  // Deferred so `check` and `version` work on machines where no uWS build loads.
  const { Supervisor } = require('./cluster/primary') as typeof import('./cluster/primary');
  const supervisor = new Supervisor(settings, values.config, loaded.config, logger);
  process.on('SIGHUP', () => {
    logger.info('SIGHUP: reloading config');
    supervisor.reload();
  });
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    supervisor.shutdown().then((closedEverything) => (supervisor.inline || closedEverything ? process.exit(0) : exitProcess(0)));
  };
  // logrotate's postrotate: every worker reopens its access log and file-log files by path.
  process.on('SIGUSR1', () => {
    logger.info('SIGUSR1: reopening log files');
    supervisor.reopenLogs();
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  supervisor.start();
  if (admin !== null) startAdmin(admin, supervisor, logger);
}

interface AdminOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string | null;
}

/** Parsed before any worker starts, so a bad flag or token file fails fast and cleanly. */
function adminOption(listenOption: string | undefined, tokenFile: string | undefined): AdminOptions | null {
  if (listenOption === 'off') return null;
  const listen = parseListen(listenOption ?? '127.0.0.1:8001', 'admin-listen');
  let token: string | null = process.env.FLOODGATE_ADMIN_TOKEN ?? null;
  if (tokenFile !== undefined) {
    try {
      token = fs.readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      fail(`--admin-token-file: ${(err as Error).message}`);
    }
  }
  if (token === '') fail('the admin token is empty');
  return { host: listen.host, port: listen.port, token };
}

/** --dns-resolver HOST:PORT (Kong's dns_resolver): the DNS server asked for target names. */
function dnsResolverOption(value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (m === null || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))) fail(`--dns-resolver: "${value}" is not HOST[:PORT]`);
  return m[2] === undefined ? m[1] : `${m[1]}:${m[2]}`;
}

function startAdmin(listen: AdminOptions, supervisor: import('./cluster/primary').Supervisor, logger: ReturnType<typeof systemLogger>): void {
  const token = listen.token;
  const { AdminServer } = require('./admin/server') as typeof import('./admin/server');
  const { adminRoutes } = require('./admin/endpoints') as typeof import('./admin/endpoints');
  const admin = new AdminServer({ host: listen.host, port: listen.port, token }, adminRoutes(supervisor, logger), logger);
  admin.listen().then(
    () => logger.info({ admin: `${listen.host}:${listen.port}`, token: token !== null }, 'admin API listening'),
    // The proxy keeps serving without its admin API; the operator sees why in the log.
    (err: Error) => logger.error({ err, admin: `${listen.host}:${listen.port}` }, 'admin API cannot listen'),
  );
}

/** One error or warning of `check --format json`: where (file, line, column, entity, field) and what. */
interface CheckProblem {
  readonly file: string;
  readonly line: number | null;
  readonly column: number | null;
  readonly entity: string;
  readonly field: string;
  readonly message: string;
}

function asProblems(errors: readonly ConfigError[], file: string): CheckProblem[] {
  return errors.map((e) => ({ file, line: e.line, column: e.column, entity: e.entity, field: e.field, message: e.message }));
}

/**
 * floodgate check FILE [--format text|json]. Exit 0 when the file loads and compiles, 1 when it
 * does not, 2 on a usage error. Text goes to stderr (problems) and stdout (the route table); JSON
 * is one object on stdout either way, for CI pipelines.
 */
function check(argv: string[]): void {
  let parsed: ReturnType<typeof parseCheckArgs>;
  try {
    parsed = parseCheckArgs(argv);
  } catch (err) {
    fail(`check: ${(err as Error).message}`);
  }
  const { file, format } = parsed;
  if (file === undefined) fail('check needs FILE');
  if (format !== 'text' && format !== 'json') fail(`check: --format must be text or json, got "${format}"`);
  const json = format === 'json';
  const loaded = loadConfigFile(file);
  const warnings = asProblems(loaded.warnings, file);
  const problem = loaded.ok ? compileCheck(loaded.config) : null;
  if (!loaded.ok || problem !== null) {
    const errors = loaded.ok
      ? [{ file, line: null, column: null, entity: 'document', field: '', message: problem! }]
      : asProblems(loaded.errors, file);
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, file, errors, warnings }, null, 2)}\n`);
    else {
      if (loaded.warnings.length > 0) process.stderr.write(`${formatWarnings(loaded.warnings, file)}\n`);
      process.stderr.write(loaded.ok ? `${file}: ${problem}\n` : `${formatConfigErrors(loaded.errors, file)}\n`);
    }
    process.exit(1);
  }
  const c = loaded.config;
  const services = new Map(c.services.map((s) => [s.id, s]));
  const rows = compileRouter(c.routes).describe();
  const counts = {
    services: c.services.length,
    routes: c.routes.length,
    upstreams: c.upstreams.length,
    consumers: c.consumers.length,
    plugins: c.plugins.length,
    certificates: c.certificates.length,
  };
  if (json) {
    process.stdout.write(`${JSON.stringify({ ok: true, file, errors: [], warnings, counts }, null, 2)}\n`);
    return;
  }
  if (loaded.warnings.length > 0) process.stderr.write(`${formatWarnings(loaded.warnings, file)}\n`);
  const table = [['#', 'route', 'service', 'methods', 'hosts', 'paths', 'headers', 'priority']];
  for (const r of rows) {
    const svc = r.serviceId === null ? undefined : services.get(r.serviceId);
    table.push([
      String(r.rank),
      r.routeName ?? r.routeId,
      svc === undefined ? '-' : `${svc.name ?? svc.id} (${svc.protocol}://${svc.host}:${svc.port}${svc.path ?? ''})`,
      r.methods?.join(',') ?? '*',
      r.hosts?.join(',') ?? '*',
      r.paths?.join(',') ?? '*',
      r.headers === null ? '-' : Object.entries(r.headers).map(([k, v]) => `${k}:${v.join('|')}`).join(' '),
      r.priority,
    ]);
  }
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const out = table.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
  process.stdout.write(
    `${file}: OK (${counts.services} services, ${counts.routes} routes, ${counts.upstreams} upstreams, ` +
      `${counts.consumers} consumers, ${counts.plugins} plugins, ${counts.certificates} certificates)\n\n${out}\n`,
  );
}

/** Which uWebSockets.js build `start` would run, and why (src/proxy/uws.ts). */
function describeUws(): string {
  try {
    const { uwsBuild } = require('./proxy/uws') as typeof import('./proxy/uws');
    const how =
      uwsBuild.variant === 'patched'
        ? `patched copy for this glibc (${uwsBuild.binary})`
        : uwsBuild.variant === 'stock'
          ? 'stock binary'
          : `FALLBACK: ${uwsBuild.reason}`;
    return `uWebSockets.js ${uwsBuild.version} (${how})`;
  } catch (err) {
    return `uWebSockets.js: no build loads (${(err as Error).message})`;
  }
}

function parseCheckArgs(argv: string[]): { file: string | undefined; format: string } {
  const { values, positionals } = parseArgs({ args: argv, options: { format: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length > 1) throw new Error(`one FILE expected, got ${positionals.length}`);
  return { file: positionals[0], format: values.format ?? 'text' };
}

/** Warnings read like errors, with "warning:" in front of the message. */
function formatWarnings(warnings: readonly ConfigError[], file: string): string {
  return formatConfigErrors(warnings.map((w) => ({ ...w, message: `warning: ${w.message}` })), file);
}

function main(argv: string[]): void {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case 'check':
      return check(rest);
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(`floodgate ${VERSION} (node ${process.version}, ${process.platform}-${process.arch})\n${describeUws()}\n`);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return;
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`);
  }
}

main(process.argv.slice(2));
