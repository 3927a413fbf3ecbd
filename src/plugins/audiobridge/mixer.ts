/**
 * The AudioBridge mixer, sans-IO: a per-participant jitter buffer, the 20 ms mix with mix-minus and
 * spatial panning, and a drift-free frame clock. Nothing here touches sockets or codecs; the room
 * engine (room.ts) decodes what the jitter buffers hand out, feeds PCM in, and encodes what comes out.
 *
 * Mix-minus without O(n²): every contribution (after volume and panning) is summed once into a 32-bit
 * `total`; listener i hears clip(total − contribution_i). Listeners that contributed nothing this frame
 * all hear the very same clip(total), which is what makes one shared encoder possible for them.
 *
 * Silence gate: a frame whose RMS is below `silenceThreshold` (int16 units; default 30 ≈ −61 dBFS) is
 * not mixed at all. That removes nothing audible, and it makes "is contributing" mean "is talking",
 * so the shared-encoder path stays exact (a non-talker never hears its own signal). 0 disables the gate.
 */

// ------------------------------------------------------------------------------------------ scheduling

/** Time and timers, injectable so the clock can run on fake time in tests. Times in milliseconds. */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /**
   * Run `fn` after the pending I/O has been processed (Node: setImmediate, i.e. after the poll phase
   * that follows the timers phase). Optional: without it frames are produced straight from the timer.
   */
  defer?(fn: () => void): void;
}

export const realScheduler: Scheduler = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  defer: (fn) => void setImmediate(fn),
};

export interface FrameClockOptions {
  periodMs?: number;
  scheduler?: Scheduler;
  /**
   * After a stall (busy event loop), frames whose time has passed are produced back to back, at most
   * this many; older ones are skipped (counted in `skipped`) so a very long stall does not cause an
   * endless burst. Default 50 (one second at 20 ms).
   */
  maxCatchUp?: number;
  /**
   * A frame callback threw (a bug: the room's state is broken). The clock keeps going unless this stops
   * it; the owner decides (the AudioBridge room closes itself).
   */
  onError?: (err: unknown) => void;
}

/**
 * A drift-free periodic clock. Frame k (1-based) is due at `start + k·period`: every wake-up computes
 * how many frames are due from the absolute time, produces them, and sleeps until the next absolute
 * target. Timer lateness therefore never accumulates (no drift), and a late wake-up catches up by
 * producing the missed frames back to back (bounded by `maxCatchUp`).
 *
 * Busy event loop: when the loop was blocked (a long synchronous task elsewhere), the RTP that arrived
 * meanwhile is still queued in the sockets when the timer finally fires (Node runs timers before it
 * polls I/O). Producing the catch-up frames right there would find empty jitter buffers, conceal them,
 * and then drop the queued packets as late. With a scheduler that has `defer` (the real one:
 * setImmediate) the frames are produced after the I/O poll, so the queued packets are in the jitter
 * buffers first and the catch-up frames carry the real audio: a stall delays frames, it loses none.
 */
export class FrameClock {
  readonly periodMs: number;
  private readonly sched: Scheduler;
  private readonly maxCatchUp: number;
  private readonly onError: ((err: unknown) => void) | undefined;
  private startMs = 0;
  private timer: unknown = null;
  private active = false;
  private generation = 0;
  /** Frames produced so far. */
  produced = 0;
  /** Frames dropped after stalls longer than maxCatchUp periods. */
  skipped = 0;

  constructor(
    private readonly onFrame: (index: number) => void,
    opts: FrameClockOptions = {},
  ) {
    this.periodMs = opts.periodMs ?? 20;
    this.sched = opts.scheduler ?? realScheduler;
    this.maxCatchUp = opts.maxCatchUp ?? 50;
    this.onError = opts.onError;
  }

  get running(): boolean {
    return this.active;
  }

  /** Time frame `index` was (or will be) due. */
  dueTime(index: number): number {
    return this.startMs + index * this.periodMs;
  }

  start(): void {
    if (this.active) return;
    this.generation++;
    this.active = true;
    this.startMs = this.sched.now();
    this.produced = 0;
    this.skipped = 0;
    this.arm();
  }

  stop(): void {
    this.generation++;
    this.active = false;
    if (this.timer !== null) this.sched.clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    const target = this.startMs + (this.produced + 1) * this.periodMs;
    const delay = Math.max(0, Math.ceil(target - this.sched.now()));
    this.timer = this.sched.setTimeout(() => this.wake(), delay);
  }

  private wake(): void {
    this.timer = null;
    if (!this.sched.defer) return this.run();
    // A stop() (and maybe a start()) in between makes this wake-up stale: the generation tells.
    const gen = this.generation;
    this.sched.defer(() => {
      if (gen === this.generation) this.run();
    });
  }

  private run(): void {
    this.timer = null;
    if (!this.active) return;
    const due = Math.floor((this.sched.now() - this.startMs) / this.periodMs);
    if (due - this.produced > this.maxCatchUp) {
      this.skipped += due - this.produced - this.maxCatchUp;
      this.produced = due - this.maxCatchUp;
    }
    while (this.active && this.produced < due) {
      this.produced++;
      try {
        this.onFrame(this.produced);
      } catch (err) {
        // Never out of the timer (that would be the process); the owner is told and may stop us.
        try {
          this.onError?.(err);
        } catch {
          /* the owner's handler must not take the clock's timer down either */
        }
      }
    }
    if (this.active) this.arm();
  }
}

// ------------------------------------------------------------------------------------------ jitter buffer

function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}
function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export type PullResult =
  /** Play this packet. */
  | { kind: 'packet'; payload: Buffer }
  /** The expected packet is missing but the next one is here: decode its FEC data for this slot. */
  | { kind: 'fec'; payload: Buffer }
  /** The expected packet is missing: conceal (PLC). */
  | { kind: 'plc' }
  /** A timestamp gap in a contiguous sequence (DTX): play silence, keep the packet for later. */
  | { kind: 'silence' }
  /** Nothing to play (not started / long underrun). */
  | { kind: 'none' };

interface Entry {
  seq: number;
  ts: number;
  payload: Buffer;
}

export interface JitterBufferOptions {
  /** RTP timestamp units in one 20 ms frame (960 for Opus, 160 for G.711). */
  frameTs: number;
  /** Packets buffered before playout starts (2..50, default 2). */
  minPackets?: number;
  /** Hard limit (2..50, default 50); the oldest packet is dropped beyond it. */
  maxPackets?: number;
  /** Frames concealed on an underrun before the stream is considered stopped (default 3). */
  plcFrames?: number;
}

const PLAYING = Object.freeze({ kind: 'plc' } as const);
const NONE = Object.freeze({ kind: 'none' } as const);
const SILENCE = Object.freeze({ kind: 'silence' } as const);

/**
 * Per-participant jitter buffer: packets ordered by sequence number; one frame is pulled per mixer tick.
 * A missing packet is reported as `fec` (when its successor is buffered) or `plc`; a timestamp jump in a
 * contiguous sequence (DTX) is played out as silence. Late and duplicate packets are dropped; a sequence
 * jump of more than 1000 or a new SSRC restarts the buffer. Latency is bounded: when the buffer stays
 * above minPackets+2 for a second, one frame is dropped to catch up.
 */
export class JitterBuffer {
  readonly frameTs: number;
  readonly minPackets: number;
  readonly maxPackets: number;
  private readonly plcFrames: number;
  private entries: Entry[] = [];
  private playing = false;
  private nextSeq = 0;
  private expectedTs = 0;
  private underruns = 0;
  private highWater = 0;
  /** Counters for diagnostics. */
  stats = { received: 0, late: 0, duplicate: 0, dropped: 0, concealed: 0, fec: 0 };

  constructor(opts: JitterBufferOptions) {
    this.frameTs = opts.frameTs;
    this.minPackets = clampInt(opts.minPackets ?? 2, 2, 50);
    this.maxPackets = clampInt(opts.maxPackets ?? 50, this.minPackets, 50);
    this.plcFrames = opts.plcFrames ?? 3;
  }

  get size(): number {
    return this.entries.length;
  }
  get isPlaying(): boolean {
    return this.playing;
  }

  reset(): void {
    this.entries = [];
    this.playing = false;
    this.underruns = 0;
    this.highWater = 0;
  }

  /** Queue a packet; false when dropped (late or duplicate). `payload` is kept as given (copy it first if reused). */
  put(seq: number, ts: number, payload: Buffer): boolean {
    this.stats.received++;
    seq &= 0xffff;
    if (this.playing) {
      const d = seqDiff(seq, this.nextSeq);
      if (d < 0) {
        if (d < -1000) this.reset();
        else {
          this.stats.late++;
          return false;
        }
      } else if (d > 1000) this.reset();
    }
    // Insert in sequence order (scan from the end: packets are usually in order).
    let i = this.entries.length;
    while (i > 0) {
      const d = seqDiff(seq, this.entries[i - 1]!.seq);
      if (d === 0) {
        this.stats.duplicate++;
        return false;
      }
      if (d > 0) break;
      i--;
    }
    this.entries.splice(i, 0, { seq, ts: ts >>> 0, payload });
    while (this.entries.length > this.maxPackets) {
      const old = this.entries.shift()!;
      this.stats.dropped++;
      if (this.playing && seqDiff(old.seq, this.nextSeq) >= 0) {
        this.nextSeq = (old.seq + 1) & 0xffff;
        this.expectedTs = (old.ts + this.frameTs) >>> 0;
      }
    }
    return true;
  }

  /** The frame for this tick. */
  pull(): PullResult {
    if (!this.playing) {
      if (this.entries.length < this.minPackets) return NONE;
      this.playing = true;
      this.nextSeq = this.entries[0]!.seq;
      this.expectedTs = this.entries[0]!.ts;
      this.underruns = 0;
      this.highWater = 0;
    }
    if (this.entries.length === 0) {
      if (this.underruns < this.plcFrames) {
        this.underruns++;
        this.advance();
        this.stats.concealed++;
        return PLAYING;
      }
      this.playing = false;
      return NONE;
    }
    // Latency control: sustained excess over the target means we are behind; drop one frame.
    if (this.entries.length > this.minPackets + 2) {
      if (++this.highWater >= 50) {
        this.highWater = 0;
        const old = this.entries.shift()!;
        this.stats.dropped++;
        this.nextSeq = (old.seq + 1) & 0xffff;
        this.expectedTs = (old.ts + this.frameTs) >>> 0;
        if (this.entries.length === 0) return this.pull();
      }
    } else this.highWater = 0;

    let head = this.entries[0]!;
    let d = seqDiff(head.seq, this.nextSeq);
    if (d < 0) {
      // Cannot normally happen (late packets are refused); resynchronise.
      this.nextSeq = head.seq;
      d = 0;
    }
    if (d > 5) {
      // Long burst loss: do not conceal for ages, jump to what we have.
      this.nextSeq = head.seq;
      this.expectedTs = head.ts;
      d = 0;
    }
    if (d === 0) {
      const gap = tsDiff(head.ts, this.expectedTs);
      if (gap >= this.frameTs && gap <= 50 * this.frameTs && this.entries.length <= this.minPackets + 1) {
        // DTX / paused sender within a contiguous sequence: hold the packet, play silence meanwhile.
        this.expectedTs = (this.expectedTs + this.frameTs) >>> 0;
        this.underruns = 0;
        return SILENCE;
      }
      this.entries.shift();
      this.nextSeq = (head.seq + 1) & 0xffff;
      this.expectedTs = (head.ts + this.frameTs) >>> 0;
      this.underruns = 0;
      return { kind: 'packet', payload: head.payload };
    }
    // The expected packet is missing but later ones are here.
    this.advance();
    this.underruns = 0;
    head = this.entries[0]!;
    if (d === 1) {
      this.stats.fec++;
      return { kind: 'fec', payload: head.payload };
    }
    this.stats.concealed++;
    return PLAYING;
  }

  private advance(): void {
    this.nextSeq = (this.nextSeq + 1) & 0xffff;
    this.expectedTs = (this.expectedTs + this.frameTs) >>> 0;
  }
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, Math.trunc(v)));
}

// ------------------------------------------------------------------------------------------ mixing

export const MIX_RATES = [8000, 12000, 16000, 24000, 48000] as const;

/** Per-participant mixer state, preallocated so a frame allocates nothing. */
export class MixSlot {
  /** This frame's contribution (after volume/panning), `samples × channels`. */
  readonly contribution: Int32Array;
  /** Whether the contribution is in this frame's total. */
  contributed = false;
  /** Reused output buffer for this participant's mix-minus. */
  readonly out: Int16Array;
  constructor(samples: number, channels: number) {
    this.contribution = new Int32Array(samples * channels);
    this.out = new Int16Array(samples * channels);
  }
}

export interface MixerOptions {
  sampleRate: number;
  /** Spatial audio: a stereo mix with per-participant panning. */
  stereo?: boolean;
  /** RMS (int16 units) below which a frame is not mixed; 0 disables. Default 30. */
  silenceThreshold?: number;
}

/** Left/right gains (0..1) for a spatial position 0 (left) .. 50 (centre) .. 100 (right). */
export function panGains(position: number): [number, number] {
  const p = Math.max(0, Math.min(100, position));
  return [Math.min(1, (100 - p) / 50), Math.min(1, p / 50)];
}

/**
 * One room's mix for one 20 ms frame. Usage per frame: `begin()`, `add()` each decoded participant,
 * then `mixFor(slot)` / `fullMix()` for each listener.
 */
export class AudioMixer {
  readonly sampleRate: number;
  readonly channels: number;
  /** Samples per channel in a frame. */
  readonly samples: number;
  readonly silenceThreshold: number;
  private readonly total: Int32Array;
  private readonly full: Int16Array;
  private fullReady = false;
  /** Contributions mixed this frame. */
  contributors = 0;

  constructor(opts: MixerOptions) {
    if (!(MIX_RATES as readonly number[]).includes(opts.sampleRate)) throw new Error(`unsupported mixing rate ${opts.sampleRate}`);
    this.sampleRate = opts.sampleRate;
    this.channels = opts.stereo ? 2 : 1;
    this.samples = opts.sampleRate / 50;
    this.silenceThreshold = opts.silenceThreshold ?? 30;
    this.total = new Int32Array(this.samples * this.channels);
    this.full = new Int16Array(this.samples * this.channels);
  }

  newSlot(): MixSlot {
    return new MixSlot(this.samples, this.channels);
  }

  begin(): void {
    this.total.fill(0);
    this.fullReady = false;
    this.contributors = 0;
  }

  /** Mark a participant as not contributing this frame (muted, suspended, nothing buffered). */
  skip(slot: MixSlot): void {
    slot.contributed = false;
  }

  /**
   * Add a decoded mono frame (`samples` long) with volume in percent and a spatial position.
   * Returns false (and adds nothing) when the frame is below the silence gate.
   */
  add(slot: MixSlot, pcm: Int16Array, volumePercent = 100, spatialPosition = 50): boolean {
    const n = this.samples;
    if (pcm.length < n) {
      slot.contributed = false;
      return false;
    }
    if (this.silenceThreshold > 0) {
      let e = 0;
      for (let i = 0; i < n; i++) e += pcm[i]! * pcm[i]!;
      if (e < this.silenceThreshold * this.silenceThreshold * n) {
        slot.contributed = false;
        return false;
      }
    }
    const c = slot.contribution;
    const t = this.total;
    const g = volumePercent / 100;
    if (this.channels === 1) {
      if (g === 1) {
        for (let i = 0; i < n; i++) {
          const v = pcm[i]!;
          c[i] = v;
          t[i]! += v;
        }
      } else {
        for (let i = 0; i < n; i++) {
          const v = Math.round(pcm[i]! * g);
          c[i] = v;
          t[i]! += v;
        }
      }
    } else {
      const [lg, rg] = panGains(spatialPosition);
      const l = g * lg;
      const r = g * rg;
      for (let i = 0; i < n; i++) {
        const s = pcm[i]!;
        const lv = Math.round(s * l);
        const rv = Math.round(s * r);
        c[2 * i] = lv;
        c[2 * i + 1] = rv;
        t[2 * i]! += lv;
        t[2 * i + 1]! += rv;
      }
    }
    slot.contributed = true;
    this.contributors++;
    return true;
  }

  /** clip(total): what every non-contributing listener hears (computed once per frame). */
  fullMix(): Int16Array {
    if (!this.fullReady) {
      const t = this.total;
      const f = this.full;
      for (let i = 0; i < t.length; i++) {
        const v = t[i]!;
        f[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      }
      this.fullReady = true;
    }
    return this.full;
  }

  /** clip(total − own contribution); the shared full mix when the slot did not contribute. */
  mixFor(slot: MixSlot): Int16Array {
    if (!slot.contributed) return this.fullMix();
    const t = this.total;
    const c = slot.contribution;
    const o = slot.out;
    for (let i = 0; i < t.length; i++) {
      const v = t[i]! - c[i]!;
      o[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    return o;
  }
}
