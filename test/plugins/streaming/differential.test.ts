/**
 * Differential: the Streaming requests that need no media, against the real Janus 1.1.2 (same
 * configs folder for both). Replies of the synchronous requests and the events of the asynchronous
 * ones are compared after masking; `list` is sorted by id (Janus lists in hash-table order).
 * Not covered: `disable` (it crashes Janus 1.1.2 when it succeeds, see README). DUMP=1 prints both transcripts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectTranscripts, haveJanus } from '../../helpers/differential.js';
import type { GatewayKind, MediaGateway } from '../../helpers/media-server.js';
import { diffTranscripts, type Rule, type Step } from '../../helpers/shape-diff.js';

type Data = Record<string, unknown>;

const RULES: Rule[] = [
  { step: '*', path: '**.age_ms', mode: 'type', why: 'time since the mountpoint was created' },
  { step: '*', path: '**.port', mode: 'type', why: 'picked from the range (port = 0); another process may hold one' },
  { step: '*', path: '**.port2', mode: 'type', why: 'picked' },
  { step: '*', path: '**.port3', mode: 'type', why: 'picked' },
  { step: '*', path: '**.port_2', mode: 'type', why: 'picked' },
  { step: '*', path: '**.port_3', mode: 'type', why: 'picked' },
  { step: '*', path: '**.audio_port', mode: 'type', why: 'picked' },
  { step: '*', path: '**.video_port', mode: 'type', why: 'picked' },
  { step: '*', path: '**.rtcp_port', mode: 'type', why: 'picked (rtcpport = 0)' },
  { step: '*', path: '**.rtcpport', mode: 'type', why: 'picked (rtcpport = 0)' },
  { step: '*', path: '**.video_rtcp_port', mode: 'type', why: 'picked (videortcpport = 0)' },
  { step: 'create-random-id', path: 'created', mode: 'type', why: 'mp-<random id>' },
  { step: 'create-random-id', path: 'stream.id', mode: 'type', why: 'random id' },
  { step: 'create-random-id', path: 'stream.description', mode: 'type', why: 'mp-<random id>' },
  { step: '*', path: 'jsep_sdp', mode: 'ignore', why: 'SDP text differs (ICE credentials, candidates, codec details); the media tests check it works' },
  { step: 'list-after', path: 'list.*.id', mode: 'type', why: 'the random-id mountpoint' },
  { step: 'list-after', path: 'list.*.description', mode: 'type', why: 'mp-<random id>' },
];

const post = async (url: string, body: Data): Promise<Data> => (await fetch(url, { method: 'POST', body: JSON.stringify({ transaction: `t${Math.random()}`, ...body }) })).json() as Promise<Data>;

async function drive(srv: MediaGateway, kind: GatewayKind): Promise<Step[]> {
  const steps: Step[] = [];
  const base = srv.httpUrl;
  const s = ((await post(base, { janus: 'create' })).data as { id: number }).id;
  const h = ((await post(`${base}/${s}`, { janus: 'attach', plugin: 'janus.plugin.streaming' })).data as { id: number }).id;
  const sync = async (name: string, body: Data): Promise<void> => {
    const r = await post(`${base}/${s}/${h}`, { janus: 'message', body });
    let value = (r.plugindata as { data?: Data } | undefined)?.data ?? r;
    if (Array.isArray(value.list)) value = { ...value, list: [...(value.list as Data[])].sort((a, b) => Number(a.id) - Number(b.id)) };
    steps.push({ name, value });
  };
  const async = async (name: string, body: Data): Promise<void> => {
    const r = await post(`${base}/${s}/${h}`, { janus: 'message', body });
    assert.equal(r.janus, 'ack', `${kind} ${name}: ${JSON.stringify(r)}`);
    const evs = (await (await fetch(`${base}/${s}?maxev=1`)).json()) as Data | Data[];
    const ev = (Array.isArray(evs) ? evs[0] : evs)!;
    const jsep = ev.jsep as { type: string; sdp: string } | undefined;
    steps.push({ name, value: { data: (ev.plugindata as { data?: Data } | undefined)?.data ?? ev, ...(jsep ? { jsep_type: jsep.type, jsep_sdp: jsep.sdp } : {}) } });
  };
  await sync('list', { request: 'list' });
  await sync('info-public', { request: 'info', id: 1 });
  await sync('info-secret', { request: 'info', id: 1, secret: 'adminpwd' });
  await sync('info-wrong-secret', { request: 'info', id: 1, secret: 'nope' });
  await sync('info-missing', { request: 'info', id: 99 });
  await sync('info-no-id', { request: 'info' });
  await sync('info-bad-id', { request: 'info', id: 'x' });
  await sync('no-request', {});
  await sync('unknown', { request: 'exists', id: 1 });
  await sync('create-legacy', { request: 'create', type: 'rtp', id: 5, description: 'legacy', audio: true, audioport: 0, audiopt: 111, audiocodec: 'opus', video: true, videoport: 0, videopt: 100, videocodec: 'vp8', secret: 's', pin: 'p' });
  await sync('create-media', { request: 'create', type: 'rtp', id: 6, name: 'multi', media: [{ type: 'audio', mid: 'a', port: 0, pt: 111, codec: 'opus' }, { type: 'video', mid: 'v', port: 0, pt: 96, codec: 'vp8', simulcast: true }, { type: 'data', mid: 'd', port: 0 }] });
  await sync('create-random-id', { request: 'create', type: 'rtp', media: [{ type: 'audio', mid: 'a', port: 0, pt: 111, codec: 'opus' }] });
  await sync('create-dup', { request: 'create', type: 'rtp', id: 1, audio: true, audioport: 0, audiopt: 111, audiocodec: 'opus' });
  await sync('create-no-type', { request: 'create' });
  const srtpKey = Buffer.alloc(30, 7).toString('base64');
  const srtpBase = { request: 'create', type: 'rtp', media: [{ type: 'audio', mid: 'a', port: 0, pt: 111, codec: 'opus' }] };
  await sync('create-srtp-bad-suite', { ...srtpBase, srtpsuite: 64, srtpcrypto: srtpKey });
  await sync('create-srtp-suite-alone', { ...srtpBase, srtpsuite: 0 });
  await sync('create-srtp-short-crypto', { ...srtpBase, srtpsuite: 80, srtpcrypto: 'AAAA' });
  await sync('create-srtp-not-base64', { ...srtpBase, srtpsuite: 32, srtpcrypto: 'not base64!' });
  await sync('create-srtp-crypto-type', { ...srtpBase, srtpsuite: 80, srtpcrypto: 5 });
  await sync('create-bad-type', { request: 'create', type: 'xyz' });
  await sync('create-no-media', { request: 'create', type: 'rtp' });
  await sync('create-bad-id', { request: 'create', type: 'rtp', id: 'a' });
  await sync('info-media', { request: 'info', id: 6 });
  await sync('info-legacy-public', { request: 'info', id: 5 });
  await async('watch-pin-missing', { request: 'watch', id: 5 });
  await async('watch-pin-wrong', { request: 'watch', id: 5, pin: 'x' });
  await sync('edit-no-secret', { request: 'edit', id: 5, new_description: 'y' });
  await sync('edit-wrong-secret', { request: 'edit', id: 5, new_description: 'y', secret: 'x' });
  await sync('edit', { request: 'edit', id: 5, new_description: 'edited', new_metadata: 'meta', new_pin: '', secret: 's' });
  await sync('info-edited', { request: 'info', id: 5, secret: 's' });
  await sync('enable', { request: 'enable', id: 1, secret: 'adminpwd' });
  await sync('kick_all', { request: 'kick_all', id: 1, secret: 'adminpwd' });
  await sync('recording-no-action', { request: 'recording', id: 1, secret: 'adminpwd' });
  await sync('recording-stop-nothing', { request: 'recording', id: 1, action: 'stop', secret: 'adminpwd' });
  await sync('destroy-no-secret', { request: 'destroy', id: 1 });
  await sync('destroy-wrong-secret', { request: 'destroy', id: 1, secret: 'x' });
  await async('watch-missing', { request: 'watch', id: 99 });
  await async('watch-no-id', { request: 'watch' });
  await async('start-idle', { request: 'start' });
  await async('pause-idle', { request: 'pause' });
  await async('configure-idle', { request: 'configure' });
  await async('switch-idle', { request: 'switch', id: 1 });
  await async('watch-5-pin-removed', { request: 'watch', id: 5 });
  // Janus ignores `stop` before the PeerConnection is up (no event: the next step's poll would show one)
  assert.equal((await post(`${base}/${s}/${h}`, { janus: 'message', body: { request: 'stop' } })).janus, 'ack');
  await async('watch-1', { request: 'watch', id: 1 });
  await async('watch-again', { request: 'watch', id: 1 });
  await async('configure', { request: 'configure', substream: 1 });
  await async('switch', { request: 'switch', id: 6 });
  await async('pause', { request: 'pause' });
  await sync('destroy-6', { request: 'destroy', id: 6 });
  await sync('destroy-1', { request: 'destroy', id: 1, secret: 'adminpwd' });
  // rtcpport = 0: a port is picked, and create/info must say which (senders send RTCP there to get PLIs back)
  await sync('create-rtcp-media', { request: 'create', type: 'rtp', id: 11, media: [{ type: 'audio', mid: 'a', port: 0, pt: 111, codec: 'opus' }, { type: 'video', mid: 'v', port: 0, rtcpport: 0, pt: 100, codec: 'vp8' }] });
  await sync('create-rtcp-legacy', { request: 'create', type: 'rtp', id: 12, video: true, videoport: 0, videortcpport: 0, videopt: 100, videocodec: 'vp8' });
  await sync('info-rtcp-media', { request: 'info', id: 11 });
  await sync('info-rtcp-legacy', { request: 'info', id: 12 });
  await sync('destroy-11', { request: 'destroy', id: 11 });
  await sync('destroy-12', { request: 'destroy', id: 12 });
  await sync('list-after', { request: 'list' });
  await post(`${base}/${s}`, { janus: 'destroy' });
  return steps;
}

test('Streaming requests without media: Portunus answers as Janus 1.1.2', { skip: !haveJanus() && 'Janus not installed', timeout: 180_000 }, async () => {
  const { janus: ref, portunus: got } = await collectTranscripts({ plugins: ['streaming'], prefix: 'st-diff', script: drive, dumpEnv: 'DUMP' });
  const diffs = diffTranscripts(ref, got, RULES);
  assert.deepEqual(diffs, [], diffs.join('\n'));
});
