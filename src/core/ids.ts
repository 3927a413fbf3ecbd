/**
 * Session and handle identifiers. Janus masks random 64-bit values to 53 bits so that
 * JavaScript clients can hold them as plain numbers without precision loss.
 */
import { randomBytes } from 'node:crypto';

const MASK_HIGH = 0x1fffff; // top 21 bits of the 53

/** A random integer in [1, 2^53 - 1]. */
export function randomId(): number {
  for (;;) {
    const b = randomBytes(8);
    const id = (b.readUInt32BE(0) & MASK_HIGH) * 0x1_0000_0000 + b.readUInt32BE(4);
    if (id > 0) return id;
  }
}

/** A random id not already used in `taken`. */
export function freshId(taken: { has(id: number): boolean }): number {
  for (;;) {
    const id = randomId();
    if (!taken.has(id)) return id;
  }
}

/** Random transaction string for replies the server originates (e.g. GET /janus/info). */
export function randomTransaction(): string {
  return randomBytes(8).toString('base64url');
}
