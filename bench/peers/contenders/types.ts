/** What every contender module provides, and what it gets to start with. */
import type { Service } from '../procs';
import type { Settings } from '../settings';

export interface StartContext {
  settings: Settings;
  /** worker processes / threads for this contender */
  workers: number;
  upstreamPort: number;
  /** the port this contender must listen on (127.0.0.1) */
  port: number;
  /** a private scratch directory (configs, logs) */
  dir: string;
}

/**
 * What a client must send through a contender (the auth scenario's credentials), and what its
 * verification must see. Contenders without `client` get the scenario's plain request.
 */
export interface ClientRequest {
  /** headers on every request: wrk -H, and the verification request */
  headers?: Record<string, string>;
  /** a wrk lua script replacing the scenario's, with its arguments (after wrk's `--`) */
  script?: { path: string; args: string[] };
  /** more header sets the script sends, each of which verification must see reach the upstream */
  alsoAccepted?: Record<string, string>[];
  /** response headers the accepted answer must carry, added by the proxy (a plugin's proof of work) */
  addedHeaders?: string[];
  /** requests the proxy itself must refuse (never reaching the upstream), with that status */
  refused?: { what: string; headers: Record<string, string>; status: number }[];
}

export interface Contender {
  /** stable id, used in CONTENDERS=... and in the JSON */
  id: string;
  /** name in the tables */
  label: string;
  /** one line on how it is set up, printed under the tables */
  setup: string;
  start(ctx: StartContext): Promise<Service>;
  /** what to send through it (called once, after a successful start, with the same context) */
  client?(ctx: StartContext): ClientRequest;
}
