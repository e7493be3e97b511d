import { gunzipSync } from 'node:zlib';

/**
 * The regular files of a .tgz as npm packs it, keyed by path without the leading
 * `package/`. Enough of ustar for npm and pnpm tarballs: 512-byte headers, the ustar
 * prefix field, and PAX (`x`) and GNU (`L`) long names.
 */
export function readTarball(gzipped: Uint8Array): Map<string, Buffer> {
  const data = gunzipSync(gzipped);
  const files = new Map<string, Buffer>();
  let offset = 0;
  let longName: string | undefined;
  while (offset + 512 <= data.length) {
    const header = data.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const size = parseInt(field(header, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = field(header, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    const body = data.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;

    if (type === 'x') {
      longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'))?.[1];
      continue;
    }
    if (type === 'L') {
      longName = body.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    longName = undefined;
    if (type === '0' || type === '\0') files.set(name.replace(/^[^/]+\//, ''), Buffer.from(body));
  }
  return files;
}

function field(header: Uint8Array, start: number, length: number): string {
  const bytes = header.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return Buffer.from(end >= 0 ? bytes.subarray(0, end) : bytes).toString('utf8');
}
