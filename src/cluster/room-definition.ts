/**
 * A cluster room's definition: what every node needs to build the same room locally, kept in Redis
 * (store.ts) and changed only by the API requests that change a room (`create`, `edit`, `allowed`,
 * `enable_recording`, `destroy`). Sans-IO: these functions read request bodies and definitions and
 * return new definitions, or the Admin requests that turn a node's local room from one definition into
 * another (reconcileOps), so every node converges on the stored definition without replaying a
 * client's request (which may have been refused here for reasons that do not hold there).
 *
 * The definition carries the room's secret, pin and allowed tokens: each node enforces them exactly as
 * a single server does. Redis is therefore trusted infrastructure (docs/operations.md "Cluster").
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Body = Record<string, unknown>;

export interface RoomDefinition {
  /** The `create` parameters (no `request`, `room`, `admin_key`, `permanent`, `allowed`). */
  params: Record<string, Json>;
  /** The ACL is on (`allowed` given at create, or `allowed enable`). */
  acl: boolean;
  /** The ACL's tokens, kept while it is off (Janus keeps them too). */
  allowed: string[];
}

/** Keys of a create body that are about the request, not the room. */
const NOT_PARAMS = new Set(['request', 'room', 'admin_key', 'permanent', 'allowed']);

/** `edit`'s `new_*` keys and the create parameter each one sets. */
const EDITS: ReadonlyArray<readonly [string, string]> = [
  ['new_description', 'description'],
  ['new_secret', 'secret'],
  ['new_pin', 'pin'],
  ['new_is_private', 'is_private'],
  ['new_require_pvtid', 'require_pvtid'],
  ['new_bitrate', 'bitrate'],
  ['new_fir_freq', 'fir_freq'],
  ['new_publishers', 'publishers'],
  ['new_lock_record', 'lock_record'],
  ['new_rec_dir', 'rec_dir'],
];
/** Strings an empty value leaves as they were (the plugin ignores "" for these: there is no "remove the pin"). */
const KEEP_ON_EMPTY = new Set(['description', 'secret', 'pin']);

function toJson(v: unknown, depth = 0): Json | undefined {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (depth > 8) return undefined;
  if (Array.isArray(v)) return v.map((x) => toJson(x, depth + 1) ?? null);
  if (typeof v === 'object') {
    const o: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v as Body)) {
      const j = toJson(x, depth + 1);
      if (j !== undefined) o[k] = j;
    }
    return o;
  }
  return undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string') : [];
}

/** The definition a successful `create` body describes. */
export function definitionFromCreate(body: Body): RoomDefinition {
  const params: Record<string, Json> = {};
  for (const [k, v] of Object.entries(body)) {
    if (NOT_PARAMS.has(k)) continue;
    const j = toJson(v);
    if (j !== undefined) params[k] = j;
  }
  const acl = Array.isArray(body.allowed);
  return { params, acl, allowed: acl ? [...new Set(strings(body.allowed))] : [] };
}

/** The definition after a successful `edit` (the same rules as the plugin's edit). */
export function applyEdit(def: RoomDefinition, body: Body): RoomDefinition {
  const params = { ...def.params };
  for (const [from, to] of EDITS) {
    const v = body[from];
    if (v === undefined || v === null) continue;
    if (KEEP_ON_EMPTY.has(to) && v === '') continue;
    if (to === 'bitrate' && typeof v === 'number') {
      params[to] = v > 0 && v < 64000 ? 64000 : v;
      continue;
    }
    const j = toJson(v);
    if (j !== undefined) params[to] = j;
  }
  return { ...def, params };
}

/** The definition after a successful `allowed` request. */
export function applyAllowed(def: RoomDefinition, body: Body): RoomDefinition {
  const tokens = strings(body.allowed);
  switch (body.action) {
    case 'enable':
      return { ...def, acl: true };
    case 'disable':
      return { ...def, acl: false };
    case 'add':
      return { ...def, allowed: [...new Set([...def.allowed, ...tokens])] };
    case 'remove': {
      const gone = new Set(tokens);
      return { ...def, allowed: def.allowed.filter((t) => !gone.has(t)) };
    }
    default:
      return def;
  }
}

/** The definition after a successful `enable_recording`. */
export function applyRecording(def: RoomDefinition, body: Body): RoomDefinition {
  return typeof body.record === 'boolean' ? { ...def, params: { ...def.params, record: body.record } } : def;
}

/** The definition after a successful room request `request` (unchanged for requests that do not change rooms). */
export function applyRequest(def: RoomDefinition, request: string, body: Body): RoomDefinition {
  if (request === 'edit') return applyEdit(def, body);
  if (request === 'allowed') return applyAllowed(def, body);
  if (request === 'enable_recording') return applyRecording(def, body);
  return def;
}

/** Room requests whose success changes the stored definition (create and destroy are handled apart). */
export const DEFINITION_CHANGES: ReadonlySet<string> = new Set(['edit', 'allowed', 'enable_recording']);

function secretOf(def: RoomDefinition): string | undefined {
  const s = def.params.secret;
  return typeof s === 'string' && s !== '' ? s : undefined;
}

function same(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function equalDefinitions(a: RoomDefinition, b: RoomDefinition): boolean {
  return a.acl === b.acl && same(a.allowed, b.allowed) && same(sorted(a.params), sorted(b.params));
}

function sorted(o: Record<string, Json>): Json {
  const out: Record<string, Json> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k]!;
  return out;
}

export interface ReconcilePlan {
  /** Admin requests to run in order (each answers without error_code on success). */
  ops: Body[];
  /** Parameters that differ but no request can change (logged; the room keeps its local value). */
  unchangeable: string[];
}

/**
 * The Admin requests that turn the local room `room`, built from `from` (null: none here), into `to`
 * (null: gone). `adminKey` is this node's plugin admin_key (needed by `create` when configured).
 */
export function reconcileOps(room: string | number, from: RoomDefinition | null, to: RoomDefinition | null, adminKey: string | null): ReconcilePlan {
  const key = adminKey !== null ? { admin_key: adminKey } : {};
  if (to === null) {
    if (from === null) return { ops: [], unchangeable: [] };
    const secret = secretOf(from);
    return { ops: [{ request: 'destroy', room, ...(secret !== undefined ? { secret } : {}) }], unchangeable: [] };
  }
  if (from === null) {
    const ops: Body[] = [{ request: 'create', room, ...to.params, ...key, ...(to.acl || to.allowed.length > 0 ? { allowed: [...to.allowed] } : {}) }];
    const secret = secretOf(to);
    if (!to.acl && to.allowed.length > 0) ops.push({ request: 'allowed', room, action: 'disable', ...(secret !== undefined ? { secret } : {}) });
    return { ops, unchangeable: [] };
  }
  const ops: Body[] = [];
  const unchangeable: string[] = [];
  const edit: Body = {};
  const editable = new Map<string, string>(EDITS.map(([n, p]) => [p, n] as const));
  const keys = new Set([...Object.keys(from.params), ...Object.keys(to.params)]);
  for (const k of [...keys].sort()) {
    const a = from.params[k];
    const b = to.params[k];
    if (same(a, b)) continue;
    const name = editable.get(k);
    if (k === 'record') continue; // enable_recording below
    // An edit cannot remove a setting (nor clear description, secret or pin).
    if (name === undefined || b === undefined || (KEEP_ON_EMPTY.has(k) && b === '')) unchangeable.push(k);
    else edit[name] = b;
  }
  const before = secretOf(from);
  if (Object.keys(edit).length > 0) ops.push({ request: 'edit', room, ...(before !== undefined ? { secret: before } : {}), ...edit });
  // Later requests authenticate with the secret the edit left.
  const now = secretOf(to) ?? before;
  const auth = now !== undefined ? { secret: now } : {};
  if (!same(from.params.record ?? false, to.params.record ?? false)) ops.push({ request: 'enable_recording', room, ...auth, record: to.params.record === true });
  const had = new Set(from.allowed);
  const has = new Set(to.allowed);
  const added = to.allowed.filter((t) => !had.has(t));
  const removed = from.allowed.filter((t) => !has.has(t));
  if (added.length > 0) ops.push({ request: 'allowed', room, action: 'add', allowed: added, ...auth });
  if (removed.length > 0) ops.push({ request: 'allowed', room, action: 'remove', allowed: removed, ...auth });
  if (from.acl !== to.acl) ops.push({ request: 'allowed', room, action: to.acl ? 'enable' : 'disable', ...auth });
  return { ops, unchangeable };
}

/** A definition read back from Redis (anything else is refused: a bad record must not reach the plugin). */
export function parseDefinition(v: unknown): RoomDefinition | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Body;
  if (typeof o.params !== 'object' || o.params === null || Array.isArray(o.params)) return null;
  if (typeof o.acl !== 'boolean' || !Array.isArray(o.allowed)) return null;
  const params = toJson(o.params);
  if (params === undefined || params === null || typeof params !== 'object' || Array.isArray(params)) return null;
  return { params, acl: o.acl, allowed: strings(o.allowed) };
}
