/**
 * Where the built-in `http` job may send requests: the allow-list of `builtins.http.allow`, and
 * the addresses refused unless that list names them itself (link-local and cloud metadata).
 *
 * An entry is either
 * - a host: `hooks.example.org`, `127.0.0.1`, `[::1]` — any path, `http` or `https`, any port;
 *   with a port (`hooks.example.org:8443`), that port only;
 * - a URL prefix: `https://api.example.com/v1/` — that scheme, host and port (the scheme's default
 *   when none is written), and paths under that one (`/v1` allows `/v1` and `/v1/…`, not `/v10`).
 *
 * Hosts are compared after WHATWG URL normalization — the parsing `fetch` and browsers use — so
 * `0xa9fea9fe`, `169.254.169.254.` and `[::ffff:169.254.169.254]` are all the address they mean,
 * and `Example.ORG.` is `example.org`. No wildcards: a listed host is a trust decision.
 */
import dns from 'node:dns';
import net from 'node:net';
import { UnrecoverableError } from '../errors.js';

/**
 * Names of cloud metadata services: they answer with instance credentials, so a job that reaches
 * one can leak them. Refused unless an allow-list entry names them itself.
 */
const METADATA_HOST_NAMES: ReadonlySet<string> = new Set([
  'metadata.google.internal', // Google Cloud
  'metadata.goog', // Google Cloud
  'metadata', // Google Cloud, short form
  'instance-data', // AWS
  'instance-data.ec2.internal', // AWS
]);

/**
 * Addresses refused unless an allow-list entry names them itself. IPv4-mapped IPv6 addresses
 * (`::ffff:169.254.169.254`) are checked against the IPv4 rules by `BlockList` itself.
 */
const METADATA_ADDRESSES = new net.BlockList();
// Link-local: where AWS, Google Cloud, Azure, Oracle, DigitalOcean… serve metadata (169.254.169.254).
METADATA_ADDRESSES.addSubnet('169.254.0.0', 16, 'ipv4');
METADATA_ADDRESSES.addSubnet('fe80::', 10, 'ipv6');
// Alibaba Cloud's metadata service.
METADATA_ADDRESSES.addAddress('100.100.100.200', 'ipv4');
// AWS's metadata service over IPv6.
METADATA_ADDRESSES.addAddress('fd00:ec2::254', 'ipv6');
// The link-local range through a NAT64 gateway (64:ff9b::/96 + 169.254.0.0/16).
METADATA_ADDRESSES.addSubnet('64:ff9b::a9fe:0', 112, 'ipv6');

/** One parsed allow-list entry. */
export interface HttpAllowEntry {
  /** The entry as written in the config. */
  readonly written: string;
  /** `http:` / `https:` for a URL prefix; null for a host entry (either scheme). */
  readonly protocol: string | null;
  /** Normalized host name or address (IPv6 in brackets), without a trailing dot. */
  readonly host: string;
  /** Port as a decimal string; null for "any port" (a host entry without one). */
  readonly port: string | null;
  /** Path prefix of a URL prefix entry; null for a host entry. */
  readonly path: string | null;
  /** Whether the entry names a metadata / link-local host, which it then allows. */
  readonly namesMetadataHost: boolean;
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

function normalizeHost(hostname: string): string {
  return hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
}

function effectivePort(url: URL): string {
  return url.port !== '' ? url.port : (DEFAULT_PORTS[url.protocol] ?? '');
}

/** Why `host` (a normalized URL host) is a metadata / link-local host, or null when it is not. */
export function metadataHostReason(host: string): string | null {
  if (METADATA_HOST_NAMES.has(host)) return `${host} is a cloud metadata host name`;
  const address = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return metadataAddressReason(address);
}

/** Why `address` (an IP address) is link-local / cloud metadata, or null when it is not. */
export function metadataAddressReason(address: string): string | null {
  const family = net.isIP(address);
  if (family === 0) return null;
  return METADATA_ADDRESSES.check(address, family === 4 ? 'ipv4' : 'ipv6') ? `${address} is a link-local / cloud metadata address` : null;
}

/**
 * Parses one allow-list entry. Throws an `Error` whose message says what is wrong with it (the
 * config validation reports it with the entry's path).
 */
export function parseHttpAllowEntry(written: string): HttpAllowEntry {
  const text = written.trim();
  if (text === '') throw new Error('must not be empty');
  if (text.includes('*')) throw new Error('wildcards are not supported: list each host');
  if (text.includes('://')) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new Error(`"${written}" is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`"${written}": only http:// and https:// URLs can be allowed`);
    if (url.username !== '' || url.password !== '') throw new Error(`"${written}": leave credentials out of the allow-list`);
    if (url.search !== '' || url.hash !== '') throw new Error(`"${written}": a URL prefix has no query or fragment`);
    const host = normalizeHost(url.hostname);
    return { written, protocol: url.protocol, host, port: effectivePort(url), path: url.pathname, namesMetadataHost: metadataHostReason(host) !== null };
  }
  if (/[/?#@\\\s]/.test(text)) throw new Error(`"${written}": write a host (example.org, example.org:8443, [::1]) or a URL prefix (https://example.org/path/)`);
  let url: URL;
  try {
    url = new URL(`http://${text}`);
  } catch {
    throw new Error(`"${written}" is not a valid host${text.includes(':') && !text.startsWith('[') ? ' (write IPv6 addresses in brackets: [::1])' : ''}`);
  }
  // The URL parser drops a port equal to the scheme's default; the entry's own text says whether one was written.
  const portText = /^(?:\[[^\]]*\]|[^:]*):(\d+)$/.exec(text)?.[1];
  const host = normalizeHost(url.hostname);
  return { written, protocol: null, host, port: portText === undefined ? null : String(Number(portText)), path: null, namesMetadataHost: metadataHostReason(host) !== null };
}

function pathUnder(path: string, prefix: string): boolean {
  if (prefix === '/' || path === prefix) return true;
  return path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}

/** The parsed `builtins.http.allow` list. */
export class HttpAllowList {
  readonly entries: readonly HttpAllowEntry[];

  constructor(allow: readonly string[]) {
    this.entries = allow.map(parseHttpAllowEntry);
  }

  /** The first entry allowing `url`, or undefined. */
  match(url: URL): HttpAllowEntry | undefined {
    const host = normalizeHost(url.hostname);
    const port = effectivePort(url);
    return this.entries.find((entry) => {
      if (entry.host !== host) return false;
      if (entry.port !== null && entry.port !== port) return false;
      if (entry.protocol !== null && entry.protocol !== url.protocol) return false;
      return entry.path === null || pathUnder(url.pathname, entry.path);
    });
  }

  /**
   * Checks `url` before any connection is made: returns the entry allowing it, or throws
   * `UnrecoverableError` saying what was refused and how to allow it. `what` names the request in
   * the message (`GET https://…`, `redirect to https://…`).
   */
  check(url: URL, what: string): HttpAllowEntry {
    const entry = this.match(url);
    const host = normalizeHost(url.hostname);
    const metadata = metadataHostReason(host);
    if (metadata !== null && entry?.namesMetadataHost !== true) {
      throw new UnrecoverableError(
        `refused ${what}: ${metadata}, refused unless builtins.http.allow names it itself (add "${host}" there to allow it)`,
      );
    }
    if (entry === undefined) {
      const allowed = this.entries.map((entry) => entry.written).join(', ');
      // Say which part missed: an allowed host whose path (or scheme, or port) is outside every
      // entry for it is not "a host not in the list".
      const sameHost = this.entries.filter((entry) => entry.host === host);
      const reason =
        sameHost.length === 0
          ? `${url.host} is not in builtins.http.allow`
          : `${url.protocol}//${url.host}${url.pathname} is outside every builtins.http.allow entry for ${host} (${sameHost.map((entry) => entry.written).join(', ')})`;
      throw new UnrecoverableError(`refused ${what}: ${reason} (allowed: ${allowed}); add the host or a URL prefix there to allow it`);
    }
    return entry;
  }
}

/** A DNS lookup as `net.connect` calls it (`dns.lookup`'s signature). */
export type LookupFunction = NonNullable<net.TcpSocketConnectOpts['lookup']>;

/** The system resolver (`dns.lookup`: hosts file, then DNS), as connections use by default. */
export const systemLookup: LookupFunction = dns.lookup as LookupFunction;

/**
 * Wraps `lookup` so that a host resolving to a link-local / metadata address fails with
 * `UnrecoverableError` instead of connecting. Given to the request as its `lookup`, it checks the
 * very addresses the socket connects to: a name that resolved elsewhere when the job was checked
 * (DNS rebinding) cannot slip through.
 */
export function lookupRefusingMetadata(lookup: LookupFunction = systemLookup): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, options, (error, address, family) => {
      if (error) {
        callback(error, address, family);
        return;
      }
      const addresses = Array.isArray(address) ? address.map((entry) => entry.address) : [address];
      for (const resolved of addresses) {
        const reason = metadataAddressReason(resolved);
        if (reason !== null) {
          const refusal = new UnrecoverableError(
            `refused: ${hostname} resolves to ${resolved}; ${reason}, refused unless builtins.http.allow names that host or address itself`,
          );
          callback(refusal as unknown as NodeJS.ErrnoException, address, family);
          return;
        }
      }
      callback(null, address, family);
    });
  };
}
