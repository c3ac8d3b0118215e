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

export interface Contender {
  /** stable id, used in CONTENDERS=... and in the JSON */
  id: string;
  /** name in the tables */
  label: string;
  /** one line on how it is set up, printed under the tables */
  setup: string;
  start(ctx: StartContext): Promise<Service>;
}
