/**
 * Announcement requests: play_file, is_playing, stop_file, stop_all_files, listannouncements (with
 * lock_play_file/admin_key). The file is read here, before it plays; mixing it is announcement.ts's.
 */
import { randomUUID } from 'node:crypto';
import type { AbContext, Body, Data } from './context.js';
import { Announcement, AnnouncementFileError, loadAnnouncementFile } from './announcement.js';
import { AbError, AbErrorCode, checkSecret, validate, type ParamSpec } from './errors.js';
import { findRoom, parseId } from './ids.js';
import { ADMIN_KEY_PARAMS, FILE_ID_PARAMS, PLAY_FILE_PARAMS, SECRET_PARAMS } from './params.js';
import type { Room } from './room.js';

export function isPlaying(ctx: AbContext, body: Body): Data {
  const { room, fileId } = announcementRequest(ctx, body, FILE_ID_PARAMS);
  const a = room.announcements.get(fileId!);
  return { audiobridge: 'success', room: room.settings.id, file_id: fileId, playing: !!a && a.started && !a.done };
}

export function stopFile(ctx: AbContext, body: Body): Data {
  const { room, fileId } = announcementRequest(ctx, body, FILE_ID_PARAMS);
  // As in Janus, an unknown (or finished) file_id is not an error.
  room.stopAnnouncement(fileId!);
  return { audiobridge: 'success', room: room.settings.id, file_id: fileId };
}

export function stopAllFiles(ctx: AbContext, body: Body): Data {
  const { room } = announcementRequest(ctx, body, SECRET_PARAMS);
  const ids = [...room.announcements.keys()];
  for (const id of ids) room.stopAnnouncement(id);
  return { audiobridge: 'success', room: room.settings.id, file_id_list: ids };
}

export function listAnnouncements(ctx: AbContext, body: Body): Data {
  const { room } = announcementRequest(ctx, body, SECRET_PARAMS);
  const list: Data[] = [];
  for (const a of room.announcements.values()) list.push({ file_id: a.fileId, filename: a.filename, playing: a.started && !a.done, loop: a.loop });
  return { audiobridge: 'announcements', room: room.settings.id, announcements: list };
}

/**
 * The checks every announcement request starts with, in Janus 1.1.2's order: `room` and the
 * request's own parameters, `admin_key` when lock_play_file is on, the room, its secret.
 */
export function announcementRequest(ctx: AbContext, body: Body, params: ParamSpec[]): { room: Room; fileId: string | undefined } {
  const roomId = parseId(ctx, body, 'room', true)!;
  validate(body, params);
  if (ctx.lockPlayFile && ctx.adminKey !== null) {
    validate(body, ADMIN_KEY_PARAMS);
    checkSecret(ctx.adminKey, body, 'admin_key');
  }
  const room = findRoom(ctx, roomId);
  checkSecret(room.settings.secret, body, 'secret');
  return { room, fileId: body['file_id'] as string | undefined };
}

export async function playFile(ctx: AbContext, body: Body): Promise<Data> {
  const { room, fileId: wanted } = announcementRequest(ctx, body, PLAY_FILE_PARAMS);
  let group = 0;
  if (room.settings.groups.length > 0) {
    // Mandatory in a room with groups, as for participants (it only matters to group forwarders).
    validate(body, [{ name: 'group', type: 'string', required: true }]);
    group = room.settings.groups.indexOf(body['group'] as string) + 1;
    if (group === 0) throw new AbError(AbErrorCode.NO_SUCH_GROUP, `No such group (${body['group'] as string})`);
  }
  const taken = (id: string): AbError => new AbError(AbErrorCode.ID_EXISTS, `File ID exists (${id})`);
  if (wanted !== undefined && room.announcements.has(wanted)) throw taken(wanted);
  const filename = body['filename'] as string;
  let stream;
  try {
    const problem = ctx.paths.pathProblem(filename);
    if (problem !== null) throw new AnnouncementFileError(problem, false);
    stream = await loadAnnouncementFile(filename);
  } catch (err) {
    ctx.log.warn('AudioBridge: cannot play file', { room: room.idString, filename, err: err instanceof Error ? err.message : String(err) });
    // Janus's words for a file it cannot open, for every failure (missing, unreadable, protected,
    // too large, not Ogg/Opus): the caller learns nothing about files it may not read.
    throw new AbError(AbErrorCode.UNKNOWN_ERROR, 'Error opening file');
  }
  // The file was read asynchronously: the room may be gone, the file_id taken meanwhile.
  if (room.destroyed || ctx.rooms.get(room.settings.id) !== room) throw new AbError(AbErrorCode.NO_SUCH_ROOM, `No such room (${room.idString})`);
  let fileId = wanted;
  if (fileId === undefined) {
    do fileId = randomUUID();
    while (room.announcements.has(fileId));
  } else if (room.announcements.has(fileId)) throw taken(fileId);
  let a: Announcement;
  try {
    a = new Announcement({ fileId, filename, loop: body['loop'] === true, group }, stream, room.settings.samplingRate, room.mixer.newSlot());
  } catch (err) {
    throw new AbError(AbErrorCode.LIBOPUS_ERROR, `Error creating Opus decoder (${(err as Error).message})`);
  }
  room.addAnnouncement(a);
  ctx.log.verb('AudioBridge: announcement added', { room: room.idString, file_id: fileId, filename, loop: a.loop, packets: stream.packets.length });
  return { audiobridge: 'success', room: room.settings.id, file_id: fileId };
}

