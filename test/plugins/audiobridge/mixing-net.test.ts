/**
 * The mix through real SRTP and UDP: three Node WebRTC clients (our ICE/DTLS/SRTP stack on 127.0.0.1)
 * join an AudioBridge room of an in-process Gateway over the Janus API, each sends an Opus-encoded tone
 * (A 440 Hz, B 660 Hz, C 880 Hz) as RTP, and each decodes what it receives: by Goertzel, A hears B's
 * and C's tones and not its own, likewise B and C. Then B mutes and A and C no longer hear 660 Hz.
 *
 * Real time on a shared 2-core machine: the scenario gets up to 3 attempts (withAttempts in net.ts),
 * each failed attempt is logged with its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeReceived, goertzelAmplitude, joinParticipant, makeAbWorld, sleep, ToneSender, waitFor, type AbParticipant, withAttempts } from './net.js';

const TONES = { A: 440, B: 660, C: 880 } as const;
type Name = keyof typeof TONES;
const NAMES: Name[] = ['A', 'B', 'C'];

/** Amplitudes of the three tones in what `p` received since `from`. */
function heard(p: AbParticipant, from: number, rate: 16000 | 48000): Record<Name, number> & { samples: number } {
  const pcm = decodeReceived(p.client, rate, from);
  // Skip the first 100 ms (decoder start mid-stream).
  const body = pcm.subarray(Math.min(pcm.length, rate / 10));
  return {
    A: goertzelAmplitude(body, rate, TONES.A),
    B: goertzelAmplitude(body, rate, TONES.B),
    C: goertzelAmplitude(body, rate, TONES.C),
    samples: body.length,
  };
}

const fmt = (h: Record<string, number>): string => NAMES.map((n) => `${TONES[n]} Hz: ${h[n]!.toFixed(0)}`).join(', ');

for (const rate of [16000, 48000] as const) {
  test(`mix-minus over SRTP/UDP at ${rate / 1000} kHz: each of three participants hears the other two tones and not its own; a muted one drops out`, { timeout: 120_000 }, async () => {
    await withAttempts(`mix-minus at ${rate / 1000} kHz`, 3, async () => {
      const jcfg = `general: {\n}\nroom-77: {\n\tdescription = "tones"\n\tsecret = "s"\n\tsampling_rate = ${rate}\n}\n`;
      const w = await makeAbWorld(jcfg);
      const ps: AbParticipant[] = [];
      const senders: ToneSender[] = [];
      try {
        for (const n of NAMES) ps.push(await joinParticipant(w, 77, n));
        // The server saw each PeerConnection come up (setupMedia) and lists all three.
        await waitFor('three set-up participants', () => {
          const room = w.plugin.getRoom(77);
          return room && [...room.participants.values()].filter((p) => p.session.started).length === 3;
        });
        for (let i = 0; i < 3; i++) senders.push(new ToneSender(ps[i]!, TONES[NAMES[i]!]));
        senders.forEach((s) => s.start());
        await sleep(800);
        const mark = ps.map((p) => p.client.rtp.length);
        await sleep(1500);
        for (let i = 0; i < 3; i++) {
          const me = NAMES[i]!;
          const h = heard(ps[i]!, mark[i]!, rate);
          console.log(`# ${rate / 1000} kHz: ${me} heard ${fmt(h)}`);
          const others = NAMES.filter((n) => n !== me);
          // (1.5 s were sent; a loaded machine may starve this process for a while: half a second is enough.)
          assert.ok(h.samples >= rate / 2, `${me} received at least half a second of audio (${h.samples} samples)`);
          for (const o of others) assert.ok(h[o] > 1500, `${me} must hear ${o}'s ${TONES[o]} Hz tone (sent at amplitude 6000): ${fmt(h)}`);
          assert.ok(h[me] < 0.03 * Math.min(...others.map((o) => h[o])), `${me} must not hear its own ${TONES[me]} Hz tone: ${fmt(h)}`);
        }
        // The server's packets carry the SSRC from its answer, with consecutive sequence numbers.
        const seqs = ps[0]!.client.rtp.slice(mark[0]).map((r) => r.bytes.readUInt16BE(2));
        const gaps = seqs.slice(1).filter((s, i) => ((s - seqs[i]!) & 0xffff) !== 1).length;
        assert.ok(gaps <= 2, `A's mix arrives in sequence (${gaps} gaps in ${seqs.length})`);

        // B mutes: A and C no longer hear 660 Hz, B still hears A and C.
        const ack = await w.message(ps[1]!.session, ps[1]!.handle, { request: 'configure', muted: true });
        assert.equal(ack.plugindata?.data['result'], 'ok');
        await sleep(300);
        const mark2 = ps.map((p) => p.client.rtp.length);
        await sleep(1000);
        const a = heard(ps[0]!, mark2[0]!, rate);
        const b = heard(ps[1]!, mark2[1]!, rate);
        const c = heard(ps[2]!, mark2[2]!, rate);
        assert.ok(a.C > 1500 && a.B < 0.03 * a.C, `A hears C but no longer the muted B: ${fmt(a)}`);
        assert.ok(c.A > 1500 && c.B < 0.03 * c.A, `C hears A but no longer the muted B: ${fmt(c)}`);
        assert.ok(b.A > 1500 && b.C > 1500 && b.B < 0.03 * Math.min(b.A, b.C), `muted B still hears A and C: ${fmt(b)}`);
      } finally {
        senders.forEach((s) => s.stop());
        ps.forEach((p) => p.client.close());
        await w.stop();
      }
    });
  });
}
