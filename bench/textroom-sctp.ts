/**
 * Gateway CPU per delivered TextRoom message over real data channels: a Portunus process (TextRoom
 * only, 127.0.0.1) and N of our own data-channel clients (test/helpers/datachannel-client.ts, one UDP
 * socket each). One member sends M messages (`ack: false`), paced in bursts; every member receives
 * each. The gateway's user+system CPU (from /proc/<pid>/stat) over the send phase, divided by the
 * message events delivered, is the figure (includes the plugin, DCEP, SCTP, DTLS and UDP send).
 *
 *   node dist/bench/textroom-sctp.js [--members 30] [--messages 300] [--burst 10] [--interval 20] [--prof DIR]
 * (--interval: ms between bursts; `--burst 1 --interval 100` is one sender at 10 messages/s.)
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { sleep, startTextroomPortunus, TextroomParticipant } from '../test/helpers/datachannel-client.js';

const arg = (name: string, def: string): number => {
  const i = process.argv.indexOf(`--${name}`);
  return Number(i > 0 ? process.argv[i + 1]! : def);
};
const MEMBERS = arg('members', '30');
const MESSAGES = arg('messages', '300');
const BURST = arg('burst', '10');
const INTERVAL = arg('interval', '20');
const ROOM = 1234;

function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
}

const PROF = process.argv.indexOf('--prof');
/** --prof DIR: the gateway writes a V8 CPU profile there when it stops. */
const srv = await startTextroomPortunus(PROF > 0 ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${process.argv[PROF + 1]!}`] } : {});
const people: TextroomParticipant[] = [];
try {
  for (let i = 0; i < MEMBERS; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, MEMBERS - i) }, (_, k) => TextroomParticipant.connect(srv.wsUrl, `m${i + k}`)));
    people.push(...batch);
  }
  for (const p of people) {
    const r = await p.dc.request({ textroom: 'join', room: ROOM, username: p.name }, 20_000);
    if (r.textroom !== 'success') throw new Error(`join: ${JSON.stringify(r)}`);
  }
  await sleep(1000);
  let delivered = 0;
  for (const p of people) p.dc.onFrame((f) => { if (f.json?.textroom === 'message') delivered++; });
  const expected = MEMBERS * MESSAGES;
  const sender = people[0]!;
  const cpu0 = cpuMs(srv.pid);
  const t0 = performance.now();
  for (let n = 0; n < MESSAGES; n += BURST) {
    for (let k = n; k < Math.min(MESSAGES, n + BURST); k++) sender.dc.sendJson({ textroom: 'message', transaction: `t${k}`, room: ROOM, ack: false, text: `message ${k} ${'x'.repeat(60)}` });
    await sleep(INTERVAL);
  }
  const deadline = performance.now() + 60_000;
  while (delivered < expected && performance.now() < deadline) await sleep(20);
  const cpu = cpuMs(srv.pid) - cpu0;
  const wall = performance.now() - t0;
  console.log(`members=${MEMBERS} messages=${MESSAGES} delivered=${delivered}/${expected} gateway cpu=${cpu.toFixed(0)} ms wall=${wall.toFixed(0)} ms -> ${((cpu * 1000) / Math.max(1, delivered)).toFixed(1)} µs per delivered message, load average ${loadavg()[0]!.toFixed(1)}`);
} finally {
  await Promise.all(people.map((p) => p.close()));
  await srv.stop();
}
process.exit(0);
