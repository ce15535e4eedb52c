// Server-side requests to URLs an admin typed (IdP metadata, OIDC issuers, directory push triggers) must
// not reach our own network: https on public addresses only, unless configured for local simulators.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export type OutboundRefusal = 'not-https' | 'unresolvable' | 'private-address';

export function isPrivateAddress(address: string): boolean {
  if (isIP(address) === 6) {
    const a = address.toLowerCase();
    if (a === '::1' || a === '::' || a.startsWith('fc') || a.startsWith('fd') || a.startsWith('fe80'))
      return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    return mapped ? isPrivateAddress(mapped[1]!) : false;
  }
  const [a, b] = address.split('.').map(Number) as [number, number];
  return (
    a === 10 ||
    a === 127 ||
    a === 0 ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127) ||
    a >= 224
  );
}

/** Why `url` may not be fetched from the server, or null when it may. */
export async function outboundRefusal(url: URL, allowPrivate: boolean): Promise<OutboundRefusal | null> {
  if (allowPrivate) return null;
  if (url.protocol !== 'https:') return 'not-https';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [{ address: host }] : await lookup(host, { all: true }).catch(() => []);
  if (addresses.length === 0) return 'unresolvable';
  return addresses.some((a) => isPrivateAddress(a.address)) ? 'private-address' : null;
}
