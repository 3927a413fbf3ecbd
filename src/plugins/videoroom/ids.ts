/**
 * Room and participant IDs. Janus uses either integers or (with `general.string_ids`) strings,
 * never both in one instance, so an ID is a tagged primitive: it works as a Map key and
 * serialises to JSON as itself, while the brand keeps raw request values from being used unchecked.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { VrError, VrErrorCode } from './errors.js';
import { missing } from './params.js';

declare const vrIdBrand: unique symbol;
export type VrId = (string | number) & { readonly [vrIdBrand]: true };

/** A random positive integer below 2^53 (JS-safe, like Janus's masked 53-bit IDs); crypto.randomInt stops at 2^48. */
export function random53(): number {
  const n = Number(randomBytes(8).readBigUInt64BE() & 0x1fffffffffffffn);
  return n === 0 ? 1 : n;
}

export class IdCodec {
  constructor(readonly stringIds: boolean) {}

  /**
   * A room/participant ID from a request. With string_ids a non-negative integer is accepted as its
   * decimal string: a deliberate improvement over Janus (which answers 430), so the seed's smoke test
   * `"room":1234` works against a `string_ids = true` config.
   * Only `room` gets this leniency; participant IDs keep Janus's strict typing.
   * Returns undefined when absent; `0` / `""` mean "not chosen" and are returned as such
   * (callers that create decide whether to draw a random ID).
   */
  parse(value: unknown, name: string): VrId | undefined {
    if (value === undefined || value === null) return undefined;
    if (this.stringIds) {
      if (typeof value === 'string') return value as VrId;
      if (name === 'room' && typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value) as VrId;
      throw new VrError(VrErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be a string)`);
    }
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value as VrId;
    throw new VrError(VrErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be a positive integer)`);
  }

  require(value: unknown, name: string): VrId {
    const id = this.parse(value, name);
    if (id === undefined) throw missing(name);
    return id;
  }

  /** Whether a parsed ID is the "pick one for me" value. */
  isUnset(id: VrId | undefined): boolean {
    return id === undefined || id === 0 || id === '';
  }

  /** A fresh ID not satisfying `taken` (UUIDs with string_ids, as Janus does). */
  random(taken: (id: VrId) => boolean): VrId {
    for (;;) {
      const id = (this.stringIds ? randomUUID() : random53()) as VrId;
      if (!taken(id)) return id;
    }
  }

  /** ID from a config category name (`room-<id>`); null when it is not a valid ID in this mode. */
  fromCategory(name: string): VrId | null {
    const raw = name.startsWith('room-') ? name.slice(5) : name;
    if (this.stringIds) return raw.length > 0 ? (raw as VrId) : null;
    if (!/^[0-9]+$/.test(raw)) return null;
    const n = Number(raw);
    return Number.isSafeInteger(n) && n > 0 ? (n as VrId) : null;
  }

  categoryName(id: VrId): string {
    return `room-${id}`;
  }
}
