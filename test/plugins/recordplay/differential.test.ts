/**
 * Record&Play signalling, differential: the same script goes over HTTP to the real Janus 1.1.2 and to
 * Portunus, each with its own copy of Debian's sample recordings folder (/usr/share/janus/recordings:
 * recording 1234, old-format .mjr files), and the replies are compared. Covers the synchronous
 * requests (list, update, configure), the errors of record/play/start, a `play` that prepares an offer
 * and a `record` that answers one (a captured Chrome offer; no ICE, no media).
 * RP_DUMP=1 prints both transcripts. Skipped when Janus is not installed.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '../../helpers/janus-client.js';
import { PluginHttp } from '../../helpers/plugin-http.js';
import { collectTranscripts, haveJanus } from '../../helpers/differential.js';
import type { GatewayKind, MediaGateway } from '../../helpers/media-server.js';
import { diffTranscripts, type Rule, type Step } from '../../helpers/shape-diff.js';
import { CHROME_OFFER } from '../videoroom/fixtures.js';

const SAMPLES = '/usr/share/janus/recordings';
const RULES: Rule[] = [];

async function run(gw: MediaGateway): Promise<Step[]> {
  const steps: Step[] = [];
  const http = await PluginHttp.open(gw.httpUrl, 'janus.plugin.recordplay');
  try {
    const h = await http.attach();
    const player = await http.attach();
    const rec = await http.attach();
    const q = async (name: string, handle: number, body: unknown, jsep?: Record<string, unknown>): Promise<JsonObject> => {
      const d = await http.req(handle, body, jsep);
      steps.push({ name, value: JSON.parse(JSON.stringify(d)) as JsonObject });
      return d;
    };
    const offer = { type: 'offer', sdp: CHROME_OFFER };
    await q('list', h, { request: 'list' });
    await q('update', h, { request: 'UPDATE' });
    await q('no-request', h, { foo: 1 });
    await q('request-type', h, { request: 1 });
    await q('unknown', h, { request: 'dance' });
    await q('configure-type', h, { request: 'configure', 'video-bitrate-max': 'x' });
    await q('configure-negative', h, { request: 'configure', 'video-keyframe-interval': -1 });
    await q('configure', h, { request: 'configure', 'video-bitrate-max': 256000 });
    await q('record-no-sdp', h, { request: 'record', name: 'x' });
    await q('play-missing-id', h, { request: 'play' });
    await q('play-id-type', h, { request: 'play', id: 'x' });
    await q('play-no-such', h, { request: 'play', id: 999 });
    await q('start-not-playing', h, { request: 'start' });
    await q('pause-idle', h, { request: 'pause' });
    await q('stop-idle', h, { request: 'stop' });
    await q('play', player, { request: 'play', id: 1234 });
    await q('start-no-sdp', player, { request: 'start' });
    // One handle per offer: Janus's core refuses a second offer on a handle that has one.
    await q('record-missing-name', await http.attach(), { request: 'record' }, offer);
    await q('record-empty-name', await http.attach(), { request: 'record', name: '' }, offer);
    await q('record-exists', await http.attach(), { request: 'record', name: 'dup', id: 1234 }, offer);
    await q('record', rec, { request: 'record', name: 'a test', id: 5555 }, offer);
    await q('list-while-recording', h, { request: 'list' });
    await q('pause', rec, { request: 'pause' });
    await q('resume', rec, { request: 'resume' });
    await q('stop', rec, { request: 'stop' });
  } finally {
    await http.close();
  }
  return steps;
}

const haveSamples = haveJanus() && existsSync(join(SAMPLES, '1234.nfo'));

describe('Record&Play: differential against Janus 1.1.2', { skip: !haveSamples && 'Janus or its sample recordings not installed', timeout: 120_000 }, () => {
  let janusSteps: Step[] = [];
  let portunusSteps: Step[] = [];
  before(async () => {
    // Each gateway gets its own copy of the samples (recording writes there).
    const dirs = new Map<GatewayKind, string>();
    ({ janus: janusSteps, portunus: portunusSteps } = await collectTranscripts({
      plugins: ['recordplay'],
      prefix: 'rp-diff',
      overrides: (kind) => {
        const dir = mkdtempSync(join(tmpdir(), `rp-diff-${kind}-`));
        cpSync(SAMPLES, dir, { recursive: true });
        dirs.set(kind, dir);
        return { recordplay: `general: {\n  path = ${JSON.stringify(dir)}\n}\n` };
      },
      cleanup: (kind) => rmSync(dirs.get(kind)!, { recursive: true, force: true }),
      script: run,
      dumpEnv: 'RP_DUMP',
    }));
  });

  test('Janus itself: the sample recording is listed and prepared with an offer', () => {
    const list = janusSteps.find((s) => s.name === 'list')?.value as JsonObject;
    assert.equal((list['list'] as JsonObject[])[0]!['id'], 1234);
    const play = janusSteps.find((s) => s.name === 'play')?.value as JsonObject;
    assert.equal(play['jsep_type'], 'offer');
  });

  test('Portunus answers as Janus does', () => {
    assert.deepEqual(diffTranscripts(janusSteps, portunusSteps, RULES), []);
  });
});
