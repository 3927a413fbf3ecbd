/**
 * A tiny SSRC -> int map over typed arrays. A PeerConnection has a handful of SSRCs, so a linear
 * scan beats a Map here and never boxes SSRCs above 2^30 (which a Map lookup may do).
 */
export class SsrcTable {
  private keys: Uint32Array;
  private vals: Int32Array;
  private n = 0;

  constructor(capacity = 8) {
    this.keys = new Uint32Array(capacity);
    this.vals = new Int32Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  /** The value for `ssrc`, or -1. */
  get(ssrc: number): number {
    const k = this.keys;
    for (let i = 0; i < this.n; i++) if (k[i] === ssrc) return this.vals[i]!;
    return -1;
  }

  set(ssrc: number, value: number): void {
    ssrc >>>= 0;
    for (let i = 0; i < this.n; i++) {
      if (this.keys[i] === ssrc) {
        this.vals[i] = value;
        return;
      }
    }
    if (this.n === this.keys.length) {
      const k = new Uint32Array(this.n * 2);
      const v = new Int32Array(this.n * 2);
      k.set(this.keys);
      v.set(this.vals);
      this.keys = k;
      this.vals = v;
    }
    this.keys[this.n] = ssrc;
    this.vals[this.n] = value;
    this.n++;
  }

  delete(ssrc: number): void {
    ssrc >>>= 0;
    for (let i = 0; i < this.n; i++) {
      if (this.keys[i] === ssrc) {
        this.n--;
        this.keys[i] = this.keys[this.n]!;
        this.vals[i] = this.vals[this.n]!;
        return;
      }
    }
  }
}
