// The DNS port of domain verification. The real adapter asks the configured servers with node's
// Resolver; what matters is the three-way answer: records, definitely none, or "could not tell".
import { promises as dns } from 'node:dns';

export type TxtLookup =
  | { kind: 'records'; values: string[] }
  | { kind: 'absent' }
  /** SERVFAIL, timeout, refused...: never evidence that a record is absent. */
  | { kind: 'error'; code: string };

export interface TxtResolver {
  resolveTxt(name: string): Promise<TxtLookup>;
}

const ABSENT = new Set(['ENOTFOUND', 'ENODATA']);

export function dnsTxtResolver(
  servers: string[],
  options: { timeoutMs?: number; tries?: number } = {},
): TxtResolver {
  const resolver = new dns.Resolver({ timeout: options.timeoutMs ?? 2_000, tries: options.tries ?? 2 });
  resolver.setServers(servers);
  return {
    resolveTxt(name) {
      return resolver.resolveTxt(name).then(
        // A long TXT value arrives as several character-strings: they form one value.
        (records): TxtLookup => ({ kind: 'records', values: records.map((chunks) => chunks.join('')) }),
        (error: NodeJS.ErrnoException): TxtLookup => {
          const code = error.code ?? 'EUNKNOWN';
          return ABSENT.has(code) ? { kind: 'absent' } : { kind: 'error', code };
        },
      );
    },
  };
}
