// Secrets are random, stored only as hashes and compared in constant time: a database read must not
// yield a usable token, and comparison timing must not reveal how much of a guess was right.
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** An opaque bearer secret with `bytes` of entropy, base64url. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** A numeric one-time code of `digits` digits, uniformly distributed. */
export function randomDigits(digits: number): string {
  return randomInt(0, 10 ** digits)
    .toString()
    .padStart(digits, '0');
}

export function sha256(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * Two strings compared without early exit: the time tells only whether their lengths match, and every
 * value compared here has a public length (hex digests, a DNS record of a published format). Hashing both
 * first hid that too, at two digests a compare: 3% of a background domain check's time.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
