/**
 * Machine description and result files (loadtest/results/<name>-<date>.{json,md}).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { RESULTS_DIR, fileStamp, readNofile } from './common';

const SYSCTLS = [
  'fs/file-max',
  'fs/nr_open',
  'net/core/somaxconn',
  'net/core/netdev_max_backlog',
  'net/ipv4/ip_local_port_range',
  'net/ipv4/tcp_tw_reuse',
  'net/ipv4/tcp_max_syn_backlog',
  'net/ipv4/tcp_max_tw_buckets',
  'net/ipv4/tcp_fin_timeout',
  'net/ipv4/tcp_rmem',
  'net/ipv4/tcp_wmem',
  'net/ipv4/tcp_mem',
  'net/netfilter/nf_conntrack_max',
  'net/netfilter/nf_conntrack_count',
];

function readSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of SYSCTLS) {
    try {
      out[k.replaceAll('/', '.')] = readFileSync(`/proc/sys/${k}`, 'utf8').trim().replace(/\s+/g, ' ');
    } catch {
      out[k.replaceAll('/', '.')] = 'absent';
    }
  }
  return out;
}

export interface Machine {
  date: string;
  kernel: string;
  os: string;
  cpuModel: string;
  cpus: number;
  memTotalGiB: number;
  node: string;
  loadavgAtStart: number[];
  clientNofile: { soft: number; hard: number };
  sysctls: Record<string, string>;
  note: string;
}

export function describeMachine(): Machine {
  let osName = os.type();
  try {
    osName = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osName;
  } catch {
    /* keep os.type() */
  }
  return {
    date: new Date().toISOString(),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    os: osName,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.availableParallelism(),
    memTotalGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    clientNofile: readNofile('self'),
    sysctls: readSysctls(),
    note:
      'Shared, noisy VM; load generator, gateway and upstream all run on this machine and share its cores; loopback only.',
  };
}

export function machineMarkdown(m: Machine, extra: Record<string, string> = {}): string {
  const rows: [string, string][] = [
    ['date', m.date],
    ['cpu', `${m.cpus} × ${m.cpuModel}`],
    ['memory', `${m.memTotalGiB} GiB`],
    ['os / kernel', `${m.os} / ${m.kernel}`],
    ['node', m.node],
    ['load average at start', m.loadavgAtStart.join(' ')],
    ['load average at end', os.loadavg().map((x) => x.toFixed(2)).join(' ')],
    ['client RLIMIT_NOFILE', `${m.clientNofile.soft} soft / ${m.clientNofile.hard} hard`],
    ...Object.entries(extra),
    ['sysctls', Object.entries(m.sysctls).map(([k, v]) => `${k}=${v}`).join('; ')],
  ];
  return ['| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v.replaceAll('|', '\\|')} |`), '', m.note].join('\n');
}

/** Writes <name>-<stamp>.json and .md under loadtest/results/ and returns their paths. */
export function writeResults(name: string, json: unknown, markdown: string): { json: string; md: string } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const base = path.join(RESULTS_DIR, `${name}-${fileStamp()}`);
  writeFileSync(`${base}.json`, JSON.stringify(json, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  writeFileSync(`${base}.md`, markdown.endsWith('\n') ? markdown : markdown + '\n');
  return { json: `${base}.json`, md: `${base}.md` };
}
