import { randomFillSync } from 'node:crypto';

// Random bytes drawn from the CSPRNG in blocks, as crypto.randomUUID does: one call per id cost a
// measurable share of a SCIM group write, which makes an id per member.
const RANDOM_BLOCK = 4096;
const random = Buffer.allocUnsafe(RANDOM_BLOCK);
let randomOffset = RANDOM_BLOCK;

/** Fills `target` from `offset` to its end with bytes no other caller gets. */
function takeRandom(target: Buffer, offset: number): void {
  const wanted = target.length - offset;
  if (randomOffset + wanted > RANDOM_BLOCK) {
    randomFillSync(random);
    randomOffset = 0;
  }
  random.copy(target, offset, randomOffset, randomOffset + wanted);
  randomOffset += wanted;
}

/**
 * UUID version 7 (RFC 9562): time-ordered, so primary keys are created in index order and keyset
 * pagination by id follows creation order.
 */
export function uuidv7(now = Date.now()): string {
  const bytes = Buffer.allocUnsafe(16);
  takeRandom(bytes, 6);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The smallest UUID: the keyset position before every row. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
