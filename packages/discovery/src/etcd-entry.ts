import { hostPort, parseHostPort, type Instance } from './instance.ts';

/**
 * An instance as it is registered: enough for {@link encodeEntry}. The id is the key's last
 * part, so it is not in the value.
 */
export interface EntryInstance {
  readonly host: string;
  readonly port: number;
  readonly zone?: string | undefined;
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * The value stored at `<prefix>/<service>/<instance-id>`, in the layout of gRPC-go's etcd
 * naming (`go.etcd.io/etcd/client/v3/naming`): `{"Op":0,"Addr":"host:port","Metadata":{...}}`.
 * The zone travels as `Metadata.zone`.
 *
 * @example encodeEntry({ host: '10.0.0.7', port: 8080, zone: 'a' })
 * // '{"Op":0,"Addr":"10.0.0.7:8080","Metadata":{"zone":"a"}}'
 */
export function encodeEntry(instance: EntryInstance): string {
  const metadata: Record<string, unknown> = { ...instance.metadata };
  delete metadata.zone;
  if (instance.zone !== undefined) metadata.zone = instance.zone;
  return JSON.stringify({ Op: 0, Addr: hostPort(instance.host, instance.port), Metadata: metadata });
}

/**
 * Reads one registry value into an instance, or returns the reason it cannot. `id` is the
 * key with `<prefix>/<service>/` removed. Accepts the values of gRPC-go's naming packages: `Op`
 * absent or 0 (an add), `Addr` as `host:port` or `[ipv6]:port`, `Metadata` any JSON (an
 * object's fields become `metadata`, its `zone` string the instance's zone). Never throws.
 *
 * @example parseEntry('i-1', '{"Addr":"10.0.0.7:8080","Metadata":{"zone":"a"}}')
 * // { id: 'i-1', host: '10.0.0.7', port: 8080, zone: 'a', metadata: {} }
 */
export function parseEntry(id: string, value: string): Instance | string {
  if (typeof id !== 'string' || id === '') return 'empty instance id';
  let entry: unknown;
  try {
    entry = JSON.parse(value);
  } catch {
    return 'value is not JSON';
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return 'value is not a JSON object';
  const { Op, Addr, Metadata } = entry as { Op?: unknown; Addr?: unknown; Metadata?: unknown };
  if (Op !== undefined && Op !== 0) return `Op is ${JSON.stringify(Op)}, not 0 (add)`;
  if (typeof Addr !== 'string' || Addr === '') return 'no Addr';
  const address = parseHostPort(Addr);
  if (typeof address === 'string') return `bad Addr: ${address}`;
  const metadata: Record<string, unknown> = {};
  let zone: string | undefined;
  if (Metadata !== null && typeof Metadata === 'object' && !Array.isArray(Metadata)) {
    for (const [name, field] of Object.entries(Metadata)) {
      if (name === 'zone') {
        if (typeof field === 'string' && field !== '') zone = field;
      } else {
        Object.defineProperty(metadata, name, { value: field, enumerable: true, writable: true, configurable: true });
      }
    }
  }
  return { id, host: address.host, port: address.port, zone, metadata };
}
