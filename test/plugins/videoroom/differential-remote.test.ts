/**
 * VideoRoom remote publishers (add/update/remove_remote_publisher, publish_remotely,
 * unpublish_remotely, listremotes), differential: the same script goes over HTTP to the real Janus
 * 1.1.2 and to Portunus on the same configs (room 1234, secret "adminpwd", admin_key and
 * lock_rtp_forward), replies and the events an observer publisher in the room gets are compared
 * after masking ids and ports. VR_REMOTE_DUMP=1 prints both transcripts. Skipped without Janus.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../helpers/janus-client.js';
import { PluginHttp } from '../../helpers/plugin-http.js';
import { collectTranscripts, haveJanus } from '../../helpers/differential.js';
import { pluginJcfg, type MediaGateway } from '../../helpers/media-server.js';
import { diffTranscripts, Masker, type Rule, type Step } from '../../helpers/shape-diff.js';

const CONF = pluginJcfg('videoroom').replace('  string_ids = false', '  string_ids = false\n  admin_key = "fwdkey"\n  lock_rtp_forward = true');

const RULES: Rule[] = [
  { step: '*', path: '**.private_id', mode: 'type', why: 'random' },
  { step: /^add-ok/, path: 'port', mode: 'type', why: 'a port picked from the range' },
  { step: /^add-ok/, path: 'rtcp_port', mode: 'type', why: 'a port picked from the range' },
];

async function run(gw: MediaGateway): Promise<Step[]> {
  const steps: Step[] = [];
  const m = new Masker();
  const http = await PluginHttp.open(gw.httpUrl, 'janus.plugin.videoroom');
  try {
    const obs = await http.attach();
    const adm = await http.attach();
    const push = (name: string, v: unknown): void => {
      steps.push({ name, value: m.mask(JSON.parse(JSON.stringify(v))) });
    };
    const q = async (name: string, body: Record<string, unknown>, handle = adm): Promise<JsonObject> => {
      const d = await http.req(handle, body);
      // Janus lists participants in hash-table order.
      (d['participants'] as JsonObject[] | undefined)?.sort((a, b) => String(a['display']).localeCompare(String(b['display'])));
      if (typeof d['id'] === 'number' && name.startsWith('add-ok')) m.register('remote', d['id']);
      push(name, d);
      return d;
    };
    const ev = async (name: string): Promise<void> => push(name, await http.event(obs));
    const A = 'opus';
    const streams = [
      { type: 'audio', mindex: 0, mid: '0', codec: A, fec: true, audiolevel_ext_id: 1 },
      { type: 'video', mindex: 1, mid: '1', codec: 'vp8', simulcast: true, description: 'camera' },
      { type: 'data', mindex: 2, mid: '2' },
    ];
    const add = { request: 'add_remote_publisher', room: 1234, secret: 'adminpwd' };
    await q('join', { request: 'join', ptype: 'publisher', room: 1234, id: 555, display: 'observer' }, obs);
    await q('add-no-streams', { ...add });
    await q('add-streams-type', { ...add, streams: 'x' });
    await q('add-streams-empty', { ...add, streams: [] });
    await q('add-no-room', { ...add, room: undefined, streams });
    await q('add-id-type', { ...add, id: 'x', streams });
    await q('add-port-type', { ...add, port: -1, streams });
    await q('add-stream-no-mid', { ...add, streams: [{ type: 'audio', mindex: 0, codec: A }] });
    await q('add-stream-no-mindex', { ...add, streams: [{ type: 'audio', mid: '0', codec: A }] });
    await q('add-stream-no-type', { ...add, streams: [{ mindex: 0, mid: '0', codec: A }] });
    await q('add-stream-bad-type', { ...add, streams: [{ type: 'text', mindex: 0, mid: '0', codec: A }] });
    await q('add-stream-no-codec', { ...add, streams: [{ type: 'video', mindex: 0, mid: '0' }] });
    await q('add-stream-bad-codec', { ...add, streams: [{ type: 'audio', mindex: 0, mid: '0', codec: 'vp8' }] });
    await q('add-stream-simulcast-type', { ...add, streams: [{ type: 'video', mindex: 0, mid: '0', codec: 'vp8', simulcast: 'yes' }] });
    await q('add-stream-h264-profile-string', { ...add, streams: [{ type: 'video', mindex: 0, mid: '0', codec: 'h264', h264_profile: '42e01f' }] });
    await q('add-no-such-room', { ...add, room: 999, streams });
    await q('add-no-secret', { ...add, secret: undefined, streams });
    await q('add-wrong-secret', { ...add, secret: 'x', streams });
    await q('add-id-taken', { ...add, id: 555, streams });
    await q('add-bad-iface', { ...add, iface: 'nosuchiface0', streams });
    await q('add-ok', { ...add, id: 4242, display: 'remote', streams });
    await ev('add-ok-event');
    await q('add-ok-disabled-codec', { ...add, id: 4343, streams: [{ type: 'video', mindex: 0, mid: 'v', codec: 'h264' }, { type: 'audio', mindex: 1, mid: 'a', codec: 'pcmu', description: 'phone' }] });
    await ev('add-ok-disabled-codec-event');
    await q('add-again', { ...add, id: 4242, streams });
    await q('participants', { request: 'listparticipants', room: 1234 });

    const upd = { request: 'update_remote_publisher', room: 1234, secret: 'adminpwd', id: 4242 };
    await q('update-no-id', { ...upd, id: undefined, streams: [] });
    await q('update-no-streams', { ...upd });
    await q('update-stream-bad', { ...upd, streams: [{ type: 'audio', mindex: 3, mid: '3' }] });
    await q('update-not-remote', { ...upd, id: 555, streams: [] });
    await q('update-no-such', { ...upd, id: 9, streams: [] });
    await q('update-wrong-secret', { ...upd, secret: 'x', streams: [] });
    await q('update-nothing', { ...upd, streams: [] });
    await q('update-display', { ...upd, display: 'renamed', streams: [] });
    await q('update-gap', { ...upd, streams: [{ type: 'audio', mindex: 9, mid: '9', codec: A }] });
    await q('update-ok', { ...upd, streams: [{ type: 'video', mindex: 1, mid: '1', codec: 'vp8', description: 'screen' }, { type: 'audio', mindex: 3, mid: '3', codec: A, stereo: true }] });
    await ev('update-ok-event');
    await q('update-disable', { ...upd, streams: [{ type: 'audio', mindex: 3, mid: '3', codec: A, disabled: true }] });
    await ev('update-disable-event');

    const pr = { request: 'publish_remotely', room: 1234, secret: 'adminpwd', admin_key: 'fwdkey', publisher_id: 555, remote_id: 'far', host: '127.0.0.1', port: 7000, rtcp_port: 7001 };
    await q('pr-no-remote-id', { ...pr, remote_id: undefined });
    await q('pr-no-host', { ...pr, host: undefined });
    await q('pr-no-port', { ...pr, port: undefined });
    await q('pr-port-type', { ...pr, port: 'x' });
    await q('pr-no-room', { ...pr, room: undefined });
    await q('pr-no-pid', { ...pr, publisher_id: undefined });
    await q('pr-no-admin-key', { ...pr, admin_key: undefined });
    await q('pr-wrong-admin-key', { ...pr, admin_key: 'x' });
    await q('pr-port-zero', { ...pr, port: 0 });
    await q('pr-bad-family', { ...pr, host_family: 'x' });
    await q('pr-unresolvable', { ...pr, host: 'no.such.host.invalid' });
    await q('pr-no-such-room', { ...pr, room: 999 });
    await q('pr-wrong-secret', { ...pr, secret: 'x' });
    await q('pr-no-such-feed', { ...pr, publisher_id: 9 });
    await q('pr-remote', { ...pr, publisher_id: 4242 });
    await q('pr-ok', { ...pr });
    await q('pr-again', { ...pr });
    await q('pr-ok-2', { ...pr, remote_id: 'near', rtcp_port: undefined, port: 7100 });
    await q('fwd-list', { request: 'listforwarders', room: 1234, secret: 'adminpwd' });
    const lr = { request: 'listremotes', room: 1234, secret: 'adminpwd', publisher_id: 555 };
    await q('lr-no-pid', { ...lr, publisher_id: undefined });
    await q('lr-no-such', { ...lr, publisher_id: 9 });
    const listed = await http.req(adm, lr);
    (listed['list'] as JsonObject[]).sort((a, b) => String(a['remote_id']).localeCompare(String(b['remote_id'])));
    push('lr-ok', listed);
    const ur = { request: 'unpublish_remotely', room: 1234, secret: 'adminpwd', publisher_id: 555, remote_id: 'far' };
    await q('ur-no-remote-id', { ...ur, remote_id: undefined });
    await q('ur-no-such-feed', { ...ur, publisher_id: 9 });
    await q('ur-no-such', { ...ur, remote_id: 'x' });
    await q('ur-ok', { ...ur });
    await q('ur-again', { ...ur });
    await q('lr-after', lr);

    const rm = { request: 'remove_remote_publisher', room: 1234, secret: 'adminpwd', id: 4242 };
    await q('rm-no-id', { ...rm, id: undefined });
    await q('rm-not-remote', { ...rm, id: 555 });
    await q('rm-wrong-secret', { ...rm, secret: 'x' });
    await q('rm-ok', { ...rm });
    await ev('rm-ok-event');
    await q('rm-again', { ...rm });
    await q('participants-after', { request: 'listparticipants', room: 1234 });
    await q('rm-ok-2', { ...rm, id: 4343 });
    await ev('rm-ok-2-event');
    await q('add-ok-iface-name', { ...add, id: 4444, iface: 'lo', streams: [streams[0]] });
    await ev('add-ok-iface-name-event');
    await q('add-ok-iface-ip', { ...add, id: 4545, iface: '127.0.0.1', port: 0, streams: [streams[0]] });
    await ev('add-ok-iface-ip-event');
    await q('rm-iface-name', { ...rm, id: 4444 });
    await ev('rm-iface-name-event');
    await q('rm-iface-ip', { ...rm, id: 4545 });
    await ev('rm-iface-ip-event');
  } finally {
    await http.close();
  }
  return steps;
}

describe('VideoRoom remote publishers: differential against Janus 1.1.2', { skip: !haveJanus() && 'Janus not installed', timeout: 180_000 }, () => {
  let janusSteps: Step[] = [];
  let portunusSteps: Step[] = [];
  before(async () => {
    ({ janus: janusSteps, portunus: portunusSteps } = await collectTranscripts({ plugins: ['videoroom'], overrides: { videoroom: CONF }, script: run, dumpEnv: 'VR_REMOTE_DUMP' }));
  });

  test('Janus itself: the remote publisher was added and announced', () => {
    const ok = janusSteps.find((s) => s.name === 'add-ok')?.value as JsonObject;
    assert.equal(ok['videoroom'], 'success', JSON.stringify(ok));
    const e = janusSteps.find((s) => s.name === 'add-ok-event')?.value as JsonObject;
    assert.ok(Array.isArray(e?.['publishers']), JSON.stringify(e));
  });

  test('Portunus answers as Janus does', () => {
    const diffs = diffTranscripts(janusSteps, portunusSteps, RULES);
    assert.deepEqual(diffs, []);
  });
});
