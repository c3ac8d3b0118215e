/**
 * Kong's statsd lines from one serialized log record: metric names, stat types, identifiers and
 * tag styles as kong/plugins/statsd/log.lua and statsd_logger.lua produce them.
 *
 * Without tag_style, names carry the scope: `<prefix>.service.<name>.request.count:1|c`
 * (`global.unmatched` when no service matched). With a tag_style, names are bare
 * (`<prefix>.request.count`) and service, route, workspace, consumer, node and status travel as
 * tags in that style; the per-user, per-status and per-workspace metrics are then not sent (Kong
 * skips them too, the tags carry the same information).
 */
import type { LogRecord } from '../../logging/serializer';
import type { MetricConfig, StatsdConfig } from './schema';

const TYPE_CODE: Record<MetricConfig['stat_type'], string> = { gauge: 'g', counter: 'c', timer: 'ms', histogram: 'h', meter: 'm', set: 's' };

/** Floodgate has one workspace, Kong's `default`; it has no UUID of its own. */
const WORKSPACE = 'default';

type Consumer = LogRecord['consumer'];
type Service = LogRecord['service'];

function consumerId(kind: string, consumer: Consumer): string | null {
  if (consumer === null) return null;
  if (kind === 'consumer_id') return consumer.id;
  if (kind === 'username') return consumer.username;
  return consumer.custom_id;
}

function serviceId(kind: string, service: Service): string | null {
  if (service === null) return null;
  if (kind === 'service_id') return service.id;
  if (kind === 'service_name') return service.name;
  if (kind === 'service_host') return service.host;
  return service.name ?? service.host;
}

const dots = /\./g;

/** One compiled statsd config: what each record turns into. */
export class StatsdFormatter {
  readonly #conf: StatsdConfig;
  readonly #prefix: string;
  readonly #hostname: string;
  readonly #random: () => number;

  constructor(conf: StatsdConfig, hostname: string, random: () => number = Math.random) {
    this.#conf = conf;
    this.#hostname = hostname.replace(dots, '_');
    this.#prefix = conf.hostname_in_prefix && conf.tag_style === null ? `${conf.prefix}.node.${this.#hostname}` : conf.prefix;
    this.#random = random;
  }

  /** Appends the record's lines to `out`. */
  linesOf(rec: LogRecord, out: string[]): void {
    const conf = this.#conf;
    const status = rec.response.status;
    for (const m of conf.metrics) {
      const rate = m.sample_rate;
      // A sampled metric is sent with probability sample_rate and says so (`|@0.5`), so the
      // server scales it back up.
      if (rate !== null && rate < 1 && this.#random() >= rate) continue;
      const suffix = rate !== null && rate !== 1 ? `|@${rate}` : '';
      const consumer = consumerId(m.consumer_identifier ?? conf.consumer_identifier_default, rec.consumer);
      if (conf.tag_style !== null) {
        const plain = this.#plainStat(m.name, rec);
        if (plain === null) continue;
        out.push(this.#tagged(plain[0], plain[1], TYPE_CODE[m.stat_type] + suffix, rec, m, consumer));
        continue;
      }
      const scope = this.#scope(rec, m.service_identifier ?? conf.service_identifier_default);
      switch (m.name) {
        case 'unique_users':
          if (consumer !== null) out.push(`${this.#prefix}.${scope}.user.uniques:${consumer}|s`);
          break;
        case 'request_per_user':
          if (consumer !== null) out.push(`${this.#prefix}.${scope}.user.${consumer}.request.count:1|c${suffix}`);
          break;
        case 'status_count':
          out.push(`${this.#prefix}.${scope}.status.${status}:1|c${suffix}`);
          break;
        case 'status_count_per_user':
          if (consumer !== null) out.push(`${this.#prefix}.${scope}.user.${consumer}.status.${status}:1|c${suffix}`);
          break;
        case 'status_count_per_workspace':
          out.push(`${this.#prefix}.${scope}.workspace.${WORKSPACE}.status.${status}:1|c${suffix}`);
          break;
        case 'status_count_per_user_per_route':
          if (consumer !== null && rec.route !== null) out.push(`${this.#prefix}.route.${rec.route.id}.user.${consumer}.status.${status}:1|c${suffix}`);
          break;
        case 'shdict_usage':
          // Kong reports nginx shared dictionaries; Floodgate has none.
          break;
        default: {
          const plain = this.#plainStat(m.name, rec);
          if (plain !== null) out.push(`${this.#prefix}.${scope}.${plain[0]}:${plain[1]}|${TYPE_CODE[m.stat_type]}${suffix}`);
        }
      }
    }
  }

  /** The metrics that are one value per request: [stat name, value], or null for the others. */
  #plainStat(name: MetricConfig['name'], rec: LogRecord): [string, number] | null {
    switch (name) {
      case 'request_count':
        return ['request.count', 1];
      case 'latency':
        return ['latency', Math.round(rec.latencies.request)];
      case 'request_size':
        return ['request.size', rec.request.size];
      case 'response_size':
        return ['response.size', rec.response.size];
      case 'upstream_latency':
        return ['upstream_latency', Math.round(rec.latencies.proxy)];
      case 'kong_latency':
        return ['kong_latency', Math.round(rec.latencies.kong)];
      default:
        return null;
    }
  }

  #scope(rec: LogRecord, identifier: string): string {
    if (rec.service === null) return 'global.unmatched';
    const id = serviceId(identifier, rec.service);
    return id === null ? 'service.unnamed' : 'service.' + id.replace(dots, '_');
  }

  #tagged(stat: string, value: number, type: string, rec: LogRecord, m: MetricConfig, consumer: string | null): string {
    const conf = this.#conf;
    const name = `${this.#prefix}.${stat}`;
    const service = serviceId(m.service_identifier ?? conf.service_identifier_default, rec.service);
    // Kong sends no tags at all for a request that matched no service.
    if (service === null) return `${name}:${value}|${type}`;
    const tags: [string, string][] = [['service', service]];
    if (rec.route !== null) tags.push(['route', rec.route.name ?? rec.route.id]);
    tags.push(['workspace', WORKSPACE]);
    if (consumer !== null) tags.push(['consumer', consumer]);
    tags.push(['node', this.#hostname], ['status', String(rec.response.status)]);
    switch (conf.tag_style) {
      case 'dogstatsd':
        return `${name}:${value}|${type}|#${tags.map(([k, v]) => `${k}:${v}`).join(',')}`;
      case 'influxdb':
        return `${name},${tags.map(([k, v]) => `${k}=${v}`).join(',')}:${value}|${type}`;
      case 'librato':
        return `${name}#${tags.map(([k, v]) => `${k}=${v}`).join(',')}:${value}|${type}`;
      default:
        return `${name}[${tags.map(([k, v]) => `${k}=${v}`).join(',')}]:${value}|${type}`;
    }
  }
}

/** Lines into datagrams of at most `size` bytes (newline-joined); 0 = one line each. */
export function packLines(lines: readonly string[], size: number): string[] {
  if (size <= 0) return lines.slice();
  const out: string[] = [];
  let current = '';
  for (const line of lines) {
    if (current === '') current = line;
    else if (Buffer.byteLength(current) + 1 + Buffer.byteLength(line) <= size) current += '\n' + line;
    else {
      out.push(current);
      current = line;
    }
  }
  if (current !== '') out.push(current);
  return out;
}
