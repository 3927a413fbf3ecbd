/** Room and participant ids in requests: numbers, or strings with `string_ids`. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AbContext, Body } from './context.js';
import { AbError, AbErrorCode } from './errors.js';
import type { AbId, Participant, Room } from './room.js';

function random53(): number {
  const n = Number(randomBytes(8).readBigUInt64BE() & 0x1fffffffffffffn);
  return n === 0 ? 1 : n;
}

/** A room/participant ID from a request. string_ids accepts a non-negative integer room as its decimal string. */
export function parseId(ctx: AbContext, body: Body, name: string, required: boolean): AbId | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (required) throw new AbError(AbErrorCode.MISSING_ELEMENT, `Missing mandatory element (${name})`);
    return undefined;
  }
  if (ctx.stringIds) {
    if (typeof v === 'string') return v;
    if (name === 'room' && typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return String(v);
    throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be a string)`);
  }
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid element type (${name} should be a positive integer)`);
}

export function findRoom(ctx: AbContext, id: AbId): Room {
  const r = ctx.rooms.get(id);
  if (!r || r.destroyed) throw new AbError(AbErrorCode.NO_SUCH_ROOM, `No such room (${String(id)})`);
  return r;
}

/** `room` required + lookup. */
export function roomOf(ctx: AbContext, body: Body): Room {
  return findRoom(ctx, parseId(ctx, body, 'room', true)!);
}

export function userOf(ctx: AbContext, room: Room, body: Body): Participant {
  const id = parseId(ctx, body, 'id', true)!;
  const p = room.participants.get(id);
  if (!p) throw new AbError(AbErrorCode.NO_SUCH_USER, `No such user ${String(id)} in room ${room.idString}`);
  return p;
}

export function randomId(ctx: AbContext, taken: (id: AbId) => boolean): AbId {
  for (;;) {
    const id: AbId = ctx.stringIds ? randomUUID() : random53();
    if (!taken(id)) return id;
  }
}

