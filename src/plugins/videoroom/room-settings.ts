/**
 * Room properties: one table drives create-body parsing (strict), jcfg parsing (lenient),
 * permanent write-back and the `list` entry, so the four can never disagree about a key.
 * Keys keep Janus's snake_case names so the table reads like the jcfg an operator writes.
 */
import type { CfgValue } from '../../config/types.js';
import { cfgBool, cfgInt, cfgString, cfgStringList } from '../../config/values.js';
import { VrError, VrErrorCode } from './errors.js';
import type { Params } from './params.js';

export interface RoomSettings {
  description: string;
  is_private: boolean;
  secret: string | null;
  pin: string | null;
  require_pvtid: boolean;
  signed_tokens: boolean;
  publishers: number;
  bitrate: number;
  bitrate_cap: boolean;
  fir_freq: number;
  audiocodec: string[];
  videocodec: string[];
  vp9_profile: string | null;
  h264_profile: string | null;
  opus_fec: boolean;
  opus_dtx: boolean;
  video_svc: boolean;
  audiolevel_ext: boolean;
  audiolevel_event: boolean;
  audio_active_packets: number;
  audio_level_average: number;
  videoorient_ext: boolean;
  playoutdelay_ext: boolean;
  transport_wide_cc_ext: boolean;
  record: boolean;
  rec_dir: string | null;
  lock_record: boolean;
  notify_joining: boolean;
  require_e2ee: boolean;
  dummy_publisher: boolean;
  dummy_streams: unknown[] | null;
  threads: number;
  /**
   * Portunus only: pick each subscriber's simulcast substream/temporal layer within the core's
   * bandwidth estimate towards it (transport-cc), pausing video that does not fit. Off: Janus's behaviour.
   */
  auto_layers: boolean;
  /** Portunus only: which streams get the estimate first: "speaker" (most recently talking) or "order" (m-line order). */
  auto_layers_priority: string | null;
}

type Kind = 'string' | 'bool' | 'int' | 'acodec' | 'vcodec' | 'array';
export type SettingKey = keyof RoomSettings;

/** Every room property and how it is typed; the order is the order written back to the jcfg. */
export const ROOM_PROPERTIES: ReadonlyArray<readonly [SettingKey, Kind]> = [
  ['description', 'string'],
  ['is_private', 'bool'],
  ['secret', 'string'],
  ['pin', 'string'],
  ['require_pvtid', 'bool'],
  ['signed_tokens', 'bool'],
  ['publishers', 'int'],
  ['bitrate', 'int'],
  ['bitrate_cap', 'bool'],
  ['fir_freq', 'int'],
  ['audiocodec', 'acodec'],
  ['videocodec', 'vcodec'],
  ['vp9_profile', 'string'],
  ['h264_profile', 'string'],
  ['opus_fec', 'bool'],
  ['opus_dtx', 'bool'],
  ['video_svc', 'bool'],
  ['audiolevel_ext', 'bool'],
  ['audiolevel_event', 'bool'],
  ['audio_active_packets', 'int'],
  ['audio_level_average', 'int'],
  ['videoorient_ext', 'bool'],
  ['playoutdelay_ext', 'bool'],
  ['transport_wide_cc_ext', 'bool'],
  ['record', 'bool'],
  ['rec_dir', 'string'],
  ['lock_record', 'bool'],
  ['notify_joining', 'bool'],
  ['require_e2ee', 'bool'],
  ['dummy_publisher', 'bool'],
  ['dummy_streams', 'array'],
  ['threads', 'int'],
  ['auto_layers', 'bool'],
  ['auto_layers_priority', 'string'],
];

export const AUDIO_CODECS = ['opus', 'multiopus', 'g722', 'pcmu', 'pcma', 'isac32', 'isac16', 'l16-48', 'l16'];
export const VIDEO_CODECS = ['vp8', 'vp9', 'h264', 'av1', 'h265'];
/** Janus keeps at most five preferred codecs per kind (acodec[5]/vcodec[5]); extras are dropped. */
const MAX_CODECS = 5;
const MIN_BITRATE = 64000;

export function defaultSettings(description: string, publishers = 3): RoomSettings {
  return {
    description,
    is_private: false,
    secret: null,
    pin: null,
    require_pvtid: false,
    signed_tokens: false,
    publishers,
    bitrate: 0,
    bitrate_cap: false,
    fir_freq: 0,
    audiocodec: ['opus'],
    videocodec: ['vp8'],
    vp9_profile: null,
    h264_profile: null,
    opus_fec: true,
    opus_dtx: false,
    video_svc: false,
    audiolevel_ext: true,
    audiolevel_event: false,
    audio_active_packets: 100,
    audio_level_average: 25,
    videoorient_ext: true,
    playoutdelay_ext: true,
    transport_wide_cc_ext: true,
    record: false,
    rec_dir: null,
    lock_record: false,
    notify_joining: false,
    require_e2ee: false,
    dummy_publisher: false,
    dummy_streams: null,
    threads: 0,
    auto_layers: false,
    auto_layers_priority: null,
  };
}

function parseCodecs(list: string[], kind: 'acodec' | 'vcodec', name: string): string[] {
  const allowed = kind === 'acodec' ? AUDIO_CODECS : VIDEO_CODECS;
  const codecs = list.map((c) => c.trim().toLowerCase()).filter((c) => c !== '');
  for (const c of codecs) {
    if (!allowed.includes(c)) {
      throw new VrError(VrErrorCode.INVALID_ELEMENT, `Invalid element (${name} can only be or contain ${allowed.join(', ')})`);
    }
  }
  return codecs.length > 0 ? codecs.slice(0, MAX_CODECS) : kind === 'acodec' ? ['opus'] : ['vp8'];
}

/**
 * Janus's corrections applied whatever the source: a bitrate cap below 64 kbps is raised, zero counters
 * mean default. An empty secret/pin is kept as a real value: Janus then requires `"secret": ""`.
 */
function normalize(s: RoomSettings): void {
  if (s.bitrate > 0 && s.bitrate < MIN_BITRATE) s.bitrate = MIN_BITRATE;
  if (s.audio_active_packets <= 0) s.audio_active_packets = 100;
  if (s.audio_level_average <= 0) s.audio_level_average = 25;
}

function assign(s: RoomSettings, key: SettingKey, value: unknown): void {
  (s as unknown as Record<string, unknown>)[key] = value;
}

/** Settings from a `create` body (strict JSON types; 430 on a wrong one). Unknown keys are ignored, as Janus does. */
export function settingsFromRequest(p: Params, base: RoomSettings): RoomSettings {
  const s = { ...base };
  for (const [key, kind] of ROOM_PROPERTIES) {
    let v: unknown;
    switch (kind) {
      case 'string':
        v = p.string(key);
        break;
      case 'bool':
        v = p.bool(key);
        break;
      case 'int':
        v = p.posInt(key);
        break;
      case 'array':
        v = p.array(key);
        break;
      case 'acodec':
      case 'vcodec': {
        const str = p.string(key);
        v = str === undefined ? undefined : parseCodecs(str.split(','), kind, key);
        break;
      }
    }
    if (v !== undefined) assign(s, key, v);
  }
  normalize(s);
  return s;
}

export interface SettingProblem {
  key: string;
  message: string;
}

/**
 * Settings from a jcfg category, read the way Janus does (every scalar may be a string).
 * Unreadable values keep their default and are reported; so are keys this table does not know.
 */
export function settingsFromConfig(
  items: Record<string, CfgValue>,
  base: RoomSettings,
): { settings: RoomSettings; problems: SettingProblem[]; allowed: string[] | null } {
  const s = { ...base };
  const problems: SettingProblem[] = [];
  const known = new Map<string, Kind>(ROOM_PROPERTIES);
  let allowed: string[] | null = null;
  for (const [key, raw] of Object.entries(items)) {
    if (key === 'allowed') {
      // Janus does not read an ACL from the jcfg; we do, so a permanent room keeps its ACL over a restart.
      const list = cfgStringList(raw);
      if (list === undefined) problems.push({ key, message: 'should be a list of strings' });
      else allowed = list;
      continue;
    }
    const kind = known.get(key);
    if (kind === undefined) {
      problems.push({ key, message: 'unknown room setting, ignored' });
      continue;
    }
    const k = key as SettingKey;
    let v: unknown;
    switch (kind) {
      case 'string':
        v = cfgString(raw);
        break;
      case 'bool':
        v = cfgBool(raw, base[k] as boolean);
        break;
      case 'int': {
        const n = cfgInt(raw, base[k] as number);
        v = n !== undefined && n >= 0 ? n : undefined;
        break;
      }
      case 'array':
        v = Array.isArray(raw) ? raw : undefined;
        break;
      case 'acodec':
      case 'vcodec': {
        const list = cfgStringList(raw);
        try {
          v = list === undefined ? undefined : parseCodecs(list, kind, key);
        } catch (err) {
          problems.push({ key, message: (err as Error).message });
          continue;
        }
        break;
      }
    }
    if (v === undefined) problems.push({ key, message: `unreadable value ${JSON.stringify(String(raw))}, using the default` });
    else assign(s, k, v);
  }
  normalize(s);
  return { settings: s, problems, allowed };
}

/**
 * The jcfg category for a permanent room: description and publishers always, everything else
 * only when it differs from the default, so the file stays as short as what an operator writes.
 */
export function settingsToConfig(s: RoomSettings, allowed: string[] | null): Record<string, CfgValue> {
  const defaults = defaultSettings(s.description);
  const out: Record<string, CfgValue> = {};
  for (const [key, kind] of ROOM_PROPERTIES) {
    const v = s[key];
    const d = defaults[key];
    if (v === null || v === undefined) continue;
    if (key !== 'description' && key !== 'publishers' && JSON.stringify(v) === JSON.stringify(d)) continue;
    // dummy_streams holds JSON objects a jcfg cannot express as written; it is not persisted.
    if (kind === 'array') continue;
    if (kind === 'acodec' || kind === 'vcodec') out[key] = (v as string[]).join(',');
    else out[key] = v as CfgValue;
  }
  if (allowed !== null) out.allowed = [...allowed];
  return out;
}
