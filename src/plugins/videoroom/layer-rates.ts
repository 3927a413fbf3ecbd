/**
 * What each simulcast layer (and VP8 temporal layer) of a published stream costs, measured: the
 * packet path adds bytes (add()), auto_layers (auto-layers.ts) turns them into bitrates once a second.
 *
 * Why not the bitrate of the last window: a 1 s window that holds a keyframe reads up to twice one
 * that does not (a 720p keyframe is ten delta frames), so an allocation judged on the last window
 * steps up on a cheap one and the next keyframe does not fit (the 2026-12-05 freezes under a
 * 600 kbit/s cap). A layer's cost is therefore split in two, each averaged over several windows:
 * - delta frames: a decayed average of their bitrate per temporal layer (DELTA_TAU_MS);
 * - keyframes, amortised: a decayed average of the keyframe bits per second of the layer
 *   (KEY_TAU_MS, longer: keyframes are rare and irregular, they come when someone asks);
 * and the size of the layer's recent keyframes is kept (keyframeBytes()), since a step up asks for
 * one at once and it must leave in a fraction of a second or the picture freezes.
 */

/** Layers counted (Janus: at most three substreams, three temporal layers). */
const LAYERS = 3;
/** Time constant of the delta-frame average. */
export const DELTA_TAU_MS = 2000;
/** Time constant of the amortised keyframe rate. */
export const KEY_TAU_MS = 4000;
/**
 * A remembered keyframe size counts half as much every this long: a layer nobody asks keyframes of
 * keeps the size of its last one (say a large one from a moment the encoder was pushing), which
 * would otherwise bar a step up to it for good.
 */
export const KEY_FORGET_MS = 5000;

/** Byte counters per simulcast layer and VP8 temporal layer, and the bitrates derived from them. */
export class LayerRates {
  /** Counters the packet path increments: [layer * 3 + tid], tid 0 when unknown. Every byte. */
  readonly bytes = new Float64Array(LAYERS * 3);
  /** Bytes of keyframes per layer (a keyframe is temporal layer 0; part of bytes[layer * 3]). */
  readonly keyBytes = new Float64Array(LAYERS);
  /** Whether temporal layer ids were seen (VP8 with temporal scalability). */
  temporal = false;
  /** Bits per second over the last window, every byte, same indexing as bytes (diagnostics, audio). */
  readonly bps = new Float64Array(LAYERS * 3);
  /** Decayed average of the delta-frame bitrate, same indexing. */
  readonly deltaBps = new Float64Array(LAYERS * 3);
  /** Decayed average of the keyframe bitrate per layer (keyframes amortised). */
  readonly keyBps = new Float64Array(LAYERS);
  private readonly prev = new Float64Array(LAYERS * 3);
  private readonly prevKey = new Float64Array(LAYERS);
  /** The RTP timestamp of each layer's latest keyframe (its packets share it), -1 none. */
  private readonly keyTs = new Float64Array(LAYERS).fill(-1);
  /** Size of the latest keyframe per layer (growing while its packets arrive) and of the one before. */
  private readonly keyLatest = new Float64Array(LAYERS);
  private readonly keyBefore = new Float64Array(LAYERS);
  /** When each layer's latest keyframe started (ms). */
  private readonly keyAt = new Float64Array(LAYERS);
  private at = -1;

  /**
   * One packet of `len` bytes of layer `layer`, temporal layer `tid` (-1 unknown) and RTP timestamp
   * `ts` at `now` (ms); `keyStart`: it starts a keyframe (the rest of the keyframe shares its timestamp).
   */
  add(layer: number, tid: number, len: number, keyStart: boolean, ts: number, now: number): void {
    const l = layer < LAYERS ? layer : LAYERS - 1;
    if (tid >= 0) this.temporal = true;
    this.bytes[l * 3 + (tid > 0 ? (tid < 2 ? tid : 2) : 0)] += len;
    if (keyStart && ts !== this.keyTs[l]) {
      this.keyBefore[l] = this.keyLatest[l]!;
      this.keyLatest[l] = 0;
      this.keyTs[l] = ts;
      this.keyAt[l] = now;
    }
    if (ts === this.keyTs[l]) {
      this.keyBytes[l] += len;
      this.keyLatest[l] += len;
    }
  }

  /** Recompute the rates if the window (1 s) is over. */
  refresh(now: number): void {
    if (this.at < 0) {
      this.at = now;
      this.prev.set(this.bytes);
      this.prevKey.set(this.keyBytes);
      return;
    }
    const dt = now - this.at;
    if (dt < 1000) return;
    const aDelta = 1 - Math.exp(-dt / DELTA_TAU_MS);
    // Keyframe rate starts from 0 (a layer's first window holds its first keyframe, which says
    // nothing about how often they come); the size criterion (keyframeBytes) covers the start.
    const aKey = 1 - Math.exp(-dt / KEY_TAU_MS);
    for (let l = 0; l < LAYERS; l++) {
      const key = ((this.keyBytes[l]! - this.prevKey[l]!) * 8000) / dt;
      this.keyBps[l] += (key - this.keyBps[l]!) * aKey;
      for (let t = 0; t < 3; t++) {
        const i = l * 3 + t;
        const all = ((this.bytes[i]! - this.prev[i]!) * 8000) / dt;
        this.bps[i] = all;
        const delta = t === 0 ? Math.max(0, all - key) : all;
        // A layer's first window is its average (rising from 0 it would look cheap for seconds).
        this.deltaBps[i] = this.deltaBps[i] === 0 ? delta : this.deltaBps[i]! + (delta - this.deltaBps[i]!) * aDelta;
      }
    }
    this.prev.set(this.bytes);
    this.prevKey.set(this.keyBytes);
    this.at = now;
  }

  /**
   * What layer `l` up to temporal layer `t` costs (bps; all temporal layers when none were seen):
   * its delta frames' average plus its keyframes amortised. 0 before the first window.
   */
  cost(l: number, t: number): number {
    const b = this.deltaBps;
    const o = l * 3;
    let c = this.keyBps[l]!;
    if (!this.temporal) return c + b[o]! + b[o + 1]! + b[o + 2]!;
    for (let k = 0; k <= t; k++) c += b[o + k]!;
    return c;
  }

  /** The larger of layer `l`'s last two keyframes (bytes; 0 before one was seen), halved every KEY_FORGET_MS since the latest. */
  keyframeBytes(l: number, now: number): number {
    const a = this.keyLatest[l]!;
    const b = this.keyBefore[l]!;
    const age = now - this.keyAt[l]!;
    return (a > b ? a : b) * (age > 0 ? Math.pow(0.5, age / KEY_FORGET_MS) : 1);
  }

  /** Total bitrate of every layer over the last window. */
  get total(): number {
    let c = 0;
    for (let i = 0; i < this.bps.length; i++) c += this.bps[i]!;
    return c;
  }
}
