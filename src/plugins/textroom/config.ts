/**
 * Reads janus.plugin.textroom.jcfg: `general` and one `room-<id>` category per static room.
 * Bad values are logged and skipped (Janus keeps starting), never thrown.
 */
import type { JcfgDocument } from '../../core/plugin.js';
import { cfgBool, cfgInt, cfgString, cfgStringList } from '../../config/values.js';
import type { Logger } from '../../log.js';
import type { RoomIds, RoomId } from './ids.js';
import { parseJsonStyle, type JsonStyle } from './json-format.js';
import { MAX_HISTORY, type RoomSettings } from './room.js';

export interface TrGeneral {
  adminKey: string | null;
  json: JsonStyle;
  /** Event-handler notifications; read for compatibility, the core has no event handlers yet. */
  events: boolean;
  stringIds: boolean;
  /** Portunus-only: backends `post` may name (URL prefixes); empty: any public URL. */
  postAllowed: string[];
  /** Portunus-only: allow loopback/link-local/metadata `post` targets. */
  postAllowLocal: boolean;
}

export function readGeneral(doc: JcfgDocument, log: Logger): TrGeneral {
  const g = doc.category('general') ?? {};
  const json = parseJsonStyle(cfgString(g.json));
  if (json === undefined) log.warn(`textroom: unsupported json format '${cfgString(g.json)}', using compact`);
  const events = cfgBool(g.events, true);
  if (events === undefined) log.warn('textroom: general.events is not a boolean, using true');
  const stringIds = cfgBool(g.string_ids, false);
  if (stringIds === undefined) log.warn('textroom: general.string_ids is not a boolean, using false');
  const adminKey = cfgString(g.admin_key);
  const postAllowed: string[] = [];
  const listed = g.post_allowed === undefined ? [] : cfgStringList(g.post_allowed);
  if (listed === undefined) log.warn('textroom: general.post_allowed is not a list of URLs, allowing no backend');
  for (const u of listed ?? []) {
    if (URL.canParse(u)) postAllowed.push(u);
    else log.warn(`textroom: general.post_allowed: ${JSON.stringify(u)} is not a URL, ignored`);
  }
  // An unusable allow-list allows nothing rather than everything.
  if (listed === undefined || (listed.length > 0 && postAllowed.length === 0)) postAllowed.push('invalid://');
  const allowLocal = cfgBool(g.post_allow_local, false);
  if (allowLocal === undefined) log.warn('textroom: general.post_allow_local is not a boolean, using false');
  return { adminKey: adminKey ?? null, json: json ?? 'compact', events: events ?? true, stringIds: stringIds ?? false, postAllowed, postAllowLocal: allowLocal ?? false };
}

/** A history length as Janus accepts it (0..65535), capped at MAX_HISTORY; undefined when unreadable. */
export function historyLength(n: number | undefined, log: Logger, where: string): number | undefined {
  if (n === undefined || n < 0 || n > 65535) return undefined;
  if (n > MAX_HISTORY) {
    log.warn(`textroom: ${where}: history ${n} capped at ${MAX_HISTORY} messages`);
    return MAX_HISTORY;
  }
  return n;
}

export function readRooms(doc: JcfgDocument, ids: RoomIds, log: Logger): Array<{ id: RoomId; settings: RoomSettings }> {
  const out: Array<{ id: RoomId; settings: RoomSettings }> = [];
  const seen = new Set<RoomId>();
  for (const name of doc.categoryNames()) {
    if (name.toLowerCase() === 'general') continue;
    const where = `${doc.file}:${doc.categoryLine(name) ?? '?'} [${name}]`;
    const id = ids.fromCategory(name);
    if (id === null) {
      log.error(`textroom: ${where}: invalid room ID, skipping the room`);
      continue;
    }
    if (seen.has(id)) {
      log.error(`textroom: ${where}: room ${id} already exists, skipping`);
      continue;
    }
    const c = doc.category(name) ?? {};
    const description = cfgString(c.description);
    let isPrivate = cfgBool(c.is_private, false);
    if (isPrivate === undefined) {
      log.warn(`textroom: ${where}: is_private is not a boolean, using false`);
      isPrivate = false;
    }
    let history = 0;
    if (c.history !== undefined) {
      const h = historyLength(cfgInt(c.history, 0), log, where);
      if (h === undefined) log.warn(`textroom: ${where}: invalid history size (${cfgString(c.history)}), disabling history`);
      else history = h;
    }
    seen.add(id);
    out.push({
      id,
      settings: {
        description: description !== undefined && description !== '' ? description : name,
        secret: cfgString(c.secret) ?? null,
        pin: cfgString(c.pin) ?? null,
        isPrivate,
        history,
        post: cfgString(c.post) ?? null,
      },
    });
  }
  return out;
}
