/**
 * G.711 (ITU-T) μ-law (PCMU, RTP PT 0) and A-law (PCMA, PT 8) at 8 kHz, plus a small linear
 * resampler for moving 20 ms frames between 8 kHz and a room's mixing rate.
 * Decoding uses 256-entry tables; encoding uses segment search (cheap: 160 samples per frame).
 */

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

export function linearToUlaw(sample: number): number {
  let s = sample | 0;
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > ULAW_CLIP) s = ULAW_CLIP;
  s += ULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
  return sign ? -magnitude : magnitude;
}

export function linearToAlaw(sample: number): number {
  let s = sample | 0;
  let mask: number;
  if (s >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    s = -s - 1;
  }
  if (s > 32767) s = 32767;
  let seg = 0;
  const ends = [0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff, 0x3fff, 0x7fff];
  while (seg < 8 && s > ends[seg]!) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  let aval = seg << 4;
  aval |= seg < 2 ? (s >> 4) & 0x0f : (s >> (seg + 3)) & 0x0f;
  return aval ^ mask;
}

export function alawToLinear(code: number): number {
  const a = (code ^ 0x55) & 0xff;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

const ULAW_TABLE = new Int16Array(256);
const ALAW_TABLE = new Int16Array(256);
for (let i = 0; i < 256; i++) {
  ULAW_TABLE[i] = ulawToLinear(i);
  ALAW_TABLE[i] = alawToLinear(i);
}

export type G711Law = 'pcmu' | 'pcma';

export function g711Decode(law: G711Law, payload: Uint8Array, out?: Int16Array): Int16Array {
  const table = law === 'pcmu' ? ULAW_TABLE : ALAW_TABLE;
  const o = out ?? new Int16Array(payload.length);
  for (let i = 0; i < payload.length; i++) o[i] = table[payload[i]!]!;
  return o;
}

export function g711Encode(law: G711Law, pcm: Int16Array): Buffer {
  const out = Buffer.allocUnsafe(pcm.length);
  const f = law === 'pcmu' ? linearToUlaw : linearToAlaw;
  for (let i = 0; i < pcm.length; i++) out[i] = f(pcm[i]!);
  return out;
}

/**
 * Resample one mono frame by linear interpolation (upsampling) or box-filter averaging
 * (downsampling by an integer factor, which is every case between 8 kHz and 16/24/48 kHz).
 */
export function resampleFrame(input: Int16Array, fromRate: number, toRate: number, outLength?: number): Int16Array {
  if (fromRate === toRate) return input;
  const n = outLength ?? Math.round((input.length * toRate) / fromRate);
  const out = new Int16Array(n);
  if (toRate < fromRate && fromRate % toRate === 0) {
    const f = fromRate / toRate;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < f; k++) s += input[i * f + k] ?? 0;
      out[i] = Math.round(s / f);
    }
    return out;
  }
  const ratio = fromRate / toRate;
  for (let i = 0; i < n; i++) {
    const pos = i * ratio;
    const i0 = Math.floor(pos);
    const frac = pos - i0;
    const a = input[i0] ?? input[input.length - 1] ?? 0;
    const b = input[i0 + 1] ?? a;
    out[i] = Math.round(a + (b - a) * frac);
  }
  return out;
}
