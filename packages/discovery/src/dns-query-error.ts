import { hostPort } from './instance.ts';

// Its own module, free of dns-packet's types, so that the package's public declarations do
// not need @types/dns-packet (a development dependency) to type-check.

/** A DNS server: an IP address and a port. */
export interface DnsServer {
  readonly host: string;
  readonly port: number;
}

/**
 * A failed query. `code` is the server's rcode (`NXDOMAIN`, `SERVFAIL`, `REFUSED`, ...),
 * `TIMEOUT`, `ABORTED`, `BADNAME`, `BADRESPONSE`, or the socket's error code (`ECONNREFUSED`, ...).
 */
export class DnsQueryError extends Error {
  readonly code: string;
  readonly server: DnsServer | undefined;

  constructor(code: string, message: string, server?: DnsServer, options?: ErrorOptions) {
    super(server === undefined ? `lifeline: dns: ${message}` : `lifeline: dns: ${message} (server ${hostPort(server.host, server.port)})`, options);
    this.name = 'DnsQueryError';
    this.code = code;
    this.server = server;
  }
}
