/**
 * VideoRoom RTP forwarders, differential: the same script goes over HTTP to the real Janus 1.1.2 and to
 * Portunus, both on the same generated configs (room 1234, secret "adminpwd", plus admin_key and
 * lock_rtp_forward), and the replies are compared after masking ids. The publisher only negotiates
 * (a captured Chrome simulcast offer, no ICE): Janus creates a publisher's streams, and accepts
 * forwarders for them, as soon as it answers the offer.
 * VR_FWD_DUMP=1 prints both transcripts. Skipped when Janus is not installed.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../helpers/janus-client.js';
import { collectTranscripts, haveJanus } from '../../helpers/differential.js';
import { pluginJcfg, type MediaGateway } from '../../helpers/media-server.js';
import { PluginHttp } from '../../helpers/plugin-http.js';
import { diffTranscripts, Masker, type Rule, type Step } from '../../helpers/shape-diff.js';
import { CHROME_OFFER_SIMULCAST } from './fixtures.js';

const CONF = pluginJcfg('videoroom').replace('  string_ids = false', '  string_ids = false\n  admin_key = "fwdkey"\n  lock_rtp_forward = true');

const RULES: Rule[] = [
  { step: '*', path: '**.private_id', mode: 'type', why: 'random' },
  { step: '*', path: '**.local_rtcp_port', mode: 'type', why: 'an ephemeral port' },
];

async function run(gw: MediaGateway): Promise<Step[]> {
  const steps: Step[] = [];
  const m = new Masker();
  const http = await PluginHttp.open(gw.httpUrl, 'janus.plugin.videoroom');
  try {
    const pub = await http.attach();
    const adm = await http.attach();
    const q = async (name: string, body: Record<string, unknown>, handle = adm, jsep?: Record<string, unknown>): Promise<JsonObject> => {
      const d = await http.req(handle, body, jsep);
      for (const f of (d['forwarders'] as JsonObject[] | undefined) ?? []) m.register('stream', f['stream_id']);
      const rs = d['rtp_stream'] as JsonObject | undefined;
      if (rs) for (const k of Object.keys(rs)) if (k.includes('stream_id')) m.register('stream', rs[k]);
      const copy = JSON.parse(JSON.stringify(d)) as JsonObject;
      // Janus lists a publisher's forwarders in hash-table order: compare them in a fixed one.
      for (const p of (copy['publishers'] as JsonObject[] | undefined) ?? []) {
        const key = (f: JsonObject): string => `${String(f['type'])}|${String(f['port']).padStart(6, '0')}`;
        (p['forwarders'] as JsonObject[]).sort((a, b) => key(a).localeCompare(key(b)));
      }
      steps.push({ name, value: m.mask(copy) });
      return d;
    };
    const base = { request: 'rtp_forward', room: 1234, publisher_id: 777, host: '127.0.0.1' };
    const ok = { ...base, admin_key: 'fwdkey', secret: 'adminpwd' };
    await q('join', { request: 'join', ptype: 'publisher', room: 1234, id: 777, display: 'alice' }, pub);
    await q('fwd-before-publish', { ...ok, streams: [{ mid: '0', port: 5000 }] });
    await q('list-before-publish', { request: 'listforwarders', room: 1234, secret: 'adminpwd' });
    await q('configure', { request: 'configure', audio: true, video: true }, pub, { type: 'offer', sdp: CHROME_OFFER_SIMULCAST });
    await q('fwd-no-host', { ...ok, host: undefined });
    await q('fwd-host-type', { ...ok, host: 7 });
    await q('fwd-suite-type', { ...ok, srtp_suite: 'x' });
    await q('fwd-no-room', { ...ok, room: undefined });
    await q('fwd-no-pid', { ...ok, publisher_id: undefined });
    await q('fwd-pid-type', { ...ok, publisher_id: 'x' });
    await q('fwd-no-admin-key', { ...base, streams: [] });
    await q('fwd-wrong-admin-key', { ...base, admin_key: 'x', streams: [] });
    await q('fwd-bad-family', { ...ok, host_family: 'x' });
    await q('fwd-unresolvable', { ...ok, host: 'no.such.host.invalid' });
    await q('fwd-no-mid', { ...ok, streams: [{ port: 5000 }] });
    await q('fwd-stream-not-object', { ...ok, streams: [5] });
    await q('fwd-no-port', { ...ok, streams: [{ mid: '0' }] });
    await q('fwd-ssrc-type', { ...ok, streams: [{ mid: '0', port: 5000, ssrc: -3 }] });
    await q('fwd-bad-suite', { ...ok, srtp_suite: 40, srtp_crypto: 'abc', streams: [{ mid: '0', port: 5000 }] });
    await q('fwd-no-such-room', { ...ok, room: 999, streams: [] });
    await q('fwd-no-secret', { ...ok, secret: undefined, streams: [] });
    await q('fwd-wrong-secret', { ...ok, secret: 'x', streams: [] });
    await q('fwd-no-such-feed', { ...ok, publisher_id: 778, streams: [] });
    await q('fwd-unknown-mid', { ...ok, streams: [{ mid: 'x', port: 5000 }] });
    await q('fwd-short-crypto', { ...ok, srtp_suite: 80, srtp_crypto: 'abc', streams: [{ mid: '0', port: 5000 }] });
    await q('fwd-empty', { ...ok, streams: [] });
    await q('fwd-streams', { ...ok, streams: [{ mid: '0', port: 5000, pt: 100, ssrc: 1234 }, { mid: '1', port: 5002, rtcp_port: 5003, port_2: 5004, port_3: 5006, ssrc_3: 99, pt_2: 97 }, { mid: '1', port: 5008, simulcast: true }] });
    await q('fwd-srtp', { ...ok, srtp_suite: 80, srtp_crypto: Buffer.alloc(30, 7).toString('base64'), streams: [{ mid: '0', port: 5010 }, { mid: '1', port: 5012, host: '127.0.0.2' }] });
    await q('fwd-legacy', { ...ok, audio_port: 6000, audio_pt: 101, video_port: 6002, video_port_2: 6004, video_ssrc_3: 5, data_port: 6006 });
    await q('fwd-legacy-simulcast', { ...ok, video_port: 6008, video_port_2: 6010, simulcast: true });
    await q('list-no-secret', { request: 'listforwarders', room: 1234 });
    await q('list-no-room', { request: 'listforwarders' });
    await q('list', { request: 'listforwarders', room: 1234, secret: 'adminpwd' });
    const some = await http.req(adm, { ...ok, streams: [{ mid: '0', port: 7000 }] });
    const sid = (some['forwarders'] as JsonObject[])[0]!['stream_id'];
    m.register('stream', sid);
    const stop = { request: 'stop_rtp_forward', room: 1234, publisher_id: 777, secret: 'adminpwd' };
    await q('stop-no-stream-id', { ...stop, admin_key: 'fwdkey' });
    await q('stop-stream-id-type', { ...stop, admin_key: 'fwdkey', stream_id: 'x' });
    await q('stop-no-admin-key', { ...stop, stream_id: sid });
    await q('stop-no-secret', { ...stop, admin_key: 'fwdkey', secret: undefined, stream_id: sid });
    await q('stop-no-such-feed', { ...stop, admin_key: 'fwdkey', publisher_id: 778, stream_id: sid });
    await q('stop-no-such-stream', { ...stop, admin_key: 'fwdkey', stream_id: 1 });
    await q('stop', { ...stop, admin_key: 'fwdkey', stream_id: sid });
    await q('stop-again', { ...stop, admin_key: 'fwdkey', stream_id: sid });
    await q('leave', { request: 'leave' }, pub);
    await q('list-after-leave', { request: 'listforwarders', room: 1234, secret: 'adminpwd' });
    await q('fwd-after-leave', { ...ok, streams: [] });
  } finally {
    await http.close();
  }
  return steps;
}

describe('VideoRoom RTP forwarders: differential against Janus 1.1.2', { skip: !haveJanus() && 'Janus not installed', timeout: 120_000 }, () => {
  let janusSteps: Step[] = [];
  let portunusSteps: Step[] = [];
  before(async () => {
    ({ janus: janusSteps, portunus: portunusSteps } = await collectTranscripts({ plugins: ['videoroom'], overrides: { videoroom: CONF }, script: run, dumpEnv: 'VR_FWD_DUMP' }));
  });

  test('Janus itself: the script ran and forwarders were created', () => {
    const streams = janusSteps.find((s) => s.name === 'fwd-streams')?.value as JsonObject;
    assert.equal((streams['forwarders'] as unknown[]).length, 5, JSON.stringify(streams));
  });

  test('Portunus answers as Janus does', () => {
    const diffs = diffTranscripts(janusSteps, portunusSteps, RULES);
    assert.deepEqual(diffs, []);
  });
});
