/**
 * RTP forwarders of the mix, as requests: rtp_forward, stop_rtp_forward, listforwarders (with
 * lock_rtp_forward/admin_key), and the static forwarder of a jcfg room. The sending side is forwarder.ts.
 */
import { randomBytes } from 'node:crypto';
import type { CfgValue } from '../../config/types.js';
import { cfgBool, cfgInt, cfgString } from '../../config/values.js';
import type { AbContext, Body, Data } from './context.js';
import { AbError, AbErrorCode, checkSecret, validate } from './errors.js';
import { forwarderSrtpContext, resolveForwardHost, type ForwardCodec, type ForwarderSpec, type ForwarderSrtp } from './forwarder.js';
import { findRoom, parseId, roomOf } from './ids.js';
import { ADMIN_KEY_PARAMS, RTP_FORWARD_PARAMS, STOP_RTP_FORWARD_PARAMS } from './params.js';
import type { Room } from './room.js';

/** A forwarder's payload type when the request names none. */
function defaultPtype(codec: ForwardCodec): number {
  return codec === 'pcmu' ? 0 : codec === 'pcma' ? 8 : 100;
}

/** `admin_key` when lock_rtp_forward is on (checked after the request's own parameters, as in Janus). */
export function checkForwardLock(ctx: AbContext, body: Body): void {
  if (!ctx.lockRtpForward || ctx.adminKey === null) return;
  validate(body, ADMIN_KEY_PARAMS);
  checkSecret(ctx.adminKey, body, 'admin_key');
}

export async function rtpForward(ctx: AbContext, body: Body): Promise<Data> {
  validate(body, RTP_FORWARD_PARAMS);
  const roomId = parseId(ctx, body, 'room', true)!;
  checkForwardLock(ctx, body);
  const ssrc = body['ssrc'] as number | undefined;
  if (ssrc !== undefined && ssrc > 0xffffffff) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid SSRC (${ssrc})`);
  const codecName = body['codec'] as string | undefined;
  let codec: ForwardCodec = 'opus';
  if (codecName !== undefined) {
    const c = codecName.toLowerCase();
    if (c !== 'opus' && c !== 'pcmu' && c !== 'pcma') throw new AbError(AbErrorCode.INVALID_ELEMENT, `Unsupported codec (${codecName})`);
    codec = c;
  }
  // Janus 1.1.2 defaults the payload type to the codec's static one (0 PCMU, 8 PCMA), else 100.
  const ptype = (body['ptype'] as number | undefined) ?? defaultPtype(codec);
  if (ptype > 127) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid payload type (${ptype})`);
  const port = body['port'] as number;
  if (port === 0 || port > 65535) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid port number (${port})`);
  const host = body['host'] as string;
  const family = hostFamily(ctx, body['host_family'] as string | undefined);
  if (family === null) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Unsupported protocol family (${body['host_family'] as string})`);
  let address: string;
  try {
    address = await resolveForwardHost(host, family);
  } catch {
    throw new AbError(AbErrorCode.INVALID_ELEMENT, `Could not resolve address (${host})...`);
  }
  const alwaysOn = body['always_on'] === true;
  let srtp: ForwarderSrtp | null = null;
  // As in Janus, SRTP needs both the suite and the key; either one alone means plain RTP.
  if (body['srtp_suite'] !== undefined && body['srtp_suite'] !== null && typeof body['srtp_crypto'] === 'string') {
    const suite = body['srtp_suite'] as number;
    if (suite !== 32 && suite !== 80) throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid SRTP suite (${suite})`);
    srtp = { suite, crypto: body['srtp_crypto'] };
    try {
      forwarderSrtpContext(srtp);
    } catch {
      throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid SRTP crypto (${srtp.crypto})`);
    }
  }
  // The address lookup may have taken a while: look the room up now.
  const room = findRoom(ctx, roomId);
  checkSecret(room.settings.secret, body, 'secret');
  let group = 0;
  const groupName = room.settings.groups.length > 0 && typeof body['group'] === 'string' ? body['group'] : null;
  if (groupName !== null) {
    group = room.settings.groups.indexOf(groupName) + 1;
    if (group === 0) throw new AbError(AbErrorCode.NO_SUCH_GROUP, 'No such group');
  }
  const streamId = addForwarder(ctx, room, { host: address, port, ssrc: ssrc ?? null, codec, ptype, group, alwaysOn, srtp });
  const out: Data = { audiobridge: 'success', room: room.settings.id };
  if (groupName !== null) out['group'] = groupName;
  out['stream_id'] = streamId;
  out['host'] = address;
  out['port'] = port;
  return out;
}

/** `host_family` as a lookup family (0: any); null when unsupported. */
export function hostFamily(ctx: AbContext, v: string | undefined): 4 | 6 | 0 | null {
  if (v === undefined) return 0;
  const f = v.toLowerCase();
  return f === 'ipv4' ? 4 : f === 'ipv6' ? 6 : null;
}

/** Add a forwarder to `room` with a fresh (or the wanted) stream id; returns the id. */
export function addForwarder(ctx: AbContext, room: Room, spec: Omit<ForwarderSpec, 'streamId'>, wanted = 0): number {
  let streamId = wanted;
  if (streamId === 0 || ctx.streamIds.has(streamId)) {
    do streamId = randomBytes(4).readUInt32BE() || 1;
    while (ctx.streamIds.has(streamId));
  }
  try {
    room.forwarders.add({ ...spec, streamId });
  } catch (err) {
    throw new AbError(AbErrorCode.UNKNOWN_ERROR, `Could not create the RTP forwarder (${(err as Error).message})`);
  }
  ctx.streamIds.add(streamId);
  room.refreshClock();
  ctx.log.verb('AudioBridge: RTP forwarder added', { room: room.idString, stream_id: streamId, host: spec.host, port: spec.port, codec: spec.codec });
  return streamId;
}

export function stopRtpForward(ctx: AbContext, body: Body): Data {
  validate(body, STOP_RTP_FORWARD_PARAMS);
  const roomId = parseId(ctx, body, 'room', true)!;
  checkForwardLock(ctx, body);
  const streamId = body['stream_id'] as number;
  const room = findRoom(ctx, roomId);
  checkSecret(room.settings.secret, body, 'secret');
  // As in Janus, an unknown stream_id is not an error: the forwarder is gone either way.
  if (room.forwarders.remove(streamId)) {
    ctx.streamIds.delete(streamId);
    room.refreshClock();
  }
  return { audiobridge: 'success', room: room.settings.id, stream_id: streamId };
}

export function listForwarders(ctx: AbContext, body: Body): Data {
  const room = roomOf(ctx, body);
  checkSecret(room.settings.secret, body, 'secret');
  const list: Data[] = [];
  for (const f of room.forwarders.all()) {
    const s = f.spec;
    const o: Data = { stream_id: s.streamId };
    const groupName = s.group > 0 ? room.settings.groups[s.group - 1] : undefined;
    if (groupName !== undefined) o['group'] = groupName;
    o['ip'] = s.host;
    o['port'] = s.port;
    o['ssrc'] = f.ssrc;
    o['codec'] = s.codec;
    o['ptype'] = s.ptype;
    if (s.srtp) o['srtp'] = true;
    o['always_on'] = s.alwaysOn;
    list.push(o);
  }
  return { audiobridge: 'forwarders', room: room.settings.id, rtp_forwarders: list };
}

export function dropForwarders(ctx: AbContext, room: Room): void {
  for (const f of room.forwarders.all()) ctx.streamIds.delete(f.spec.streamId);
  room.forwarders.close();
}

/**
 * The static forwarder of a `room-<id>` category (rtp_forward_host/_port/...): what Janus creates at
 * startup. Invalid settings are logged and skip the forwarder, never the room.
 */
export async function staticForwarder(ctx: AbContext, room: Room, name: string, c: Record<string, CfgValue>): Promise<void> {
  const host = cfgString(c['rtp_forward_host']);
  const port = cfgInt(c['rtp_forward_port'], 0) ?? 0;
  if (host === undefined || host === '' || port === 0) return;
  const fail = (why: string): void => ctx.log.error(`Can't add the static RTP forwarder of room '${name}': ${why}`);
  if (port < 0 || port > 65535) return fail(`invalid port (${port})`);
  const id = cfgInt(c['rtp_forward_id'], 0) ?? 0;
  if (id < 0 || id > 0xffffffff) return fail(`invalid forwarder ID (${id})`);
  const ssrc = cfgInt(c['rtp_forward_ssrc'], 0) ?? 0;
  if (ssrc < 0 || ssrc > 0xffffffff) return fail(`invalid SSRC (${ssrc})`);
  const codecName = (cfgString(c['rtp_forward_codec']) ?? 'opus').toLowerCase();
  if (codecName !== 'opus' && codecName !== 'pcmu' && codecName !== 'pcma') return fail(`unsupported codec (${codecName})`);
  const ptype = cfgInt(c['rtp_forward_ptype'], defaultPtype(codecName)) ?? defaultPtype(codecName);
  if (ptype < 0 || ptype > 127) return fail(`invalid payload type (${ptype})`);
  let group = 0;
  const groupName = cfgString(c['rtp_forward_group']);
  if (groupName !== undefined && room.settings.groups.length > 0) {
    group = room.settings.groups.indexOf(groupName) + 1;
    if (group === 0) return fail(`invalid group name (${groupName})`);
  }
  const family = hostFamily(ctx, cfgString(c['rtp_forward_host_family']));
  if (family === null) return fail('unsupported protocol family');
  let srtp: ForwarderSrtp | null = null;
  const suite = cfgInt(c['rtp_forward_srtp_suite'], 0) ?? 0;
  const crypto = cfgString(c['rtp_forward_srtp_crypto']);
  if (suite !== 0) {
    if (suite !== 32 && suite !== 80) return fail('invalid SRTP suite');
    if (crypto !== undefined) srtp = { suite, crypto };
  }
  let address: string;
  try {
    address = await resolveForwardHost(host, family);
  } catch {
    return fail(`could not resolve address (${host})`);
  }
  if (room.destroyed || ctx.rooms.get(room.settings.id) !== room) return;
  try {
    addForwarder(ctx, room, { host: address, port, ssrc: ssrc > 0 ? ssrc : null, codec: codecName, ptype, group, alwaysOn: cfgBool(c['rtp_forward_always_on'], false) ?? false, srtp }, id);
  } catch (err) {
    fail((err as Error).message);
  }
}

