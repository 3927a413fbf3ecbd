/**
 * Mountpoint IDs: positive integers, or strings with `general.string_ids` (never both in one instance).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { StError, StErrorCode, invalidType, missing } from './errors.js';

export type MpId = string | number;

function random53(): number {
  const n = Number(randomBytes(8).readBigUInt64BE() & 0x1fffffffffffffn);
  return n === 0 ? 1 : n;
}

export class IdCodec {
  constructor(readonly stringIds: boolean) {}

  /** Undefined when absent; 0 / "" mean "pick one" (create). */
  parse(value: unknown, name = 'id'): MpId | undefined {
    if (value === undefined || value === null) return undefined;
    if (this.stringIds) {
      if (typeof value === 'string') return value;
      throw invalidType(name, 'a string');
    }
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
    throw invalidType(name, 'a positive integer');
  }

  require(value: unknown, name = 'id'): MpId {
    const id = this.parse(value, name);
    if (id === undefined) throw missing(name);
    return id;
  }

  /** A jcfg `id = ...` value: lenient like Janus (a numeric string is a number). */
  fromConfig(value: unknown): MpId {
    if (this.stringIds) {
      if (typeof value === 'string' && value.length > 0) return value;
      if (typeof value === 'number' || typeof value === 'bigint') return String(value);
      throw new StError(StErrorCode.INVALID_ELEMENT, 'id should be a string');
    }
    const n = typeof value === 'string' && /^\s*[0-9]+\s*$/.test(value) ? Number(value) : typeof value === 'bigint' ? Number(value) : value;
    if (typeof n === 'number' && Number.isSafeInteger(n) && n > 0) return n;
    throw new StError(StErrorCode.INVALID_ELEMENT, 'id should be a positive integer');
  }

  isUnset(id: MpId | undefined): boolean {
    return id === undefined || id === 0 || id === '';
  }

  random(taken: (id: MpId) => boolean): MpId {
    for (;;) {
      const id = this.stringIds ? randomUUID() : random53();
      if (!taken(id)) return id;
    }
  }
}
