/**
 * SRTP packet index estimation (RFC 3711 §3.3.1 and appendix A).
 *
 * Given the stream's rollover counter `roc` and highest sequence number `sl`, guess the index of a
 * packet carrying `seq`: the guess whose index is closest to roc * 2^16 + sl. The result may be
 * negative (guessed ROC of -1: a packet from before the stream started), which callers reject.
 */
export function estimateSrtpIndex(roc: number, sl: number, seq: number): number {
  let v = roc;
  if (sl < 0x8000) {
    if (seq - sl > 0x8000) v = roc - 1;
  } else if (sl - 0x8000 > seq) {
    v = roc + 1;
  }
  return v * 0x10000 + seq;
}
