/**
 * Sliding replay window (RFC 3711 §3.3.2) over 48-bit SRTP indices or 31-bit SRTCP indices.
 * A ring of bits, one per index modulo the window size; no allocation after construction.
 * Use `check` before authentication and `commit` only after the packet authenticated.
 */
export class ReplayWindow {
  private readonly bits: Uint32Array;
  private readonly size: number;
  private readonly mask: number;
  private top = -1;

  /** @param size window size in packets, rounded up to a power of two, at least 64. */
  constructor(size = 1024) {
    let s = 64;
    while (s < size) s <<= 1;
    this.size = s;
    this.mask = s - 1;
    this.bits = new Uint32Array(s >>> 5);
  }

  get windowSize(): number {
    return this.size;
  }

  /** Highest committed index, or -1 before the first commit. */
  get highest(): number {
    return this.top;
  }

  /** 0 = acceptable, 1 = duplicate, 2 = older than the window. */
  check(index: number): number {
    if (index > this.top) return 0;
    if (this.top - index >= this.size) return 2;
    const b = index & this.mask;
    return (this.bits[b >>> 5] >>> (b & 31)) & 1;
  }

  commit(index: number): void {
    if (index > this.top) {
      const diff = this.top < 0 ? this.size : index - this.top;
      if (diff >= this.size) {
        this.bits.fill(0);
      } else {
        for (let i = this.top + 1; i < index; i++) {
          const b = i & this.mask;
          this.bits[b >>> 5] &= ~(1 << (b & 31));
        }
      }
      this.top = index;
    }
    const b = index & this.mask;
    this.bits[b >>> 5] |= 1 << (b & 31);
  }

  reset(): void {
    this.top = -1;
    this.bits.fill(0);
  }
}
