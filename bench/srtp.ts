/**
 * SRTP micro-benchmark (run on demand, not part of the tests):
 *   npx tsc -p tsconfig.json --outDir dist-srtp --tsBuildInfoFile dist-srtp/.tsbuildinfo
 *   node dist-srtp/bench/srtp.js [packetSize=1200] [iterations=200000]
 * Prints µs per protectRtp / unprotectRtp for each profile and AES-CM engine.
 */
import { randomBytes } from 'node:crypto';
import {
  AEAD_AES_128_GCM,
  AES_CM_128_HMAC_SHA1_80,
  SrtpContext,
  type AesCmEngine,
  type SrtpProfile,
} from '../src/media/srtp/index.js';

const size = Number(process.argv[2] ?? 1200);
const iterations = Number(process.argv[3] ?? 200000);

function makePacket(seq: number): Buffer {
  const b = Buffer.alloc(size + 32);
  randomBytes(size).copy(b);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(0xcafebabe, 8);
  return b;
}

interface Result {
  protect: number[];
  unprotect: number[];
}

/** µs per call of fn over n calls. */
function time(n: number, fn: (i: number) => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

interface Runner {
  label: string;
  round(perRound: number, r: Result): void;
}

function runner(profile: SrtpProfile, engine: AesCmEngine, perRound: number): Runner {
  const key = randomBytes(profile.keyLength);
  const salt = randomBytes(profile.saltLength);
  const tx = new SrtpContext(profile, key, salt, { engine });
  const buf = makePacket(0);
  const protect = (i: number): void => {
    // the same buffer with a new sequence number each time (re-encrypting costs the same)
    buf.writeUInt16BE(i & 0xffff, 2);
    tx.protectRtp(buf, size);
  };

  // unprotect: a pool of distinct protected packets copied into a work buffer before each call;
  // the copy is timed separately and subtracted.
  const poolSize = 4096;
  const tx2 = new SrtpContext(profile, key, salt, { engine });
  const pool: Buffer[] = [];
  for (let i = 0; i < poolSize; i++) {
    const p = makePacket(i);
    const n = tx2.protectRtp(p, size);
    pool.push(p.subarray(0, n));
  }
  const wireLen = pool[0]!.length;
  const work = Buffer.alloc(wireLen);
  const rx = new SrtpContext(profile, key, salt, { engine, disableReplayCheck: true });
  const copy = (i: number): void => {
    pool[i % poolSize]!.copy(work);
  };
  const unprotect = (i: number): void => {
    pool[i % poolSize]!.copy(work);
    if (rx.unprotectRtp(work, wireLen) !== size) throw new Error('unprotect failed');
  };
  time(perRound, protect); // warm-up
  time(perRound, unprotect);
  return {
    label: profile.aead ? profile.name : `${profile.name} (${engine})`,
    round(n: number, r: Result): void {
      r.protect.push(time(n, protect));
      const c = time(n, copy);
      r.unprotect.push(time(n, unprotect) - c);
    },
  };
}

const fmt = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(2).padStart(6)}  median ${s[s.length >> 1]!.toFixed(2).padStart(6)} µs`;
};

const rounds = 9;
const perRound = Math.max(1000, Math.floor(iterations / rounds));
console.log(`node ${process.version}, ${size}-byte RTP packets, ${rounds} interleaved rounds x ${perRound} calls (min is the figure to quote on a busy machine)`);
const runners = [
  runner(AES_CM_128_HMAC_SHA1_80, 'ecb', perRound),
  runner(AES_CM_128_HMAC_SHA1_80, 'ctr', perRound),
  runner(AEAD_AES_128_GCM, 'ecb', perRound),
];
const results = runners.map((): Result => ({ protect: [], unprotect: [] }));
for (let k = 0; k < rounds; k++) runners.forEach((r, i) => r.round(perRound, results[i]!));
runners.forEach((r, i) => {
  console.log(`${r.label.padEnd(36)} protect   ${fmt(results[i]!.protect)}`);
  console.log(`${''.padEnd(36)} unprotect ${fmt(results[i]!.unprotect)}`);
});
