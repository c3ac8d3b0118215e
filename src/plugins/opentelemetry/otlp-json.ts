/**
 * OTLP/HTTP JSON encoding of finished spans (opentelemetry-proto, JSON mapping): ids as lower-case
 * hex, times as decimal strings of Unix nanoseconds, enums as integers. JSON rather than protobuf:
 * every OTLP/HTTP receiver (the Collector, Jaeger, Tempo...) must accept it, it needs no
 * dependency, and it runs off the request path, batched; see ARCHITECTURE.md.
 */

export const enum SpanKind {
  Server = 2,
  Client = 3,
}

export const enum StatusCode {
  Unset = 0,
  Error = 2,
}

export type AttributeValue = string | number | boolean;

/** A finished span, as the log phase records it (times: epoch ms with fractions). */
export interface FinishedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: SpanKind;
  startMs: number;
  endMs: number;
  attributes: Record<string, AttributeValue>;
  error: boolean;
}

/**
 * Epoch ms (float) to a decimal string of nanoseconds (2^53 is too small for epoch ns). A double
 * near 1.7e12 ms holds ~0.2 µs, so the result is rounded to whole microseconds.
 */
export function msToUnixNano(ms: number): string {
  let whole = Math.floor(ms);
  let micros = Math.round((ms - whole) * 1000);
  if (micros === 1000) {
    whole++;
    micros = 0;
  }
  return (BigInt(whole) * 1_000_000n + BigInt(micros * 1000)).toString();
}

function anyValue(v: AttributeValue): Record<string, unknown> {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

export function attributes(attrs: Record<string, AttributeValue>): { key: string; value: Record<string, unknown> }[] {
  const out: { key: string; value: Record<string, unknown> }[] = [];
  for (const key of Object.keys(attrs)) out.push({ key, value: anyValue(attrs[key]) });
  return out;
}

export function encodeTraces(resource: Record<string, AttributeValue>, scopeVersion: string, spans: readonly FinishedSpan[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: attributes(resource) },
        scopeSpans: [
          {
            scope: { name: 'floodgate', version: scopeVersion },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId,
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: msToUnixNano(s.startMs),
              endTimeUnixNano: msToUnixNano(s.endMs),
              attributes: attributes(s.attributes),
              status: { code: s.error ? StatusCode.Error : StatusCode.Unset },
            })),
          },
        ],
      },
    ],
  });
}
