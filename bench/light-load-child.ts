/**
 * One load process of bench/light-load.ts: subscribers built from bench/light-client.ts, joined over
 * their own Janus API WebSocket session, driven by the parent over IPC (see LoadProcesses there).
 */
import { generateCertificate } from '../src/media/dtls/certificate.js';
import { UdpPortAllocator } from '../src/media/net/port-allocator.js';
import { LightClient, type ReceiveMode } from './light-client.js';
import { Signalling } from './janus-signalling.js';
import type { ChildReply, ChildRequest, JoinTiming } from './light-load.js';

const cert = generateCertificate();
let allocator: UdpPortAllocator | null = null;
let sig: Signalling | null = null;
let cfg: { address: string; mode: ReceiveMode; decryptEvery: number } | null = null;
const subs: LightClient[] = [];
/** Per subscriber (same index): when its join was sent, its offer came, its start was answered (performance.now()). */
const times: Array<{ t0: number; offer: number; started: number }> = [];

async function handle(req: ChildRequest): Promise<unknown> {
  switch (req.op) {
    case 'init':
      allocator = new UdpPortAllocator({ range: { min: req.portMin, max: req.portMax } });
      cfg = { address: req.address, mode: req.mode, decryptEvery: req.decryptEvery };
      sig = await Signalling.open(req.wsUrl);
      return null;
    case 'subscribe': {
      const c = await LightClient.create(cfg!.address, cert, allocator!, { mode: cfg!.mode, decryptEvery: cfg!.decryptEvery });
      const h = await sig!.attach();
      // In the order asked (several joins may be in flight at once): state() reports them in this order.
      const t = { t0: performance.now(), offer: NaN, started: NaN };
      const index = subs.push(c) - 1;
      times.push(t);
      const r = await sig!.message(h, { request: 'join', ptype: 'subscriber', room: req.room, streams: req.feeds.map((feed) => ({ feed })) });
      t.offer = performance.now();
      if (!r.jsep) throw new Error(`subscriber join without an offer: ${JSON.stringify(r.data)}`);
      await sig!.message(h, { request: 'start', room: req.room }, { type: 'answer', sdp: c.subscriberAnswer(r.jsep.sdp) });
      t.started = performance.now();
      return index;
    }
    case 'state':
      return {
        up: subs.filter((c) => c.up).length,
        joins: subs.map((c, i): JoinTiming => {
          const t = times[i]!;
          return { offer: t.offer - t.t0, started: t.started - t.t0, up: c.upAt - t.t0, first: c.firstRtpAt - t.t0 };
        }),
        closed: subs.filter((c) => c.closed !== null).map((c) => c.closed),
        rtp: subs.map((c) => c.rtp),
        // The worst delivery lag per subscriber since the previous state (resets).
        maxLag: subs.map((c) => Math.round(c.takeMaxLag())),
        gaps: subs.map((c) => {
          const l = c.lossFromSequence();
          return l.expected - l.received;
        }),
        decrypted: subs.reduce((a, c) => a + c.decrypted, 0),
        authFailures: subs.reduce((a, c) => a + c.authFailures, 0),
        reportsSent: subs.reduce((a, c) => a + c.reportsSent, 0),
        cpuUs: (() => {
          const u = process.cpuUsage();
          return u.user + u.system;
        })(),
        bySsrc: process.env.BENCH_DEBUG && subs[0] ? [...subs[0].bySsrc.values()] : undefined,
      };
    case 'close':
      for (const c of subs) c.close();
      await sig?.close().catch(() => undefined);
      setImmediate(() => process.exit(0));
      return null;
  }
}

process.on('message', (req: ChildRequest) => {
  handle(req).then(
    (value) => process.send!({ id: req.id, value } satisfies ChildReply),
    (e: unknown) => process.send!({ id: req.id, error: String((e as Error)?.stack ?? e) } satisfies ChildReply),
  );
});
process.on('disconnect', () => process.exit(0));
