/** The machine and tool versions, for the report header. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Settings } from './settings';

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  // nginx -v prints on stderr, wrk -v exits 1: take whatever came out first
  const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').find((l) => l.trim());
  return text?.trim() ?? `(${cmd} not found)`;
}

function pkgVersion(root: string, name: string): string {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

export function loadAverage(): string {
  return loadavg().map((l) => l.toFixed(2)).join(' ');
}

export function describeMachine(s: Settings): [string, string][] {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?';
  const uname = spawnSync('uname', ['-srm'], { encoding: 'utf8' }).stdout?.trim() ?? '?';
  const wrk = firstLine(s.bin.wrk, ['-v']).replace(/\s*\[.*$/, '').replace(/\s*Copyright.*$/, '');
  return [
    ['host', uname],
    ['nproc', String(availableParallelism())],
    ['cpu', cpu],
    ['memory', `${Math.round(totalmem() / 2 ** 30)} GiB`],
    ['node', process.version],
    ['nginx', firstLine(s.bin.nginx, ['-v']).replace(/^nginx version: /, '')],
    ['haproxy', firstLine(s.bin.haproxy, ['-v']).replace(/ - https.*$/, '')],
    ['caddy', firstLine(s.bin.caddy, ['version'])],
    ['wrk', wrk],
    ['node peers', ['fastify', '@fastify/http-proxy', 'http-proxy', 'fast-gateway'].map((p) => `${p} ${pkgVersion(s.root, p)}`).join(', ')],
  ];
}
