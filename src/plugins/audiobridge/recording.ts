/**
 * Recording: the WAV of a room's mix (room `record`, enable_recording) and each participant's .mjr
 * (room `mjrs`, enable_mjrs, join/configure `record`/`filename`), with the folder and file-name checks
 * every request naming a path goes through.
 */
import { MjrFile } from '../../recording/mjr.js';
import { PathPolicy } from '../../security/paths.js';
import type { AbContext, Body, Data } from './context.js';
import { AbError, AbErrorCode, checkSecret, validate } from './errors.js';
import { roomOf } from './ids.js';
import { MJRS_PARAMS, RECORD_PARAMS } from './params.js';
import type { Participant, Room } from './room.js';

export function enableRecording(ctx: AbContext, body: Body): Data {
  validate(body, RECORD_PARAMS);
  const room = roomOf(ctx, body);
  checkSecret(room.settings.secret, body, 'secret');
  checkFolder(ctx, body, 'record_dir');
  checkName(ctx, body, 'record_file');
  if (typeof body['record_dir'] === 'string') room.foldersConfigured = false;
  const record = body['record'] === true;
  if (typeof body['record_file'] === 'string') room.settings.recordFile = body['record_file'];
  if (typeof body['record_dir'] === 'string') room.settings.recordDir = body['record_dir'];
  if (record !== room.settings.record) {
    room.settings.record = record;
    if (record) {
      if (!startRecording(ctx, room)) {
        room.settings.record = false;
        throw new AbError(AbErrorCode.UNKNOWN_ERROR, 'Error starting the recording of the mix');
      }
    } else room.stopRecording();
  }
  return { audiobridge: 'success', record: room.settings.record };
}

export function enableMjrs(ctx: AbContext, body: Body): Data {
  validate(body, MJRS_PARAMS);
  const room = roomOf(ctx, body);
  checkSecret(room.settings.secret, body, 'secret');
  checkFolder(ctx, body, 'mjrs_dir');
  if (typeof body['mjrs_dir'] === 'string') room.foldersConfigured = false;
  const mjrs = body['mjrs'] as boolean;
  if (typeof body['mjrs_dir'] === 'string') room.settings.mjrsDir = body['mjrs_dir'];
  room.settings.mjrs = mjrs;
  for (const p of room.participants.values()) {
    if (mjrs) startMjr(ctx, p, room);
    else p.closeMjr();
  }
  return { audiobridge: 'success', mjrs };
}

/**
 * A folder a request names (record_dir, mjrs_dir, new_*): no `..`, not in a protected folder.
 * Refused with 484; the reason goes to the log only.
 */
export function checkFolder(ctx: AbContext, body: Body, key: string): void {
  const dir = body[key];
  if (typeof dir !== 'string') return;
  const problem = ctx.paths.pathProblem(dir);
  if (problem === null) return;
  ctx.log.warn(`AudioBridge: refused ${key} ${JSON.stringify(dir)}: ${problem}`);
  throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid element (${key})`);
}

/** A file name a request gives (record_file, filename): a bare name in its folder. */
export function checkName(ctx: AbContext, body: Body, key: string): void {
  const name = body[key];
  if (typeof name !== 'string' || name === '') return;
  const problem = PathPolicy.nameProblem(name);
  if (problem === null) return;
  ctx.log.warn(`AudioBridge: refused ${key} ${JSON.stringify(name)}: ${problem}`);
  throw new AbError(AbErrorCode.INVALID_ELEMENT, `Invalid element (${key})`);
}

/** `record` / `filename` of join, configure and changeroom. */
export function recordOptions(ctx: AbContext, p: Participant, body: Body): void {
  p.recordWanted = body['record'] === true;
  if (typeof body['filename'] === 'string' && body['filename'] !== '') p.recordBase = body['filename'];
}

/**
 * Where a participant's .mjr goes, named as Janus names it: `<filename>-audio.mjr` when join/configure
 * gave a filename, else `audiobridge-<room>-user-<id>-<µs>-audio.mjr`; in the room's mjrs_dir (else
 * relative to the working directory, as Janus).
 */
export function mjrPath(ctx: AbContext, p: Participant, room: Room): string {
  const name = `${p.recordBase ?? `audiobridge-${room.idString}-user-${String(p.id)}-${Date.now() * 1000}`}-audio.mjr`;
  const dir = room.settings.mjrsDir;
  return dir ? `${dir.replace(/\/+$/, '')}/${name}` : name;
}

/** Start recording what `p` sends (nothing when it already is, as Janus). The file opens asynchronously. */
export function startMjr(ctx: AbContext, p: Participant, room: Room): void {
  if (p.mjr) return;
  const path = mjrPath(ctx, p, room);
  // Checked when the file opens too: a symlink may have appeared, and jcfg folders are not checked before.
  const problem = ctx.paths.pathProblem(path);
  if (problem !== null) {
    ctx.log.error("AudioBridge: not recording the participant's audio", { room: room.idString, id: String(p.id), file: path, err: problem });
    return;
  }
  try {
    p.mjr = new MjrFile(path, { media: 'audio', codec: p.codec }, {
      createFolder: room.foldersConfigured,
      onError: (err) => ctx.log.error("AudioBridge: Couldn't write the participant's audio recording", { room: room.idString, id: String(p.id), file: path, err: err.message }),
    });
    ctx.log.info("AudioBridge: recording participant's audio", { room: room.idString, id: String(p.id), file: path });
  } catch (err) {
    ctx.log.error("AudioBridge: Couldn't open an audio recording file for this participant", { room: room.idString, file: path, err: String(err) });
  }
}

/** Where the mix of `room` is recorded: record_dir/record_file, or janus-audioroom-<room>-<µs>.wav. */
export function recordingPath(ctx: AbContext, room: Room): string {
  const st = room.settings;
  const file = st.recordFile ?? `janus-audioroom-${room.idString}-${Date.now() * 1000}.wav`;
  return st.recordDir ? `${st.recordDir.replace(/\/+$/, '')}/${file}` : file;
}

export function startRecording(ctx: AbContext, room: Room): boolean {
  const path = recordingPath(ctx, room);
  const problem = ctx.paths.pathProblem(path);
  if (problem !== null) {
    ctx.log.error('AudioBridge: cannot record the mix', { room: room.idString, file: path, err: problem });
    return false;
  }
  try {
    room.startRecording(path, ctx.recordTmpExt);
    ctx.log.info('AudioBridge: recording the mix', { room: room.idString, file: path });
    return true;
  } catch (err) {
    ctx.log.error('AudioBridge: cannot record the mix', { room: room.idString, file: path, err: String(err) });
    return false;
  }
}

