/**
 * One protected DTLS application-data record (AES_128_GCM_SHA256), seal and open, per record size:
 *  - werift: what ran per record before (werift-engine.ts encrypt/decrypt: a DtlsPlaintext object,
 *    werift's AEADCipher with createCipheriv from the raw key bytes, Buffer.concat, serialize, a copy);
 *  - native: our RecordProtection with the 'native' GCM engine (createCipheriv per record from a
 *    KeyObject made once; sealed into / opened in the datagram buffer);
 *  - js: our RecordProtection with the 'js' engine (one long-lived AES-ECB cipher for the keystream,
 *    GHASH in JS);
 *  - auto: the default (js up to GCM_JS_MAX_BYTES, native above).
 * Run on demand (not part of the tests):
 *   npx tsc -p tsconfig.json && node dist/bench/dtls-record.js [sizes=64,200,500,1100,4000] [rounds=9] [perRound=5000]
 * Rounds interleave the variants; reported: ns per record, median and min of process CPU time.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { createCipher } from 'werift-dtls/lib/dtls/src/cipher/create.js';
import { SessionType } from 'werift-dtls/lib/dtls/src/cipher/suites/abstract.js';
import { DtlsPlaintext } from 'werift-dtls/lib/dtls/src/record/message/plaintext.js';
import { PROTECTED_RECORD_OVERHEAD, RecordProtection, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
  deriveRecordKeys } from '../src/media/dtls/record-protection.js';
import { CT_APPLICATION_DATA } from '../src/media/dtls/record.js';
import type { GcmEngine } from '../src/media/dtls/gcm.js';

const sizes = (process.argv[2] ?? '64,200,500,1100,4000').split(',').map(Number);
const rounds = Number(process.argv[3] ?? 9);
const perRound = Number(process.argv[4] ?? 5000);

const ms = randomBytes(48);
const cr = randomBytes(32);
const sr = randomBytes(32);
const keys = deriveRecordKeys(ms, cr, sr);

interface Variant { label: string; size: number; setup?: () => void; fn: (i: number) => void; cpu: number[] }
const variants: Variant[] = [];

for (const size of sizes) {
  const pt = randomBytes(size);
  // werift, as werift-engine.ts used it per record
  const w = createCipher(TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
  w.init(ms, sr, cr);
  let wseq = 0;
  variants.push({
    label: 'werift seal', size, fn: () => {
      const seq = ++wseq;
      const pkt = new DtlsPlaintext({ contentType: CT_APPLICATION_DATA, protocolVersion: { major: 0xfe, minor: 0xfd },
        epoch: 1, sequenceNumber: seq, contentLen: pt.length }, pt);
      const enc = w.encrypt(SessionType.CLIENT, pkt.fragment, { type: CT_APPLICATION_DATA, version: 0xfefd, epoch: 1, sequenceNumber: seq });
      pkt.fragment = enc;
      pkt.recordLayerHeader.contentLen = enc.length;
      Buffer.from(pkt.serialize());
    },
    cpu: [],
  });
  // records to open, made fresh before each round (opening decrypts them in place)
  const sealer = new RecordProtection(keys, 'client', 1);
  const recs: Buffer[] = [];
  let base = 0;
  const refill = (): void => {
    recs.length = 0;
    for (let i = 0; i < perRound; i++) {
      const b = Buffer.allocUnsafe(size + PROTECTED_RECORD_OVERHEAD);
      sealer.seal(CT_APPLICATION_DATA, base + i, pt, 0, size, b, 0);
      recs.push(b);
    }
    base += perRound;
  };
  variants.push({
    label: 'werift open', size, setup: refill, fn: (i) => {
      const rec = recs[i]!;
      const pkt = DtlsPlaintext.deSerialize(rec);
      const h = pkt.recordLayerHeader;
      Buffer.from(w.decrypt(SessionType.SERVER, pkt.fragment, { type: h.contentType, version: 0xfefd, epoch: h.epoch, sequenceNumber: h.sequenceNumber }));
    },
    cpu: [],
  });
  for (const engine of ['native', 'js', 'auto'] as GcmEngine[]) {
    const tx = new RecordProtection(keys, 'client', 1, { engine });
    const rx = new RecordProtection(keys, 'server', 1, { engine });
    const out = Buffer.allocUnsafeSlow(size + PROTECTED_RECORD_OVERHEAD);
    let seq = 0;
    variants.push({ label: `${engine} seal`, size, fn: () => { tx.seal(CT_APPLICATION_DATA, ++seq, pt, 0, size, out, 0); }, cpu: [] });
    variants.push({
      label: `${engine} open`, size, setup: refill, fn: (i) => {
        const rec = recs[i]!;
        if (rx.open(rec, 0, rec.length) !== size) throw new Error(`${engine} open failed`);
      },
      cpu: [],
    });
  }
}

function run(v: Variant): void {
  v.setup?.();
  const c0 = process.cpuUsage();
  for (let i = 0; i < perRound; i++) v.fn(i);
  const c = process.cpuUsage(c0);
  v.cpu.push(((c.user + c.system) * 1000) / perRound);
}

for (const v of variants) run(v);
for (const v of variants) v.cpu.length = 0;
for (let r = 0; r < rounds; r++) for (const v of variants) run(v);

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ns = (x: number): string => x.toFixed(0).padStart(7);
console.log(`node ${process.version}, ${rounds} interleaved rounds x ${perRound} records, load average ${loadavg()[0]!.toFixed(1)}`);
console.log(`${'ns per record (cpu)'.padEnd(22)} ${'bytes'.padStart(6)}  median     min`);
for (const v of variants) console.log(`${v.label.padEnd(22)} ${String(v.size).padStart(6)} ${ns(med(v.cpu))} ${ns(Math.min(...v.cpu))}`);
