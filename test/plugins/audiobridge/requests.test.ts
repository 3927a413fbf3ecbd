import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseSdp } from '../../../src/media/sdp/index.js';
import { AUDIOBRIDGE_PACKAGE, AudioBridgePlugin } from '../../../src/plugins/audiobridge/plugin.js';
import { chromeOffer, joinWithMedia, makeHarness, type Data } from './harness.js';

const err = (code: number, error: string): Data => ({ audiobridge: 'event', error_code: code, error });

test('plugin identity and the shipped config (room 1234 "Demo Room")', async () => {
  const p = new AudioBridgePlugin();
  assert.equal(p.package, AUDIOBRIDGE_PACKAGE);
  assert.equal(p.package, 'janus.plugin.audiobridge');
  const text = readFileSync(new URL('../../../../conf/janus.plugin.audiobridge.jcfg', import.meta.url), 'utf8');
  const h = await makeHarness(text);
  const r = await h.send(h.session(), { request: 'list' });
  assert.deepEqual(r.data, {
    audiobridge: 'success',
    list: [{ room: 1234, description: 'Demo Room', sampling_rate: 16000, spatial_audio: false, pin_required: false, record: false, muted: false, num_participants: 0 }],
  });
});

test('envelope errors: missing/invalid request, unknown request; announcements and enable_mjrs answer with their own validation', async () => {
  const h = await makeHarness();
  const s = h.session();
  assert.deepEqual((await h.send(s, {})).data, err(483, 'Missing mandatory element (request)'));
  assert.deepEqual((await h.send(s, { request: 5 })).data, err(484, 'Invalid element type (request should be a string)'));
  assert.deepEqual((await h.send(s, { request: 'nope' })).data, err(482, "Unknown request 'nope'"));
  // Implemented (announcements.test.ts, mjrs.test.ts): their own validation answers now.
  assert.deepEqual((await h.send(s, { request: 'play_file', room: 1234 })).data, err(483, 'Missing mandatory element (filename)'));
  for (const r of ['is_playing', 'stop_file']) assert.deepEqual((await h.send(s, { request: r, room: 1234 })).data, err(483, 'Missing mandatory element (file_id)'), r);
  assert.deepEqual((await h.send(s, { request: 'enable_mjrs', room: 1234 })).data, err(483, 'Missing mandatory element (mjrs)'));
  // Forwarders are implemented (rtp-forward.test.ts): their own validation answers now.
  assert.deepEqual((await h.send(s, { request: 'rtp_forward', room: 1234 })).data, err(483, 'Missing mandatory element (port)'));
  assert.deepEqual((await h.send(s, { request: 'stop_rtp_forward', room: 1234 })).data, err(483, 'Missing mandatory element (stream_id)'));
  // Recording works (record.test.ts); a directory that cannot be written gives 499.
  const rec = (await h.send(s, { request: 'enable_recording', room: 1234, secret: 'adminpwd', record: true, record_dir: '/nonexistent/ab-rec' })).data;
  assert.equal(rec['error_code'], 499);
  assert.deepEqual((await h.send(s, { request: 'enable_recording', room: 1234, secret: 'adminpwd' })).data, err(483, 'Missing mandatory element (record)'));
  assert.deepEqual((await h.send(s, { request: 'listforwarders', room: 1234, secret: 'adminpwd' })).data, {
    audiobridge: 'forwarders',
    room: 1234,
    rtp_forwarders: [],
  });
});

test('create / exists / edit / destroy with their errors', async () => {
  const h = await makeHarness();
  const s = h.session();
  assert.deepEqual((await h.send(s, { request: 'create', room: 1234 })).data, err(486, 'Room 1234 already exists'));
  assert.deepEqual((await h.send(s, { request: 'create', room: 'x' })).data, err(484, 'Invalid element type (room should be a positive integer)'));
  assert.deepEqual((await h.send(s, { request: 'create', room: 5, sampling_rate: 44100 })).data, err(499, 'Unsupported sampling rate 44100'));
  assert.deepEqual((await h.send(s, { request: 'create', room: 5, is_private: 'yes' })).data, err(484, 'Invalid element type (is_private should be a boolean)'));
  assert.deepEqual((await h.send(s, { request: 'create', room: 5, allowed: [1] })).data, err(484, 'Invalid element in the allowed array (not a string)'));
  assert.deepEqual((await h.send(s, { request: 'create', room: 5, groups: ['a', 'b', 'c', 'd', 'e', 'f'] })).data, err(484, 'Too many groups specified (max 5 allowed)'));
  assert.deepEqual((await h.send(s, { request: 'create', room: 5, secret: 's', pin: 'p', sampling_rate: 48000 })).data, {
    audiobridge: 'created',
    room: 5,
    permanent: false,
  });
  const rnd = (await h.send(s, { request: 'create' })).data;
  assert.equal(rnd['audiobridge'], 'created');
  assert.ok(Number.isSafeInteger(rnd['room']) && (rnd['room'] as number) > 0);
  assert.deepEqual((await h.send(s, { request: 'exists', room: 5 })).data, { audiobridge: 'success', room: 5, exists: true });
  assert.deepEqual((await h.send(s, { request: 'exists', room: 6 })).data, { audiobridge: 'success', room: 6, exists: false });
  assert.deepEqual((await h.send(s, { request: 'exists' })).data, err(483, 'Missing mandatory element (room)'));
  assert.deepEqual((await h.send(s, { request: 'edit', room: 6, secret: 's' })).data, err(485, 'No such room (6)'));
  assert.deepEqual((await h.send(s, { request: 'edit', room: 5 })).data, err(483, 'Missing mandatory element (secret)'));
  assert.deepEqual((await h.send(s, { request: 'edit', room: 5, secret: 'bad' })).data, err(489, 'Unauthorized (wrong secret)'));
  assert.deepEqual((await h.send(s, { request: 'edit', room: 5, secret: 's', new_description: 'Renamed', new_pin: '' })).data, {
    audiobridge: 'edited',
    room: 5,
    permanent: false,
  });
  const list = (await h.send(s, { request: 'list' })).data['list'] as Data[];
  const r5 = list.find((r) => r['room'] === 5)!;
  assert.equal(r5['description'], 'Renamed');
  assert.equal(r5['pin_required'], false);
  assert.equal(r5['sampling_rate'], 48000);
  assert.deepEqual((await h.send(s, { request: 'destroy', room: 5, secret: 'nope' })).data, err(489, 'Unauthorized (wrong secret)'));
  assert.deepEqual((await h.send(s, { request: 'destroy', room: 5, secret: 's' })).data, { audiobridge: 'destroyed', room: 5, permanent: false });
  assert.deepEqual((await h.send(s, { request: 'destroy', room: 5, secret: 's' })).data, err(485, 'No such room (5)'));
});

test('admin_key guards create and reveals private rooms in list', async () => {
  const h = await makeHarness(`general: {\n\tadmin_key = "k"\n}\nroom-1: {\n\tsampling_rate = 8000\n\tis_private = true\n}\n`);
  const s = h.session();
  assert.deepEqual((await h.send(s, { request: 'create', room: 9 })).data, err(483, 'Missing mandatory element (admin_key)'));
  assert.deepEqual((await h.send(s, { request: 'create', room: 9, admin_key: 'x' })).data, err(489, 'Unauthorized (wrong admin_key)'));
  assert.equal((await h.send(s, { request: 'create', room: 9, admin_key: 'k' })).data['audiobridge'], 'created');
  assert.deepEqual(((await h.send(s, { request: 'list' })).data['list'] as Data[]).map((r) => r['room']), [9]);
  assert.deepEqual(((await h.send(s, { request: 'list', admin_key: 'k' })).data['list'] as Data[]).map((r) => r['room']).sort(), [1, 9]);
  assert.deepEqual((await h.send(s, { request: 'list', admin_key: 'bad' })).data, err(489, 'Unauthorized (wrong admin_key)'));
  // Description defaults to the category name for configured rooms.
  const all = (await h.send(s, { request: 'list', admin_key: 'k' })).data['list'] as Data[];
  assert.equal(all.find((r) => r['room'] === 1)!['description'], 'room-1');
});

test('permanent create/edit/destroy write the jcfg back', async () => {
  const h = await makeHarness();
  const s = h.session();
  const c = await h.send(s, { request: 'create', room: 42, description: 'Kept', secret: 'z', permanent: true, audiolevel_event: true, audio_active_packets: 50 });
  assert.deepEqual(c.data, { audiobridge: 'created', room: 42, permanent: true });
  let text = readFileSync(h.config.file, 'utf8');
  assert.match(text, /room-42: \{/);
  assert.match(text, /description = "Kept"/);
  assert.match(text, /audio_active_packets = 50/);
  assert.match(text, /room-1234/, 'existing rooms kept');
  await h.send(s, { request: 'edit', room: 42, secret: 'z', new_description: 'Kept2', permanent: true });
  text = readFileSync(h.config.file, 'utf8');
  assert.match(text, /description = "Kept2"/);
  // A restarted plugin loads it.
  const h2 = await makeHarness(text);
  assert.equal(((await h2.send(h2.session(), { request: 'exists', room: 42 })).data)['exists'], true);
  await h.send(s, { request: 'destroy', room: 42, secret: 'z', permanent: true });
  assert.doesNotMatch(readFileSync(h.config.file, 'utf8'), /room-42/);
});

test('allowed: token ACL for join', async () => {
  const h = await makeHarness();
  const s = h.session();
  assert.deepEqual((await h.send(s, { request: 'allowed', room: 1234, secret: 'adminpwd' })).data, err(483, 'Missing mandatory element (action)'));
  assert.deepEqual((await h.send(s, { request: 'allowed', room: 1234, secret: 'adminpwd', action: 'zap' })).data, err(484, "Unsupported action 'zap' (allowed)"));
  assert.deepEqual((await h.send(s, { request: 'allowed', room: 1234, secret: 'adminpwd', action: 'add', allowed: ['t1'] })).data, {
    audiobridge: 'success',
    room: 1234,
    allowed: ['t1'],
  });
  assert.deepEqual((await h.send(s, { request: 'allowed', room: 1234, secret: 'adminpwd', action: 'enable' })).data['allowed'], ['t1']);
  assert.deepEqual((await h.send(s, { request: 'join', room: 1234 })).data, err(489, 'Unauthorized (not in the allowed list)'));
  assert.equal((await h.send(s, { request: 'join', room: 1234, token: 't1' })).data['audiobridge'], 'joined');
  assert.deepEqual((await h.send(h.session(), { request: 'allowed', room: 1234, secret: 'adminpwd', action: 'disable' })).data, { audiobridge: 'success', room: 1234 });
});

test('join: replies, notifications and every error code', async () => {
  const h = await makeHarness();
  await h.send(h.session(), { request: 'create', room: 7, pin: 'p1', groups: ['g1'] });
  const s = h.session();
  const j = await h.send(s, { request: 'join', room: 1234, id: 11, display: 'Alice' });
  assert.equal(j.async, true);
  assert.deepEqual(j.data, { audiobridge: 'joined', room: 1234, id: 11, display: 'Alice', participants: [] });
  assert.deepEqual((await h.send(s, { request: 'join', room: 1234 })).data, err(491, 'Already in a room (use changeroom to join another one)'));
  const t = h.session();
  assert.deepEqual((await h.send(t, { request: 'join' })).data, err(483, 'Missing mandatory element (room)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 99 })).data, err(485, 'No such room (99)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 1234, id: 11 })).data, err(490, 'User ID 11 already exists'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 1234, muted: 'no' })).data, err(484, 'Invalid element type (muted should be a boolean)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 1234, quality: 11 })).data, err(484, 'Invalid element (quality should be a positive integer between 1 and 10)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 1234, expected_loss: 30 })).data, err(484, 'Invalid element (expected_loss should be a positive integer between 0 and 20)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 1234, codec: 'g722' })).data, err(484, 'Invalid element (codec must opus, pcmu or pcma)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 1234, secret: 'wrong' })).data, err(489, 'Unauthorized (wrong secret)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 7 })).data, err(483, 'Missing mandatory element (pin)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 7, pin: 'x' })).data, err(489, 'Unauthorized (wrong pin)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 7, pin: 'p1' })).data, err(483, 'Missing mandatory element (group)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 7, pin: 'p1', group: 'zz' })).data, err(494, 'No such group (zz)'));
  assert.deepEqual((await h.send(t, { request: 'join', room: 1234, rtp: { ip: '127.0.0.1', port: 5000 } })).data, err(489, 'Plain RTP participants not allowed in this room'));
  h.host.clear();
  const j2 = await h.send(t, { request: 'join', room: 1234, id: 12, display: 'Bob', muted: true });
  assert.deepEqual(j2.data['participants'], [{ id: 11, display: 'Alice', setup: false, muted: false }]);
  assert.deepEqual(h.host.unsolicited(s), [{ audiobridge: 'joined', room: 1234, participants: [{ id: 12, display: 'Bob', setup: false, muted: true }] }]);
  const lp = await h.send(s, { request: 'listparticipants', room: 1234 });
  assert.equal(lp.async, false);
  assert.deepEqual(lp.data, {
    audiobridge: 'participants',
    room: 1234,
    participants: [
      { id: 11, display: 'Alice', setup: false, muted: false },
      { id: 12, display: 'Bob', setup: false, muted: true },
    ],
  });
  assert.deepEqual((await h.send(s, { request: 'listparticipants', room: 3 })).data, err(485, 'No such room (3)'));
});

test('configure, leave, changeroom, hangup, resetdecoder and not-joined errors', async () => {
  const h = await makeHarness();
  await h.send(h.session(), { request: 'create', room: 8 });
  const s = h.session();
  assert.deepEqual((await h.send(s, { request: 'configure' })).data, err(487, "Can't configure (not in a room)"));
  assert.deepEqual((await h.send(s, { request: 'leave' })).data, err(487, "Can't leave (not in a room)"));
  assert.deepEqual((await h.send(s, { request: 'changeroom', room: 8 })).data, err(487, "Can't change room (not in a room in the first place)"));
  assert.deepEqual((await h.send(s, { request: 'resetdecoder' })).data, err(487, "Can't reset (not in a room)"));
  await h.send(s, { request: 'join', room: 1234, id: 1 });
  const other = h.session();
  await h.send(other, { request: 'join', room: 1234, id: 2 });
  h.host.clear();
  assert.deepEqual((await h.send(s, { request: 'configure', display: 'New', volume: 80 })).data, { audiobridge: 'event', room: 1234, result: 'ok' });
  assert.deepEqual(h.host.unsolicited(other), [{ audiobridge: 'event', room: 1234, participants: [{ id: 1, display: 'New', setup: false, muted: false }] }]);
  assert.deepEqual((await h.send(s, { request: 'configure', quality: 0 })).data, err(484, 'Invalid element (quality should be a positive integer between 1 and 10)'));
  assert.deepEqual((await h.send(s, { request: 'resetdecoder' })).data, { audiobridge: 'success' });
  assert.deepEqual((await h.send(s, { request: 'changeroom', room: 1234 })).data, err(491, 'Already in this room'));
  assert.deepEqual((await h.send(s, { request: 'changeroom', room: 99 })).data, err(485, 'No such room (99)'));
  h.host.clear();
  const cr = await h.send(s, { request: 'changeroom', room: 8, id: 5, display: 'Moved' });
  assert.deepEqual(cr.data, { audiobridge: 'roomchanged', room: 8, id: 5, display: 'Moved', participants: [] });
  assert.deepEqual(h.host.unsolicited(other), [{ audiobridge: 'event', room: 1234, leaving: 1 }]);
  h.host.clear();
  assert.deepEqual((await h.send(s, { request: 'leave' })).data, { audiobridge: 'left', room: 8, id: 5 });
  assert.deepEqual((await h.send(s, { request: 'hangup' })).data, { audiobridge: 'hangingup' });
  assert.equal(h.host.closed.at(-1)!.handleId, s.handleId);
});

test('configure with a Chrome offer gives a valid Opus answer; video is rejected; roles are enforced', async () => {
  const h = await makeHarness();
  const s = h.session();
  await h.send(s, { request: 'join', room: 1234 });
  const r = await h.send(s, { request: 'configure', muted: false }, { type: 'offer', sdp: chromeOffer({ video: true }) });
  assert.equal(r.data['result'], 'ok');
  assert.equal(r.jsep!.type, 'answer');
  const sdp = parseSdp(r.jsep!.sdp);
  assert.equal(sdp.name, 'AudioBridge 1234');
  assert.equal(sdp.media.length, 2);
  const a = sdp.media[0]!;
  assert.equal(a.kind, 'audio');
  assert.deepEqual(a.formats, ['111']);
  assert.deepEqual(a.rtpmaps, [{ pt: 111, codec: 'opus', clock: 48000, channels: 2 }]);
  assert.equal(a.direction, 'sendrecv');
  assert.equal(a.mid, '0');
  assert.deepEqual(a.fmtps[0]!.params, { maxplaybackrate: '16000', stereo: '0', 'sprop-stereo': '0', useinbandfec: '1' });
  assert.deepEqual(a.extmaps.map((e) => [e.id, e.uri]), [
    [1, 'urn:ietf:params:rtp-hdrext:ssrc-audio-level'],
    [4, 'urn:ietf:params:rtp-hdrext:sdes:mid'],
  ]);
  assert.ok(a.ssrcs.some((x) => x.attribute === 'cname'));
  assert.equal(sdp.media[1]!.port, 0, 'video rejected');
  assert.deepEqual(sdp.groups, [{ semantics: 'BUNDLE', mids: ['0'] }]);
  // An answer without our offer is refused.
  assert.deepEqual((await h.send(s, { request: 'configure' }, { type: 'answer', sdp: chromeOffer() })).data, err(493, "Received an answer when we didn't send an offer"));
  // Garbage SDP.
  const bad = await h.send(s, { request: 'configure' }, { type: 'offer', sdp: 'v=0\r\nbogus' });
  assert.equal(bad.data['error_code'], 493);
  // E2EE is refused.
  assert.deepEqual((await h.send(s, { request: 'configure' }, { type: 'offer', sdp: chromeOffer(), e2ee: true })).data, err(484, 'Media encryption unsupported by this plugin'));
});

test('generate_offer reverses roles: plugin offers, client answers via configure, client offers are refused', async () => {
  const h = await makeHarness();
  const s = h.session();
  const j = await h.send(s, { request: 'join', room: 1234, generate_offer: true });
  assert.equal(j.data['audiobridge'], 'joined');
  assert.equal(j.jsep!.type, 'offer');
  const offer = parseSdp(j.jsep!.sdp);
  assert.deepEqual(offer.media[0]!.rtpmaps[0], { pt: 100, codec: 'opus', clock: 48000, channels: 2 });
  assert.equal(offer.media[0]!.direction, 'sendrecv');
  assert.ok(offer.media[0]!.extmaps.some((e) => e.uri === 'urn:ietf:params:rtp-hdrext:ssrc-audio-level'));
  const answer = chromeOffer().replace(/111/g, '100').replace('a=setup:actpass', 'a=setup:active');
  const c = await h.send(s, { request: 'configure' }, { type: 'answer', sdp: answer });
  assert.deepEqual(c.data, { audiobridge: 'event', room: 1234, result: 'ok' });
  assert.equal(c.jsep, undefined);
  assert.deepEqual((await h.send(s, { request: 'configure' }, { type: 'offer', sdp: chromeOffer() })).data, err(493, 'Received an offer on a plugin-offered session'));
});

test('mute / unmute / mute_room / kick / kick_all / suspend / resume', async () => {
  const h = await makeHarness();
  const a = await joinWithMedia(h, 1234, 'A', { id: 1 });
  const b = await joinWithMedia(h, 1234, 'B', { id: 2 });
  const adm = h.session();
  assert.deepEqual((await h.send(adm, { request: 'mute', room: 1234, id: 1 })).data, err(483, 'Missing mandatory element (secret)'));
  assert.deepEqual((await h.send(adm, { request: 'mute', room: 1234, secret: 'adminpwd' })).data, err(483, 'Missing mandatory element (id)'));
  assert.deepEqual((await h.send(adm, { request: 'mute', room: 1234, id: 9, secret: 'adminpwd' })).data, err(492, 'No such user 9 in room 1234'));
  h.host.clear();
  assert.deepEqual((await h.send(adm, { request: 'mute', room: 1234, id: 1, secret: 'adminpwd' })).data, { audiobridge: 'success', room: 1234 });
  const muteEv = { audiobridge: 'event', room: 1234, participants: [{ id: 1, display: 'A', setup: true, muted: true }] };
  assert.deepEqual(h.host.unsolicited(a.s), [muteEv]);
  assert.deepEqual(h.host.unsolicited(b.s), [muteEv]);
  assert.deepEqual((await h.send(adm, { request: 'mute', room: 1234, id: 1, secret: 'adminpwd' })).data, { audiobridge: 'success' }, 'no-op');
  assert.deepEqual((await h.send(adm, { request: 'unmute', room: 1234, id: 1, secret: 'adminpwd' })).data, { audiobridge: 'success', room: 1234 });
  h.host.clear();
  assert.deepEqual((await h.send(adm, { request: 'mute_room', room: 1234, secret: 'adminpwd' })).data, { audiobridge: 'success', room: 1234 });
  assert.deepEqual(h.host.unsolicited(b.s), [{ audiobridge: 'event', room: 1234, muted: true }]);
  assert.equal(((await h.send(adm, { request: 'list' })).data['list'] as Data[])[0]!['muted'], true);
  assert.deepEqual((await h.send(adm, { request: 'unmute_room', room: 1234, secret: 'adminpwd' })).data, { audiobridge: 'success', room: 1234 });
  // suspend / resume (a participant may suspend itself without the secret)
  h.host.clear();
  assert.deepEqual((await h.send(a.s, { request: 'suspend', room: 1234, id: 1, pause_events: true })).data, { audiobridge: 'success' });
  assert.deepEqual(h.host.unsolicited(b.s), [{ audiobridge: 'event', room: 1234, suspended: 1 }]);
  assert.deepEqual((await h.send(b.s, { request: 'suspend', room: 1234, id: 1, secret: 'no' })).data, err(489, 'Unauthorized (wrong secret)'));
  const lp = (await h.send(adm, { request: 'listparticipants', room: 1234 })).data['participants'] as Data[];
  assert.equal(lp.find((p) => p['id'] === 1)!['suspended'], true);
  h.host.clear();
  assert.deepEqual((await h.send(adm, { request: 'resume', room: 1234, id: 1, secret: 'adminpwd' })).data, { audiobridge: 'success' });
  assert.deepEqual(h.host.unsolicited(a.s), [
    { audiobridge: 'event', room: 1234, resumed: 1, participants: [{ id: 2, display: 'B', setup: true, muted: false, talking: false }] },
  ]);
  assert.deepEqual(h.host.unsolicited(b.s), [{ audiobridge: 'event', room: 1234, resumed: 1 }]);
  // kick
  h.host.clear();
  assert.deepEqual((await h.send(adm, { request: 'kick', room: 1234, id: 2, secret: 'adminpwd' })).data, { audiobridge: 'success' });
  assert.deepEqual(h.host.unsolicited(b.s), [{ audiobridge: 'event', room: 1234, kicked: 2 }]);
  assert.deepEqual(h.host.unsolicited(a.s), [
    { audiobridge: 'event', room: 1234, kicked: 2 },
    { audiobridge: 'event', room: 1234, leaving: 2 },
  ]);
  assert.equal(h.host.closed.at(-1)!.handleId, b.s.handleId);
  // kick_all
  const c = await joinWithMedia(h, 1234, 'C', { id: 3 });
  h.host.clear();
  assert.deepEqual((await h.send(adm, { request: 'kick_all', room: 1234, secret: 'adminpwd' })).data, { audiobridge: 'success' });
  assert.deepEqual(h.host.unsolicited(c.s), [{ audiobridge: 'event', room: 1234, kicked_all: 3 }]);
  assert.deepEqual(((await h.send(adm, { request: 'listparticipants', room: 1234 })).data['participants']), []);
});

test('setupMedia / hangupMedia / destroySession notify others; destroy kicks everyone', async () => {
  const h = await makeHarness();
  const a = await joinWithMedia(h, 1234, 'A', { id: 1 });
  const b = h.session();
  await h.send(b, { request: 'join', room: 1234, id: 2 });
  h.host.clear();
  h.plugin.setupMedia(b);
  assert.deepEqual(h.host.unsolicited(a.s), [{ audiobridge: 'event', room: 1234, participants: [{ id: 2, setup: true, muted: false }] }]);
  h.host.clear();
  h.plugin.hangupMedia(b);
  assert.deepEqual(h.host.unsolicited(a.s), [{ audiobridge: 'event', room: 1234, leaving: 2 }]);
  const info = h.plugin.querySession(a.s);
  assert.equal(info['state'], 'inroom');
  assert.equal(info['room'], 1234);
  h.host.clear();
  assert.deepEqual((await h.send(h.session(), { request: 'destroy', room: 1234, secret: 'adminpwd' })).data, { audiobridge: 'destroyed', room: 1234, permanent: false });
  assert.deepEqual(h.host.unsolicited(a.s), [{ audiobridge: 'destroyed', room: 1234 }]);
  assert.equal(h.host.closed.at(-1)!.handleId, a.s.handleId);
  h.plugin.destroySession(a.s);
  assert.equal(a.s.state, undefined);
});

test('string_ids: rooms and ids are strings; a numeric room is accepted as its decimal string', async () => {
  const h = await makeHarness(`general: {\n\tstring_ids = true\n}\nroom-abc: {\n\tsampling_rate = 16000\n}\nroom-1234: {\n\tsampling_rate = 8000\n}\n`);
  const s = h.session();
  const j = await h.send(s, { request: 'join', room: 'abc', id: 'alice' });
  assert.deepEqual(j.data, { audiobridge: 'joined', room: 'abc', id: 'alice', participants: [] });
  assert.deepEqual((await h.send(s, { request: 'exists', room: 1234 })).data, { audiobridge: 'success', room: '1234', exists: true });
  const t = h.session();
  assert.deepEqual((await h.send(t, { request: 'join', room: 'abc', id: 5 })).data, err(484, 'Invalid element type (id should be a string)'));
  const rnd = await h.send(t, { request: 'join', room: 'abc' });
  assert.match(rnd.data['id'] as string, /^[0-9a-f-]{36}$/);
  const c = await h.send(h.session(), { request: 'create' });
  assert.equal(typeof c.data['room'], 'string');
});

test('handleAdminMessage runs sync requests without a handle', async () => {
  const h = await makeHarness();
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'exists', room: 1234 }), { audiobridge: 'success', room: 1234, exists: true });
  assert.deepEqual(await h.plugin.handleAdminMessage({ request: 'join', room: 1234 }), err(482, "Unknown request 'join'"));
});
