/**
 * AudioBridge plain-RTP participants (src/plugins/audiobridge/plain-rtp.ts, participants.ts plainRtpIn,
 * incoming.ts receiveRtp, the room's mixer): real datagrams on 127.0.0.1 to the sockets of an Opus
 * participant (with the RFC 6464 level extension, so talking events run) and a G.711 one. Valid RTP
 * with real and random payloads, odd payload types, CSRCs, extensions and padding, mutated RTP and
 * raw bytes. After each run, once every datagram was read (the endpoint's counters):
 * - nothing was thrown: no fault counted at any boundary, nothing logged as error or fatal;
 * - the state holds: both participants are still in the room with open sockets and media up, their
 *   jitter buffers within their bound, and the room's mixer still ticking;
 * and over all runs the heap stays bounded. At the end the fuzzed participant's clean tone still
 * reaches a listener through the mix.
 *
 * (AudioBridge takes no SRTP from its sources: plain-RTP participants are unencrypted in Janus 1.1.2 as
 * here, and WebRTC participants' SRTP is the media plane's, fuzzed in srtp.test.ts. SRTP in AudioBridge
 * is only on the sending side, for RTP forwarders.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { fc, checkAsync, boundedHeap, mutated, rawBytes, REPLAYING } from './harness.js';
import { createOpusDecoder, createOpusEncoder } from '../../src/codecs/opus.js';
import { FAULT_BOUNDARIES, localFaultCounts } from '../../src/core/fault.js';
import { captureLogger } from '../plugins/videoroom/harness.js';
import { goertzelAmplitude, makeAbWorld, sleep, toneFrame, waitFor } from '../plugins/audiobridge/net.js';

const ROOM = 77;
const OPUS_PT = 100;
const JCFG = `general: {\n}\nroom-${ROOM}: {\n\tsampling_rate = 16000\n\tallow_rtp_participants = true\n\taudiolevel_event = true\n\taudio_active_packets = 5\n\taudio_level_average = 40\n}\n`;

function rtp(o: { pt: number; seq: number; ts: number; ssrc: number; csrcs: number; ext: { id: number; level: number } | null; pad: number; payload: Uint8Array }): Buffer {
  const hl = 12 + 4 * o.csrcs + (o.ext ? 8 : 0);
  const b = Buffer.alloc(hl + o.payload.length + o.pad);
  b[0] = 0x80 | (o.ext ? 0x10 : 0) | (o.pad ? 0x20 : 0) | o.csrcs;
  b[1] = o.pt & 0x7f;
  b.writeUInt16BE(o.seq & 0xffff, 2);
  b.writeUInt32BE(o.ts >>> 0, 4);
  b.writeUInt32BE(o.ssrc >>> 0, 8);
  for (let i = 0; i < o.csrcs; i++) b.writeUInt32BE(0x1000 + i, 12 + 4 * i);
  if (o.ext) {
    const at = 12 + 4 * o.csrcs;
    b.writeUInt16BE(0xbede, at);
    b.writeUInt16BE(1, at + 2);
    b[at + 4] = (o.ext.id << 4) | 0; // one-byte element, one byte of data
    b[at + 5] = o.ext.level;
  }
  Buffer.from(o.payload).copy(b, hl);
  if (o.pad) b[b.length - 1] = o.pad;
  return b;
}

/** A few real Opus frames (a tone), so that the decoder sees real packets among the garbage. */
const OPUS_FRAMES: Uint8Array[] = (() => {
  const enc = createOpusEncoder({ sampleRate: 48000, channels: 1, complexity: 2 });
  const frames = Array.from({ length: 6 }, (_, i) => Uint8Array.from(enc.encode(toneFrame(523, 48000, i))));
  enc.destroy();
  return frames;
})();

const validRtp: fc.Arbitrary<Uint8Array> = fc
  .record({
    pt: fc.constantFrom(OPUS_PT, 0, 8, 111, 96, 127),
    seq: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffff })),
    ts: fc.oneof(fc.integer({ min: 0, max: 40 }).map((n) => n * 960), fc.nat()),
    ssrc: fc.constantFrom(1, 2, 0xffffffff),
    csrcs: fc.constantFrom(0, 0, 1, 15),
    ext: fc.option(fc.record({ id: fc.constantFrom(1, 1, 2, 15), level: fc.integer({ min: 0, max: 255 }) })),
    pad: fc.constantFrom(0, 0, 1, 4),
    payload: fc.oneof(fc.constantFrom(...OPUS_FRAMES), fc.uint8Array({ minLength: 1, maxLength: 160 }), fc.constant(new Uint8Array(0))),
  })
  .map((r) => Uint8Array.from(rtp(r)));
const datagram = fc.oneof({ weight: 3, arbitrary: validRtp.map((u) => Buffer.from(u)) }, { weight: 2, arbitrary: mutated(validRtp, 3) }, { weight: 1, arbitrary: rawBytes(200) });
/** Which participant: 0 = the Opus one, 1 = the G.711 one. */
const send = fc.tuple(fc.integer({ min: 0, max: 1 }), datagram);

const faultTotal = (): number => {
  const c = localFaultCounts();
  return FAULT_BOUNDARIES.reduce((n, b) => n + c[b], 0);
};

type Joined = { id: number; rtp: { ip: string; port: number; payload_type: number } };

test('AudioBridge plain-RTP participants: fuzzed datagrams never throw, keep the room consistent and bounded; the mix goes on', { timeout: 600_000 }, async () => {
  const log = captureLogger();
  const w = await makeAbWorld(JCFG, {}, log);
  const sockets: Socket[] = [];
  const udp = async (): Promise<Socket> => {
    const s = createSocket('udp4');
    sockets.push(s);
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return s;
  };
  const join = async (display: string, rtpReq: Record<string, unknown>, codec?: string): Promise<Joined> => {
    const { session, handle } = await w.attach();
    const ev = await w.message(session, handle, { request: 'join', room: ROOM, display, rtp: rtpReq, ...(codec ? { codec } : {}) });
    const data = ev.plugindata?.data as Joined | undefined;
    assert.equal((data as Record<string, unknown> | undefined)?.['audiobridge'], 'joined', JSON.stringify(ev));
    return data!;
  };
  const tx = (s: Socket, d: Buffer, port: number): Promise<void> => new Promise((r) => s.send(d, port, '127.0.0.1', () => r()));
  try {
    const fuzzer = await udp();
    const listener = await udp();
    const heard: Buffer[] = [];
    listener.on('message', (m) => heard.push(m));
    // The Opus participant gets the mix too (sent back to the fuzzer's socket, which ignores it).
    const a = await join('opus', { ip: '127.0.0.1', port: fuzzer.address().port, payload_type: OPUS_PT, audiolevel_ext: 1 });
    const g = await join('pcmu', {}, 'pcmu');
    const l = await join('listener', { ip: '127.0.0.1', port: listener.address().port, payload_type: 111 });
    const room = w.plugin.getRoom(ROOM)!;
    const pa = room.participants.get(a.id)!;
    const pg = room.participants.get(g.id)!;
    const targets = [pa, pg];
    const ports = [a.rtp.port, g.rtp.port];
    // The listener's media is up with its first packet (then it gets the mix).
    await tx(listener, rtp({ pt: 111, seq: 1, ts: 0, ssrc: 9, csrcs: 0, ext: null, pad: 0, payload: OPUS_FRAMES[0]! }), l.rtp.port);
    const faults0 = faultTotal();
    let runsDone = 0;

    await boundedHeap(32 * 1024 * 1024, () =>
      checkAsync('audiobridge-plain-rtp', [fc.array(send, { minLength: 1, maxLength: 24 })], async (sends) => {
        log.lines.length = 0;
        const seen = targets.map((p) => p.plain!.received + p.plain!.dropped);
        const want = [...seen];
        for (const [to, d] of sends) {
          want[to]!++;
          await tx(fuzzer, d, ports[to]!);
        }
        // Every datagram read (loopback drops nothing at this rate), then a few mixer frames.
        await waitFor('the datagrams are read', () => targets.every((p, i) => p.plain!.received + p.plain!.dropped >= want[i]!), 5000);
        const frames = room.frames;
        await waitFor('the mixer ticks', () => room.frames >= frames + 3, 5000);
        assert.deepEqual(log.lines.filter((x) => x.level === 'error' || x.level === 'fatal').map((x) => x.msg), [], 'nothing logged as a failure');
        assert.equal(faultTotal(), faults0, 'no fault at any boundary');
        assert.equal(w.plugin.getRoom(ROOM), room, 'the room is still there');
        assert.ok(!room.destroyed, 'the room is not destroyed');
        for (const p of targets) {
          assert.equal(room.participants.get(p.id as number), p, `${p.display} is still in the room`);
          assert.ok(p.plain && !p.plain.closed, `${p.display}'s socket is open`);
          assert.ok(p.jitter.size <= p.jitter.maxPackets, `${p.display}'s jitter buffer within its bound (${p.jitter.size})`);
        }
        if (sends.some(([to, d]) => to === 0 && d.length >= 12 && (d[0]! & 0xc0) === 0x80 && (d[1]! < 192 || d[1]! > 223))) {
          assert.ok(pa.session.started, 'a valid-looking packet set the Opus participant up');
        }
        runsDone++;
      }, 4),
    );
    assert.ok(runsDone > 0);

    // The fuzzed participant still talks: once its buffer has drained, a clean tone from a fresh
    // stream reaches the listener through the mix.
    // (A lone packet below the playout threshold waits there for the next one: not stuck, just idle.)
    await waitFor(`the fuzzed jitter buffer drains (size ${pa.jitter.size}, playing ${pa.jitter.isPlaying})`, () => pa.jitter.size < pa.jitter.minPackets && !pa.jitter.isPlaying, 5000);
    const enc = createOpusEncoder({ sampleRate: 48000, channels: 1, complexity: 4 });
    const from = heard.length;
    const t0 = performance.now();
    for (let i = 0; i < 60; i++) {
      await tx(fuzzer, rtp({ pt: OPUS_PT, seq: 30000 + i, ts: i * 960, ssrc: 0x5eed, csrcs: 0, ext: null, pad: 0, payload: enc.encode(toneFrame(440, 48000, i)) }), ports[0]!);
      await sleep(Math.max(0, t0 + (i + 1) * 20 - performance.now()));
    }
    enc.destroy();
    await sleep(200);
    const got = heard.slice(from).sort((x, y) => ((((x.readUInt16BE(2) - y.readUInt16BE(2)) & 0xffff) << 16) >> 16));
    assert.ok(got.length > 20, `the listener gets the mix (${got.length} packets)`);
    const dec = createOpusDecoder(16000, 1);
    const pcm = got.flatMap((b) => Array.from(dec.decode(b.subarray(12 + 4 * (b[0]! & 0x0f)))));
    dec.destroy();
    const amp = goertzelAmplitude(Int16Array.from(pcm.slice(1600)), 16000, 440);
    if (!REPLAYING) assert.ok(amp > 500, `the listener hears the fuzzed participant's tone (440 Hz amplitude ${amp.toFixed(0)})`);
  } finally {
    for (const s of sockets) s.close();
    await w.stop();
  }
});
