/** The plugin's jcfg: rooms from `room-<id>` categories, and `permanent` rooms written back. */
import type { CfgValue } from '../../config/types.js';
import { cfgBool, cfgInt, cfgString, cfgStringList } from '../../config/values.js';
import type { AbContext } from './context.js';
import { newRoom } from './management.js';
import { MAX_GROUPS, RATES } from './params.js';
import type { AbId, Room, RoomSettings } from './room.js';

export function roomFromConfig(ctx: AbContext, name: string, c: Record<string, CfgValue>): Room | null {
  const raw = name.startsWith('room-') ? name.slice(5) : name;
  if (c['sampling_rate'] === undefined) {
    ctx.log.error(`Can't add the AudioBridge room '${name}', missing mandatory information (sampling_rate)`);
    return null;
  }
  let id: AbId;
  if (ctx.stringIds) id = raw;
  else {
    if (!/^[0-9]+$/.test(raw) || Number(raw) === 0 || !Number.isSafeInteger(Number(raw)) || String(Number(raw)) !== raw) {
      ctx.log.error(`Can't add the AudioBridge room, ID '${raw}' is not numeric...`);
      return null;
    }
    id = Number(raw);
  }
  if (ctx.rooms.has(id)) {
    ctx.log.error(`Can't add the AudioBridge room, room ${raw} already exists...`);
    return null;
  }
  const rate = cfgInt(c['sampling_rate'], 16000);
  if (rate === undefined || !RATES.includes(rate)) {
    ctx.log.error(`Unsupported sampling rate ${String(cfgString(c['sampling_rate']))}...`);
    return null;
  }
  const bool = (k: string, d: boolean): boolean => cfgBool(c[k], d) ?? d;
  const str = (k: string): string | null => cfgString(c[k]) ?? null;
  const levelEvent = bool('audiolevel_event', false);
  const app = cfgInt(c['audio_active_packets'], 100) ?? 100;
  const ala = cfgInt(c['audio_level_average'], 25) ?? 25;
  const loss = cfgInt(c['default_expectedloss'], 0) ?? 0;
  const br = cfgInt(c['default_bitrate'], 0) ?? 0;
  const desc = str('description');
  const groups = [...new Set(cfgStringList(c['groups']) ?? [])].slice(0, MAX_GROUPS);
  const settings: RoomSettings = {
    id,
    description: desc !== null && desc !== '' ? desc : name,
    secret: str('secret'),
    pin: str('pin'),
    isPrivate: bool('is_private', false),
    samplingRate: rate,
    spatialAudio: bool('spatial_audio', false),
    audiolevelExt: bool('audiolevel_ext', true),
    audiolevelEvent: levelEvent,
    audioActivePackets: app > 0 ? app : 100,
    audioLevelAverage: ala > 0 ? ala : 25,
    defaultExpectedLoss: loss >= 0 && loss <= 20 ? loss : 0,
    defaultBitrate: br >= 500 && br <= 512000 ? br : 0,
    denoise: false,
    record: bool('record', false),
    recordFile: str('record_file'),
    recordDir: str('record_dir'),
    mjrs: bool('mjrs', false),
    mjrsDir: str('mjrs_dir'),
    allowRtpParticipants: bool('allow_rtp_participants', false),
    groups,
    allowed: new Set(),
    checkTokens: false,
  };
  return newRoom(ctx, settings);
}

/** The room as a jcfg category (what `permanent` writes back). */
export function roomCategory(ctx: AbContext, room: Room): Record<string, CfgValue> {
  const st = room.settings;
  const c: Record<string, CfgValue> = { description: st.description };
  if (st.isPrivate) c['is_private'] = true;
  c['sampling_rate'] = st.samplingRate;
  if (st.secret !== null) c['secret'] = st.secret;
  if (st.pin !== null) c['pin'] = st.pin;
  if (st.audiolevelExt) {
    c['audiolevel_ext'] = true;
    if (st.audiolevelEvent) {
      c['audiolevel_event'] = true;
      c['audio_active_packets'] = st.audioActivePackets;
      c['audio_level_average'] = st.audioLevelAverage;
    }
  } else c['audiolevel_ext'] = false;
  if (st.defaultExpectedLoss) c['default_expectedloss'] = st.defaultExpectedLoss;
  if (st.defaultBitrate) c['default_bitrate'] = st.defaultBitrate;
  if (st.allowRtpParticipants) c['allow_rtp_participants'] = true;
  if (st.groups.length > 0) c['groups'] = [...st.groups];
  if (st.recordFile !== null) {
    c['record'] = true;
    c['record_file'] = st.recordFile;
  }
  if (st.recordDir !== null) c['record_dir'] = st.recordDir;
  if (st.mjrs) c['mjrs'] = true;
  if (st.mjrsDir !== null) c['mjrs_dir'] = st.mjrsDir;
  if (st.spatialAudio) c['spatial_audio'] = true;
  return c;
}

export async function persist(ctx: AbContext, room: Room): Promise<boolean> {
  try {
    ctx.config.setCategory(`room-${room.idString}`, roomCategory(ctx, room));
  } catch (err) {
    ctx.log.error('Cannot store the room in the configuration', { err: String(err) });
    return false;
  }
  return save(ctx);
}

export async function save(ctx: AbContext): Promise<boolean> {
  try {
    await ctx.config.save();
    return true;
  } catch (err) {
    ctx.log.error('Cannot save the AudioBridge configuration', { file: ctx.config.file, err: String(err) });
    return false;
  }
}

