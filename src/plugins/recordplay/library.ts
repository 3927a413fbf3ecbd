/**
 * The recordings Record&Play knows: one `<id>.nfo` per recording in the configured folder (Janus's
 * INI-style file: `[id]`, `name`, `date`, `audio`/`video`/`data` = file names in the same folder), plus
 * the ones being recorded now (listed only once complete). Names in a .nfo are bare file names: one
 * naming a path (separators, `..`) is skipped, so nothing outside the folder is ever read.
 */
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { readMjrHeader } from '../../recording/mjr-read.js';
import { PathPolicy } from '../../security/paths.js';

export interface Recording {
  id: number;
  name: string;
  date: string;
  /** File base names (no .mjr) in the folder. */
  audio: string | null;
  video: string | null;
  data: string | null;
  audioCodec: string | null;
  audioFmtp: string | null;
  videoCodec: string | null;
  videoFmtp: string | null;
  opusredPt: number;
  e2ee: boolean;
  /** False while it is being recorded. */
  completed: boolean;
  /** Set while its files are still being flushed and closed: playout waits for it. */
  closing?: Promise<void>;
}

/** `[section]` then `key = value` lines (CRLF or LF); `#`/`;` comments. Only the first section matters. */
export function parseNfo(text: string): { section: string; items: Record<string, string> } | null {
  let section: string | null = null;
  const items: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      if (section !== null) break;
      section = m[1]!.trim();
      continue;
    }
    if (section === null) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    items[line.slice(0, eq).trim()] = line.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return section === null ? null : { section, items };
}

export function writeNfoText(r: Recording): string {
  let s = `[${r.id}]\r\nname = ${r.name}\r\ndate = ${r.date}\r\n`;
  if (r.audio) s += `audio = ${r.audio}.mjr\r\n`;
  if (r.video) s += `video = ${r.video}.mjr\r\n`;
  if (r.data) s += `data = ${r.data}.mjr\r\n`;
  return s;
}

function baseName(v: string | undefined): string | null {
  if (v === undefined || v === '') return null;
  const b = v.endsWith('.mjr') ? v.slice(0, -4) : v;
  return PathPolicy.nameProblem(b) === null ? b : null;
}

/** Janus's date format (local time): 2014-10-14 17:11:26. */
export function recordingDate(d = new Date()): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export class Library {
  readonly recordings = new Map<number, Recording>();

  constructor(
    readonly folder: string,
    private readonly log: Logger,
  ) {}

  path(base: string): string {
    return join(this.folder, `${base}.mjr`);
  }

  /** Rescan the folder: new .nfo files are added, completed recordings whose .nfo went away removed. */
  async update(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch (err) {
      this.log.error(`recordplay: couldn't open the recordings folder ${this.folder}: ${(err as Error).message}`);
      return;
    }
    const seen = new Set<number>();
    for (const f of names) {
      if (!f.toLowerCase().endsWith('.nfo')) continue;
      let text: string;
      try {
        text = await readFile(join(this.folder, f), 'utf8');
      } catch {
        continue;
      }
      const nfo = parseNfo(text);
      const id = nfo ? Number(nfo.section) : NaN;
      if (!nfo || !Number.isSafeInteger(id) || id <= 0) {
        this.log.warn(`recordplay: invalid recording info in ${f}, skipped`);
        continue;
      }
      seen.add(id);
      if (this.recordings.has(id)) continue;
      const it = nfo.items;
      const audio = baseName(it['audio']);
      const video = baseName(it['video']);
      if (!it['name'] || !it['date'] || (audio === null && video === null)) {
        this.log.warn(`recordplay: recording ${id} (${f}) has no name, date or media, skipped`);
        continue;
      }
      const rec: Recording = {
        id,
        name: it['name'],
        date: it['date'],
        audio,
        video,
        data: baseName(it['data']),
        audioCodec: null,
        audioFmtp: null,
        videoCodec: null,
        videoFmtp: null,
        opusredPt: 0,
        e2ee: false,
        completed: true,
      };
      await this.probe(rec);
      this.recordings.set(id, rec);
    }
    for (const [id, rec] of this.recordings) if (rec.completed && !seen.has(id)) this.recordings.delete(id);
  }

  /** Codecs (and fmtp) from the files' headers. */
  async probe(rec: Recording): Promise<void> {
    if (rec.audio) {
      try {
        const h = await readMjrHeader(this.path(rec.audio));
        if (h.media === 'audio') {
          rec.audioCodec = h.codec;
          rec.audioFmtp = h.fmtp ?? null;
          rec.e2ee ||= h.e2ee;
        }
      } catch (err) {
        this.log.warn(`recordplay: audio of recording ${rec.id} unreadable: ${(err as Error).message}`);
      }
    }
    if (rec.video) {
      try {
        const h = await readMjrHeader(this.path(rec.video));
        if (h.media === 'video') {
          rec.videoCodec = h.codec;
          rec.videoFmtp = h.fmtp ?? null;
          rec.e2ee ||= h.e2ee;
        }
      } catch (err) {
        this.log.warn(`recordplay: video of recording ${rec.id} unreadable: ${(err as Error).message}`);
      }
    }
  }

  /** A recording just finished: write its .nfo (Janus's format, CRLF) and make it playable. */
  async complete(rec: Recording): Promise<void> {
    try {
      // Written aside and renamed: a folder scan (or a reader) never sees a half-written .nfo.
      const tmp = join(this.folder, `.${rec.id}.nfo.tmp`);
      await writeFile(tmp, writeNfoText(rec), { flag: 'w' });
      await rename(tmp, join(this.folder, `${rec.id}.nfo`));
    } catch (err) {
      this.log.error(`recordplay: couldn't write ${rec.id}.nfo: ${(err as Error).message}`);
      return;
    }
    await this.probe(rec);
    rec.completed = true;
  }

  /** A random id not in use (safe for JSON numbers in JavaScript clients). */
  freshId(): number {
    for (;;) {
      const id = Math.floor(Math.random() * (Number.MAX_SAFE_INTEGER - 1)) + 1;
      if (!this.recordings.has(id)) return id;
    }
  }
}
