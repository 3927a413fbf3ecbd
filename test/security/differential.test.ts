/**
 * Files and URLs a request can name, differential: the same requests over HTTP to the real Janus 1.1.2
 * and to Portunus, each started on a configs folder with the same content (VideoRoom, AudioBridge,
 * TextRoom; janus.jcfg with protected_folders = [<sandbox>/prot]).
 *
 * Where Janus refuses, Portunus refuses the same way (play_file of a missing file: 499 "Error opening
 * file"); where Janus 1.1.2 accepts a request that names a protected folder, a path in a file name, a
 * `..`, or a loopback/metadata post target, Portunus refuses it with the plugin's invalid-element error
 * (README, "Where Portunus differs from Janus"): those steps assert both answers. Afterwards Portunus's
 * protected folder is empty; Janus's is not (it recorded a room's mix into it).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { longPoll, postJson, tx, type JsonObject } from '../helpers/janus-client.js';
import { startMediaGateway } from '../helpers/media-server.js';
import type { RunningServer } from '../helpers/server-process.js';
import { writeToneFile } from '../plugins/audiobridge/ogg-opus.js';

const JANUS = '/usr/bin/janus';

interface Sandbox {
  base: string;
  ok: string;
  prot: string;
  link: string;
}

function sandbox(kind: string): Sandbox {
  const base = mkdtempSync(join(tmpdir(), `portunus-pathdiff-${kind}-`));
  const sb = { base, ok: join(base, 'ok'), prot: join(base, 'prot'), link: join(base, 'ok', 'link') };
  mkdirSync(sb.ok);
  mkdirSync(sb.prot);
  symlinkSync(sb.prot, sb.link);
  writeToneFile(join(sb.prot, 'hidden.opus'), 440, 0.2);
  return sb;
}

async function start(kind: 'janus' | 'portunus', sb: Sandbox): Promise<RunningServer> {
  return startMediaGateway(kind, ['videoroom', 'audiobridge', 'textroom'], {}, {
    prefix: 'paths',
    janusJcfg: (text) => text.replace('  debug_level = 4', `  debug_level = 4\n  protected_folders = [${JSON.stringify(sb.prot)}]`),
  });
}

/** One session with a handle per plugin; plugin replies (sync, or the async event) as plugindata.data. */
async function client(url: string): Promise<(plugin: string, body: Record<string, unknown>) => Promise<JsonObject>> {
  const s = ((await postJson(url, { janus: 'create', transaction: tx() }))['data'] as JsonObject)['id'] as number;
  const handles = new Map<string, number>();
  const events: JsonObject[] = [];
  return async (plugin, body) => {
    let h = handles.get(plugin);
    if (h === undefined) {
      h = ((await postJson(`${url}/${s}`, { janus: 'attach', plugin: `janus.plugin.${plugin}`, transaction: tx() }))['data'] as JsonObject)['id'] as number;
      handles.set(plugin, h);
    }
    const t = tx();
    const r = await postJson(`${url}/${s}/${h}`, { janus: 'message', transaction: t, body });
    if (r['janus'] === 'success') return (r['plugindata'] as JsonObject)['data'] as JsonObject;
    if (r['janus'] !== 'ack') return r;
    const deadline = Date.now() + 8000;
    for (;;) {
      const e = events.find((x) => x['transaction'] === t);
      if (e) return (e['plugindata'] as JsonObject)['data'] as JsonObject;
      if (Date.now() > deadline) throw new Error(`no event for ${JSON.stringify(body)}`);
      const p = await longPoll(url, s, { maxev: 10, timeoutMs: 5000 });
      for (const x of Array.isArray(p.json) ? p.json : [p.json]) if (x && typeof x === 'object') events.push(x as JsonObject);
    }
  };
}

type Steps = Record<string, JsonObject>;

async function script(url: string, sb: Sandbox): Promise<Steps> {
  const q = await client(url);
  const out: Steps = {};
  const step = async (name: string, plugin: string, body: Record<string, unknown>): Promise<void> => {
    out[name] = await q(plugin, body);
  };
  // Same on both sides.
  await step('vr-create-ok', 'videoroom', { request: 'create', room: 71, rec_dir: sb.ok, secret: 's' });
  await step('ab-create-ok', 'audiobridge', { request: 'create', room: 72, secret: 's' });
  await step('ab-play-missing', 'audiobridge', { request: 'play_file', room: 72, secret: 's', filename: join(sb.ok, 'missing.opus') });
  // Janus accepts, Portunus refuses.
  await step('vr-create-protected', 'videoroom', { request: 'create', room: 73, rec_dir: join(sb.prot, 'sub'), record: true });
  await step('vr-create-symlink', 'videoroom', { request: 'create', room: 74, rec_dir: sb.link });
  await step('vr-edit-dotdot', 'videoroom', { request: 'edit', room: 71, secret: 's', new_rec_dir: `${sb.ok}/../prot` });
  await step('ab-create-protected', 'audiobridge', { request: 'create', room: 75, record: true, record_dir: sb.prot });
  await step('ab-create-mjrs-symlink', 'audiobridge', { request: 'create', room: 76, mjrs: true, mjrs_dir: sb.link });
  await step('ab-play-protected', 'audiobridge', { request: 'play_file', room: 72, secret: 's', filename: join(sb.prot, 'hidden.opus') });
  // A path with `..` that stays in the sandbox (Janus writes wherever it points).
  await step('ab-join-filename', 'audiobridge', { request: 'join', room: 72, record: true, filename: `${sb.ok}/../ok/x` });
  await step('tr-create-loopback', 'textroom', { request: 'create', room: 77, post: 'http://127.0.0.1:9/x' });
  await step('tr-create-metadata', 'textroom', { request: 'create', room: 78, post: 'http://169.254.169.254/latest/meta-data/' });
  return out;
}

describe('files and URLs a request names: Janus 1.1.2 vs Portunus', { skip: existsSync(JANUS) ? false : `${JANUS} not installed` }, () => {
  const sbJ = sandbox('janus');
  const sbP = sandbox('portunus');
  let janus: RunningServer | undefined;
  let portunus: RunningServer | undefined;
  before(async () => {
    [janus, portunus] = await Promise.all([start('janus', sbJ), start('portunus', sbP)]);
  });
  after(async () => {
    await Promise.all([janus?.stop(), portunus?.stop()]);
    rmSync(sbJ.base, { recursive: true, force: true });
    rmSync(sbP.base, { recursive: true, force: true });
  });

  test('same refusals where Janus refuses; stricter (invalid element) where Janus writes or posts anywhere', { timeout: 120_000 }, async () => {
    const j = await script(janus!.httpUrl, sbJ);
    const p = await script(portunus!.httpUrl, sbP);
    for (const name of ['vr-create-ok', 'ab-create-ok', 'ab-play-missing']) assert.deepEqual(p[name], j[name], name);
    assert.deepEqual(p['ab-play-missing'], { audiobridge: 'event', error_code: 499, error: 'Error opening file' });

    const stricter: Array<[string, JsonObject, JsonObject]> = [
      ['vr-create-protected', { videoroom: 'created', room: 73, permanent: false }, { videoroom: 'event', error_code: 430, error: 'Invalid element (rec_dir)' }],
      ['vr-create-symlink', { videoroom: 'created', room: 74, permanent: false }, { videoroom: 'event', error_code: 430, error: 'Invalid element (rec_dir)' }],
      ['vr-edit-dotdot', { videoroom: 'edited', room: 71, permanent: false }, { videoroom: 'event', error_code: 430, error: 'Invalid element (new_rec_dir)' }],
      ['ab-create-protected', { audiobridge: 'created', room: 75, permanent: false }, { audiobridge: 'event', error_code: 484, error: 'Invalid element (record_dir)' }],
      ['ab-create-mjrs-symlink', { audiobridge: 'created', room: 76, permanent: false }, { audiobridge: 'event', error_code: 484, error: 'Invalid element (mjrs_dir)' }],
      ['tr-create-loopback', { textroom: 'created', room: 77, permanent: false }, { textroom: 'error', error_code: 414, error: 'Invalid element (post)' }],
      ['tr-create-metadata', { textroom: 'created', room: 78, permanent: false }, { textroom: 'error', error_code: 414, error: 'Invalid element (post)' }],
    ];
    for (const [name, janusSays, portunusSays] of stricter) {
      assert.deepEqual(j[name], janusSays, `Janus 1.1.2: ${name}`);
      assert.deepEqual(p[name], portunusSays, `Portunus: ${name}`);
    }
    assert.equal(j['ab-play-protected']!['audiobridge'], 'success', 'Janus plays a file in a protected folder');
    assert.deepEqual(p['ab-play-protected'], { audiobridge: 'event', error_code: 499, error: 'Error opening file' }, 'Portunus: the same words as a missing file');
    assert.equal(j['ab-join-filename']!['audiobridge'], 'joined');
    assert.deepEqual(p['ab-join-filename'], { audiobridge: 'event', error_code: 484, error: 'Invalid element (filename)' });

    assert.deepEqual(readdirSync(sbP.prot), ['hidden.opus'], 'Portunus wrote nothing into the protected folder');
    assert.ok(readdirSync(sbJ.prot).some((f) => f.endsWith('.wav')), 'Janus 1.1.2 recorded a mix into it (the hole Portunus closes)');
    assert.deepEqual(readdirSync(sbP.ok).sort(), ['link'], 'nor anywhere else in the sandbox');
  });
});
