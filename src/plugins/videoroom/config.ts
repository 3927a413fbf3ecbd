/**
 * The plugin's jcfg: `general` settings and the `room-<id>` categories.
 * Problems are warnings naming file:line, never fatal: Janus also starts with a sloppy file.
 */
import type { JcfgDocument } from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import { cfgBool, cfgInt, cfgString } from '../../config/values.js';
import { IdCodec, type VrId } from './ids.js';
import { defaultSettings, settingsFromConfig, type RoomSettings } from './room-settings.js';

export interface VrGeneral {
  adminKey: string | null;
  lockRtpForward: boolean;
  events: boolean;
  stringIds: boolean;
  /**
   * Not a Janus key: the seed config carries `general.max_publishers = 6`, which Janus ignores.
   * Portunus warns about it and honours it as the default `publishers` for every room (from the
   * jcfg or `create`) that does not set its own, since that is plainly what the operator meant.
   */
  defaultPublishers: number;
}

export interface ConfiguredRoom {
  id: VrId;
  settings: RoomSettings;
  allowed: string[] | null;
}

// subscribers_spread_at: Portunus only, read by the worker pool (src/workers/pooled-plugin.ts).
const GENERAL_KEYS = new Set(['admin_key', 'lock_rtp_forward', 'events', 'string_ids', 'subscribers_spread_at']);
const JANUS_DEFAULT_PUBLISHERS = 3;

function where(doc: JcfgDocument, category: string): string {
  const line = doc.categoryLine(category);
  return line === undefined ? doc.file : `${doc.file}:${line}`;
}

export function readGeneral(doc: JcfgDocument, log: Logger): VrGeneral {
  const g = doc.category('general') ?? {};
  const at = where(doc, 'general');
  const bool = (key: string, def: boolean): boolean => {
    const v = cfgBool(g[key], def);
    if (v === undefined) log.warn(`videoroom: general.${key} is not a boolean, using ${def}`, { file: at, key });
    return v ?? def;
  };
  const general: VrGeneral = {
    adminKey: cfgString(g.admin_key) || null,
    lockRtpForward: bool('lock_rtp_forward', false),
    events: bool('events', true),
    stringIds: bool('string_ids', false),
    defaultPublishers: JANUS_DEFAULT_PUBLISHERS,
  };
  for (const key of Object.keys(g)) {
    if (GENERAL_KEYS.has(key)) continue;
    if (key === 'max_publishers') {
      const n = cfgInt(g[key], JANUS_DEFAULT_PUBLISHERS);
      if (n === undefined || n < 0) {
        log.warn(`videoroom: general.max_publishers at ${at} is not a non-negative integer, ignored`, { file: at, key });
      } else {
        general.defaultPublishers = n;
        log.warn(
          `videoroom: general.max_publishers at ${at} is not a Janus setting; using it as the default 'publishers' (${n}) for rooms that do not set one`,
          { file: at, key },
        );
      }
      continue;
    }
    log.warn(`videoroom: unknown setting general.${key} at ${at}, ignored`, { file: at, key });
  }
  return general;
}

/** Every category other than `general` is a room (Janus strips a `room-` prefix from the name). */
export function readRooms(doc: JcfgDocument, general: VrGeneral, ids: IdCodec, log: Logger): ConfiguredRoom[] {
  const rooms: ConfiguredRoom[] = [];
  for (const name of doc.categoryNames()) {
    if (name === 'general') continue;
    const at = where(doc, name);
    const id = ids.fromCategory(name);
    if (id === null) {
      log.warn(
        `videoroom: category '${name}' at ${at} is not a valid room (expected room-<${ids.stringIds ? 'id' : 'positive integer'}>), skipped`,
        { file: at, key: name },
      );
      continue;
    }
    const items = doc.category(name) ?? {};
    // Janus's config default description is the category name itself.
    const { settings, problems, allowed } = settingsFromConfig(items, defaultSettings(name, general.defaultPublishers));
    for (const p of problems) log.warn(`videoroom: ${name}.${p.key} at ${at}: ${p.message}`, { file: at, key: `${name}.${p.key}` });
    rooms.push({ id, settings, allowed });
  }
  return rooms;
}
