/**
 * 50 participants in one room over REAL data channels: a Portunus process (TextRoom only, media on
 * 127.0.0.1) and 50 of our own data-channel clients (test/helpers/datachannel-client.ts: ICE, DTLS,
 * SCTP from src/media, one UDP socket each), each with its own Janus API WebSocket.
 *
 * Every participant sends 20 messages (interleaved rounds, no waiting for acks); every participant
 * must receive every message of every other participant exactly once, in order per sender (and,
 * like Janus, its own messages too).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { sleep, startTextroomPortunus, TextroomParticipant, type ReceivedFrame } from '../../helpers/datachannel-client.js';
import type { RunningServer } from '../../helpers/server-process.js';

const PARTICIPANTS = 50;
const MESSAGES = 20;
const ROOM = 1234;
const STALL_MS = 15_000;

let srv: RunningServer | undefined;
const people: TextroomParticipant[] = [];

before(async () => {
  srv = await startTextroomPortunus();
});
after(async () => {
  await Promise.all(people.map((p) => p.close()));
  await srv?.stop();
});

/** Run `fn` over `items`, at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const nameOf = (i: number): string => `user${String(i).padStart(2, '0')}`;

test(`${PARTICIPANTS} participants × ${MESSAGES} messages over real data channels: each delivered to everyone exactly once, in order per sender`, { timeout: 180_000 }, async () => {
  const gw = srv!;
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const mark = (k: string): void => {
    timings[k] = Math.round(performance.now() - t0);
    if (process.env.TR_DEBUG) console.error(`# ${k} at ${timings[k]} ms`);
  };

  // 1. 50 PeerConnections (setup/ack over the Janus API, ICE + DTLS + SCTP + DCEP over UDP).
  const idx = Array.from({ length: PARTICIPANTS }, (_, i) => i);
  const connected = await pool(idx, 10, (i) => TextroomParticipant.connect(gw.wsUrl, nameOf(i)));
  people.push(...connected);
  mark('50 data channels open');

  // 2. Everyone joins (all replies in hand = the gateway has every participant in the room).
  const joins = await Promise.all(people.map((p) => p.dc.request({ textroom: 'join', room: ROOM, username: p.name, display: `Display ${p.name}` }, 20_000)));
  for (const [i, j] of joins.entries()) assert.equal(j.textroom, 'success', `${nameOf(i)} join: ${JSON.stringify(j)}`);
  mark('50 joined');
  const list = await people[0]!.dc.request({ textroom: 'listparticipants', room: ROOM });
  assert.equal((list.participants as unknown[]).length, PARTICIPANTS, 'listparticipants shows all 50');

  // Join events keep arriving for a while: count only message events from here on.
  const received = people.map(() => new Map<string, number[]>());
  const problems: string[] = [];
  let delivered = 0;
  people.forEach((p, r) => {
    p.dc.drain();
    p.dc.onFrame((f: ReceivedFrame) => {
      const m = f.json;
      if (!m || m.textroom !== 'message') return;
      if (m.room !== ROOM || m.whisper !== undefined || typeof m.date !== 'string') problems.push(`${p.name} got ${f.text}`);
      const body = JSON.parse(m.text as string) as { from: string; seq: number };
      if (body.from !== m.from) problems.push(`${p.name}: "from" ${String(m.from)} but the text says ${body.from}`);
      const seqs = received[r]!.get(m.from as string) ?? [];
      seqs.push(body.seq);
      received[r]!.set(m.from as string, seqs);
      delivered++;
    });
  });

  // 3. 20 rounds: each participant sends one message per round; rounds yield to the event loop.
  const sendStart = performance.now();
  for (let seq = 0; seq < MESSAGES; seq++) {
    for (const p of people) p.dc.sendJson({ textroom: 'message', transaction: `${p.name}-${seq}`, room: ROOM, ack: false, text: JSON.stringify({ from: p.name, seq }) });
    await sleep(0);
  }
  mark('all sent');
  const expected = PARTICIPANTS * PARTICIPANTS * MESSAGES;
  // Wait while deliveries keep coming (a loaded machine is slow, not wrong); 15 s without any
  // progress means something was lost.
  let lastCount = -1;
  let lastProgress = Date.now();
  while (delivered < expected && Date.now() - lastProgress < STALL_MS) {
    if (delivered !== lastCount) {
      lastCount = delivered;
      lastProgress = Date.now();
    }
    await sleep(20);
  }
  const deliveryMs = Math.round(performance.now() - sendStart);
  mark('all delivered');
  // A short grace period: a duplicate would show up as an extra delivery.
  await sleep(300);

  assert.deepEqual(problems.slice(0, 10), [], 'every message event is well-formed');
  const short = received
    .map((got, r) => [nameOf(r), [...got.values()].reduce((n, l) => n + l.length, 0)] as const)
    .filter(([, n]) => n !== PARTICIPANTS * MESSAGES)
    .map(([who, n]) => `${who}: ${n}`);
  assert.equal(delivered, expected, `message events delivered (expected ${PARTICIPANTS}×${PARTICIPANTS}×${MESSAGES}) (stalled for ${STALL_MS} ms); receivers with a wrong count: ${short.slice(0, 10).join(', ')}; gateway log tail:\n${gw.log().slice(-1500)}`);
  const inOrder = Array.from({ length: MESSAGES }, (_, k) => k);
  for (let r = 0; r < PARTICIPANTS; r++) {
    const got = received[r]!;
    assert.equal(got.size, PARTICIPANTS, `${nameOf(r)} heard from every participant (itself included, as in Janus)`);
    for (let s = 0; s < PARTICIPANTS; s++) assert.deepEqual(got.get(nameOf(s)), inOrder, `${nameOf(r)} got ${nameOf(s)}'s messages exactly once, in order`);
  }
  // No acks were asked for: nothing but events came back for the messages.
  for (const p of people) {
    const stray = p.dc.pending().filter((f) => f.json?.transaction !== undefined);
    assert.deepEqual(stray.map((f) => f.text), [], `${p.name}: no replies to ack:false messages`);
  }
  assert.ok(gw.alive(), 'the gateway is still running');
  console.log(`# textroom fan-out: ${PARTICIPANTS} participants, ${PARTICIPANTS * MESSAGES} messages in, ${expected} events out in ${deliveryMs} ms; timings (ms): ${JSON.stringify(timings)}`);
});
