/**
 * The synchronous requests (answered in the transaction's reply): list, info, create, edit,
 * destroy, enable, disable, kick_all, recording. Also served to the Admin API (`message_plugin`).
 */
import type { PluginSession } from '../../core/plugin.js';
import { MjrFile, mjrSupports } from '../../recording/mjr.js';
import type { StContext } from './context.js';
import { StError, StErrorCode, missing, noSuchMountpoint } from './errors.js';
import { JsonFields, requireString, type Fields } from './fields.js';
import type { Mountpoint } from './mountpoint.js';
import { readSpec } from './spec.js';
import { createdStream, infoView, listEntry } from './views.js';
import { kickViewers, notifyViewers, refreshViewers } from './viewer.js';

type Data = Record<string, unknown>;
type Handler = (ctx: StContext, f: Fields, session: PluginSession | null) => Data | Promise<Data>;

/** Janus's secret check: a configured secret must be given (453) and match (457). */
export function checkSecret(expected: string | null, f: Fields, name: string): void {
  if (expected === null) return;
  const given = f.string(name);
  if (given === undefined) throw missing(name);
  if (given !== expected) throw new StError(StErrorCode.UNAUTHORIZED, `Unauthorized (wrong ${name})`);
}

export function lookup(ctx: StContext, f: Fields): Mountpoint {
  const id = ctx.ids.require(f.raw('id'));
  const mp = ctx.mountpoints.get(id);
  if (mp === undefined) throw noSuchMountpoint(id);
  return mp;
}

function list(ctx: StContext): Data {
  const now = ctx.now();
  const out: Data[] = [];
  for (const mp of ctx.mountpoints.values()) if (!mp.isPrivate) out.push(listEntry(mp, now));
  return { streaming: 'list', list: out };
}

function info(ctx: StContext, f: Fields): Data {
  const mp = lookup(ctx, f);
  const secret = f.string('secret');
  const admin = mp.secret === null || secret === mp.secret;
  return { streaming: 'info', info: infoView(mp, admin, ctx.now()) };
}

async function create(ctx: StContext, f: Fields): Promise<Data> {
  if (ctx.general.adminKey !== null) checkSecret(ctx.general.adminKey, f, 'admin_key');
  const permanent = f.bool('permanent') ?? false;
  let id = ctx.ids.parse(f.raw('id'));
  const spec = readSpec(f);
  if (id !== undefined && !ctx.ids.isUnset(id) && ctx.mountpoints.has(id)) throw new StError(StErrorCode.CANT_CREATE, 'A stream with the provided ID already exists');
  if (id === undefined || ctx.ids.isUnset(id)) id = ctx.ids.random((x) => ctx.mountpoints.has(x));
  if (spec.name !== null && [...ctx.mountpoints.values()].some((m) => m.name === spec.name)) {
    throw new StError(StErrorCode.CANT_CREATE, `A stream with the provided name already exists`);
  }
  if (spec.filename !== null) {
    // a request names a file the server will read: the same protected_folders rules as recordings
    const problem = ctx.paths.pathProblem(spec.filename);
    if (problem !== null) throw new StError(StErrorCode.CANT_CREATE, problem);
  }
  const mp = await ctx.startMountpoint(id, spec);
  let saved = false;
  if (permanent) {
    saved = await ctx.store.save(mp);
    mp.permanent = saved;
  }
  const out: Data = { streaming: 'created', created: mp.name, permanent: saved, stream: createdStream(mp) };
  if (spec.legacy && spec.type === 'rtp') out.warning = 'deprecated_api';
  return out;
}

async function edit(ctx: StContext, f: Fields): Promise<Data> {
  const mp = lookup(ctx, f);
  checkSecret(mp.secret, f, 'secret');
  const desc = f.string('new_description');
  const metadata = f.string('new_metadata');
  const secret = f.string('new_secret');
  const pin = f.string('new_pin');
  const isPrivate = f.bool('new_is_private');
  const permanent = f.bool('permanent') ?? false;
  const editedEvent = f.bool('edited_event') ?? false;
  if (desc !== undefined && desc.length > 0) mp.description = desc;
  if (metadata !== undefined) mp.metadata = metadata;
  if (secret !== undefined && secret.length > 0) mp.secret = secret;
  if (pin !== undefined) mp.pin = pin.length > 0 ? pin : null;
  if (isPrivate !== undefined) mp.isPrivate = isPrivate;
  let saved = false;
  if (permanent) saved = await ctx.store.save(mp);
  if (editedEvent && metadata !== undefined) notifyViewers(ctx, mp, { streaming: 'edited', id: mp.id, metadata: mp.metadata });
  return { streaming: 'edited', id: mp.id, permanent: saved };
}

async function destroy(ctx: StContext, f: Fields): Promise<Data> {
  const mp = lookup(ctx, f);
  checkSecret(mp.secret, f, 'secret');
  const permanent = f.bool('permanent') ?? false;
  ctx.stopMountpoint(mp);
  if (permanent) await ctx.store.remove(mp);
  return { streaming: 'destroyed', destroyed: mp.id };
}

function enable(ctx: StContext, f: Fields, on: boolean): Data {
  const mp = lookup(ctx, f);
  checkSecret(mp.secret, f, 'secret');
  if (!on && (f.bool('stop_recording') ?? true)) stopRecorders(mp, null);
  mp.enabled = on;
  refreshViewers(mp);
  return { streaming: 'ok' };
}

function kickAll(ctx: StContext, f: Fields): Data {
  const mp = lookup(ctx, f);
  checkSecret(mp.secret, f, 'secret');
  kickViewers(ctx, mp);
  return { streaming: 'kicked_all' };
}

function stopRecorders(mp: Mountpoint, mids: Set<string> | null): void {
  for (const st of mp.streams) {
    if (st.recorder === null || (mids !== null && !mids.has(st.spec.mid))) continue;
    void st.recorder.close();
    st.recorder = null;
  }
}

/** `recording`: start/stop .mjr files per stream (the `media` list, or the legacy audio/video/data keys). */
function recording(ctx: StContext, f: Fields): Data {
  const action = requireString(f, 'action');
  if (action !== 'start' && action !== 'stop') throw new StError(StErrorCode.INVALID_ELEMENT, 'Invalid action (should be start|stop)');
  const mp = lookup(ctx, f);
  checkSecret(mp.secret, f, 'secret');
  if (mp.spec.type !== 'rtp' && mp.spec.type !== 'rtsp') throw new StError(StErrorCode.CANT_RECORD, 'Recording is only available on RTP and RTSP mountpoints');
  const media = f.list('media');
  // legacy keys: strings (base names) to start, booleans to stop
  const wanted = new Map<string, string | null>();
  if (media !== undefined) {
    for (const m of media) {
      const mid = requireString(m, 'mid');
      wanted.set(mid, action === 'start' ? requireString(m, 'filename') : null);
    }
  } else {
    for (const [key, mid] of [['audio', 'a'], ['video', 'v'], ['data', 'd']] as const) {
      if (!f.has(key)) continue;
      if (action === 'start') wanted.set(mid, f.string(key)!);
      else if (f.bool(key) === true) wanted.set(mid, null);
    }
  }
  if (wanted.size === 0) throw new StError(StErrorCode.INVALID_REQUEST, 'Missing audio, video and or data');
  if (action === 'stop') {
    stopRecorders(mp, new Set(wanted.keys()));
    return { streaming: 'ok' };
  }
  for (const [mid, base] of wanted) {
    const st = mp.streamByMid(mid);
    if (st === undefined) throw new StError(StErrorCode.CANT_RECORD, `No such mid '${mid}'`);
    if (st.recorder !== null) throw new StError(StErrorCode.CANT_RECORD, `Already recording mid '${mid}'`);
    const codec = st.spec.type === 'data' ? 'text' : st.spec.codec;
    if (codec === null || !mjrSupports(st.spec.type, codec)) throw new StError(StErrorCode.CANT_RECORD, `Can't record mid '${mid}' (codec)`);
    const path = `${base!}.mjr`;
    const problem = ctx.paths.pathProblem(path);
    if (problem !== null) throw new StError(StErrorCode.CANT_RECORD, problem);
  }
  for (const [mid, base] of wanted) {
    const st = mp.streamByMid(mid)!;
    const codec = st.spec.type === 'data' ? 'text' : st.spec.codec!;
    st.recorder = new MjrFile(`${base!}.mjr`, { media: st.spec.type, codec, ...(st.spec.fmtp !== null ? { fmtp: st.spec.fmtp } : {}) }, {
      createFolder: false,
      onError: (err) => ctx.log.warn(`streaming: recording ${base!}.mjr failed: ${err.message}`),
    });
  }
  return { streaming: 'ok' };
}

export const SYNC_REQUESTS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['list', (ctx) => list(ctx)],
  ['info', (ctx, f) => info(ctx, f)],
  ['create', (ctx, f) => create(ctx, f)],
  ['edit', (ctx, f) => edit(ctx, f)],
  ['destroy', (ctx, f) => destroy(ctx, f)],
  ['enable', (ctx, f) => enable(ctx, f, true)],
  ['disable', (ctx, f) => enable(ctx, f, false)],
  ['kick_all', (ctx, f) => kickAll(ctx, f)],
  ['recording', (ctx, f) => recording(ctx, f)],
]);

export function fieldsOf(body: Data): Fields {
  return new JsonFields(body);
}
