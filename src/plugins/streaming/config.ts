/**
 * The plugin's jcfg: `general` settings and one category per mountpoint (the category name is the
 * mountpoint's name). A bad mountpoint is a warning naming file:line and the key, and is skipped:
 * Janus also starts with a sloppy file.
 */
import type { JcfgDocument } from '../../core/plugin.js';
import type { Logger } from '../../log.js';
import { cfgBool, cfgString } from '../../config/values.js';
import { StError } from './errors.js';
import { CfgFields } from './fields.js';
import { IdCodec, type MpId } from './ids.js';
import { readSpec, type MountpointSpec } from './spec.js';

export interface StGeneral {
  adminKey: string | null;
  stringIds: boolean;
  events: boolean;
  /** Where `port = 0` streams get their ports (Janus's plugin-level rtp_port_range). */
  rtpPortRange: string;
}

export interface ConfiguredMountpoint {
  id: MpId | null;
  spec: MountpointSpec;
  /** "file:line" of the category, for later error messages (ports taken...). */
  where: string;
}

const GENERAL_KEYS = new Set(['admin_key', 'string_ids', 'events', 'rtp_port_range', 'media_worker']);
export const DEFAULT_RTP_RANGE = '10000-60000';

export function where(doc: JcfgDocument, category: string): string {
  const line = doc.categoryLine(category);
  return line === undefined ? doc.file : `${doc.file}:${line}`;
}

export function readGeneral(doc: JcfgDocument, log: Logger): StGeneral {
  const g = doc.category('general') ?? {};
  const at = where(doc, 'general');
  const bool = (key: string, def: boolean): boolean => {
    const v = cfgBool(g[key], def);
    if (v === undefined) log.warn(`streaming: general.${key} at ${at} is not a boolean, using ${def}`, { file: at, key });
    return v ?? def;
  };
  let range = cfgString(g.rtp_port_range) ?? DEFAULT_RTP_RANGE;
  if (!/^\s*\d{1,5}\s*-\s*\d{1,5}\s*$/.test(range)) {
    log.warn(`streaming: general.rtp_port_range at ${at} is not MIN-MAX, using ${DEFAULT_RTP_RANGE}`, { file: at, key: 'rtp_port_range' });
    range = DEFAULT_RTP_RANGE;
  }
  const general: StGeneral = {
    adminKey: cfgString(g.admin_key) || null,
    stringIds: bool('string_ids', false),
    events: bool('events', true),
    rtpPortRange: range,
  };
  for (const key of Object.keys(g)) {
    if (!GENERAL_KEYS.has(key)) log.warn(`streaming: unknown setting general.${key} at ${at}, ignored`, { file: at, key });
  }
  return general;
}

/** Every category other than `general` is a mountpoint; `id` missing = one is picked at start. */
export function readMountpoints(doc: JcfgDocument, ids: IdCodec, log: Logger): ConfiguredMountpoint[] {
  const out: ConfiguredMountpoint[] = [];
  for (const name of doc.categoryNames()) {
    if (name === 'general') continue;
    const at = where(doc, name);
    const items = doc.category(name) ?? {};
    try {
      const f = new CfgFields(items);
      const id = items.id === undefined ? null : ids.fromConfig(items.id);
      const spec = readSpec(f);
      spec.name = name;
      out.push({ id, spec, where: at });
    } catch (err) {
      const msg = err instanceof StError ? err.message.trim() : String(err);
      log.warn(`streaming: mountpoint '${name}' at ${at}: ${msg}; skipped`, { file: at, key: name });
    }
  }
  return out;
}
