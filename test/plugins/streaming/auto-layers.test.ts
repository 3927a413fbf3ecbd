import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, Sender, until, vp8Packet, type TestSession } from './harness.js';

/** Extra payload per layer: ~190, ~510 and ~990 kbit/s at 100 packets/s. */
const SIZE = [200, 600, 1200];
const SSRC = [0x100, 0x200, 0x300];

const CFG = (auto: boolean) => `general: {\n}\nsim: {\n  type = "rtp"\n  id = 9\n${auto ? '  auto_layers = true\n' : ''}  media = ({ type = "video", mid = "v", port = 0, port2 = 0, port3 = 0, pt = 100, codec = "vp8", simulcast = true })\n}\n`;

/**
 * A simulcast source on the mountpoint's three UDP ports: one packet per layer every 10 ms of wall
 * time, a keyframe every 200 ms. A late timer (a loaded machine) is caught up on, so each layer's
 * rate, which the allocation measures, stays what it is meant to be.
 */
class Source {
  private readonly tx = new Sender();
  private readonly seq = [0, 10_000, 20_000];
  private n = 0;
  private t0 = 0;
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly ports: readonly number[]) {}
  start(): void {
    this.t0 = performance.now();
    this.timer = setInterval(() => {
      const due = Math.floor((performance.now() - this.t0) / 10) + 1;
      // At most 50 sets at once (0.5 s): a longer stall is not made up for in one burst.
      if (due - this.n > 50) this.n = due - 50;
      while (this.n < due) {
        const key = this.n % 20 === 0;
        const ts = this.n * 900;
        this.n++;
        for (let l = 0; l < 3; l++) {
          const pkt = Buffer.concat([vp8Packet(this.seq[l]!++, ts, SSRC[l]!, { key, marker: true }), Buffer.alloc(SIZE[l]!)]);
          void this.tx.send(this.ports[l]!, pkt).catch(() => {});
        }
      }
    }, 10);
  }
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.tx.close();
  }
}

/** Which layers reached the viewer since the last call (by packet size). */
function layersSeen(h: Harness, v: TestSession): number[] {
  const out = new Set<number>();
  for (const p of h.host.rtpTo(v)) out.add(SIZE.findIndex((s) => Math.abs(p.length - 12 - 8 - 11 - s) < 20));
  h.host.rtp.length = 0;
  return [...out].sort();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Outcomes, not timings: wait (up to `deadlineMs`, generous for a loaded machine) until a 600 ms
 * window in which the source sent (at least 30 packets per layer reached the mountpoint) shows
 * exactly the layers `want` at the viewer, twice in a row. Fails with what was seen last.
 */
async function settlesOn(h: Harness, v: TestSession, want: number[], deadlineMs: number, what: string): Promise<void> {
  const st = h.plugin.mountpoint(9)!.streams[0]!;
  const end = Date.now() + deadlineMs;
  const history: string[] = [];
  let good = 0;
  layersSeen(h, v);
  for (;;) {
    const before = st.packets;
    await sleep(600);
    const seen = layersSeen(h, v);
    const fed = st.packets - before >= 90;
    history.push(`${JSON.stringify(seen)}${fed ? '' : '(source stalled)'}`);
    if (fed) good = JSON.stringify(seen) === JSON.stringify(want) ? good + 1 : 0;
    if (good >= 2) return;
    if (Date.now() > end) assert.fail(`${what}: wanted ${JSON.stringify(want)}, saw ${history.slice(-8).join(' ')}`);
  }
}

test('streaming auto_layers: the viewer offer negotiates transport-cc and RTX; the substream follows the estimate down, pauses, and comes back up', async () => {
  const h = await Harness.start(CFG(true));
  const ports = h.plugin.mountpoint(9)!.source!.ports[0]!;
  const src = new Source(ports);
  try {
    const admin = h.attach();
    const info = (await h.sync(admin, { request: 'info', id: 9 })).info as Record<string, unknown>;
    assert.equal(info.auto_layers, true, 'info shows the Portunus-only option');
    const v = h.attach();
    const w = await h.asyncFull(v, { request: 'watch', id: 9 });
    const sdp = w.jsep!.sdp;
    assert.match(sdp, /a=rtcp-fb:100 transport-cc/);
    assert.match(sdp, /a=extmap:3 http:\/\/www\.ietf\.org\/id\/draft-holmer-rmcat-transport-wide-cc-extensions-01/);
    assert.match(sdp, /a=rtpmap:101 rtx\/90000/);
    assert.match(sdp, /a=fmtp:101 apt=100/);
    assert.match(sdp, /a=ssrc-group:FID \d+ \d+/);
    await h.async(v, { request: 'start' }, { type: 'answer', sdp: 'v=0\r\n' });
    h.plugin.setupMedia(v);
    h.host.estimates.set(v.handleId, 3_000_000);
    src.start();
    await until(() => h.host.rtpTo(v).length > 0, 10_000, 'video relayed');
    await settlesOn(h, v, [2], 15_000, 'plenty: the top layer');
    // Relayed packets carry room for the core's transport-wide sequence number (id 3, 2 bytes).
    await until(() => h.host.rtpTo(v).length > 0, 5000, 'video relayed');
    const p = h.host.rtpTo(v).at(-1)!;
    assert.equal(p[0]! & 0x10, 0x10);
    assert.equal(p.readUInt16BE(12), 0xbede);
    assert.equal(p[16], (3 << 4) | 1);
    assert.ok((h.host.wanted.get(v.handleId) ?? 0) >= 1_000_000, `probing ceiling from the top layer's cost: ${h.host.wanted.get(v.handleId)}`);

    // 700 kbit/s: the middle layer (~510) fits 85 % of it, the top (~990) does not.
    h.host.events.length = 0;
    h.host.estimates.set(v.handleId, 700_000);
    await settlesOn(h, v, [1], 15_000, 'middle layer');
    const slow = h.host.unsolicited(v).filter((e) => e.streaming === 'slow_link');
    assert.equal(slow.length, 1, 'slow_link with the estimate');
    assert.equal(slow[0]!['current-bitrate'], 700_000);
    assert.equal(slow[0]!.id, 9);
    assert.ok(h.host.unsolicited(v).some((e) => (e.result as { substream?: number } | undefined)?.substream === 1), 'substream event as Janus sends it');

    // 100 kbit/s: not even the lowest layer fits: paused (while the source keeps sending).
    h.host.estimates.set(v.handleId, 100_000);
    await settlesOn(h, v, [], 15_000, 'paused');

    // Back to 3 Mbit/s: resumes, and after the step-up hold the top layer again.
    h.host.estimates.set(v.handleId, 3_000_000);
    await settlesOn(h, v, [2], 25_000, 'top layer again');

    // An explicit configure wins: substream 0 stays although the estimate is plenty.
    assert.deepEqual(await h.async(v, { request: 'configure', mid: 'v', substream: 0 }), { streaming: 'event', result: { event: 'configured' } });
    await settlesOn(h, v, [0], 15_000, 'the configured layer');
    // ...and stays: 3 s more (past the hold and sustain times) show nothing else.
    for (let i = 0; i < 5; i++) {
      await sleep(600);
      const seen = layersSeen(h, v);
      assert.ok(seen.length === 0 || JSON.stringify(seen) === '[0]', `the configured layer stays: ${JSON.stringify(seen)}`);
    }
    const st = h.plugin.mountpoint(9)!.streams[0]!;
    assert.ok(st.rates !== null && st.rates.cost(2, 2) > 800_000 && st.rates.cost(0, 2) < 300_000, `measured costs ${st.rates?.cost(0, 2)} / ${st.rates?.cost(2, 2)}`);
  } finally {
    src.stop();
    await h.stop();
  }
});

test('streaming without auto_layers: Janus offer (no transport-cc, no RTX), the estimate is ignored', async () => {
  const h = await Harness.start(CFG(false));
  const ports = h.plugin.mountpoint(9)!.source!.ports[0]!;
  const src = new Source(ports);
  try {
    const v = h.attach();
    const w = await h.asyncFull(v, { request: 'watch', id: 9 });
    assert.doesNotMatch(w.jsep!.sdp, /transport-cc|rtx|transport-wide/);
    const admin = h.attach();
    const info = (await h.sync(admin, { request: 'info', id: 9 })).info as Record<string, unknown>;
    assert.equal('auto_layers' in info, false);
    await h.async(v, { request: 'start' }, { type: 'answer', sdp: 'v=0\r\n' });
    h.plugin.setupMedia(v);
    h.host.estimates.set(v.handleId, 100_000);
    src.start();
    await until(() => h.host.rtpTo(v).length > 0, 10_000, 'video relayed');
    // The top layer whatever the estimate, for as long as an automatic choice would need to move it.
    await settlesOn(h, v, [2], 15_000, 'the top layer whatever the estimate');
    for (let i = 0; i < 5; i++) {
      await sleep(600);
      const seen = layersSeen(h, v);
      assert.ok(seen.length === 0 || JSON.stringify(seen) === '[2]', `still the top layer: ${JSON.stringify(seen)}`);
    }
    assert.equal(h.host.unsolicited(v).filter((e) => e.streaming === 'slow_link').length, 0);
    // Relayed unchanged: no extension block added.
    await until(() => h.host.rtpTo(v).length > 0, 5000, 'video relayed');
    const p = h.host.rtpTo(v).at(-1)!;
    assert.equal(p[0]! & 0x10, 0);
  } finally {
    src.stop();
    await h.stop();
  }
});
