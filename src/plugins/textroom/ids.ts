/**
 * Room IDs: integers, or strings with `general.string_ids = true` (never both in one instance).
 * A RoomId is the raw primitive, so it is a Map key and serialises to JSON as itself.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { invalidType, missing } from './params.js';

export type RoomId = number | string;

/** Random positive integer below 2^53, like Janus's masked 53-bit IDs (JS-safe). */
function random53(): number {
  const n = Number(randomBytes(8).readBigUInt64BE() & 0x1fffffffffffffn);
  return n === 0 ? 1 : n;
}

export class RoomIds {
  constructor(readonly stringIds: boolean) {}

  /** The `room` field of a request; undefined when absent. 0 / "" mean "not chosen" on create. */
  parse(value: unknown, name = 'room'): RoomId | undefined {
    if (value === undefined || value === null) return undefined;
    if (this.stringIds) {
      if (typeof value !== 'string') throw invalidType(name, 'a string');
      return value;
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalidType(name, 'a positive integer');
    return value;
  }

  require(value: unknown, name = 'room'): RoomId {
    const id = this.parse(value, name);
    if (id === undefined) throw missing(name);
    return id;
  }

  isUnset(id: RoomId | undefined): boolean {
    return id === undefined || id === 0 || id === '';
  }

  /** A fresh ID `taken` refuses (UUIDs with string_ids, as Janus does). */
  random(taken: (id: RoomId) => boolean): RoomId {
    for (;;) {
      const id = this.stringIds ? randomUUID() : random53();
      if (!taken(id)) return id;
    }
  }

  /** ID from a config category name (`room-<id>`); null when not valid in this mode. */
  fromCategory(name: string): RoomId | null {
    const raw = name.startsWith('room-') ? name.slice(5) : name;
    if (this.stringIds) return raw.length > 0 ? raw : null;
    if (!/^[0-9]+$/.test(raw)) return null;
    const n = Number(raw);
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  }

  categoryName(id: RoomId): string {
    return `room-${id}`;
  }
}
