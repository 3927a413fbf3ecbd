/**
 * Load for the VideoRoom benchmarks: VP8-like publishers sending pre-made packets at a steady rate from
 * our own client Peers, so each bench drives the server with exactly the same traffic.
 */

/** A pre-made VP8-like RTP packet (pt 96, marker: one packet per frame): descriptor (S=1, picture id), frame tag, filler. */
export function vp8Packet(size: number): Buffer {
  const b = Buffer.alloc(size, 0x5a);
  b[0] = 0x80;
  b[1] = 0x80 | 96;
  b.set([0x90, 0x80, 0x80, 0x00, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00], 12);
  return b;
}

export interface Vp8Pacer {
  /** Packets sent so far, per publisher. */
  readonly sent: number[];
  /** The longest gap between two pacer ticks since the last call (ms; 5 when on time), then reset: a stalled load process sends late. */
  takeMaxTickGap(): number;
  stop(): void;
}

/**
 * Every 5 ms, sends each publisher the packets due since the start at `rate` packets/s (one frame per
 * packet, a key frame once a second), reusing one buffer per publisher; sequence numbers from
 * `seqBase` + 1.
 */
export function paceVp8(pubs: ReadonlyArray<{ sendRtp(mid: string, buf: Buffer, len: number): void }>, size: number, rate: number, seqBase = 0): Vp8Pacer {
  const packets = pubs.map(() => vp8Packet(size));
  const sent = pubs.map(() => 0);
  const start = performance.now();
  let lastTick = start;
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - lastTick > maxGap) maxGap = now - lastTick;
    lastTick = now;
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    for (let i = 0; i < pubs.length; i++) {
      const b = packets[i]!;
      while (sent[i]! < due) {
        // seqBase: a pacer that takes over from another (a new rate) continues its sequence numbers.
        const n = ++sent[i]! + seqBase;
        b.writeUInt16BE(n & 0xffff, 2);
        b.writeUInt32BE((n * Math.round(90000 / rate)) >>> 0, 4);
        b[16] = n % rate === 1 ? 0x10 : 0x11;
        pubs[i]!.sendRtp('0', b, b.length);
      }
    }
  }, 5);
  return {
    sent,
    takeMaxTickGap: () => {
      const g = maxGap;
      maxGap = 0;
      return g;
    },
    stop: () => clearInterval(timer),
  };
}
