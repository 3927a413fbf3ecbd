import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHROME_OFFER_SIMULCAST } from './fixtures.js';
import { Harness, type TestSession } from './harness.js';
import { info, MEDIA_ROOMS, publish, rtpPacket, subscribe, vp8Payload } from './media-helpers.js';

const ROOMS = `${MEDIA_ROOMS}
room-auto: {
  description = "auto"
  publishers = 4
  videocodec = "vp8"
  auto_layers = true
}
room-manual: {
  description = "manual"
  publishers = 4
  videocodec = "vp8"
}
`;

/** Layer sizes: ~160, ~480 and ~960 kbit/s at 100 packets/s. */
const SIZE = [200, 600, 1200];
const L = [info('1', 'video', 100, { rid: 'l' }), info('1', 'video', 200, { rid: 'm' }), info('1', 'video', 300, { rid: 'h' })];

class Publisher {
  seq = [1000, 2000, 3000];
  constructor(
    readonly h: Harness,
    readonly pub: TestSession,
  ) {}
  /** One packet of each layer (every 10 ms), keyframes every 100th. */
  tick(key = false): void {
    for (let l = 0; l < 3; l++) {
      const s = this.seq[l]!++;
      const payload = Buffer.concat([vp8Payload({ pictureId: s & 0x7fff, keyframe: key, tid: s % 2 === 0 ? 0 : 1, sync: false, tl0: 0 }), Buffer.alloc(SIZE[l]!)]);
      this.h.rtp(this.pub, L[l]!, rtpPacket({ pt: 96, seq: s, ts: s * 900, ssrc: [100, 200, 300][l]!, marker: true, ext: [{ id: 10, data: [...Buffer.from(['l', 'm', 'h'][l]!)] }], payload }));
    }
    this.h.time += 10;
  }
  run(ms: number, keyEvery = 50): void {
    for (let t = 0; t < ms; t += 10) this.tick(((this.seq[0]! - 1000) % keyEvery) === 0);
  }
}

async function setup(roomId: string) {
  const h = await Harness.start(ROOMS);
  const pub = h.attach();
  await publish(h, pub, roomId, 'sim', { offer: CHROME_OFFER_SIMULCAST });
  const sub = h.attach();
  await subscribe(h, sub, roomId, [{ feed: 'sim', mid: '1' }]);
  h.host.clear();
  return { h, pub, sub, p: new Publisher(h, pub) };
}

/** Bytes relayed to `sub` per layer size over the last `ms` of sending. */
function layersSeen(h: Harness, sub: TestSession): Set<number> {
  const out = new Set<number>();
  for (const pkt of h.host.rtpTo(sub)) out.add(SIZE.findIndex((s) => Math.abs(pkt.length - s - 30) < 40));
  h.host.clear();
  return out;
}

test('auto_layers: the subscriber gets the best layer that fits its estimate, lower ones as it drops, video paused when none fits, back when it does', async () => {
  const { h, sub, p } = await setup('auto');
  h.host.estimates.set(sub.handleId, 3_000_000);
  p.run(1000); // the first packets of each layer switch a fresh subscriber up layer by layer
  h.host.clear();
  p.run(1500);
  assert.deepEqual([...layersSeen(h, sub)], [2], 'plenty: the top layer');
  assert.ok((h.host.wanted.get(sub.handleId) ?? 0) >= 1_000_000, 'probing ceiling: what the best layer costs');
  // 700 kbit/s: the middle layer (~500) fits, the top (~1000) does not.
  h.host.estimates.set(sub.handleId, 700_000);
  p.run(1500);
  const slow = h.host.unsolicited(sub).filter((e) => e.videoroom === 'slow_link');
  assert.equal(slow.length, 1, 'slow_link with the estimate');
  assert.equal(slow[0]!['current-bitrate'], 700_000);
  assert.ok(h.host.unsolicited(sub).some((e) => e.substream === 1), 'substream event as Janus sends it');
  h.host.clear();
  p.run(1000);
  assert.deepEqual([...layersSeen(h, sub)], [1], 'middle layer');
  // 250 kbit/s: the low layer (~190) at full frame rate.
  h.host.estimates.set(sub.handleId, 250_000);
  p.run(1500);
  h.host.clear();
  p.run(1000);
  const full = h.host.rtpTo(sub).length;
  assert.deepEqual([...layersSeen(h, sub)], [0], 'low layer');
  // 150 kbit/s: the low layer's base temporal layer only (every other packet here, ~95).
  h.host.estimates.set(sub.handleId, 150_000);
  p.run(1500);
  h.host.clear();
  p.run(1000);
  const half = h.host.rtpTo(sub).length;
  assert.deepEqual([...layersSeen(h, sub)], [0], 'low layer, temporal 0');
  assert.ok(half > full * 0.4 && half < full * 0.6, `temporal layer 0 only: ${half} of ${full}`);
  // 80 kbit/s: not even the low layer at its lowest temporal layer fits: paused.
  h.host.estimates.set(sub.handleId, 80_000);
  p.run(1000);
  h.host.clear();
  p.run(1000);
  assert.equal(h.host.rtpTo(sub).length, 0, 'video paused');
  // Back up: resumes (after the hold time) with the top layer, from a keyframe, continuous sequence numbers.
  h.host.estimates.set(sub.handleId, 3_000_000);
  p.run(5000);
  h.host.clear();
  p.run(1000);
  assert.deepEqual([...layersSeen(h, sub)], [2], 'top layer again');
});

test('auto_layers: an explicit configure substream wins; without an estimate nothing changes; off keeps Janus behaviour', async () => {
  {
    const { h, sub, p } = await setup('auto');
    p.run(500);
    h.host.clear();
    p.run(1000);
    assert.deepEqual([...layersSeen(h, sub)], [2], 'no estimate (no transport-cc): Janus default target');
    h.host.estimates.set(sub.handleId, 300_000);
    await h.async(sub, { request: 'configure', streams: [{ mid: '0', substream: 2 }] });
    p.run(2000);
    h.host.clear();
    p.run(1000);
    assert.deepEqual([...layersSeen(h, sub)], [2], 'the explicit choice stays');
  }
  {
    // A substream in the subscribe request is only where it starts: auto_layers still moves it.
    const h = await Harness.start(ROOMS);
    const pub = h.attach();
    await publish(h, pub, 'auto', 'sim', { offer: CHROME_OFFER_SIMULCAST });
    const sub = h.attach();
    await subscribe(h, sub, 'auto', [{ feed: 'sim', mid: '1', substream: 2 }]);
    const p = new Publisher(h, pub);
    h.host.estimates.set(sub.handleId, 250_000);
    p.run(2000);
    h.host.clear();
    p.run(1000);
    assert.deepEqual([...layersSeen(h, sub)], [0], 'moved down from the requested substream');
  }
  {
    const { h, sub, p } = await setup('manual');
    h.host.estimates.set(sub.handleId, 100_000);
    p.run(500);
    h.host.clear();
    p.run(1500);
    assert.deepEqual([...layersSeen(h, sub)], [2], 'auto_layers off');
    assert.equal(h.host.wanted.size, 0, 'the estimate is not even asked for');
  }
});

test('auto_layers: two publishers share one subscriber estimate, the one who talked last gets the better layer', async () => {
  const h = await Harness.start(ROOMS);
  const pa = h.attach();
  const pb = h.attach();
  await publish(h, pa, 'auto', 'alice', { offer: CHROME_OFFER_SIMULCAST });
  await publish(h, pb, 'auto', 'bob', { offer: CHROME_OFFER_SIMULCAST });
  const sub = h.attach();
  await subscribe(h, sub, 'auto', [{ feed: 'alice', mid: '1' }, { feed: 'bob', mid: '1' }]);
  h.host.clear();
  const a = new Publisher(h, pa);
  const b = new Publisher(h, pb);
  const speak = (who: TestSession, seq: number, level: number): void => {
    h.rtp(who, info('0', 'audio', 999), rtpPacket({ pt: 111, seq, ts: seq * 960, ssrc: 999, ext: [{ id: 1, data: [0x80 | level] }], payload: Buffer.alloc(80) }));
  };
  // One top layer (~1 Mbit/s, with the 5 % a step up needs to spare) and a lower one fit 85 % of it, two top layers do not.
  h.host.estimates.set(sub.handleId, 1_600_000);
  let seq = 0;
  const run = (ms: number, talker: TestSession): void => {
    for (let t = 0; t < ms; t += 10) {
      const key = ((a.seq[0]! - 1000) % 50) === 0;
      speak(pa, seq, talker === pa ? 10 : 100);
      speak(pb, seq, talker === pb ? 10 : 100);
      seq++;
      a.tick(key);
      h.time -= 10; // one clock step for both publishers
      b.tick(key);
    }
  };
  const sizesByMid = (): Record<string, Set<number>> => {
    const out: Record<string, Set<number>> = {};
    for (const mid of ['0', '1']) {
      out[mid] = new Set(h.host.rtpTo(sub, mid).map((p) => SIZE.findIndex((s) => Math.abs(p.length - s - 30) < 40)));
    }
    h.host.clear();
    return out;
  };
  run(2500, pb);
  h.host.clear();
  run(1000, pb);
  let seen = sizesByMid();
  assert.deepEqual([...seen['1']!], [2], "bob (talking): top layer");
  assert.ok(seen['0']!.size === 1 && !seen['0']!.has(2) && !seen['0']!.has(-1), `alice: what is left, a lower layer: ${[...seen['0']!]}`);
  // Alice talks now: after the hold time she gets the top layer and bob steps down.
  run(5000, pa);
  h.host.clear();
  run(1000, pa);
  seen = sizesByMid();
  assert.deepEqual([...seen['0']!], [2], 'alice (talking): top layer');
  assert.ok(seen['1']!.size === 1 && !seen['1']!.has(2) && !seen['1']!.has(-1), `bob: what is left, a lower layer: ${[...seen['1']!]}`);
});

test('auto_layers: padding-only packets (Chrome pads its low layer up to its estimate) are neither forwarded nor counted as that layer', async () => {
  const { h, sub, p } = await setup('auto');
  // Eight 255-byte padding packets on the low layer with each tick: ~1.9 Mbit/s of nothing.
  const pad = (): void => {
    for (let k = 0; k < 8; k++) {
      const s = p.seq[0]!++;
      const pkt = rtpPacket({ pt: 96, seq: s, ts: (s - 1) * 900, ssrc: 100, payload: Buffer.alloc(255, 0) });
      pkt[0] = pkt[0]! | 0x20;
      pkt[pkt.length - 1] = 255;
      h.rtp(p.pub, L[0]!, pkt);
    }
  };
  const run = (ms: number): void => {
    for (let t = 0; t < ms; t += 10) {
      p.tick(((p.seq[1]! - 2000) % 50) === 0);
      pad();
    }
  };
  h.host.estimates.set(sub.handleId, 3_000_000);
  run(2500);
  const wanted = h.host.wanted.get(sub.handleId) ?? 0;
  assert.ok(wanted > 900_000 && wanted < 1_500_000, `probing ceiling is what the top layer costs, padding not included: ${wanted}`);
  // 250 kbit/s: the low layer (~190 kbit/s of video) fits; counted with its padding it would not.
  h.host.estimates.set(sub.handleId, 250_000);
  run(1500);
  h.host.clear();
  run(1000);
  const got = h.host.rtpTo(sub);
  assert.ok(got.length >= 90, `the low layer flows: ${got.length} packets`);
  assert.deepEqual([...layersSeen(h, sub)], [0], 'low layer');
  assert.equal(got.filter((b) => (b[0]! & 0x20) !== 0).length, 0, 'no padding-only packet relayed');
  for (let i = 1; i < got.length; i++) assert.equal(got[i]!.readUInt16BE(2), (got[i - 1]!.readUInt16BE(2) + 1) & 0xffff, 'sequence numbers close up over the padding');
});

test('auto_layers: a step up that is undone within 5 s makes the next one wait twice as long', async () => {
  const { h, sub, p } = await setup('auto');
  h.host.estimates.set(sub.handleId, 3_000_000);
  p.run(1000);
  h.host.clear();
  p.run(1000);
  assert.deepEqual([...layersSeen(h, sub)], [2], 'top layer');
  h.host.estimates.set(sub.handleId, 700_000);
  p.run(1000);
  // Back up after the usual 3 s...
  h.host.estimates.set(sub.handleId, 3_000_000);
  p.run(3000);
  h.host.clear();
  p.run(1000);
  assert.deepEqual([...layersSeen(h, sub)], [2], 'first step up after 3 s');
  // ...which did not fit: down again at once.
  h.host.estimates.set(sub.handleId, 700_000);
  p.run(1000);
  h.host.clear();
  p.run(500);
  assert.deepEqual([...layersSeen(h, sub)], [1], 'down again');
  h.host.estimates.set(sub.handleId, 3_000_000);
  p.run(4000);
  h.host.clear();
  p.run(500);
  assert.deepEqual([...layersSeen(h, sub)], [1], 'the next step up waits longer than 3 s');
  p.run(2000);
  h.host.clear();
  p.run(1000);
  assert.deepEqual([...layersSeen(h, sub)], [2], 'and comes after 6 s');
});
