/** Test signal helpers: tone generation, Goertzel tone power, RMS. */

/** `frames` 20 ms frames of a sine at `freq` Hz, amplitude `amp` (int16 scale), phase-continuous. */
export function toneFrames(freq: number, rate: number, frames: number, amp = 8000): Int16Array[] {
  const n = rate / 50;
  const out: Int16Array[] = [];
  for (let f = 0; f < frames; f++) {
    const pcm = new Int16Array(n);
    for (let i = 0; i < n; i++) pcm[i] = Math.round(amp * Math.sin((2 * Math.PI * freq * (f * n + i)) / rate));
    out.push(pcm);
  }
  return out;
}

/** Normalised Goertzel magnitude of `freq` in `x` (≈ amplitude of that sinusoid, int16 scale). */
export function goertzel(x: ArrayLike<number>, freq: number, rate: number, start = 0, len = x.length - start): number {
  const w = (2 * Math.PI * freq) / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < len; i++) {
    const s0 = x[start + i]! + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - c * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / len;
}

export function rms(x: ArrayLike<number>, start = 0, len = x.length - start): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += x[start + i]! * x[start + i]!;
  return Math.sqrt(s / Math.max(1, len));
}

export function concat(frames: Int16Array[]): Int16Array {
  const out = new Int16Array(frames.reduce((a, f) => a + f.length, 0));
  let o = 0;
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

