/**
 * One client process of bench/textroom-scale.ts: TextRoom members built from our own data-channel
 * client (test/helpers/datachannel-client.ts), driven by the parent over IPC. Each member checks what
 * it receives: per sender, sequence numbers must arrive exactly once and in order; the send
 * timestamp in the text gives the delivery latency (epoch clock shared by the processes).
 */
import { performance } from 'node:perf_hooks';
import { sleep, TextroomParticipant } from '../test/helpers/datachannel-client.js';
import type { JsonObject } from '../test/helpers/janus-client.js';
import { LatencyHistogram, type ScaleReply, type ScaleRequest, type ScaleState } from './textroom-scale-protocol.js';

const ROOM = 1234;
const PAD = 'x'.repeat(60);

let cfg: { wsUrl: string; address: string; portMin: number; portMax: number } | null = null;
const members: TextroomParticipant[] = [];

/** Per receiver: next expected sequence number per sender; counters for the current phase. */
const expectedNext: Map<string, number>[] = [];
let phase = '';
let accepted = 0;
let violations = 0;
let violationSample = '';
let hist = new LatencyHistogram();
let lastAt = 0;

const now = (): number => performance.timeOrigin + performance.now();

function onMessage(receiver: number, m: JsonObject): void {
  const text = m.text;
  const from = m.from;
  if (typeof text !== 'string' || typeof from !== 'string') return;
  const a = text.indexOf('|');
  const b = text.indexOf('|', a + 1);
  const c = text.indexOf('|', b + 1);
  if (a < 0 || b < 0 || c < 0 || text.slice(0, a) !== phase) return; // a late message of an earlier phase
  const seq = Number(text.slice(a + 1, b));
  const sentAt = Number(text.slice(b + 1, c));
  const t = now();
  hist.add(t - sentAt);
  lastAt = t;
  const map = expectedNext[receiver]!;
  const want = map.get(from) ?? 0;
  if (seq === want) {
    accepted++;
    map.set(from, want + 1);
  } else {
    violations++;
    if (!violationSample) violationSample = `member ${receiver} got ${from}#${seq}, expected #${want}`;
    if (seq > want) map.set(from, seq + 1); // a gap: count it once, go on from there
  }
}

async function connect(names: string[]): Promise<void> {
  for (let i = 0; i < names.length; i += 10) {
    const batch = await Promise.all(
      names.slice(i, i + 10).map((name) => TextroomParticipant.connect(cfg!.wsUrl, name, { address: cfg!.address, portRange: { min: cfg!.portMin, max: cfg!.portMax } })),
    );
    for (const p of batch) {
      const r = await p.dc.request({ textroom: 'join', room: ROOM, username: p.name }, 30_000);
      if (r.textroom !== 'success') throw new Error(`join ${p.name}: ${JSON.stringify(r)}`);
      const idx = members.length;
      members.push(p);
      expectedNext.push(new Map());
      p.dc.onFrame((f) => {
        if (f.json?.textroom === 'message') onMessage(idx, f.json);
      });
    }
  }
}

/** The client keeps every frame for tests; a bench receiving millions must not. */
const trim = setInterval(() => {
  for (const p of members) {
    p.dc.frames.length = 0;
    p.dc.drain();
  }
}, 500);

async function send(senders: number[], rate: number, seconds: number): Promise<number[]> {
  const counts = senders.map(() => 0);
  const per = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const t0 = performance.now();
  await Promise.all(
    senders.map(async (idx, k) => {
      const p = members[idx]!;
      // members sending at 1/s start at spread-out offsets, like people typing
      const offset = senders.length > 1 ? (k / senders.length) * interval : 0;
      for (let n = 0; n < per; n++) {
        const at = t0 + offset + n * interval;
        const wait = at - performance.now();
        if (wait > 0) await sleep(wait);
        p.dc.sendJson({ textroom: 'message', transaction: `${phase}${n}`, room: ROOM, ack: false, text: `${phase}|${n}|${now().toFixed(3)}|${PAD}` });
        counts[k]++;
      }
    }),
  );
  return counts;
}

function state(): ScaleState {
  const u = process.cpuUsage();
  return { members: members.length, accepted, violations, violationSample, hist: hist.toJSON(), lastAt, cpuUs: u.user + u.system };
}

async function handle(req: ScaleRequest): Promise<unknown> {
  switch (req.op) {
    case 'init':
      cfg = { wsUrl: req.wsUrl, address: req.address, portMin: req.portMin, portMax: req.portMax };
      return null;
    case 'connect':
      await connect(req.names);
      return members.length;
    case 'phase':
      phase = req.phase;
      accepted = 0;
      violations = 0;
      violationSample = '';
      hist = new LatencyHistogram();
      lastAt = 0;
      for (const m of expectedNext) m.clear();
      return null;
    case 'send':
      return send(req.senders, req.rate, req.seconds);
    case 'state':
      return state();
    case 'close':
      clearInterval(trim);
      await Promise.all(members.map((p) => p.close().catch(() => undefined)));
      setImmediate(() => process.exit(0));
      return null;
  }
}

process.on('message', (req: ScaleRequest) => {
  handle(req).then(
    (value) => process.send!({ id: req.id, value } satisfies ScaleReply),
    (e: unknown) => process.send!({ id: req.id, error: String((e as Error)?.stack ?? e) } satisfies ScaleReply),
  );
});
process.on('disconnect', () => process.exit(0));
