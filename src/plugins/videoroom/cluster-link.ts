/**
 * VideoRoom's side of a cluster room spanning nodes (issue 17 step 3, src/cluster/cascade.ts drives it):
 * Admin-only requests (never reachable from a handle) with which a node's cluster layer reads the room as
 * this node holds it and stitches it to the other nodes through the ordinary remote-publisher machinery
 * (remote-publisher.ts, publish-remotely.ts). They carry no room secret or admin_key: the caller is the
 * node's own cluster layer, behind the Admin API or the cluster's control channel (trusted, like Redis).
 *
 *   portunus_cluster_state     {room}                              -> who is here: members, publishers
 *                                                                     (and string_ids: the id mode)
 *   portunus_cluster_attach    {room, id, display?, streams}       -> add_remote_publisher (a stale one
 *                                                                     with the same id is replaced)
 *   portunus_cluster_detach    {room, id, leaving}                 -> the remote publisher goes, with the
 *                                                                     events a local one's unpublish (or
 *                                                                     leave) would give
 *   portunus_cluster_publish   {room, publisher_id, remote_id, host, port, rtcp_port} -> publish_remotely
 *   portunus_cluster_unpublish {room, publisher_id, remote_id}     -> unpublish_remotely (no error if gone)
 *   portunus_cluster_notify    {room, event}                       -> an event to this node's participants
 */
import { notify, type VrContext } from './context.js';
import { participantGoneEvent } from './events.js';
import { VrError, VrErrorCode } from './errors.js';
import type { Body } from './params.js';
import { stopPublishing } from './publishing.js';
import { publishRemotely, unpublishRemotely } from './publish-remotely.js';
import { addRemotePublisher } from './remote-publisher.js';
import type { Room } from './room.js';
import type { PublishedStream } from './streams.js';

type Data = Record<string, unknown>;

function roomOf(ctx: VrContext, body: Body): Room | undefined {
  return ctx.rooms.get(ctx.ids.require(body.room, 'room'));
}

/** A published stream as `add_remote_publisher` takes it (what the receiving node needs to rebuild it). */
function streamSpec(ps: PublishedStream, mindex: number): Data {
  // The publisher's own mid: the remote publisher keeps it (attach's ownMids), so a subscriber names a
  // stream the same way on every node.
  const o: Data = { type: ps.type, mindex, mid: ps.mid };
  if (ps.description !== undefined) o.description = ps.description;
  if (ps.disabled || ps.codec === undefined) {
    if (ps.type !== 'data') {
      o.codec = ps.type === 'audio' ? 'opus' : 'vp8';
      o.disabled = true;
    }
    return o;
  }
  if (ps.type === 'data') return o;
  o.codec = ps.codec;
  if (ps.type === 'audio') {
    if (ps.stereo) o.stereo = true;
    if (ps.fec) o.fec = true;
    if (ps.dtx) o.dtx = true;
    // The origin forwards the publisher's packets as they came: its extension ids are the ones to read.
    if (ps.audioLevelExt > 0) o.audiolevel_ext_id = ps.audioLevelExt;
  } else {
    if (ps.simulcast) o.simulcast = true;
    if (ps.videoOrientExt > 0) o.videoorient_ext_id = ps.videoOrientExt;
  }
  return o;
}

/**
 * The streams of a publisher as add_remote_publisher items. The receiving side numbers streams by their
 * place in the list (and the SSRC plan by mindex), so the list runs over every mindex from 0 to the
 * highest, a gap (an m-line the publisher's offer had but we do not relay) filled with a data stub.
 */
export function publisherStreams(streams: readonly PublishedStream[]): Data[] {
  const byIndex = new Map<number, PublishedStream>();
  const mids = new Set<string>();
  for (const ps of streams) {
    byIndex.set(ps.mindex, ps);
    mids.add(ps.mid);
  }
  const max = Math.max(-1, ...byIndex.keys());
  const out: Data[] = [];
  for (let i = 0; i <= max; i++) {
    const ps = byIndex.get(i);
    if (ps !== undefined) {
      out.push(streamSpec(ps, i));
      continue;
    }
    // A stub's mid must not be one of the publisher's (which may be any token, "1" at another place).
    let mid = String(i);
    while (mids.has(mid)) mid = `${mid}~`;
    mids.add(mid);
    out.push({ type: 'data', mindex: i, mid, disabled: true });
  }
  return out;
}

function state(ctx: VrContext, body: Body): Data {
  const room = roomOf(ctx, body);
  if (room === undefined) return { videoroom: 'success', room: body.room, exists: false, members: 0, publishers: [], remotes: [], string_ids: ctx.ids.stringIds };
  let members = room.subscribers.size + (ctx.remote?.mirrorCount(room.id) ?? 0);
  const publishers: Data[] = [];
  const remotes: unknown[] = [];
  const present: unknown[] = [];
  for (const p of room.participants.values()) {
    if (p.remoteFeed !== null) {
      remotes.push(p.id);
      continue;
    }
    if (p.remoteFrom >= 0) continue;
    members++;
    present.push(p.id);
    if (!p.media.active) continue;
    const entry: Data = { id: p.id, streams: publisherStreams(p.media.streams), remote_ids: [...p.remotizations.keys()] };
    if (p.display !== null) entry.display = p.display;
    publishers.push(entry);
  }
  return { videoroom: 'success', room: room.id, exists: true, members, present, publishers, remotes, notify_joining: room.settings.notify_joining, string_ids: ctx.ids.stringIds };
}

function withKeys(ctx: VrContext, room: Room | undefined, body: Body): Body {
  const out: Body = { ...body };
  if (room?.settings.secret) out.secret = room.settings.secret;
  if (ctx.general.adminKey !== null) out.admin_key = ctx.general.adminKey;
  return out;
}

async function attach(ctx: VrContext, body: Body): Promise<Data> {
  const room = roomOf(ctx, body);
  const id = ctx.ids.parse(body.id, 'id');
  // The same publisher attached before (its node restarted, or a detach was lost): replaced, quietly.
  const old = id === undefined || room === undefined ? undefined : room.participants.get(id);
  if (old !== undefined && room !== undefined) {
    if (old.remoteFeed === null) throw new VrError(VrErrorCode.ID_EXISTS, `User ID ${String(id)} already exists (a local participant)`);
    drop(ctx, room, old.id, false, false);
  }
  const { request: _r, ...rest } = body;
  return addRemotePublisher(ctx, withKeys(ctx, room, { ...rest, request: 'add_remote_publisher' }), { ownMids: true });
}

/**
 * The remote publisher `id` goes. Subscribers lose its streams and the room hears `unpublished` (as for
 * a local publisher's unpublish), then `leaving` when its origin left the room (or its node is gone).
 */
function drop(ctx: VrContext, room: Room, id: unknown, leaving: boolean, tell: boolean): boolean {
  const me = room.participants.get(id as never);
  if (me === undefined || me.remoteFeed === null) return false;
  me.remoteFeed.close();
  stopPublishing(ctx, me, tell);
  room.participants.delete(me.id);
  if (tell) participantGoneEvent(ctx, 'unpublished', room.id, me.id);
  if (tell && leaving) {
    participantGoneEvent(ctx, 'leaving', room.id, me.id);
    notify(ctx, room.participants.values(), { videoroom: 'event', room: room.id, leaving: me.id });
  }
  return true;
}

function detach(ctx: VrContext, body: Body): Data {
  const room = roomOf(ctx, body);
  const found = room !== undefined && drop(ctx, room, ctx.ids.require(body.id, 'id'), body.leaving === true, true);
  return { videoroom: 'success', found };
}

async function publish(ctx: VrContext, body: Body): Promise<Data> {
  const { request: _r, ...rest } = body;
  return publishRemotely(ctx, withKeys(ctx, roomOf(ctx, body), { ...rest, request: 'publish_remotely' }));
}

function unpublish(ctx: VrContext, body: Body): Data {
  const room = roomOf(ctx, body);
  const { request: _r, ...rest } = body;
  try {
    return unpublishRemotely(ctx, withKeys(ctx, room, { ...rest, request: 'unpublish_remotely' }));
  } catch (err) {
    // Already gone with the publisher (leave, room destroyed): nothing left to undo.
    if (err instanceof VrError && (err.code === VrErrorCode.NO_SUCH_FEED || err.code === VrErrorCode.NO_SUCH_ROOM)) return { videoroom: 'success', found: false };
    throw err;
  }
}

/** An event from another node (a participant joined or left there) to this node's own participants. */
function notifyHere(ctx: VrContext, body: Body): Data {
  const room = roomOf(ctx, body);
  const event = body.event;
  if (room === undefined || typeof event !== 'object' || event === null) return { videoroom: 'success', sent: 0 };
  // `joining` only where the room says so, as for a local join.
  if ('joining' in (event as Data) && !room.settings.notify_joining) return { videoroom: 'success', sent: 0 };
  const to = [...room.participants.values()].filter((p) => p.remoteFeed === null && p.remoteFrom < 0);
  notify(ctx, to, { videoroom: 'event', room: room.id, ...(event as Data) });
  return { videoroom: 'success', sent: to.length };
}

type Handler = (ctx: VrContext, body: Body) => Data | Promise<Data>;

/** Admin-only requests (plugin.ts handleAdminMessage); a handle asking for one gets "unknown request". */
export const CLUSTER_REQUESTS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['portunus_cluster_state', state],
  ['portunus_cluster_attach', attach],
  ['portunus_cluster_detach', detach],
  ['portunus_cluster_publish', publish],
  ['portunus_cluster_unpublish', unpublish],
  ['portunus_cluster_notify', notifyHere],
]);
