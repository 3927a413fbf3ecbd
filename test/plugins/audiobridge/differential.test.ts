/**
 * AudioBridge reply shapes, differential: the same request script goes over HTTP to the real Janus 1.1.2
 * (Debian's janus, AudioBridge plugin enabled, room 1234 from the generated jcfg) and to Portunus, both
 * started on the same generated configs folder content (test/helpers/media-server.ts). Each reply's
 * plugindata (and the unsolicited events the script waits for) are compared after masking random ids.
 *
 * Participants here have no PeerConnection (signalling only): join, configure without JSEP, mute,
 * kick, leave and the room management requests with their errors. RTP forwarders: rtp_forward /
 * stop_rtp_forward / listforwarders with their errors, and what the forwarded RTP looks like on a UDP sink
 * (SSRC, payload type, sequence/timestamp steps); a second server pair runs with lock_rtp_forward and a
 * static forwarder from the room category.
 * AB_DIFF_DUMP=1 prints both transcripts. Skipped when Janus is not installed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { longPoll, postJson, tx, type JsonObject } from '../../helpers/janus-client.js';
import { startMediaGateway, type MediaGateway } from '../../helpers/media-server.js';
import { diffTranscripts, Masker, type Rule, type Step } from '../../helpers/shape-diff.js';
import { writeToneFile } from './ogg-opus.js';

const JANUS = '/usr/bin/janus';

/** A Janus session with one AudioBridge handle over HTTP; events kept per session. */
class AbHttp {
  private events: JsonObject[] = [];
  private constructor(
    private readonly url: string,
    readonly session: number,
    readonly handle: number,
  ) {}

  static async open(url: string): Promise<AbHttp> {
    const s = await postJson(url, { janus: 'create', transaction: tx() });
    const session = (s['data'] as JsonObject)['id'] as number;
    const a = await postJson(`${url}/${session}`, { janus: 'attach', plugin: 'janus.plugin.audiobridge', transaction: tx() });
    return new AbHttp(url, session, (a['data'] as JsonObject)['id'] as number);
  }

  private async poll(): Promise<void> {
    const r = await longPoll(this.url, this.session, { maxev: 10, timeoutMs: 40_000 });
    const arr = Array.isArray(r.json) ? r.json : [r.json];
    for (const e of arr) if (e && typeof e === 'object' && !Array.isArray(e) && e['janus'] !== 'keepalive') this.events.push(e as JsonObject);
  }

  /** Wait for an event matching pred (removes it from the buffer). */
  async take(pred: (e: JsonObject) => boolean, what: string): Promise<JsonObject> {
    const deadline = Date.now() + 8000;
    for (;;) {
      const i = this.events.findIndex(pred);
      if (i >= 0) return this.events.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no ${what}; have ${JSON.stringify(this.events).slice(0, 600)}`);
      await this.poll();
    }
  }

  /** A plugin request: sync replies come back at once, async ones as the event with the same transaction. */
  async req(body: Record<string, unknown>): Promise<{ data: JsonObject; async: boolean; jsep: boolean }> {
    const transaction = tx('ab');
    const r = await postJson(`${this.url}/${this.session}/${this.handle}`, { janus: 'message', transaction, body });
    if (r['janus'] === 'success') return { data: (r['plugindata'] as JsonObject)['data'] as JsonObject, async: false, jsep: false };
    if (r['janus'] !== 'ack') return { data: { janus: r['janus'] ?? null, error: r['error'] ?? null }, async: false, jsep: false };
    const e = await this.take((x) => x['transaction'] === transaction, `event for ${JSON.stringify(body)}`);
    return { data: (e['plugindata'] as JsonObject)['data'] as JsonObject, async: true, jsep: 'jsep' in e };
  }

  /** The next unsolicited AudioBridge event on this session. */
  async note(pred: (d: JsonObject) => boolean, what: string): Promise<JsonObject> {
    const e = await this.take((x) => x['janus'] === 'event' && !x['transaction'] && !!x['plugindata'] && pred((x['plugindata'] as JsonObject)['data'] as JsonObject), what);
    return (e['plugindata'] as JsonObject)['data'] as JsonObject;
  }

  async close(): Promise<void> {
    await postJson(`${this.url}/${this.session}`, { janus: 'destroy', transaction: tx() }).catch(() => undefined);
  }
}

const has = (k: string, v?: unknown) => (d: JsonObject) => k in d && (v === undefined || d[k] === v);

/** The script; returns the transcript (ids masked). */
async function run(gw: MediaGateway): Promise<Step[]> {
  const steps: Step[] = [];
  const m = new Masker();
  const rec = (name: string, value: unknown): void => void steps.push({ name, value: m.mask(value) });
  const admin = await AbHttp.open(gw.httpUrl);
  const alice = await AbHttp.open(gw.httpUrl);
  const bob = await AbHttp.open(gw.httpUrl);
  const R = 4321;
  const extra: AbHttp[] = [];
  try {
    const q = async (name: string, who: AbHttp, body: Record<string, unknown>): Promise<JsonObject> => {
      const r = await who.req(body);
      if (r.data['audiobridge'] === 'joined' || r.data['audiobridge'] === 'roomchanged') m.register('user', r.data['id']);
      if (r.data['audiobridge'] === 'success' && typeof r.data['stream_id'] === 'number') m.register('stream', r.data['stream_id']);
      const data = { ...r.data };
      // Janus lists forwarders in hash-table order: compare them in a fixed one.
      if (Array.isArray(data['rtp_forwarders'])) {
        const key = (f: JsonObject): string => `${String(f['codec'])}|${String(f['ptype'])}|${String(f['group'] ?? '')}`;
        data['rtp_forwarders'] = [...(data['rtp_forwarders'] as JsonObject[])].sort((a, b) => key(a).localeCompare(key(b)));
      }
      rec(name, { ...data, '(async)': r.async });
      return r.data;
    };
    await q('list', admin, { request: 'list' });
    await q('exists-1234', admin, { request: 'exists', room: 1234 });
    await q('exists-missing', admin, { request: 'exists', room: 999 });
    await q('exists-no-room', admin, { request: 'exists' });
    await q('create', admin, { request: 'create', room: R, description: 'diff', secret: 'sec', pin: 'pin', sampling_rate: 16000, audiolevel_event: true });
    await q('create-again', admin, { request: 'create', room: R });
    await q('create-bad-rate', admin, { request: 'create', room: R + 1, sampling_rate: 44100 });
    await q('create-bad-type', admin, { request: 'create', room: R + 2, description: 7 });
    await q('create-string-room', admin, { request: 'create', room: 'abc' });
    await q('list-after-create', admin, { request: 'list' });
    await q('edit-wrong-secret', admin, { request: 'edit', room: R, secret: 'nope', new_description: 'x' });
    await q('edit', admin, { request: 'edit', room: R, secret: 'sec', new_description: 'diff2' });
    await q('edit-missing-room', admin, { request: 'edit', room: 999, secret: 'sec' });
    await q('listparticipants-empty', admin, { request: 'listparticipants', room: R });
    await q('listparticipants-missing', admin, { request: 'listparticipants', room: 999 });
    // Joins (async): errors first.
    await q('join-wrong-pin', alice, { request: 'join', room: R, pin: 'x' });
    await q('join-missing-room', alice, { request: 'join' });
    await q('join-no-such-room', alice, { request: 'join', room: 999 });
    await q('join-bad-quality', alice, { request: 'join', room: R, pin: 'pin', quality: 11 });
    await q('join-bad-codec', alice, { request: 'join', room: R, pin: 'pin', codec: 'g722' });
    await q('configure-not-joined', alice, { request: 'configure', muted: true });
    await q('leave-not-joined', alice, { request: 'leave' });
    await q('join-alice', alice, { request: 'join', room: R, pin: 'pin', display: 'Alice', id: 1001 });
    const jb = await q('join-bob', bob, { request: 'join', room: R, pin: 'pin', display: 'Bob' });
    rec('note-alice-bob-joined', await alice.note(has('audiobridge', 'joined'), "alice's notification of bob joining"));
    await q('join-bob-again', bob, { request: 'join', room: R, pin: 'pin' });
    await q('join-id-taken', admin, { request: 'join', room: R, pin: 'pin', id: 1001 });
    await q('listparticipants', admin, { request: 'listparticipants', room: R });
    await q('configure-mute-alice', alice, { request: 'configure', muted: true, display: 'Alice2' });
    rec('note-bob-alice-muted', await bob.note(has('participants'), "bob's notification of alice's change"));
    await q('configure-bad-quality', alice, { request: 'configure', quality: 0 });
    await q('mute-wrong-secret', admin, { request: 'mute', room: R, id: jb['id'], secret: 'nope' });
    await q('mute-no-such-user', admin, { request: 'mute', room: R, id: 4242, secret: 'sec' });
    await q('mute-bob', admin, { request: 'mute', room: R, id: jb['id'], secret: 'sec' });
    rec('note-alice-bob-muted', await alice.note(has('participants'), "alice's notification of bob muted"));
    await q('mute-bob-again', admin, { request: 'mute', room: R, id: jb['id'], secret: 'sec' });
    await q('unmute-bob', admin, { request: 'unmute', room: R, id: jb['id'], secret: 'sec' });
    rec('note-alice-bob-unmuted', await alice.note(has('participants'), "alice's notification of bob unmuted"));
    await q('mute-room', admin, { request: 'mute_room', room: R, secret: 'sec' });
    rec('note-alice-room-muted', await alice.note(has('muted'), "alice's notification of the room muted"));
    await q('unmute-room', admin, { request: 'unmute_room', room: R, secret: 'sec' });
    rec('note-alice-room-unmuted', await alice.note(has('muted'), "alice's notification of the room unmuted"));
    await q('allowed-enable', admin, { request: 'allowed', room: R, secret: 'sec', action: 'enable', allowed: ['tok'] });
    await q('allowed-bad-action', admin, { request: 'allowed', room: R, secret: 'sec', action: 'nope' });
    await q('allowed-disable', admin, { request: 'allowed', room: R, secret: 'sec', action: 'disable' });
    await q('kick-no-such-user', admin, { request: 'kick', room: R, id: 4242, secret: 'sec' });
    await q('kick-bob', admin, { request: 'kick', room: R, id: jb['id'], secret: 'sec' });
    rec('note-alice-bob-kicked', await alice.note(has('kicked'), "alice's notification of bob kicked"));
    await q('listparticipants-after-kick', admin, { request: 'listparticipants', room: R });
    await q('leave-alice', alice, { request: 'leave' });
    await q('listparticipants-after-leave', admin, { request: 'listparticipants', room: R });
    await q('unknown-request', admin, { request: 'nope' });
    await q('no-request', admin, { room: R });
    await q('destroy-wrong-secret', admin, { request: 'destroy', room: R, secret: 'nope' });
    await q('destroy', admin, { request: 'destroy', room: R, secret: 'sec' });
    await q('destroy-again', admin, { request: 'destroy', room: R, secret: 'sec' });
    await q('exists-destroyed', admin, { request: 'exists', room: R });
    // A fresh room: changeroom, suspend/resume, resetdecoder, forwarders, recording off, kick_all, hangup.
    await q('create-2', admin, { request: 'create', room: R, secret: 'sec' });
    await q('join-alice-2', alice, { request: 'join', room: R, display: 'Alice' });
    await q('changeroom-missing', alice, { request: 'changeroom', room: 999 });
    await q('changeroom-same', alice, { request: 'changeroom', room: R });
    await q('changeroom', alice, { request: 'changeroom', room: 1234, id: 1001, display: 'Alice3' });
    await q('listparticipants-1234', admin, { request: 'listparticipants', room: 1234 });
    await q('suspend-wrong-secret', admin, { request: 'suspend', room: 1234, id: 1001, secret: 'x' });
    await q('suspend', admin, { request: 'suspend', room: 1234, id: 1001, secret: 'adminpwd' });
    await q('listparticipants-suspended', admin, { request: 'listparticipants', room: 1234 });
    await q('resume', admin, { request: 'resume', room: 1234, id: 1001, secret: 'adminpwd' });
    await q('resetdecoder', alice, { request: 'resetdecoder' });
    await q('resetdecoder-not-joined', admin, { request: 'resetdecoder' });
    await q('listforwarders', admin, { request: 'listforwarders', room: 1234, secret: 'adminpwd' });
    await q('enable-recording-off', admin, { request: 'enable_recording', room: 1234, secret: 'adminpwd', record: false });
    await q('kick-all', admin, { request: 'kick_all', room: 1234, secret: 'adminpwd' });
    await q('hangup', alice, { request: 'hangup' });
    await q('destroy-2', admin, { request: 'destroy', room: R, secret: 'sec' });
    // Plain-RTP participants (no packets are sent: only the signalling), on fresh handles.
    const carol = await AbHttp.open(gw.httpUrl);
    const dave = await AbHttp.open(gw.httpUrl);
    extra.push(carol, dave);
    await q('create-rtp', admin, { request: 'create', room: R, secret: 'sec', allow_rtp_participants: true });
    await q('join-rtp-not-allowed', carol, { request: 'join', room: 1234, rtp: { ip: '127.0.0.1', port: 5004 } });
    await q('join-rtp-not-object', carol, { request: 'join', room: R, rtp: [5004] });
    await q('join-rtp', carol, { request: 'join', room: R, id: 2002, rtp: { ip: '127.0.0.1', port: 5004, payload_type: 111, audiolevel_ext: 1, fec: true } });
    await q('join-rtp-pcma', dave, { request: 'join', room: R, id: 2003, codec: 'pcma', rtp: { ip: '127.0.0.1', port: 5006 } });
    await q('listparticipants-rtp', admin, { request: 'listparticipants', room: R });
    await q('destroy-rtp', admin, { request: 'destroy', room: R, secret: 'sec' });
    await forwarders(q, admin, alice, rec);
  } finally {
    await Promise.all([admin.close(), alice.close(), bob.close(), ...extra.map((x) => x.close())]);
  }
  return steps;
}

/** UDP sinks on 127.0.0.1 that keep the first RTP packets a forwarder sends them. */
class Sink {
  readonly packets: Buffer[] = [];
  private constructor(readonly sock: Socket) {
    sock.on('message', (m) => {
      if (this.packets.length < 200) this.packets.push(m);
    });
  }
  static async open(): Promise<Sink> {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    return new Sink(sock);
  }
  get port(): number {
    return this.sock.address().port;
  }
  /** What the stream looks like: SSRC, payload type, whether sequence numbers and timestamps advance by one frame. */
  summary(frameTs: number): Record<string, unknown> {
    const p = this.packets;
    if (p.length === 0) return { packets: 0 };
    const seqStep = p.slice(1).every((b, i) => ((b.readUInt16BE(2) - p[i]!.readUInt16BE(2)) & 0xffff) === 1);
    const tsStep = p.slice(1).every((b, i) => ((b.readUInt32BE(4) - p[i]!.readUInt32BE(4)) >>> 0) === frameTs);
    return { version: p[0]![0]! >> 6, ssrc: p[0]!.readUInt32BE(8), pt: p[0]![1]! & 0x7f, seqStep, tsStep, payload: p[0]!.length - 12 };
  }
  close(): void {
    this.sock.close();
  }
}

/** rtp_forward, stop_rtp_forward, listforwarders: replies, errors, and what the forwarded RTP looks like. */
async function forwarders(
  q: (name: string, who: AbHttp, body: Record<string, unknown>) => Promise<JsonObject>,
  admin: AbHttp,
  alice: AbHttp,
  rec: (name: string, value: unknown) => void,
): Promise<void> {
  const R = 4322;
  const sinks = await Promise.all([Sink.open(), Sink.open(), Sink.open()]);
  const [s1, s2, s3] = sinks;
  try {
    const fw = { request: 'rtp_forward', room: R, secret: 'sec', host: '127.0.0.1' };
    await q('fwd-create', admin, { request: 'create', room: R, secret: 'sec', groups: ['g1', 'g2'] });
    await q('fwd-missing-host', admin, { request: 'rtp_forward', room: R, secret: 'sec', port: 5000 });
    await q('fwd-missing-port', admin, { request: 'rtp_forward', room: R, secret: 'sec', host: '127.0.0.1' });
    await q('fwd-port-string', admin, { ...fw, port: '5000' });
    await q('fwd-port-negative', admin, { ...fw, port: -1 });
    await q('fwd-port-0', admin, { ...fw, port: 0 });
    await q('fwd-missing-room', admin, { request: 'rtp_forward', host: '127.0.0.1', port: 5000 });
    await q('fwd-no-such-room', admin, { ...fw, room: 999, port: 5000 });
    await q('fwd-no-secret', admin, { request: 'rtp_forward', room: R, host: '127.0.0.1', port: 5000 });
    await q('fwd-wrong-secret', admin, { ...fw, secret: 'nope', port: 5000 });
    await q('fwd-bad-codec', admin, { ...fw, port: 5000, codec: 'g722' });
    await q('fwd-codec-type', admin, { ...fw, port: 5000, codec: 8 });
    await q('fwd-bad-family', admin, { ...fw, port: 5000, host_family: 'ipx' });
    await q('fwd-family-mismatch', admin, { ...fw, port: 5000, host_family: 'ipv6' });
    await q('fwd-unresolvable', admin, { ...fw, host: 'no-such-host.invalid', port: 5000 });
    await q('fwd-bad-suite', admin, { ...fw, port: 5000, srtp_suite: 40, srtp_crypto: 'AAAA' });
    await q('fwd-ssrc-negative', admin, { ...fw, port: 5000, ssrc: -5 });
    await q('fwd-always-on-type', admin, { ...fw, port: 5000, always_on: 'yes' });
    await q('fwd-bad-group', admin, { ...fw, port: 5000, group: 'nope' });
    await q('fwd-opus', admin, { ...fw, port: s1!.port, ssrc: 12345678, ptype: 111, always_on: true });
    await q('fwd-pcmu-group', admin, { ...fw, port: s2!.port, codec: 'PCMU', group: 'g1', always_on: true });
    await q('fwd-pcma', admin, { ...fw, port: 5004, codec: 'pcma' });
    await q('fwd-srtp', admin, { ...fw, port: 5002, srtp_suite: 80, srtp_crypto: Buffer.alloc(30, 7).toString('base64') });
    await q('fwd-no-group-in-groupless-room', admin, { request: 'rtp_forward', room: 1234, secret: 'adminpwd', host: '127.0.0.1', port: s3!.port, group: 'x', always_on: true });
    await q('listforwarders-no-secret', admin, { request: 'listforwarders', room: R });
    await q('listforwarders-fwd', admin, { request: 'listforwarders', room: R, secret: 'sec' });
    await q('listforwarders-1234', admin, { request: 'listforwarders', room: 1234, secret: 'adminpwd' });
    // Always-on forwarders stream into the empty rooms: look at the packets.
    const deadline = Date.now() + 5000;
    while (sinks.some((s) => s.packets.length < 10) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    rec('fwd-rtp-opus', s1!.summary(960));
    rec('fwd-rtp-pcmu-group', s2!.summary(160));
    rec('fwd-rtp-groupless', s3!.summary(960));
    await q('stop-fwd-missing-id', admin, { request: 'stop_rtp_forward', room: R, secret: 'sec' });
    await q('stop-fwd-unknown-id', admin, { request: 'stop_rtp_forward', room: R, secret: 'sec', stream_id: 4242 });
    await q('stop-fwd-wrong-secret', admin, { request: 'stop_rtp_forward', room: R, secret: 'nope', stream_id: 4242 });
    await q('stop-fwd-no-such-room', admin, { request: 'stop_rtp_forward', room: 999, secret: 'sec', stream_id: 4242 });
    const list = (await admin.req({ request: 'listforwarders', room: R, secret: 'sec' })).data['rtp_forwarders'] as JsonObject[];
    const opus = list.find((f) => f['codec'] === 'opus' && f['ssrc'] === 12345678);
    await q('stop-fwd', admin, { request: 'stop_rtp_forward', room: R, secret: 'sec', stream_id: opus?.['stream_id'] ?? 1 });
    await q('listforwarders-after-stop', admin, { request: 'listforwarders', room: R, secret: 'sec' });
    await q('fwd-destroy', admin, { request: 'destroy', room: R, secret: 'sec' });
    await q('listforwarders-destroyed', admin, { request: 'listforwarders', room: R, secret: 'sec' });
    const l1234 = (await admin.req({ request: 'listforwarders', room: 1234, secret: 'adminpwd' })).data['rtp_forwarders'] as JsonObject[];
    for (const f of l1234) await admin.req({ request: 'stop_rtp_forward', room: 1234, secret: 'adminpwd', stream_id: f['stream_id'] });
    await q('listforwarders-1234-after-stop', admin, { request: 'listforwarders', room: 1234, secret: 'adminpwd' });
    void alice;
  } finally {
    sinks.forEach((s) => s.close());
  }
}

/** Announcement files, on this machine's disk where both servers read them. */
const annDir = mkdtempSync(join(tmpdir(), 'portunus-ab-diff-'));
const ANN_LONG = writeToneFile(join(annDir, 'long.opus'), 440, 3);
const ANN_SHORT = writeToneFile(join(annDir, 'short.opus'), 660, 0.4);
const ANN_GARBAGE = join(annDir, 'garbage.opus');
writeFileSync(ANN_GARBAGE, 'not an Ogg/Opus file');

/** play_file, is_playing, stop_file (+ stop_all_files, listannouncements): replies and the events a participant gets. */
async function announcements(gw: MediaGateway): Promise<Step[]> {
  const steps: Step[] = [];
  const m = new Masker();
  const admin = await AbHttp.open(gw.httpUrl);
  const alice = await AbHttp.open(gw.httpUrl);
  const R = 4323;
  const rec = (name: string, value: unknown): void => void steps.push({ name, value: m.mask(value) });
  try {
    const q = async (name: string, who: AbHttp, body: Record<string, unknown>): Promise<JsonObject> => {
      const r = await who.req(body);
      if (r.data['audiobridge'] === 'joined') m.register('user', r.data['id']);
      // Only the ids the servers make up (random UUIDs); the ones the script chose stay as they are.
      if (r.data['audiobridge'] === 'success' && typeof r.data['file_id'] === 'string' && body['file_id'] === undefined) m.register('file', r.data['file_id']);
      rec(name, { ...r.data, '(async)': r.async });
      return r.data;
    };
    const pf = { request: 'play_file', room: R, secret: 'sec' };
    await q('ann-create', admin, { request: 'create', room: R, secret: 'sec' });
    await q('ann-join', alice, { request: 'join', room: R, display: 'Alice' });
    await q('ann-missing-room', admin, { request: 'play_file', filename: ANN_LONG });
    await q('ann-room-string', admin, { ...pf, room: String(R), filename: ANN_LONG });
    await q('ann-missing-filename', admin, { request: 'play_file', room: R });
    await q('ann-filename-type', admin, { ...pf, filename: 5 });
    await q('ann-file-id-type', admin, { ...pf, filename: ANN_LONG, file_id: 5 });
    await q('ann-loop-type', admin, { ...pf, filename: ANN_LONG, loop: 'yes' });
    await q('ann-no-secret', admin, { request: 'play_file', room: R, filename: ANN_LONG });
    await q('ann-wrong-secret', admin, { ...pf, secret: 'nope', filename: ANN_LONG });
    await q('ann-no-such-room', admin, { ...pf, room: 999, filename: ANN_LONG });
    await q('ann-missing-file', admin, { ...pf, filename: join(annDir, 'missing.opus') });
    await q('ann-garbage', admin, { ...pf, filename: ANN_GARBAGE, file_id: 'garbage' });
    await q('ann-play-loop', admin, { ...pf, filename: ANN_LONG, file_id: 'ann1', loop: true });
    await q('ann-play-dup', admin, { ...pf, filename: join(annDir, 'missing.opus'), file_id: 'ann1' });
    rec('ann-note-started', await alice.note(has('file_id', 'ann1'), 'announcement-started for ann1'));
    await new Promise((r) => setTimeout(r, 300));
    await q('ann-is-playing', admin, { request: 'is_playing', room: R, secret: 'sec', file_id: 'ann1' });
    await q('ann-is-playing-unknown', admin, { request: 'is_playing', room: R, secret: 'sec', file_id: 'nope' });
    await q('ann-is-playing-no-id', admin, { request: 'is_playing', room: R, secret: 'sec' });
    await q('ann-is-playing-no-secret', admin, { request: 'is_playing', room: R, file_id: 'ann1' });
    await q('ann-is-playing-no-room', admin, { request: 'is_playing', room: 999, secret: 'sec', file_id: 'ann1' });
    await q('ann-list', admin, { request: 'listannouncements', room: R, secret: 'sec' });
    await q('ann-stop-file', admin, { request: 'stop_file', room: R, secret: 'sec', file_id: 'ann1' });
    rec('ann-note-stopped', await alice.note((d) => d['audiobridge'] === 'announcement-stopped' && d['file_id'] === 'ann1', 'announcement-stopped for ann1'));
    await q('ann-is-playing-after-stop', admin, { request: 'is_playing', room: R, secret: 'sec', file_id: 'ann1' });
    await q('ann-stop-unknown', admin, { request: 'stop_file', room: R, secret: 'sec', file_id: 'nope' });
    await q('ann-stop-no-id', admin, { request: 'stop_file', room: R, secret: 'sec' });
    await q('ann-stop-wrong-secret', admin, { request: 'stop_file', room: R, secret: 'x', file_id: 'ann1' });
    // A one-shot file ends by itself: started, then stopped.
    const short = await q('ann-play-short', admin, { ...pf, filename: ANN_SHORT });
    rec('ann-note-short-started', await alice.note((d) => d['audiobridge'] === 'announcement-started' && d['file_id'] === short['file_id'], 'announcement-started for the short file'));
    rec('ann-note-short-stopped', await alice.note((d) => d['audiobridge'] === 'announcement-stopped' && d['file_id'] === short['file_id'], 'announcement-stopped for the short file'));
    await q('ann-is-playing-short-ended', admin, { request: 'is_playing', room: R, secret: 'sec', file_id: short['file_id'] });
    await q('ann-group-ignored', admin, { ...pf, filename: ANN_SHORT, group: 'x', file_id: 'grp' });
    await q('ann-stop-all', admin, { request: 'stop_all_files', room: R, secret: 'sec' });
    // enable_mjrs: the participant's recording starts (a file named as Janus names it) and stops.
    const mj = { request: 'enable_mjrs', room: R, secret: 'sec' };
    const mjDir = mkdtempSync(join(annDir, 'mjrs-'));
    await q('mjrs-missing', admin, { request: 'enable_mjrs', room: R });
    await q('mjrs-type', admin, { ...mj, mjrs: 'yes' });
    await q('mjrs-dir-type', admin, { ...mj, mjrs: true, mjrs_dir: 5 });
    await q('mjrs-no-room', admin, { request: 'enable_mjrs', secret: 'sec', mjrs: true });
    await q('mjrs-no-such-room', admin, { ...mj, room: 999, mjrs: true });
    await q('mjrs-wrong-secret', admin, { ...mj, secret: 'x', mjrs: true });
    await q('mjrs-on', admin, { ...mj, mjrs: true, mjrs_dir: mjDir });
    await new Promise((r) => setTimeout(r, 300));
    rec('mjrs-files', readdirSync(mjDir).map((n) => n.replace(/-\d{16}-audio\.mjr$/, '-<µs>-audio.mjr')));
    await q('mjrs-off', admin, { ...mj, mjrs: false });
    await q('ann-destroy', admin, { request: 'destroy', room: R, secret: 'sec' });
  } finally {
    await Promise.all([admin.close(), alice.close()]);
  }
  return steps;
}

/** Values that differ legitimately. */
const RULES: Rule[] = [
  {
    step: /^fwd-(opus|pcmu-group|no-group-in-groupless-room)$/,
    path: 'port',
    mode: 'type',
    why: 'the UDP sinks of the test are on ephemeral ports, one set per server',
  },
  {
    step: /^listforwarders/,
    path: 'rtp_forwarders.*.port',
    mode: 'type',
    why: 'the UDP sinks of the test are on ephemeral ports, one set per server',
  },
  {
    step: /^join-rtp(-pcma)?$/,
    path: 'rtp.port',
    mode: 'type',
    why: 'a port the server picks: Janus from the plugin rtp_port_range (default 10000-60000), Portunus from media.rtp_port_range unless the plugin sets its own',
  },
];

/**
 * Where Portunus knowingly differs from Janus 1.1.2 (each with the reason). Keep it short.
 */
const DELIBERATE_DIFFERENCES: Rule[] = [
  {
    step: 'fwd-no-such-room',
    path: 'error',
    mode: 'ignore',
    why: 'Janus 1.1.2 answers rtp_forward to a missing room with "No such room (999" (closing parenthesis missing); Portunus says "No such room (999)" as everywhere else; same code 485',
  },
  {
    step: /^join-(alice|bob)$/,
    path: 'display',
    mode: 'ignore',
    why: 'shared/janus-api.md (the 1.x contract Portunus implements) has `display` in the joined reply; 1.1.2 omits it. Additive: janus.js and the demos ignore it',
  },
  {
    step: 'configure-mute-alice',
    path: 'room',
    mode: 'ignore',
    why: 'shared/janus-api.md has `room` in the configure result event; 1.1.2 omits it. Additive',
  },
  {
    step: /^join-alice-2$|^changeroom$|^ann-join$/,
    path: 'display',
    mode: 'ignore',
    why: 'as for join: `display` in joined/roomchanged per shared/janus-api.md; 1.1.2 omits it',
  },
  {
    step: /^(suspend|suspend-wrong-secret|resume)$/,
    path: '**',
    mode: 'ignore',
    why: '`suspend`/`resume` are in shared/janus-api.md but Janus 1.1.2 does not know them (482 Unknown request); Portunus implements them (checked below)',
  },
  {
    step: 'ann-garbage',
    path: '**',
    mode: 'ignore',
    why: 'Janus 1.1.2 accepts any file it can open and fails later in its mixer (no event, nothing played); Portunus reads and checks the file first and answers 499 "Error opening file", the words it uses for every file it cannot play (checked below)',
  },
  {
    step: /^ann-(list|stop-all)$/,
    path: '**',
    mode: 'ignore',
    why: '`listannouncements` and `stop_all_files` are in shared/janus-api.md (later Janus versions) but Janus 1.1.2 does not know them (482 Unknown request); Portunus implements them (checked below)',
  },
  {
    step: 'mjrs-no-room',
    path: '**',
    mode: 'ignore',
    why: 'Janus 1.1.2 does not require `room` in enable_mjrs and answers 485 "No such room (0)"; Portunus answers 483 "Missing mandatory element (room)" as for every other room request (checked below)',
  },
  {
    step: 'listparticipants-suspended',
    path: 'participants',
    mode: 'ignore',
    why: 'follows from suspend (Janus 1.1.2 has none)',
  },
  {
    step: /^listparticipants-after-(kick|leave)$/,
    path: 'participants',
    mode: 'ignore',
    why: 'kicking a participant that has no PeerConnection: Janus 1.1.2 announces `kicked` but leaves it in the room (its removal happens on the media hangup, which never comes); Portunus removes it at once (checked below)',
  },
];

const haveJanus = existsSync(JANUS);

describe('AudioBridge reply shapes: Janus 1.1.2 vs Portunus over HTTP', { skip: haveJanus ? false : `${JANUS} not installed` }, () => {
  let janus: MediaGateway | undefined;
  let portunus: MediaGateway | undefined;
  let ref: Step[] = [];
  before(async () => {
    [janus, portunus] = await Promise.all([startMediaGateway('janus', ['audiobridge']), startMediaGateway('portunus', ['audiobridge'])]);
  });
  after(async () => {
    await Promise.all([janus?.stop(), portunus?.stop()]);
  });

  test('janus: the script runs and the transcript is what the digest says in the essentials', { timeout: 60_000 }, async () => {
    ref = await run(janus!);
    if (process.env['AB_DIFF_DUMP']) console.log(JSON.stringify(ref, null, 1));
    const v = (n: string): Record<string, unknown> => ref.find((s) => s.name === n)!.value as Record<string, unknown>;
    assert.equal(v('create')['audiobridge'], 'created');
    assert.equal(v('create-again')['error_code'], 486);
    assert.equal(v('join-wrong-pin')['error_code'], 489);
    assert.equal(v('join-alice')['audiobridge'], 'joined');
    assert.equal(v('destroy')['audiobridge'], 'destroyed');
    assert.equal(v('join-rtp-not-allowed')['error_code'], 489);
    assert.deepEqual(Object.keys(v('join-rtp')['rtp'] as object).sort(), ['ip', 'payload_type', 'port']);
  });

  test('portunus: same transcript as Janus (modulo the documented differences)', { timeout: 60_000 }, async () => {
    assert.ok(ref.length > 0, 'the Janus transcript exists');
    const got = await run(portunus!);
    if (process.env['AB_DIFF_DUMP']) console.log(JSON.stringify(got, null, 1));
    const diffs = diffTranscripts(ref, got, [...RULES, ...DELIBERATE_DIFFERENCES]);
    assert.deepEqual(diffs, [], `differences from Janus 1.1.2:\n${diffs.join('\n')}`);
    // The deliberate differences, asserted for what they are.
    const v = (n: string): Record<string, unknown> => got.find((s) => s.name === n)!.value as Record<string, unknown>;
    assert.equal(v('join-alice')['display'], 'Alice');
    assert.equal(v('configure-mute-alice')['room'], 4321);
    assert.deepEqual((v('listparticipants-after-kick')['participants'] as Array<{ id: unknown }>).map((p) => p.id), ['<user1>'], 'the kicked participant is gone');
    assert.deepEqual(v('listparticipants-after-leave')['participants'], []);
    assert.equal(v('suspend-wrong-secret')['error_code'], 489);
    assert.equal(v('suspend')['audiobridge'], 'success');
    assert.deepEqual(v('listparticipants-suspended')['participants'], [{ id: '<user1>', display: 'Alice3', setup: false, muted: false, suspended: true }]);
    assert.equal(v('resume')['audiobridge'], 'success');
    const rtp = v('join-rtp')['rtp'] as Record<string, unknown>;
    assert.equal(rtp['payload_type'], 111);
    assert.ok((rtp['port'] as number) >= portunus!.rtpPorts.min && (rtp['port'] as number) <= portunus!.rtpPorts.max, 'inside media.rtp_port_range');
  });

  let annRef: Step[] = [];
  test('janus: announcements (play_file, is_playing, stop_file) and their events', { timeout: 60_000 }, async () => {
    annRef = await announcements(janus!);
    if (process.env['AB_DIFF_DUMP']) console.log(JSON.stringify(annRef, null, 1));
    const v = (n: string): Record<string, unknown> => annRef.find((s) => s.name === n)!.value as Record<string, unknown>;
    assert.equal(v('ann-play-loop')['file_id'], 'ann1');
    assert.equal(v('ann-play-dup')['error_code'], 490);
    assert.equal(v('ann-missing-file')['error_code'], 499);
    assert.equal(v('ann-is-playing')['playing'], true);
    assert.equal(v('ann-note-stopped')['audiobridge'], 'announcement-stopped');
    assert.equal(v('ann-list')['error_code'], 482, 'Janus 1.1.2 has no listannouncements');
    assert.deepEqual(v('mjrs-on'), { audiobridge: 'success', mjrs: true, '(async)': false });
    assert.deepEqual(v('mjrs-files'), ['audiobridge-4323-user-<user1>-<µs>-audio.mjr']);
  });

  test('portunus: same announcements transcript as Janus (modulo the documented differences)', { timeout: 60_000 }, async () => {
    assert.ok(annRef.length > 0, 'the Janus transcript exists');
    const got = await announcements(portunus!);
    if (process.env['AB_DIFF_DUMP']) console.log(JSON.stringify(got, null, 1));
    const diffs = diffTranscripts(annRef, got, [...RULES, ...DELIBERATE_DIFFERENCES]);
    assert.deepEqual(diffs, [], `differences from Janus 1.1.2:\n${diffs.join('\n')}`);
    const v = (n: string): Record<string, unknown> => got.find((s) => s.name === n)!.value as Record<string, unknown>;
    assert.equal(v('ann-garbage')['error_code'], 499);
    assert.equal(v('ann-garbage')['error'], 'Error opening file');
    assert.deepEqual(v('ann-list'), { audiobridge: 'announcements', room: 4323, announcements: [{ file_id: 'ann1', filename: ANN_LONG, playing: true, loop: true }], '(async)': false });
    assert.deepEqual(v('ann-stop-all'), { audiobridge: 'success', room: 4323, file_id_list: ['grp'], '(async)': false });
    assert.deepEqual(v('mjrs-no-room'), { audiobridge: 'event', error_code: 483, error: 'Missing mandatory element (room)', '(async)': false });
  });
});

/**
 * lock_rtp_forward with an admin_key, and a static forwarder from a room category (rtp_forward_* keys):
 * a second pair of servers on this plugin configuration.
 */
const LOCKED_JCFG = [
  'general: {',
  '  admin_key = "fwdkey"',
  '  lock_rtp_forward = true',
  '  lock_play_file = true',
  '}',
  '',
  'room-1234: {',
  '  description = "Demo Room"',
  '  secret = "adminpwd"',
  '  sampling_rate = 16000',
  '}',
  '',
  'room-1235: {',
  '  description = "Static forwarder"',
  '  sampling_rate = 16000',
  '  groups = ["a", "b"]',
  '  rtp_forward_id = 777',
  '  rtp_forward_host = "127.0.0.1"',
  '  rtp_forward_port = 5010',
  '  rtp_forward_codec = "pcma"',
  '  rtp_forward_group = "b"',
  '  rtp_forward_ssrc = 4242',
  '}',
  '',
].join('\n');

async function runLocked(gw: MediaGateway): Promise<Step[]> {
  const steps: Step[] = [];
  const m = new Masker();
  const admin = await AbHttp.open(gw.httpUrl);
  try {
    const q = async (name: string, body: Record<string, unknown>): Promise<JsonObject> => {
      const r = await admin.req(body);
      if (r.data['audiobridge'] === 'success' && typeof r.data['stream_id'] === 'number') m.register('stream', r.data['stream_id']);
      steps.push({ name, value: m.mask(r.data) });
      return r.data;
    };
    const fw = { request: 'rtp_forward', room: 1234, secret: 'adminpwd', host: '127.0.0.1', port: 5020 };
    await q('locked-missing-host', { request: 'rtp_forward', room: 1234, secret: 'adminpwd', port: 5020 });
    await q('locked-no-key', fw);
    await q('locked-key-type', { ...fw, admin_key: 5 });
    await q('locked-wrong-key', { ...fw, admin_key: 'nope' });
    await q('locked-key-no-secret', { request: 'rtp_forward', room: 1234, host: '127.0.0.1', port: 5020, admin_key: 'fwdkey' });
    const ok = await q('locked-ok', { ...fw, admin_key: 'fwdkey' });
    await q('locked-list', { request: 'listforwarders', room: 1234, secret: 'adminpwd' });
    await q('locked-stop-no-key', { request: 'stop_rtp_forward', room: 1234, secret: 'adminpwd', stream_id: ok['stream_id'] });
    await q('locked-stop-wrong-key', { request: 'stop_rtp_forward', room: 1234, secret: 'adminpwd', stream_id: ok['stream_id'], admin_key: 'x' });
    await q('locked-stop', { request: 'stop_rtp_forward', room: 1234, secret: 'adminpwd', stream_id: ok['stream_id'], admin_key: 'fwdkey' });
    await q('locked-list-after-stop', { request: 'listforwarders', room: 1234, secret: 'adminpwd' });
    await q('static-list', { request: 'listforwarders', room: 1235 });
    // lock_play_file: the admin_key after the request's own parameters, before the room.
    const pf = { request: 'play_file', room: 1234, secret: 'adminpwd', filename: ANN_SHORT };
    await q('locked-play-no-key', pf);
    await q('locked-play-no-filename', { request: 'play_file', room: 1234, secret: 'adminpwd', admin_key: 'fwdkey' });
    await q('locked-play-wrong-key', { ...pf, admin_key: 'x' });
    await q('locked-play-key-type', { ...pf, admin_key: 5 });
    await q('locked-play-no-room-lookup', { ...pf, room: 999 });
    await q('locked-play-no-secret', { request: 'play_file', room: 1234, filename: ANN_SHORT, admin_key: 'fwdkey' });
    await q('locked-play', { ...pf, admin_key: 'fwdkey', file_id: 'lk' });
    await q('locked-play-group-missing', { ...pf, room: 1235, secret: undefined, admin_key: 'fwdkey' });
    await q('locked-play-group-unknown', { ...pf, room: 1235, secret: undefined, admin_key: 'fwdkey', group: 'zz' });
    await q('locked-is-playing-no-key', { request: 'is_playing', room: 1234, secret: 'adminpwd', file_id: 'lk' });
    await q('locked-stop-file-no-key', { request: 'stop_file', room: 1234, secret: 'adminpwd', file_id: 'lk' });
    await q('locked-stop-file', { request: 'stop_file', room: 1234, secret: 'adminpwd', file_id: 'lk', admin_key: 'fwdkey' });
  } finally {
    await admin.close();
  }
  return steps;
}

describe('AudioBridge forwarders with lock_rtp_forward and a static forwarder: Janus 1.1.2 vs Portunus', { skip: haveJanus ? false : `${JANUS} not installed` }, () => {
  let janus: MediaGateway | undefined;
  let portunus: MediaGateway | undefined;
  let ref: Step[] = [];
  before(async () => {
    const overrides = { audiobridge: LOCKED_JCFG };
    [janus, portunus] = await Promise.all([startMediaGateway('janus', ['audiobridge'], overrides), startMediaGateway('portunus', ['audiobridge'], overrides)]);
  });
  after(async () => {
    await Promise.all([janus?.stop(), portunus?.stop()]);
  });

  test('janus: admin_key is required for rtp_forward and stop_rtp_forward; the static forwarder is listed', { timeout: 60_000 }, async () => {
    ref = await runLocked(janus!);
    if (process.env['AB_DIFF_DUMP']) console.log(JSON.stringify(ref, null, 1));
    const v = (n: string): Record<string, unknown> => ref.find((s) => s.name === n)!.value as Record<string, unknown>;
    assert.equal(v('locked-no-key')['error_code'], 483);
    assert.equal(v('locked-wrong-key')['error_code'], 489);
    assert.equal(v('locked-ok')['audiobridge'], 'success');
  });

  test('portunus: same transcript as Janus', { timeout: 60_000 }, async () => {
    assert.ok(ref.length > 0, 'the Janus transcript exists');
    const got = await runLocked(portunus!);
    if (process.env['AB_DIFF_DUMP']) console.log(JSON.stringify(got, null, 1));
    const diffs = diffTranscripts(ref, got, []);
    assert.deepEqual(diffs, [], `differences from Janus 1.1.2:\n${diffs.join('\n')}`);
    const stat = got.find((s) => s.name === 'static-list')!.value as { rtp_forwarders: Array<Record<string, unknown>> };
    assert.deepEqual(stat.rtp_forwarders, [{ stream_id: 777, group: 'b', ip: '127.0.0.1', port: 5010, ssrc: 4242, codec: 'pcma', ptype: 8, always_on: false }]);
  });
});
