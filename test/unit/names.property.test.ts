// Properties of the one canonical form of domain names (DESIGN.md rule 2): it never crashes on garbage,
// it is idempotent, its output is a lower-case ASCII host name, the spellings of one name (case, trailing
// dot, full-width and decomposed forms, U-labels) agree, and a claimable name is never a public suffix.
import { domainToUnicode } from 'node:url';
import fc from 'fast-check';
import { getPublicSuffix, parse } from 'tldts';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/lib/errors.js';
import { canonicalDomainName, canonicalEmail, InvalidNameError } from '../../src/lib/names.js';
import { DomainErrorCode } from '../../src/modules/domains/domain.errors.js';
import { nameAndAncestors, parseClaimableDomain } from '../../src/modules/domains/domain-name.js';

const RUNS = { numRuns: 300 };

const HOST_NAME = /^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;
const DOTTED_QUAD = /^\d+(\.\d+){3}$/;

type Outcome = { name: string } | { problem: string };

function outcome(input: string): Outcome {
  try {
    return { name: canonicalDomainName(input) };
  } catch (error) {
    if (error instanceof InvalidNameError) return { problem: error.problem };
    throw error;
  }
}

const FULL_WIDTH_DOTS = ['。', '．', '｡'];

/**
 * A spelling of `name` that names the same host: upper case, full-width letters, digits and dots, one
 * trailing dot, spaces around, decomposed accents.
 */
const spellingOf = (name: string) =>
  fc
    .tuple(
      fc.array(fc.nat(3), { minLength: name.length, maxLength: name.length }),
      fc.constantFrom('', '.', ...FULL_WIDTH_DOTS),
      fc.constantFrom('', ' ', '\t', '\n '),
      fc.boolean(),
    )
    .map(([choices, trailingDot, space, decomposed]) => {
      const chars = [...name].map((char, index) => {
        const choice = choices[index] ?? 0;
        if (char === '.') return choice === 0 ? '.' : FULL_WIDTH_DOTS[choice - 1]!;
        const upper = char.toUpperCase();
        if (choice === 1 && upper.length === 1 && upper.toLowerCase() === char) return upper;
        if (choice === 2 && /[a-z0-9]/.test(char)) return String.fromCharCode(char.charCodeAt(0) + 0xfee0);
        return char;
      });
      const spelled = `${space}${chars.join('')}${trailingDot}${space}`;
      return decomposed ? spelled.normalize('NFD') : spelled;
    });

// Host-name material and the characters that make a name interesting: full-width forms, the four dots
// UTS-46 maps to ".", IDN letters, IP and URL punctuation, controls and joiners.
const tricky = fc.constantFrom(
  ...'aAzZ09-.。．｡ｅＸ１_*@/\\:[]%#? \t\u00a0\u00ad\u200b\u200d\u0000üßσςİıЖ中😀\u0301'.split(''),
  ...['xn--', '0x', '1', '255', '.com', '.co.uk', '.github.io'],
);
const garbage = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.array(tricky, { maxLength: 30 }).map((parts) => parts.join('')),
  fc.string({ unit: fc.constantFrom(...'a0-.'.split('')), minLength: 200, maxLength: 1200 }),
  // Every IPv4 spelling the WHATWG host parser knows (0x7f.1, 0177.0.0.1), and full-width ones.
  fc.ipV4Extended(),
  fc.ipV4().chain(spellingOf),
);

// spellingOf upper-cases only the letters whose upper case maps back ("ß" gives "SS", another name); "σ"
// does map back from "Σ", and caught String#toLowerCase making a word-final "Σ" into "ς".
const unicodeLabel = fc
  .array(fc.constantFrom(...'abcxyz019-äöüéçñøåßσждя中文日本'.split('')), { minLength: 1, maxLength: 12 })
  .map((chars) => chars.join(''));
const unicodeName = fc
  .tuple(fc.array(unicodeLabel, { minLength: 1, maxLength: 3 }), fc.constantFrom('com', 'de', 'рф', 'jp'))
  .map(([labels, tld]) => [...labels, tld].join('.'));

describe('canonicalDomainName, on any input', () => {
  it('returns a lower-case ASCII host name or throws InvalidNameError, nothing else', () => {
    fc.assert(
      fc.property(garbage, (input) => {
        const result = outcome(input);
        if ('problem' in result) return;
        expect(result.name).toMatch(HOST_NAME);
        expect(result.name.length).toBeLessThanOrEqual(253);
        expect(result.name).not.toMatch(DOTTED_QUAD);
        expect(result.name).not.toMatch(/\.\d+$/);
      }),
      RUNS,
    );
  });

  it('is idempotent: the canonical form of a canonical form is itself', () => {
    fc.assert(
      fc.property(fc.oneof(garbage, fc.domain(), unicodeName), (input) => {
        const result = outcome(input);
        if ('name' in result) expect(canonicalDomainName(result.name)).toBe(result.name);
      }),
      RUNS,
    );
  });
});

describe('canonicalDomainName, on the spellings of one name', () => {
  it('gives every spelling of an ASCII name the same canonical form', () => {
    fc.assert(
      fc.property(
        fc.domain().chain((name) => fc.tuple(fc.constant(name), spellingOf(name))),
        ([name, spelling]) => {
          expect(outcome(spelling)).toEqual(outcome(name));
        },
      ),
      RUNS,
    );
  });

  it('gives every spelling of an internationalised name, and its U-labels, the same canonical form', () => {
    fc.assert(
      fc.property(
        unicodeName.chain((name) => fc.tuple(fc.constant(name), spellingOf(name))),
        ([name, spelling]) => {
          const result = outcome(name);
          expect(outcome(spelling)).toEqual(result);
          if ('name' in result) expect(canonicalDomainName(domainToUnicode(result.name))).toBe(result.name);
        },
      ),
      RUNS,
    );
  });

  it('serves e-mail domains with the same function', () => {
    fc.assert(
      fc.property(fc.oneof(fc.domain(), unicodeName), (domain) => {
        const result = outcome(domain);
        if ('name' in result) expect(canonicalEmail(`Someone@${domain}`)).toBe(`someone@${result.name}`);
      }),
      RUNS,
    );
  });

  // Found by the properties above: these spellings reached the output unrecognised.
  it.each([
    ['0x7f000001', 'IP_ADDRESS'],
    ['0x7f.0.0.0x1', 'IP_ADDRESS'],
    ['１２７.０.０.１', 'IP_ADDRESS'],
    ['１.２.３', 'IP_ADDRESS'],
    ['example.com.。', 'INVALID_LABEL'],
  ])('refuses %j with %s', (input, problem) => {
    expect(outcome(input)).toEqual({ problem });
  });

  it.each([
    ['example.com。', 'example.com'],
    ['ｅｘａｍｐｌｅ．ｃｏｍ．', 'example.com'],
    ['example.com.', 'example.com'],
  ])('drops the one trailing dot of %j, whichever dot it is', (input, expected) => {
    expect(canonicalDomainName(input)).toBe(expected);
  });

  it('lower-cases a capital sigma as UTS-46 does, not as a word-final sigma', () => {
    expect(canonicalDomainName('aaaΣ0a.com')).toBe(canonicalDomainName('aaaσ0a.com'));
  });
});

// Suffixes of both PSL sections, wildcard rules (*.ck, *.kawasaki.jp) and their exceptions included.
const SUFFIXES = [
  'com',
  'uk',
  'co.uk',
  'gov.uk',
  'jp',
  'kawasaki.jp',
  'foo.kawasaki.jp',
  'ck',
  'anything.ck',
  'github.io',
  'blogspot.com',
  'herokuapp.com',
  's3.amazonaws.com',
  'xn--p1ai',
];
const suffixSpelling = fc.constantFrom(...SUFFIXES).chain(spellingOf);
const claimable = fc.oneof(
  garbage,
  suffixSpelling,
  fc
    .tuple(
      fc.array(fc.constantFrom('www', 'mail', 'acme', 'city', 'xn--bcher-kva'), { maxLength: 3 }),
      suffixSpelling,
    )
    .map(([labels, suffix]) => [...labels, suffix].join('.')),
);

describe('parseClaimableDomain', () => {
  it('refuses every public suffix itself, however it is spelled', () => {
    const multiLabel = SUFFIXES.filter((suffix) => suffix.includes('.'));
    fc.assert(
      fc.property(fc.constantFrom(...multiLabel).chain(spellingOf), (input) => {
        let error: unknown;
        try {
          parseClaimableDomain(input);
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(DomainError);
        expect((error as DomainError).code).toBe(DomainErrorCode.PUBLIC_SUFFIX);
      }),
      RUNS,
    );
  });

  it('accepts only a canonical name strictly under an ICANN suffix, with its registrable domain', () => {
    const refusals: string[] = [
      DomainErrorCode.INVALID_DOMAIN,
      DomainErrorCode.PUBLIC_SUFFIX,
      DomainErrorCode.CONSUMER_DOMAIN,
    ];
    fc.assert(
      fc.property(claimable, (input) => {
        let claim: ReturnType<typeof parseClaimableDomain>;
        try {
          claim = parseClaimableDomain(input);
        } catch (error) {
          expect(error).toBeInstanceOf(DomainError);
          expect(refusals).toContain((error as DomainError).code);
          return;
        }
        expect(canonicalDomainName(claim.name)).toBe(claim.name);
        expect(SUFFIXES).not.toContain(claim.name);
        expect(getPublicSuffix(claim.name, { allowPrivateDomains: true })).not.toBe(claim.name);
        expect(parse(claim.name, { allowPrivateDomains: true }).isPrivate).toBe(false);
        expect(nameAndAncestors(claim.name)).toContain(claim.registrable);
        expect(getPublicSuffix(claim.registrable)).not.toBe(claim.registrable);
      }),
      RUNS,
    );
  });
});
