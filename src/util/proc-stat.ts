/**
 * Reading CPU time from /proc/<pid>/stat, shared by the benchmark harness and the load tests.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond = 0;

/** USER_HZ: the unit of /proc's CPU times (almost always 100). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === 0) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/**
 * The fields of a /proc/<pid>/stat line after "pid (comm)". comm may hold spaces and
 * parentheses, so split after the last ')'. Index 0 is field 3 (state): utime is [11], stime
 * [12], cutime [13], cstime [14], pgrp [2].
 */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** User + system CPU seconds a process (all its threads) has used so far. */
export function processCpuSeconds(pid: number): number {
  const f = statFields(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  return (Number(f[11]) + Number(f[12])) / clockTicksPerSecond();
}
