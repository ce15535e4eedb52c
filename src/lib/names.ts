// Canonical forms of domain names and e-mail addresses. Every comparison in the product (domain claims,
// SSO routing, account lookup) runs on these forms, so each has exactly one function.
import { domainToASCII } from 'node:url';
import { DomainError } from './errors.js';

export type NameProblem =
  'EMPTY' | 'TOO_LONG' | 'INVALID_CHARACTERS' | 'INVALID_LABEL' | 'SINGLE_LABEL' | 'IP_ADDRESS';

export class InvalidNameError extends Error {
  constructor(
    readonly problem: NameProblem,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidNameError';
  }
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}\.?$/;

/**
 * Trim, map through UTS-46 to lower-case A-labels (punycode), drop one trailing dot, then enforce the
 * hostname rules: at least two labels, each 1-63 letters, digits or inner dashes, 253 octets in all.
 */
export function canonicalDomainName(input: string): string {
  // Lower-casing is UTS-46's job: String#toLowerCase turns a word-final "Σ" into "ς", another name.
  const trimmed = input.trim();
  if (!trimmed || trimmed === '.') throw new InvalidNameError('EMPTY', 'A domain name is required.');
  if (trimmed.length > 253 * 4) throw new InvalidNameError('TOO_LONG', 'The domain name is too long.');
  if (IPV4.test(trimmed) || trimmed.includes(':') || trimmed.startsWith('[')) {
    throw new InvalidNameError('IP_ADDRESS', 'An IP address is not a domain name.');
  }
  if (/[\s/\\@?#*_]/u.test(trimmed)) {
    throw new InvalidNameError(
      'INVALID_CHARACTERS',
      'The domain name contains characters a host name cannot have.',
    );
  }
  if (/(^|\.)\d+\.?$/.test(trimmed))
    throw new InvalidNameError('INVALID_LABEL', 'The top-level label cannot be numeric.');
  const mapped = domainToASCII(trimmed);
  if (!mapped)
    throw new InvalidNameError(
      'INVALID_CHARACTERS',
      'The domain name is not a valid internationalised name.',
    );
  // Only the mapped name shows some spellings for what they are: full-width dots and digits
  // ("example.com。", "１２７.０.０.１") and the IPv4 forms the WHATWG host parser rewrites to a dotted quad
  // ("0x7f000001" is 127.0.0.1). So the one trailing dot goes, and the IPv4 test runs, here too.
  const ascii = mapped.replace(/\.$/, '');
  if (IPV4.test(ascii)) throw new InvalidNameError('IP_ADDRESS', 'An IP address is not a domain name.');
  if (ascii.length > 253)
    throw new InvalidNameError('TOO_LONG', 'The domain name is longer than 253 characters.');
  const labels = ascii.split('.');
  if (labels.length < 2)
    throw new InvalidNameError('SINGLE_LABEL', 'The domain name needs at least two labels.');
  for (const label of labels) {
    if (!LABEL.test(label)) {
      throw new InvalidNameError('INVALID_LABEL', `"${label}" is not a valid label of a host name.`);
    }
  }
  return ascii;
}

// RFC 5322 dot-atom local part; quoted local parts are refused on purpose (no mail provider of our users needs them).
const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

export class InvalidEmailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEmailError';
  }
}

/** One account per canonical address: lower-cased local part, canonical domain. */
export function canonicalEmail(input: string): string {
  const trimmed = input.trim();
  const at = trimmed.lastIndexOf('@');
  if (at <= 0 || at === trimmed.length - 1)
    throw new InvalidEmailError('An e-mail address needs a local part and a domain.');
  const local = trimmed.slice(0, at).toLowerCase();
  if (local.length > 64 || !LOCAL_PART.test(local))
    throw new InvalidEmailError('The part before "@" is not valid.');
  let domain: string;
  try {
    domain = canonicalDomainName(trimmed.slice(at + 1));
  } catch (error) {
    if (error instanceof InvalidNameError)
      throw new InvalidEmailError(`The domain of the address is not valid: ${error.message}`);
    throw error;
  }
  const email = `${local}@${domain}`;
  if (email.length > 254) throw new InvalidEmailError('The e-mail address is longer than 254 characters.');
  return email;
}

export function emailDomain(canonical: string): string {
  return canonical.slice(canonical.lastIndexOf('@') + 1);
}

/** canonicalEmail for user input: an invalid address is the business error INVALID_EMAIL on `field`. */
export function parseEmail(raw: string, field = 'email'): string {
  try {
    return canonicalEmail(raw);
  } catch (error) {
    if (error instanceof InvalidEmailError) throw new DomainError('INVALID_EMAIL', error.message, [field]);
    throw error;
  }
}
