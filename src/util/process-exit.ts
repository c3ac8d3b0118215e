/**
 * How the gateway process ends once it has drained.
 *
 * Node tears worker threads down on exit, and with uWebSockets.js v20.30 (no App.close(); see
 * uNetworking/uWebSockets.js#324) that teardown aborts the whole process with "uv_loop_close()
 * while having open handles" whenever a worker still holds a client connection, such as an idle
 * keep-alive one. So after draining and flushing logs we leave with _exit(2) through the native
 * addon, and let the kernel close the sockets. Without the addon, process.exit is the fallback:
 * correct when no connection is open, an abort (exit 134) otherwise.
 */
import { nativeAvailable, nativeExitImmediately } from './native';

export function exitProcess(code: number): never {
  if (nativeAvailable) nativeExitImmediately(code);
  process.exit(code);
}
