/**
 * Opus encoder/decoder over the WebAssembly libopus (1.3.1) shipped by the `opus-encdec` package.
 *
 * We do not use the package's emscripten glue (async, browser oriented, one global heap): we compile
 * its `.wasm` ourselves (synchronously, once) and instantiate it with the handful of imports it needs.
 * Each instance owns a fixed 16 MiB memory (the build has no memory growth), which holds ~250 encoder
 * or ~400 decoder states; when an instance is full a new one is created, so the number of codec states
 * is bounded only by process memory. Creation is synchronous.
 *
 * The build only exports the float API (`opus_encode_float` / `opus_decode_float`); samples are
 * converted to/from Int16 at the boundary.
 *
 * Loss handling (libopus semantics):
 *  - `decode(null)` runs packet-loss concealment for one frame (the duration of the last packet).
 *  - `decode(next, true)` decodes the in-band FEC (LBRR) data carried by `next` to recover the frame
 *    *before* it; when `next` carries no FEC libopus falls back to PLC. Then call `decode(next)` as usual.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// --------------------------------------------------------------------------------------------- constants

export const OPUS_APPLICATION_VOIP = 2048;
export const OPUS_APPLICATION_AUDIO = 2049;
export const OPUS_APPLICATION_RESTRICTED_LOWDELAY = 2051;
const OPUS_AUTO = -1000;
const OPUS_BANDWIDTH: Record<number, number> = { 8000: 1101, 12000: 1102, 16000: 1103, 24000: 1104, 48000: 1105 };

const CTL = {
  setBitrate: 4002,
  setMaxBandwidth: 4004,
  setComplexity: 4010,
  setInbandFec: 4012,
  setPacketLossPerc: 4014,
  setDtx: 4016,
  resetState: 4028,
  getLastPacketDuration: 4039,
} as const;

export type OpusSampleRate = 8000 | 12000 | 16000 | 24000 | 48000;
export const OPUS_SAMPLE_RATES: readonly OpusSampleRate[] = [8000, 12000, 16000, 24000, 48000];

export class OpusError extends Error {
  override readonly name = 'OpusError';
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

const ERRORS: Record<number, string> = {
  [-1]: 'bad argument',
  [-2]: 'buffer too small',
  [-3]: 'internal error',
  [-4]: 'corrupted stream',
  [-5]: 'unimplemented',
  [-6]: 'invalid state',
  [-7]: 'memory allocation failed',
};
function errorText(code: number): string {
  return ERRORS[code] ?? `error ${code}`;
}

// --------------------------------------------------------------------------------------------- public API

export interface OpusEncoderSettings {
  sampleRate: OpusSampleRate;
  channels: 1 | 2;
  /** Default 'voip' (what AudioBridge uses). */
  application?: 'voip' | 'audio' | 'lowdelay';
  /** Bits per second; 0 / undefined = libopus decides. */
  bitrate?: number;
  /** 0..10, default 4 (AudioBridge's DEFAULT_COMPLEXITY). */
  complexity?: number;
  /** Expected packet loss in percent (0..100); with `fec` it makes libopus emit LBRR data. */
  expectedLoss?: number;
  /** In-band FEC, default false. */
  fec?: boolean;
  /** Discontinuous transmission, default false. */
  dtx?: boolean;
  /** Cap the coded bandwidth at the sample rate's Nyquist band (as AudioBridge does). Default true. */
  limitBandwidth?: boolean;
}

export interface OpusEncoder {
  readonly sampleRate: number;
  readonly channels: number;
  /** Samples per channel in one 20 ms frame. */
  readonly frameSize: number;
  /** Encode one 20 ms frame (`frameSize * channels` interleaved samples). Returns a fresh Buffer. */
  encode(pcm: Int16Array): Buffer;
  setBitrate(bps: number): void;
  setComplexity(c: number): void;
  setExpectedLoss(percent: number): void;
  setFec(on: boolean): void;
  setDtx(on: boolean): void;
  /** OPUS_RESET_STATE: forget history (as if freshly created). */
  reset(): void;
  destroy(): void;
}

export interface OpusDecoder {
  readonly sampleRate: number;
  readonly channels: number;
  /**
   * Decode a packet into `frames * channels` interleaved samples.
   * `payload` null: packet loss concealment for one frame of the last packet's duration (20 ms initially).
   * `fec` true: recover the frame *before* `payload` from its in-band FEC data (PLC if it has none).
   */
  decode(payload: Uint8Array | null, fec?: boolean): Int16Array;
  reset(): void;
  destroy(): void;
}

export function createOpusEncoder(settings: OpusEncoderSettings): OpusEncoder {
  return new WasmOpusEncoder(settings);
}

export function createOpusDecoder(sampleRate: OpusSampleRate, channels: 1 | 2 = 1): OpusDecoder {
  return new WasmOpusDecoder(sampleRate, channels);
}

export function isOpusSampleRate(n: unknown): n is OpusSampleRate {
  return typeof n === 'number' && (OPUS_SAMPLE_RATES as readonly number[]).includes(n);
}

// --------------------------------------------------------------------------------------------- wasm loading

// The project's lib settings (ES2023, no DOM) do not declare WebAssembly; describe the part we use.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
type WasmModule = object;
interface WasmApi {
  Module: { new (bytes: Uint8Array): WasmModule; exports(m: WasmModule): Array<{ name: string; kind: string }> };
  Instance: new (m: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;


interface OpusExports {
  memory: WasmMemory;
  create: (...a: number[]) => number;
  code: (...a: number[]) => number;
  ctl: (st: number, req: number, va: number) => number;
  destroy: (st: number) => void;
  malloc: (n: number) => number;
  free: (p: number) => void;
}

type Kind = 'encoder' | 'decoder';

/** Export/import names of the two builds shipped in dist/: minified (-O3, faster) and named. */
const MIN_EXPORTS = { memory: 'g', ctors: 'h', create: 'i', code: 'j', ctl: 'k', destroy: 'l', malloc: 'p', free: 'q' };

const requireFromHere = createRequire(import.meta.url);
const compiled = new Map<string, WasmModule>();

function compile(file: string): WasmModule {
  let m = compiled.get(file);
  if (!m) {
    const path = requireFromHere.resolve(`opus-encdec/dist/${file}`);
    m = new WebAssembly.Module(readFileSync(path));
    compiled.set(file, m);
  }
  return m;
}

function instantiate(kind: Kind): OpusExports {
  let memory: WasmMemory | undefined;
  let bytes: Uint8Array | undefined;
  const env = {
    // No growth: malloc fails (returns 0) and we move on to a new instance.
    emscripten_resize_heap: (): number => 0,
    emscripten_memcpy_big: (dest: number, src: number, num: number): void => {
      // The memory never grows, so one view over it stays valid.
      bytes ??= new Uint8Array(memory!.buffer);
      bytes.copyWithin(dest, src, src + num);
    },
    abort: (): never => {
      throw new OpusError('libopus abort()', -3);
    },
    setTempRet0: (): void => {},
  };
  const wasi = { fd_close: (): number => 0, fd_write: (): number => 0, fd_seek: (): number => 0 };
  // Prefer the optimised build; fall back to the named one if its layout is not what we expect.
  try {
    const mod = compile(`libopus-${kind}.wasm.min.wasm`);
    const exp = WebAssembly.Module.exports(mod);
    const kinds = Object.fromEntries(exp.map((e) => [e.name, e.kind]));
    const ok =
      kinds[MIN_EXPORTS.memory] === 'memory' &&
      ['ctors', 'create', 'code', 'ctl', 'destroy', 'malloc', 'free'].every((k) => kinds[MIN_EXPORTS[k as keyof typeof MIN_EXPORTS]] === 'function');
    if (ok) {
      const inst = new WebAssembly.Instance(mod, {
        a: { a: wasi.fd_write, b: wasi.fd_seek, c: env.abort, d: wasi.fd_close, e: env.emscripten_memcpy_big, f: env.emscripten_resize_heap },
      });
      const e = inst.exports as Record<string, unknown>;
      memory = e[MIN_EXPORTS.memory] as WasmMemory;
      (e[MIN_EXPORTS.ctors] as () => void)();
      const x: OpusExports = {
        memory,
        create: e[MIN_EXPORTS.create] as OpusExports['create'],
        code: e[MIN_EXPORTS.code] as OpusExports['code'],
        ctl: e[MIN_EXPORTS.ctl] as OpusExports['ctl'],
        destroy: e[MIN_EXPORTS.destroy] as OpusExports['destroy'],
        malloc: e[MIN_EXPORTS.malloc] as OpusExports['malloc'],
        free: e[MIN_EXPORTS.free] as OpusExports['free'],
      };
      if (smokeTest(kind, x)) return x;
    }
  } catch {
    /* fall through to the named build */
  }
  const mod = compile(`libopus-${kind}.wasm.wasm`);
  const inst = new WebAssembly.Instance(mod, { env, wasi_snapshot_preview1: wasi });
  const e = inst.exports as Record<string, unknown>;
  memory = e['memory'] as WasmMemory;
  (e['__wasm_call_ctors'] as () => void)();
  return {
    memory,
    create: e[`opus_${kind}_create`] as OpusExports['create'],
    code: e[kind === 'encoder' ? 'opus_encode_float' : 'opus_decode_float'] as OpusExports['code'],
    ctl: e[`opus_${kind}_ctl`] as OpusExports['ctl'],
    destroy: e[`opus_${kind}_destroy`] as OpusExports['destroy'],
    malloc: e['malloc'] as OpusExports['malloc'],
    free: e['free'] as OpusExports['free'],
  };
}

/** Create and destroy a state to make sure the export mapping is right. */
function smokeTest(kind: Kind, x: OpusExports): boolean {
  const err = x.malloc(4);
  if (err === 0) return false;
  const st = kind === 'encoder' ? x.create(48000, 1, OPUS_APPLICATION_VOIP, err) : x.create(48000, 1, err);
  const code = new Int32Array(x.memory.buffer)[err >> 2];
  x.free(err);
  if (st === 0 || code !== 0) return false;
  x.destroy(st);
  return true;
}

/** One wasm instance and the codec states living in it. */
class Heap {
  live = 0;
  readonly scratch: number; // 16 bytes for ctl varargs / error out-params
  // The build cannot grow its memory, so views created once stay valid.
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f32: Float32Array;
  constructor(readonly x: OpusExports) {
    this.u8 = new Uint8Array(x.memory.buffer);
    this.i32 = new Int32Array(x.memory.buffer);
    this.f32 = new Float32Array(x.memory.buffer);
    this.scratch = x.malloc(16);
    if (this.scratch === 0) throw new OpusError('cannot allocate scratch memory', -7);
  }
}

const heaps: Record<Kind, Heap[]> = { encoder: [], decoder: [] };

/**
 * Allocate `bytes` of buffers plus a codec state from `create` in some instance with room; returns the heap
 * and pointers. A full instance (malloc/create gives 0 or OPUS_ALLOC_FAIL) is skipped; a new one is made
 * when all are full.
 */
function allocate(kind: Kind, bytes: number[], create: (h: Heap) => number): { heap: Heap; state: number; bufs: number[] } {
  const tryIn = (h: Heap): { heap: Heap; state: number; bufs: number[] } | undefined => {
    const bufs: number[] = [];
    for (const b of bytes) {
      const p = h.x.malloc(b);
      if (p === 0) {
        bufs.forEach((q) => h.x.free(q));
        return undefined;
      }
      bufs.push(p);
    }
    const state = create(h);
    if (state <= 0) {
      bufs.forEach((q) => h.x.free(q));
      if (state === -7 || state === 0) return undefined;
      throw new OpusError(`opus_${kind}_create: ${errorText(state)}`, state);
    }
    h.live++;
    return { heap: h, state, bufs };
  };
  for (const h of heaps[kind]) {
    const r = tryIn(h);
    if (r) return r;
  }
  const h = new Heap(instantiate(kind));
  heaps[kind].push(h);
  const r = tryIn(h);
  if (!r) throw new OpusError(`cannot allocate an Opus ${kind}`, -7);
  return r;
}

function release(kind: Kind, heap: Heap, state: number, bufs: number[]): void {
  heap.x.destroy(state);
  for (const b of bufs) heap.x.free(b);
  heap.live--;
  // Keep one instance per kind around; drop empty extra ones so memory goes back.
  const list = heaps[kind];
  if (heap.live === 0 && list.length > 1) list.splice(list.indexOf(heap), 1);
}

/** Number of wasm instances currently alive (for diagnostics/tests). */
export function opusInstanceCount(): { encoder: number; decoder: number } {
  return { encoder: heaps.encoder.length, decoder: heaps.decoder.length };
}

/** Create an OpusEncoder's create() with its error out-param in scratch. */
function createWithError(h: Heap, f: (errPtr: number) => number): number {
  const errPtr = h.scratch + 8;
  h.i32[errPtr >> 2] = 0;
  const st = f(errPtr);
  const err = h.i32[errPtr >> 2]!;
  if (err !== 0) {
    if (st > 0) h.x.destroy(st);
    return err;
  }
  return st;
}

const MAX_PACKET = 1500;
const MAX_FRAME_MS = 120;

// --------------------------------------------------------------------------------------------- encoder

class WasmOpusEncoder implements OpusEncoder {
  readonly sampleRate: number;
  readonly channels: number;
  readonly frameSize: number;
  private readonly heap: Heap;
  private readonly state: number;
  private readonly bufs: number[];
  private readonly inPtr: number;
  private readonly outPtr: number;
  private destroyed = false;

  constructor(s: OpusEncoderSettings) {
    if (!isOpusSampleRate(s.sampleRate)) throw new OpusError(`unsupported sample rate ${String(s.sampleRate)}`, -1);
    if (s.channels !== 1 && s.channels !== 2) throw new OpusError(`unsupported channel count ${String(s.channels)}`, -1);
    this.sampleRate = s.sampleRate;
    this.channels = s.channels;
    this.frameSize = s.sampleRate / 50;
    const app =
      s.application === 'audio' ? OPUS_APPLICATION_AUDIO : s.application === 'lowdelay' ? OPUS_APPLICATION_RESTRICTED_LOWDELAY : OPUS_APPLICATION_VOIP;
    const r = allocate('encoder', [this.frameSize * this.channels * 4, MAX_PACKET], (h) =>
      createWithError(h, (err) => h.x.create(s.sampleRate, s.channels, app, err)),
    );
    this.heap = r.heap;
    this.state = r.state;
    this.bufs = r.bufs;
    this.inPtr = r.bufs[0]!;
    this.outPtr = r.bufs[1]!;
    if (s.limitBandwidth !== false) this.ctl(CTL.setMaxBandwidth, OPUS_BANDWIDTH[s.sampleRate]!);
    this.setComplexity(s.complexity ?? 4);
    this.setFec(s.fec ?? false);
    this.setExpectedLoss(s.expectedLoss ?? 0);
    this.setDtx(s.dtx ?? false);
    if (s.bitrate) this.setBitrate(s.bitrate);
  }

  private ctl(req: number, value?: number): void {
    if (this.destroyed) throw new OpusError('encoder destroyed', -6);
    const va = this.heap.scratch;
    if (value !== undefined) this.heap.i32[va >> 2] = value;
    const r = this.heap.x.ctl(this.state, req, va);
    if (r < 0) throw new OpusError(`opus_encoder_ctl(${req}): ${errorText(r)}`, r);
  }

  encode(pcm: Int16Array): Buffer {
    if (this.destroyed) throw new OpusError('encoder destroyed', -6);
    const n = this.frameSize * this.channels;
    if (pcm.length !== n) throw new OpusError(`expected ${n} samples, got ${pcm.length}`, -1);
    const f32 = this.heap.f32;
    const base = this.inPtr >> 2;
    for (let i = 0; i < n; i++) f32[base + i] = pcm[i]! / 32768;
    const len = this.heap.x.code(this.state, this.inPtr, this.frameSize, this.outPtr, MAX_PACKET);
    if (len < 0) throw new OpusError(`opus_encode: ${errorText(len)}`, len);
    return Buffer.from(this.heap.u8.subarray(this.outPtr, this.outPtr + len));
  }

  setBitrate(bps: number): void {
    this.ctl(CTL.setBitrate, bps > 0 ? Math.max(500, Math.min(512000, Math.trunc(bps))) : OPUS_AUTO);
  }
  setComplexity(c: number): void {
    this.ctl(CTL.setComplexity, Math.max(0, Math.min(10, Math.trunc(c))));
  }
  setExpectedLoss(percent: number): void {
    this.ctl(CTL.setPacketLossPerc, Math.max(0, Math.min(100, Math.trunc(percent))));
  }
  setFec(on: boolean): void {
    this.ctl(CTL.setInbandFec, on ? 1 : 0);
  }
  setDtx(on: boolean): void {
    this.ctl(CTL.setDtx, on ? 1 : 0);
  }
  reset(): void {
    this.ctl(CTL.resetState);
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    release('encoder', this.heap, this.state, this.bufs);
  }
}

// --------------------------------------------------------------------------------------------- decoder

class WasmOpusDecoder implements OpusDecoder {
  readonly sampleRate: number;
  readonly channels: number;
  private readonly heap: Heap;
  private readonly state: number;
  private readonly bufs: number[];
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly maxFrame: number;
  /** Samples per channel of the last decoded packet (what PLC conceals). */
  private lastFrame: number;
  private destroyed = false;

  constructor(sampleRate: OpusSampleRate, channels: 1 | 2) {
    if (!isOpusSampleRate(sampleRate)) throw new OpusError(`unsupported sample rate ${String(sampleRate)}`, -1);
    this.sampleRate = sampleRate;
    this.channels = channels;
    this.maxFrame = (sampleRate * MAX_FRAME_MS) / 1000;
    this.lastFrame = sampleRate / 50;
    const r = allocate('decoder', [MAX_PACKET, this.maxFrame * channels * 4], (h) => createWithError(h, (err) => h.x.create(sampleRate, channels, err)));
    this.heap = r.heap;
    this.state = r.state;
    this.bufs = r.bufs;
    this.inPtr = r.bufs[0]!;
    this.outPtr = r.bufs[1]!;
  }

  decode(payload: Uint8Array | null, fec = false): Int16Array {
    if (this.destroyed) throw new OpusError('decoder destroyed', -6);
    const x = this.heap.x;
    let n: number;
    if (payload === null || payload.length === 0) {
      n = x.code(this.state, 0, 0, this.outPtr, this.lastFrame, 0);
    } else {
      if (payload.length > MAX_PACKET) throw new OpusError(`packet too large (${payload.length})`, -1);
      this.heap.u8.set(payload, this.inPtr);
      // FEC recovers exactly one frame of the lost packet's duration (assumed equal to the last one).
      const frame = fec ? this.lastFrame : this.maxFrame;
      n = x.code(this.state, this.inPtr, payload.length, this.outPtr, frame, fec ? 1 : 0);
      if (n > 0 && !fec) this.lastFrame = n;
    }
    if (n < 0) throw new OpusError(`opus_decode: ${errorText(n)}`, n);
    const total = n * this.channels;
    const out = new Int16Array(total);
    const f32 = this.heap.f32;
    const base = this.outPtr >> 2;
    for (let i = 0; i < total; i++) {
      const v = f32[base + i]! * 32768;
      out[i] = v >= 32767 ? 32767 : v <= -32768 ? -32768 : Math.round(v);
    }
    return out;
  }

  reset(): void {
    if (this.destroyed) throw new OpusError('decoder destroyed', -6);
    this.heap.x.ctl(this.state, CTL.resetState, this.heap.scratch);
    this.lastFrame = this.sampleRate / 50;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    release('decoder', this.heap, this.state, this.bufs);
  }
}
