/**
 * How the gateway process ends when a worker could not close its connections.
 *
 * Node tears worker threads down on exit, and a worker thread that still holds uWS sockets makes
 * that teardown abort the whole process ("uv_loop_close() while having open handles"). With uWS
 * v20.57 every worker closes its sockets with App.close() after draining, and the process ends
 * with a plain process.exit. This is the way out for the rest: the v20.30 fallback (no
 * App.close(); uNetworking/uWebSockets.js#324) and a worker that missed the drain deadline. It
 * leaves with _exit(2) through the native addon and lets the kernel close the sockets. Without
 * the addon, process.exit: correct when no connection is open, an abort (exit 134) otherwise.
 */
import { nativeAvailable, nativeExitImmediately } from './native';

export function exitProcess(code: number): never {
  if (nativeAvailable) nativeExitImmediately(code);
  process.exit(code);
}
