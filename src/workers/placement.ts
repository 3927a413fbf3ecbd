/**
 * Which media worker a plugin request goes to (pooled-plugin.ts): read from the request alone, per
 * plugin, before anything is sent.
 *
 * - `list`: every worker's rooms (the answers are merged);
 * - `create`: the least loaded worker (or the room's, so a taken id is refused as Janus does);
 * - a request naming a room: that room's worker; `join`-like requests also bind the handle there
 *   (its PeerConnection will live on the room's worker);
 * - anything else: the handle's worker (bound at its first need to the least loaded).
 */

export type Route =
  | { kind: 'all' }
  | { kind: 'create'; room: string | null }
  | { kind: 'room'; room: string; bind: boolean }
  | { kind: 'handle' };

/** Requests that make the handle a participant of the named room (its media will live there). */
const BINDS: Readonly<Record<string, ReadonlySet<string>>> = {
  'janus.plugin.videoroom': new Set(['join', 'joinandconfigure']),
  'janus.plugin.audiobridge': new Set(['join', 'changeroom']),
  // TextRoom members join on the data channel, which stays on the handle's worker: nothing binds.
  'janus.plugin.textroom': new Set(),
};

/**
 * Plugins whose members may sit on other workers than their rooms (TextRoom: the room's worker relays
 * to the member's over the worker bus, bus.ts), so a handle's hang-up concerns every worker it is known to.
 */
export function membersSpanWorkers(pkg: string): boolean {
  return pkg === 'janus.plugin.textroom';
}

/**
 * Plugins whose participants can change to a room on another worker while their PeerConnection stays
 * (AudioBridge: its RTP and its mix cross between the two workers on their rings, ring.ts).
 */
export function movesAcross(pkg: string): boolean {
  return pkg === 'janus.plugin.audiobridge';
}

/** Plugins whose rooms are spread over the workers (others keep one worker for everything). */
export function spreadsRooms(pkg: string): boolean {
  return pkg in BINDS;
}

/** A room id as a map key: 1234 and "1234" are different rooms only with string_ids, which never mixes them. */
export function roomKey(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'string' && v !== '') return v;
  return null;
}

export function routeOf(pkg: string, body: Record<string, unknown>): Route {
  const request = typeof body.request === 'string' ? body.request.toLowerCase() : '';
  const binds = BINDS[pkg];
  if (!binds) return { kind: 'handle' };
  if (request === 'list') return { kind: 'all' };
  const room = roomKey(body.room);
  if (request === 'create') return { kind: 'create', room };
  if (room !== null) return { kind: 'room', room, bind: binds.has(request) };
  return { kind: 'handle' };
}

/** The room category of a jcfg ("room-1234" -> "1234"), null for other categories. */
export function roomOfCategory(name: string): string | null {
  return name.startsWith('room-') ? name.slice(5) : null;
}
