/**
 * The node command-line flags Floodgate runs with. deploy/floodgate.service, `make run`, the
 * CLI's shebang (the npm `floodgate` bin) and every harness that starts it (tests, bench,
 * loadtest) pass them; `floodgate listening` logs whether they were (`gcThreads`).
 *
 * --single-threaded-gc: each isolate collects its garbage on its own thread. By default V8 helps
 * every collector with its platform threads (parallel scavenges, concurrent marking and
 * sweeping: four threads on this 2-core machine, shared by the whole process). Floodgate already
 * runs one worker per core, so those helpers take CPU from the workers, not from idle cores, and
 * their hand-offs cost more than they save. On the 1 MiB upload (1 worker, interleaved A/B, CPU of
 * the whole process per request) the helpers cost ~1,390 us against ~860 us without them
 * (requests/s +35 %); --no-concurrent-marking alone and --no-parallel-scavenge alone each won back
 * part of it. A tiny GET, which makes little garbage, did not move.
 *
 * Why on the command line: V8 reads its flags when it creates an isolate and again at each
 * collection, so v8.setFlagsFromString('--single-threaded-gc') in a running process aborts it at
 * its next full collection (a V8 check fails: tried, in the primary before its first worker and
 * as the CLI's first import), and NODE_OPTIONS does not accept the flag.
 */
const SINGLE_THREADED_GC = '--single-threaded-gc';

export const NODE_FLAGS: readonly string[] = [SINGLE_THREADED_GC];

/** How this process collects: 'single' when it was started with NODE_FLAGS' GC flag. */
export function gcThreads(execArgv: readonly string[] = process.execArgv): 'single' | 'parallel' {
  return execArgv.includes(SINGLE_THREADED_GC) ? 'single' : 'parallel';
}
