import type { SpanView, TraceView } from './state.ts';

// OTLP/HTTP JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding), as much
// of it as the waterfalls need. Ids are hex; times are nanoseconds as strings.
interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface OtlpSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: KeyValue[];
  events?: { name?: string }[];
  status?: { code?: number };
}
interface OtlpTraces {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const SHOWN = new Set(['http.response.status_code', 'error.type', 'http.request.resend_count', 'url.path', 'http.route', 'server.port']);

function valueOf(v: AnyValue | undefined): string | number | boolean | undefined {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  return v.boolValue;
}

/** An id as hex, whether the exporter sent hex or base64. */
function hexId(id: string | undefined): string | undefined {
  if (id === undefined || id === '') return undefined;
  if (/^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

const ms = (nanos: string | number | undefined): number => Number(BigInt(nanos ?? 0) / 1_000n) / 1_000;

interface StoredSpan extends Omit<SpanView, 'start'> {
  startMs: number;
}

interface Pending {
  spans: StoredSpan[];
  lastSeen: number;
}

/**
 * The spans the services export (OTLP/HTTP JSON, posted to the demo's `/v1/traces`),
 * grouped into traces. A trace is shown once its root span has arrived and no span came for
 * a second; the last few are kept, with room kept for ones that had an error or a retry,
 * which are the interesting ones. Memory is bounded: at most `maxOpen` traces are being
 * assembled and each holds at most 200 spans.
 */
export class TraceCollector {
  readonly #open = new Map<string, Pending>();
  #done: TraceView[] = [];
  readonly #keep: number;
  readonly #maxOpen: number;
  /** Spans received since start. */
  received = 0;

  constructor(options: { keep?: number; maxOpen?: number } = {}) {
    this.#keep = options.keep ?? 8;
    this.#maxOpen = options.maxOpen ?? 2_000;
  }

  /** Takes one OTLP JSON export request body; throws a TypeError when it is not one. */
  ingest(body: unknown): number {
    if (typeof body !== 'object' || body === null || !Array.isArray((body as OtlpTraces).resourceSpans)) {
      throw new TypeError('not an OTLP traces request: expected { resourceSpans: [...] }');
    }
    let count = 0;
    const now = Date.now();
    for (const rs of (body as OtlpTraces).resourceSpans!) {
      const resource = Object.fromEntries((rs.resource?.attributes ?? []).map((a) => [a.key, valueOf(a.value)]));
      const service = String(resource['service.instance.id'] ?? resource['service.name'] ?? 'unknown');
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) {
          const traceId = hexId(span.traceId);
          const spanId = hexId(span.spanId);
          if (traceId === undefined || spanId === undefined) continue;
          const attributes: Record<string, string | number | boolean> = {};
          let error = span.status?.code === 2;
          for (const a of span.attributes ?? []) {
            const v = valueOf(a.value);
            if (v === undefined) continue;
            if (a.key === 'error.type') error = true;
            if (SHOWN.has(a.key)) attributes[a.key] = v;
          }
          const startMs = ms(span.startTimeUnixNano);
          let pending = this.#open.get(traceId);
          if (pending === undefined) {
            if (this.#open.size >= this.#maxOpen) this.#evictOldest();
            pending = { spans: [], lastSeen: now };
            this.#open.set(traceId, pending);
          }
          pending.lastSeen = now;
          if (pending.spans.length >= 200) continue;
          pending.spans.push({
            spanId,
            parentSpanId: hexId(span.parentSpanId),
            name: span.name ?? '',
            service,
            kind: KINDS[span.kind ?? 0] ?? 'unspecified',
            startMs,
            duration: Math.max(0, ms(span.endTimeUnixNano) - startMs),
            error,
            attributes,
            events: (span.events ?? []).map((e) => e.name ?? '').filter((n) => n !== ''),
          });
          count++;
        }
      }
    }
    this.received += count;
    return count;
  }

  #evictOldest(): void {
    const first = this.#open.keys().next();
    if (first.done !== true) this.#open.delete(first.value);
  }

  /** Completes the traces that have been quiet for `quietMs`, and answers the last ones, newest first. */
  traces(quietMs = 1_000): TraceView[] {
    const now = Date.now();
    for (const [traceId, pending] of this.#open) {
      if (now - pending.lastSeen < quietMs) continue;
      this.#open.delete(traceId);
      const ids = new Set(pending.spans.map((s) => s.spanId));
      const root = pending.spans.find((s) => s.parentSpanId === undefined || !ids.has(s.parentSpanId));
      // Only traces whose entry span we have; the dashboard's own polling is not shown.
      if (root === undefined || /^GET \/(admin|health)\b/.test(root.name)) continue;
      const start = Math.min(...pending.spans.map((s) => s.startMs));
      const end = Math.max(...pending.spans.map((s) => s.startMs + s.duration));
      const spans = pending.spans
        .sort((a, b) => a.startMs - b.startMs)
        .map(({ startMs, ...rest }) => ({ ...rest, start: startMs - start }));
      this.#done.unshift({
        traceId,
        name: root.name,
        startedAt: start,
        duration: end - start,
        error: spans.some((s) => s.error),
        spans,
      });
      this.#trim();
    }
    return this.#done;
  }

  // The newest traces, but at most half of them plain successes: a retry or an error is what
  // the waterfalls are there to show.
  #trim(): void {
    if (this.#done.length <= this.#keep) return;
    const notable = (t: TraceView): boolean => t.error || t.spans.some((s) => s.events.length > 0 || s.attributes['http.request.resend_count'] !== undefined);
    const kept: TraceView[] = [];
    let plain = 0;
    for (const t of this.#done) {
      if (kept.length >= this.#keep) break;
      if (!notable(t)) {
        if (plain >= Math.ceil(this.#keep / 2) && this.#done.some((o) => notable(o) && !kept.includes(o))) continue;
        plain++;
      }
      kept.push(t);
    }
    this.#done = kept;
  }
}
