/**
 * HMAC-SHA1 on the SRTP packet path: node's createHmac per packet vs our HmacSha1 (hmac-sha1.ts),
 * alone and inside a whole protectRtp, with and without keystream batches (keystream-batch.ts)
 * (run on demand, not part of the tests):
 *   npx tsc -p tsconfig.json && node dist/bench/hmac.js [packetSize=1100] [rounds=11] [perRound=20000]
 *
 * Each variant runs `perRound` calls per round; rounds interleave the variants so a load change on
 * a shared machine hits them alike. Reported: ns per packet, median and min over the rounds, both
 * as process CPU time (robust when the machine is loaded: time spent descheduled is not counted;
 * includes GC threads, so allocation costs are kept) and as wall time.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { AES_CM_128_HMAC_SHA1_32, AES_CM_128_HMAC_SHA1_80, AesCmXor, HmacSha1, NodeHmacSha1, SrtpContext } from '../src/media/srtp/index.js';
import { WasmHmacSha1 } from './sha1-wasm.js';

const size = Number(process.argv[2] ?? 1100);
const rounds = Number(process.argv[3] ?? 11);
const perRound = Number(process.argv[4] ?? 20000);

interface Variant {
  label: string;
  fn: (i: number) => void;
  cpu: number[];
  wall: number[];
}

function packet(): Buffer {
  const b = Buffer.alloc(size + 64);
  randomBytes(size).copy(b);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt32BE(0xcafebabe, 8);
  return b;
}

const variants: Variant[] = [];
function add(label: string, fn: (i: number) => void): void {
  variants.push({ label, fn, cpu: [], wall: [] });
}

const authKey = randomBytes(20);
{
  const buf = packet();
  const node = new NodeHmacSha1(authKey);
  const js = new HmacSha1(authKey);
  add('HMAC-SHA1 tag (80-bit): createHmac', (i) => node.sign(buf, 0, size, i >>> 4, buf, size, 10));
  add('HMAC-SHA1 tag (80-bit): HmacSha1', (i) => js.sign(buf, 0, size, i >>> 4, buf, size, 10));
  const wasm = new WasmHmacSha1(authKey);
  add('HMAC-SHA1 tag (80-bit): WebAssembly', (i) => wasm.sign(buf, 0, size, i >>> 4, buf, size, 10));
  // all three must agree before their times mean anything
  const tags = [node, js, wasm].map((h) => {
    const out = Buffer.alloc(10);
    h.sign(buf, 0, size, 77, out, 0, 10);
    return out.toString('hex');
  });
  const r = Buffer.alloc(4);
  r.writeUInt32BE(77);
  const ref = createHmac('sha1', authKey).update(buf.subarray(0, size)).update(r).digest().subarray(0, 10).toString('hex');
  if (tags.some((t) => t !== ref)) throw new Error(`HMAC variants disagree: ${tags.join(' ')} vs ${ref}`);
}
{
  // AES-CM keystream + XOR alone, for the share of the rest of protect
  const buf = packet();
  const x = new AesCmXor(randomBytes(16));
  const iv = randomBytes(16);
  iv[14] = iv[15] = 0;
  add('AES-CM XOR alone (ecb engine)', (i) => {
    iv[13] = i & 0xff;
    x.xor(iv, buf, 12, size);
  });
}
const protectVariants = [
  [AES_CM_128_HMAC_SHA1_80, 'node', false, 'before: createHmac, keystream per packet'],
  [AES_CM_128_HMAC_SHA1_80, 'js', false, 'HmacSha1, keystream per packet'],
  [AES_CM_128_HMAC_SHA1_80, 'js', true, 'HmacSha1, batched keystream (default)'],
  [AES_CM_128_HMAC_SHA1_32, 'node', false, 'before'],
  [AES_CM_128_HMAC_SHA1_32, 'js', true, 'default'],
] as const;
for (const [profile, hmac, keystreamBatch, what] of protectVariants) {
  const key = randomBytes(16);
  const salt = randomBytes(14);
  const tx = new SrtpContext(profile, key, salt, { hmac, keystreamBatch });
  const buf = packet();
  add(`protectRtp _${profile.name.slice(-2)}: ${what}`, (i) => {
    buf.writeUInt16BE(i & 0xffff, 2);
    tx.protectRtp(buf, size);
  });
}

function run(v: Variant): void {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < perRound; i++) v.fn(i);
  const wall = Number(process.hrtime.bigint() - t0);
  const c = process.cpuUsage(c0);
  v.cpu.push(((c.user + c.system) * 1000) / perRound);
  v.wall.push(wall / perRound);
}

for (const v of variants) run(v); // warm-up: JIT, one-time allocations
for (const v of variants) {
  v.cpu.length = 0;
  v.wall.length = 0;
}
for (let r = 0; r < rounds; r++) for (const v of variants) run(v);

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const min = (xs: number[]): number => Math.min(...xs);
const ns = (x: number): string => x.toFixed(0).padStart(6);
const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
console.log(`node ${process.version}, ${size}-byte RTP packet, ${rounds} interleaved rounds x ${perRound} calls, load average ${load}`);
console.log(`${'ns per packet'.padEnd(56)} cpu median    min | wall median    min`);
for (const v of variants) {
  console.log(`${v.label.padEnd(56)} ${ns(med(v.cpu))} ${ns(min(v.cpu))} |      ${ns(med(v.wall))} ${ns(min(v.wall))}`);
}
