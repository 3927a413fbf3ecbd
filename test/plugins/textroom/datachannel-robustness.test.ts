/**
 * Bad input over a REAL data channel (Portunus process, our own ICE/DTLS/SCTP client on
 * 127.0.0.1): binary frames, invalid JSON, missing fields, a 300 KiB frame (past the 64 KiB the
 * gateway advertises: a browser would refuse to send it, our client does not). Each gets the
 * plugin's error reply, with the transaction whenever the frame can be parsed; the sender's
 * channel keeps working and the other participants see nothing but the legitimate traffic.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTextroomPortunus, TextroomParticipant, type ReceivedFrame } from '../../helpers/datachannel-client.js';
import type { JsonObject } from '../../helpers/janus-client.js';
import type { RunningServer } from '../../helpers/server-process.js';

const ROOM = 1234;
let srv: RunningServer | undefined;
const people: TextroomParticipant[] = [];

before(async () => {
  srv = await startTextroomPortunus();
});
after(async () => {
  await Promise.all(people.map((p) => p.close()));
  await srv?.stop();
});

async function joined(name: string): Promise<TextroomParticipant> {
  const p = await TextroomParticipant.connect(srv!.wsUrl, name);
  people.push(p);
  const r = await p.dc.request({ textroom: 'join', room: ROOM, username: name });
  assert.equal(r.textroom, 'success', `${name} join: ${JSON.stringify(r)}`);
  return p;
}

/** The next `n` frames `p` receives (in order). */
async function nextFrames(p: TextroomParticipant, n: number, timeoutMs = 10_000): Promise<JsonObject[]> {
  const out: JsonObject[] = [];
  for (let i = 0; i < n; i++) {
    const f = await p.dc.waitFor(() => true, timeoutMs, `frame ${i + 1} of ${n}`);
    assert.ok(f.json, `a JSON reply, got ${f.binary ? 'a binary frame' : JSON.stringify(f.text.slice(0, 200))}`);
    out.push(f.json);
  }
  return out;
}

const messagesOf = (frames: ReceivedFrame[]): string[] => frames.filter((f) => f.json?.textroom === 'message').map((f) => `${String(f.json!.from)}: ${String(f.json!.text)}`);

test('binary, invalid JSON, missing fields and a 300 KiB frame get error replies; the others are unaffected', { timeout: 60_000 }, async () => {
  const alice = await joined('alice');
  const bob = await joined('bob');
  const carol = await joined('carol');
  // carol's join event is the last thing each channel gets before the test proper (channels are ordered).
  for (const p of [alice, bob, carol]) {
    await p.dc.waitJson((m) => m.textroom === 'join' && m.username === 'carol', 5000, `carol's join event at ${p.name}`);
    p.dc.drain();
  }
  const bobSaw: ReceivedFrame[] = [];
  const carolSaw: ReceivedFrame[] = [];
  bob.dc.onFrame((f) => bobSaw.push(f));
  carol.dc.onFrame((f) => carolSaw.push(f));

  const big = JSON.stringify({ textroom: 'message', transaction: 'big', room: ROOM, text: 'y'.repeat(300 * 1024) });
  assert.ok(big.length > 300 * 1024);
  // All sent back to back on the one ordered channel: the replies come back in the same order.
  alice.dc.sendBinary(Buffer.from(JSON.stringify({ textroom: 'message', transaction: 'bin', room: ROOM, text: 'as binary' })));
  alice.dc.sendBinary(Buffer.from([0x00, 0xff, 0x10, 0x80]));
  alice.dc.send('{"textroom":"message","transaction":"broken",');
  alice.dc.send('[1,2,3]');
  alice.dc.send(JSON.stringify({ textroom: 'message', transaction: 'notext', room: ROOM }));
  alice.dc.send(JSON.stringify({ transaction: 'noverb', room: ROOM, text: 'x' }));
  alice.dc.send(JSON.stringify({ textroom: 'message', room: ROOM, text: 'no transaction' }));
  alice.dc.send(JSON.stringify({ textroom: 'join', transaction: 'nouser', room: ROOM }));
  alice.dc.send(JSON.stringify({ textroom: 'message', transaction: 'wrongtype', room: ROOM, text: 42 }));
  alice.dc.send(JSON.stringify({ textroom: 'message', transaction: 'noroom', room: 999999, text: 'x' }));
  alice.dc.send(big);
  alice.dc.send(JSON.stringify({ textroom: 'fly', transaction: 'unknown' }));

  const replies = await nextFrames(alice, 12, 15_000);
  const brief = replies.map((r) => [r.textroom, r.error_code, r.transaction ?? null]);
  assert.deepEqual(brief, [
    ['error', 415, 'bin'],
    ['error', 415, null],
    ['error', 412, null],
    ['error', 412, null],
    ['error', 413, 'notext'],
    ['error', 413, 'noverb'],
    ['error', 413, null],
    ['error', 413, 'nouser'],
    ['error', 414, 'wrongtype'],
    ['error', 417, 'noroom'],
    ['error', 412, 'big'],
    ['error', 415, 'unknown'],
  ], `replies: ${JSON.stringify(replies).slice(0, 2000)}`);
  for (const r of replies) assert.equal(typeof r.error, 'string', `every error has a reason: ${JSON.stringify(r)}`);
  assert.match(replies[10]!.error as string, /too large/i);

  // A flood of garbage: one error each, nothing else.
  for (let i = 0; i < 200; i++) alice.dc.send(`{garbage ${i}`);
  const flood = await nextFrames(alice, 200, 15_000);
  assert.ok(flood.every((r) => r.textroom === 'error' && r.error_code === 412), 'every garbage frame got a 412');

  // alice's channel still works, and the others saw only the legitimate traffic.
  const ok = await alice.dc.request({ textroom: 'message', room: ROOM, text: 'still here' });
  assert.equal(ok.textroom, 'success', `ack for a good message: ${JSON.stringify(ok)}`);
  const b = await bob.dc.waitJson((m) => m.textroom === 'message', 10_000, 'alice\'s good message at bob');
  await carol.dc.waitJson((m) => m.textroom === 'message', 10_000, 'alice\'s good message at carol');
  assert.equal(b.text, 'still here');
  const r = await bob.dc.request({ textroom: 'message', room: ROOM, text: 'hi alice' });
  assert.equal(r.textroom, 'success');
  const a = await alice.dc.waitJson((m) => m.textroom === 'message' && m.from === 'bob', 10_000, 'bob\'s message at alice');
  assert.equal(a.text, 'hi alice');
  await carol.dc.waitJson((m) => m.textroom === 'message' && m.from === 'bob', 10_000, 'bob\'s message at carol');

  assert.deepEqual(messagesOf(carolSaw), ['alice: still here', 'bob: hi alice'], 'carol saw exactly the two legitimate messages');
  assert.deepEqual(carolSaw.filter((f) => f.json?.textroom !== 'message').map((f) => f.text), [], 'carol got nothing else (no errors, no stray events)');
  assert.deepEqual(messagesOf(bobSaw), ['alice: still here', 'bob: hi alice']);
  assert.deepEqual(bobSaw.filter((f) => f.json?.textroom !== 'message' && f.json?.transaction === undefined).map((f) => f.text), [], 'bob got no stray events');

  const list = await carol.dc.request({ textroom: 'listparticipants', room: ROOM });
  assert.deepEqual(((list.participants as JsonObject[]) ?? []).map((p) => p.username).sort(), ['alice', 'bob', 'carol'], 'nobody was dropped from the room');
  assert.ok(srv!.alive(), 'the gateway is still running');
  assert.doesNotMatch(srv!.log(), /uncaught|unhandled|TypeError|RangeError/i, 'no crash traces in the gateway log');
});
