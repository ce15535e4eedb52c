// Which names a parent may claim. On top of the canonical form (lib/names.ts), the Public Suffix List
// (ICANN and private sections, through tldts) refuses suffixes themselves and names under shared suffixes
// like github.io, and a blocklist refuses consumer mail providers, which the PSL does not list.
import { parse } from 'tldts';
import { DomainError } from '../../lib/errors.js';
import { canonicalDomainName, InvalidNameError } from '../../lib/names.js';
import { DomainErrorCode } from './domain.errors.js';

const CONSUMER_MAIL_DOMAINS = new Set([
  'gmail.com',
  'googlemail.com',
  'outlook.com',
  'hotmail.com',
  'hotmail.co.uk',
  'live.com',
  'msn.com',
  'yahoo.com',
  'yahoo.co.uk',
  'yahoo.co.jp',
  'ymail.com',
  'rocketmail.com',
  'icloud.com',
  'me.com',
  'mac.com',
  'aol.com',
  'proton.me',
  'protonmail.com',
  'pm.me',
  'gmx.com',
  'gmx.de',
  'gmx.net',
  'web.de',
  'mail.com',
  'yandex.com',
  'yandex.ru',
  'mail.ru',
  'qq.com',
  '163.com',
  '126.com',
  'naver.com',
  'zoho.com',
  'fastmail.com',
  'hey.com',
  'tutanota.com',
  'tuta.io',
]);

export interface ClaimableDomain {
  name: string;
  /** The registrable domain (eTLD+1): every claim on or under it is decided under one lock. */
  registrable: string;
}

export function parseClaimableDomain(raw: string): ClaimableDomain {
  let name: string;
  try {
    name = canonicalDomainName(raw);
  } catch (error) {
    if (error instanceof InvalidNameError)
      throw new DomainError(DomainErrorCode.INVALID_DOMAIN, error.message, ['name']);
    throw error;
  }
  const parsed = parse(name, { allowPrivateDomains: true });
  if (!parsed.isIcann && !parsed.isPrivate) {
    throw new DomainError(DomainErrorCode.INVALID_DOMAIN, `${name} is not under a known top-level domain.`, [
      'name',
    ]);
  }
  if (!parsed.domain || parsed.publicSuffix === name) {
    throw new DomainError(
      DomainErrorCode.PUBLIC_SUFFIX,
      `${name} is a public suffix: nobody can own all of it.`,
      ['name'],
    );
  }
  if (parsed.isPrivate) {
    throw new DomainError(
      DomainErrorCode.PUBLIC_SUFFIX,
      `${name} is under ${parsed.publicSuffix}, a suffix shared by many owners.`,
      ['name'],
    );
  }
  if (CONSUMER_MAIL_DOMAINS.has(parsed.domain)) {
    throw new DomainError(
      DomainErrorCode.CONSUMER_DOMAIN,
      `${parsed.domain} is a consumer mail provider, not a company domain.`,
      ['name'],
    );
  }
  return { name, registrable: parsed.domain };
}

/** `name` and every domain above it: a.example.com, example.com, com. */
export function nameAndAncestors(name: string): string[] {
  const labels = name.split('.');
  return labels.map((_, i) => labels.slice(i).join('.'));
}
