/**
 * What each simulcast layer (and VP8 temporal layer) of a published stream costs, measured: the
 * packet path adds bytes, auto_layers (auto-layers.ts) turns them into bitrates once a second.
 */

/** Layers counted (Janus: at most three substreams, three temporal layers). */
const LAYERS = 3;

/** Byte counters per simulcast layer and VP8 temporal layer, and the bitrates derived from them. */
export class LayerRates {
  /** Counters the packet path increments: [layer * 3 + tid], tid 0 when unknown. */
  readonly bytes = new Float64Array(LAYERS * 3);
  /** Whether temporal layer ids were seen (VP8 with temporal scalability). */
  temporal = false;
  /** Bits per second over the last window, same indexing. */
  readonly bps = new Float64Array(LAYERS * 3);
  private readonly prev = new Float64Array(LAYERS * 3);
  private at = -1;

  /** Recompute the rates if the window (1 s) is over. */
  refresh(now: number): void {
    if (this.at < 0) {
      this.at = now;
      this.prev.set(this.bytes);
      return;
    }
    const dt = now - this.at;
    if (dt < 1000) return;
    for (let i = 0; i < this.bytes.length; i++) {
      this.bps[i] = ((this.bytes[i]! - this.prev[i]!) * 8000) / dt;
    }
    this.prev.set(this.bytes);
    this.at = now;
  }

  /** Bitrate of layer `l` up to temporal layer `t` (all temporal layers when none were seen). */
  cost(l: number, t: number): number {
    const b = this.bps;
    const o = l * 3;
    if (!this.temporal) return b[o]! + b[o + 1]! + b[o + 2]!;
    let c = 0;
    for (let k = 0; k <= t; k++) c += b[o + k]!;
    return c;
  }

  /** Total bitrate of every layer. */
  get total(): number {
    let c = 0;
    for (let i = 0; i < this.bps.length; i++) c += this.bps[i]!;
    return c;
  }
}

