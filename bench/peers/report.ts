/** The markdown report: machine, method, one table per (worker count, scenario), then any errors. */
import type { Contender } from './contenders';
import { summarize, type ScenarioRuns, type Summary } from './results';
import type { Scenario } from './scenarios';
import type { Settings } from './settings';

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const fix = (n: number, d: number) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

function errorsCell(s: Summary): string {
  const parts: string[] = [];
  if (s.errors) parts.push(`**${s.errors}**`);
  if (s.warmupErrors) parts.push(`${s.warmupErrors} in warm-up`);
  return parts.length ? parts.join(', ') : '0';
}

export function scenarioTable(s: ScenarioRuns, baselineLabel: string): string {
  const rows = summarize(s).map((x) =>
    `| ${x.label} | ${int(x.rps)} | ${fix(x.ratio, 2)}× | ${fix(x.p50ms, 2)} ms | ${fix(x.p99ms, 2)} ms | ${fix(x.cpuPct, 0)}% | ${fix(x.cpuPer10k, 3)} | ${errorsCell(x)} | ${x.roundsRps.map((r) => Math.round(r)).join(' ')} |`,
  );
  return [
    `| contender | median req/s | vs ${baselineLabel} | p50 | p99 | CPU (% of a core) | CPU s / 10k req | errors | req/s per round |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}

export interface ReportInput {
  settings: Settings;
  machine: [string, string][];
  scenarios: Scenario[];
  contenders: Contender[];
  results: ScenarioRuns[];
  /** contenders left out of a scenario because they failed to start or to verify, with why */
  excluded: string[];
  started: Date;
  finished: Date;
  loadBefore: string;
  loadAfter: string;
  command: string;
}

function rawErrors(results: ScenarioRuns[]): string[] {
  const out: string[] = [];
  for (const s of results) {
    for (const c of s.contenders) {
      const runs = [...(c.warmup ? [{ label: 'warm-up', wrk: c.warmup }] : []), ...c.runs.map((r) => ({ label: `round ${r.round}`, wrk: r.wrk }))];
      for (const r of runs) {
        if (r.wrk.errors) out.push(`${s.workers} worker(s), ${s.scenario}, ${c.label}, ${r.label}:\n\n\`\`\`\n${r.wrk.raw.trimEnd()}\n\`\`\``);
      }
    }
  }
  return out;
}

export function renderReport(r: ReportInput): string {
  const s = r.settings;
  const minutes = ((r.finished.getTime() - r.started.getTime()) / 60_000).toFixed(1);
  const used = new Set(r.results.flatMap((x) => x.contenders.map((c) => c.id)));
  const nproc = Number(r.machine.find(([k]) => k === 'nproc')?.[1] ?? 0);
  const lines: string[] = [];
  lines.push(`# Floodgate peer benchmark${s.quick ? ' (quick)' : ''}`, '');
  lines.push(`\`${r.command}\` — ${r.started.toISOString()}, ${minutes} min.`, '');
  lines.push('## Machine', '');
  for (const [k, v] of r.machine) lines.push(`- ${k}: ${v}`);
  lines.push(`- load average: ${r.loadBefore} before, ${r.loadAfter} after`, '');
  lines.push('## Method', '');
  lines.push(
    `- Load: \`wrk -t${s.threads} -c${s.conns} -d${s.duration}s --latency\`, the same for every contender, on loopback; no CPU pinning (wrk, contender and upstream share the ${nproc} cores).`,
    `- Upstream: one NGINX (${s.upstreamWorkers} worker) serving GET /tiny, GET /64k, POST /upload (bench/nginx/bench-upstream.conf.tmpl).`,
    `- Rounds: ${s.rounds} interleaved rounds per scenario (every contender once per round, same order), ${s.warmup} s warm-up per contender before round 1, ${s.pauseMs} ms idle between runs. Medians over rounds.`,
    ...(s.workers.some((w) => w >= nproc)
      ? [`- With N = all ${nproc} cores, wrk and the upstream compete with the contender for the same cores: that run shows how a proxy copes with contention more than how it scales.`]
      : []),
    '- Contenders are started once per worker count and kept running for all its scenarios; the load rotates between them (idle contenders sit idle).',
    '- Each contender gets the same worker/thread count N. "vs" is the median req/s divided by the baseline\'s median req/s in the same scenario and session.',
    '- p50/p99: median over rounds of wrk\'s per-run percentile. CPU: utime+stime of the contender\'s whole process group (/proc), during the run; % of one core, and CPU-seconds per 10,000 requests.',
    '- errors: non-2xx/3xx answers + socket errors (connect/read/write/timeout) in measured runs; raw wrk output below when not 0.',
    '- Every contender is verified before the load: the request of each scenario goes through it and the upstream\'s answer comes back (body checked; the 1 MiB upload must reach the upstream whole).',
    ...(r.scenarios.some((x) => x.id === 'auth')
      ? ['- auth: each Floodgate variant runs the same catch-all route with one auth plugin (or key-auth + acl), and wrk sends that contender\'s credentials on every request. Verification also checks that the credentials reach the upstream, and that the proxy itself refuses a request without credentials (401), with a wrong credential (401) and, for acl, with a consumer outside the group (403).']
      : []),
    ...(r.scenarios.some((x) => x.id === 'auth-rl')
      ? ['- auth-rl: plain Floodgate and the same catch-all route with key-auth + rate-limiting (local policy, a minute limit never reached; wrk sends the key to the latter only); the ratio is to plain Floodgate in the same run. Verification checks that the key reaches the upstream, that the answer carries the X-RateLimit-* headers, and that the proxy itself refuses no key and an unknown key (401).']
      : []),
    '',
  );
  lines.push('Contenders:', '');
  for (const c of r.contenders) if (used.has(c.id)) lines.push(`- **${c.label}**: ${c.setup}`);
  lines.push('');
  for (const sc of r.scenarios) {
    const rows = r.results.filter((x) => x.scenario === sc.id);
    if (!rows.length) continue;
    lines.push(`## ${sc.title}`, '', `${sc.load}.`, '');
    for (const x of rows) {
      const baseLabel = r.contenders.find((c) => c.id === x.baseline)?.label ?? x.baseline;
      lines.push(`**${x.workers} worker${x.workers > 1 ? 's' : ''} / thread${x.workers > 1 ? 's' : ''} each**`, '', scenarioTable(x, baseLabel), '');
    }
  }
  if (r.excluded.length) {
    lines.push('## Excluded', '', 'These failed to start or did not proxy correctly, so they were not measured:', '');
    for (const e of r.excluded) lines.push(`- ${e.replace(/\n/g, ' ')}`);
    lines.push('');
  }
  const errs = rawErrors(r.results);
  lines.push('## Errors', '');
  if (errs.length) lines.push(...errs.map((e) => `${e}\n`));
  else lines.push('None: no non-2xx/3xx answers and no socket errors in any run, warm-ups included.', '');
  return lines.join('\n');
}
