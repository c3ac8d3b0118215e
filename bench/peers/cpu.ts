/**
 * CPU time of a whole process group, from /proc/<pid>/stat: utime + stime (all threads of the
 * process) + cutime + cstime (children it already reaped), summed over every process whose pgrp
 * is the group. Sample before and after a run; the difference is what the contender burnt.
 */
import { clockTicksPerSecond, statFields } from '../../src/util/proc-stat';
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds used so far by the processes of group `pgid`. */
export function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    const f = statFields(stat);
    if (Number(f[2]) !== pgid) continue;
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / clockTicksPerSecond();
}
