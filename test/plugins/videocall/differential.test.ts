/**
 * VideoCall signalling, differential: the same script goes over HTTP to the real Janus 1.1.2 and to
 * Portunus (same generated configs), and the replies are compared after masking ids. The call itself
 * is signalled with a captured Chrome offer and never gets media (no ICE): `calling`, `incomingcall`
 * (with an offer), busy callee, `accept` without SDP, `hangup` on both sides all happen before media.
 * VC_DUMP=1 prints both transcripts. Skipped when Janus is not installed.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../helpers/janus-client.js';
import { PluginHttp } from '../../helpers/plugin-http.js';
import { collectTranscripts, haveJanus } from '../../helpers/differential.js';
import type { MediaGateway } from '../../helpers/media-server.js';
import { diffTranscripts, type Rule, type Step } from '../../helpers/shape-diff.js';
import { CHROME_OFFER } from '../videoroom/fixtures.js';

const RULES: Rule[] = [];

async function run(gw: MediaGateway): Promise<Step[]> {
  const steps: Step[] = [];
  const http = await PluginHttp.open(gw.httpUrl, 'janus.plugin.videocall');
  try {
    const a = await http.attach();
    const b = await http.attach();
    const c = await http.attach();
    const q = async (name: string, handle: number, body: unknown, jsep?: Record<string, unknown>): Promise<JsonObject> => {
      const d = await http.req(handle, body, jsep);
      const copy = JSON.parse(JSON.stringify(d)) as JsonObject;
      const list = (copy['result'] as JsonObject | undefined)?.['list'];
      if (Array.isArray(list)) list.sort();
      steps.push({ name, value: copy });
      return d;
    };
    const offer = { type: 'offer', sdp: CHROME_OFFER };
    await q('list-empty', a, { request: 'list' });
    await q('no-request', a, { foo: 1 });
    await q('request-type', a, { request: 5 });
    await q('unknown', a, { request: 'dance' });
    await q('call-unregistered', a, { request: 'call', username: 'bob' });
    await q('accept-no-call', a, { request: 'accept' });
    await q('register-missing', a, { request: 'register' });
    await q('register-type', a, { request: 'register', username: 7 });
    await q('register', a, { request: 'REGISTER', username: 'alice' });
    await q('register-again', a, { request: 'register', username: 'alice2' });
    await q('register-taken', b, { request: 'register', username: 'alice' });
    await q('register-bob', b, { request: 'register', username: 'bob' });
    await q('register-carol', c, { request: 'register', username: 'carol' });
    await q('list', a, { request: 'list' });
    await q('call-self', a, { request: 'call', username: 'alice' });
    await q('call-nobody', a, { request: 'call', username: 'dave' });
    await q('call-missing-username', a, { request: 'call' });
    await q('call-no-sdp', a, { request: 'call', username: 'bob' });
    await q('set-audio-type', a, { request: 'set', audio: 'yes' });
    await q('set-bitrate-negative', a, { request: 'set', bitrate: -1 });
    await q('set-substream', a, { request: 'set', substream: 3 });
    await q('set-temporal-type', a, { request: 'set', temporal: 'x' });
    await q('set-fallback', a, { request: 'set', fallback: -5 });
    await q('set-filename-type', a, { request: 'set', filename: 3 });
    await q('set', a, { request: 'set', audio: false, video: true, bitrate: 128000 });
    await q('hangup-idle', a, { request: 'hangup' });
    await q('call', a, { request: 'call', username: 'bob' }, offer);
    steps.push({ name: 'incomingcall', value: await http.unsolicited(b) });
    // No new offer on a handle that has one: Janus's core refuses that (490) before the plugin sees it.
    await q('call-again', a, { request: 'call', username: 'carol' });
    await q('callee-calls', b, { request: 'call', username: 'carol' });
    await q('busy', c, { request: 'call', username: 'bob' }, offer);
    await q('carol-accept', c, { request: 'accept' });
    await q('accept-no-sdp', b, { request: 'accept' });
    await q('hangup', a, { request: 'hangup', reason: 'Bye' });
    steps.push({ name: 'peer-hangup', value: await http.unsolicited(b) });
  } finally {
    await http.close();
  }
  return steps;
}

describe('VideoCall: differential against Janus 1.1.2', { skip: !haveJanus() && 'Janus not installed', timeout: 120_000 }, () => {
  let janusSteps: Step[] = [];
  let portunusSteps: Step[] = [];
  before(async () => {
    // Janus now and then tears the call down by itself before the script's own hangup (its transcript
    // then ends with reason "Remote WebRTC hangup" and the busy/accept steps see no call): such a
    // reference run says nothing about Portunus, so it is run again (at most 5 attempts).
    const callSurvived = (steps: Step[]): boolean =>
      ((steps.find((x) => x.name === 'peer-hangup')?.value as JsonObject | undefined)?.['result'] as JsonObject | undefined)?.['reason'] !== 'Remote WebRTC hangup';
    ({ janus: janusSteps, portunus: portunusSteps } = await collectTranscripts({ plugins: ['videocall'], prefix: 'vc-diff', script: run, usable: callSurvived, janusAttempts: 5, dumpEnv: 'VC_DUMP' }));
  });

  test('Janus itself: the call reached the callee with an offer', () => {
    const inc = janusSteps.find((s) => s.name === 'incomingcall')?.value as JsonObject;
    assert.deepEqual(inc, { videocall: 'event', result: { event: 'incomingcall', username: 'alice' }, jsep_type: 'offer' });
  });

  test('Portunus answers as Janus does', () => {
    assert.deepEqual(diffTranscripts(janusSteps, portunusSteps, RULES), []);
  });
});
