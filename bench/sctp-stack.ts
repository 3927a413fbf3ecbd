/**
 * CPU per delivered data-channel message at the SCTP layer, our SctpCore (through the same
 * CoreSctpAssociation adapter the gateway uses) against werift-sctp 0.0.11 (what the gateway used
 * before issue 15), on the TextRoom fan-out pattern: N associations, each gets one ~200-byte message
 * per round (one message to each of N members), the receivers acknowledge. Both ends run in this
 * process over an in-memory link (no DTLS, no sockets): the figure is the SCTP stack's own cost, both
 * ends included.
 *
 *   node dist/bench/sctp-stack.js [--members 50] [--rounds 400] [--stack ours|werift|both]
 */
import { performance } from 'node:perf_hooks';
import { CoreSctpAssociation } from '../src/media/sctp/association.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const MEMBERS = Number(arg('members', '50'));
const ROUNDS = Number(arg('rounds', '400'));
const STACK = arg('stack', 'both');
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Pair {
  send(data: Buffer): void;
  received: number;
  close(): void;
}

type Queue = Array<() => void>;

async function drain(q: Queue, done: () => boolean): Promise<void> {
  for (let idle = 0; idle < 1000 && !done();) {
    const n = q.length;
    if (n === 0) { idle++; await tick(); continue; }
    idle = 0;
    for (const f of q.splice(0, n)) f();
    await tick();
  }
}

async function oursPair(q: Queue): Promise<Pair> {
  let a!: CoreSctpAssociation;
  let b!: CoreSctpAssociation;
  const pair = { received: 0 } as Pair;
  const ev = (to: () => CoreSctpAssociation, onMsg?: () => void) => ({
    transmit: (p: Buffer) => { const c = Buffer.from(p); q.push(() => to().handlePacket(c)); },
    message: () => { onMsg?.(); },
    streamsReset: () => {},
    stateChange: () => {},
  });
  a = new CoreSctpAssociation({ isClient: false }, ev(() => b));
  b = new CoreSctpAssociation({ isClient: true }, ev(() => a, () => { pair.received++; }));
  a.start();
  b.start();
  await drain(q, () => a.state === 'connected' && b.state === 'connected');
  pair.send = (d) => { a.send(1, 51, d, { ordered: true }); };
  pair.close = () => { a.close(); b.close(); };
  return pair;
}

interface WeriftSctp {
  onReceive: { subscribe(f: () => void): void };
  stateChanged: { connected: { subscribe(f: () => void): void } };
  start(port: number): Promise<void>;
  send(sid: number, ppid: number, d: Buffer, o: { ordered: boolean }): Promise<void>;
  stop(): Promise<void>;
}
interface WeriftSctpStatic {
  server(t: unknown, port: number): WeriftSctp;
  client(t: unknown, port: number): WeriftSctp;
}

async function weriftPair(q: Queue): Promise<Pair> {
  // No longer a dependency: compared only while an older install still has it.
  const name = 'werift-sctp';
  const { SCTP } = (await import(name)) as { SCTP: WeriftSctpStatic };
  const pair = { received: 0 } as Pair;
  const mk = () => ({ onData: undefined as ((b: Buffer) => void) | undefined, send: (_b: Buffer) => Promise.resolve(), close: () => {} });
  const ta = mk();
  const tb = mk();
  ta.send = (buf) => { q.push(() => tb.onData?.(buf)); return Promise.resolve(); };
  tb.send = (buf) => { q.push(() => ta.onData?.(buf)); return Promise.resolve(); };
  const a = SCTP.server(ta, 5000);
  const b = SCTP.client(tb, 5000);
  b.onReceive.subscribe(() => { pair.received++; });
  void a.start(5000);
  void b.start(5000);
  let up = 0;
  a.stateChanged.connected.subscribe(() => up++);
  b.stateChanged.connected.subscribe(() => up++);
  await drain(q, () => up === 2);
  pair.send = (d) => { void a.send(1, 51, d, { ordered: true }); };
  pair.close = () => { void a.stop(); void b.stop(); };
  return pair;
}

async function run(stack: 'ours' | 'werift'): Promise<void> {
  const q: Queue = [];
  const pairs: Pair[] = [];
  for (let i = 0; i < MEMBERS; i++) pairs.push(stack === 'ours' ? await oursPair(q) : await weriftPair(q));
  const msg = Buffer.from(JSON.stringify({ textroom: 'message', room: 1234, from: 'alice', date: new Date().toISOString(), text: 'x'.repeat(90) }));
  const total = () => pairs.reduce((s, p) => s + p.received, 0);
  // warm-up
  for (let r = 0; r < 50; r++) { for (const p of pairs) p.send(msg); await drain(q, () => total() === (r + 1) * MEMBERS); }
  const base = total();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of pairs) p.send(msg);
    await drain(q, () => total() === base + (r + 1) * MEMBERS);
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  const delivered = total() - base;
  const us = (cpu.user + cpu.system) / delivered;
  console.log(`${stack.padEnd(6)} members=${MEMBERS} rounds=${ROUNDS} delivered=${delivered}/${ROUNDS * MEMBERS} cpu/msg=${us.toFixed(1)} µs wall=${wall.toFixed(0)} ms`);
  for (const p of pairs) p.close();
  await drain(q, () => false);
}

const stacks: Array<'ours' | 'werift'> = STACK === 'both' ? ['werift', 'ours', 'werift', 'ours'] : [STACK as 'ours' | 'werift'];
for (const s of stacks) {
  try {
    await run(s);
  } catch (e) {
    console.log(`${s}: skipped (${(e as Error).message})`);
  }
}
process.exit(0);
