/**
 * HMAC-SHA1 (RFC 2104, FIPS 180-4) for the SRTP/SRTCP packet path, allocation-free.
 *
 * Why not node:crypto: createHmac per packet builds a native object and re-runs the key setup
 * every time; for a 1100-byte packet that overhead, not the hashing, is most of its cost (and
 * Hash.copy() of precomputed pad states measured slower still, bench/README.md). Here the key's
 * inner and outer pad blocks are compressed once per session key; a packet then costs its own
 * message blocks from the saved inner state plus one outer block, all on preallocated typed
 * arrays, and the tag is written straight into the caller's buffer.
 *
 * SRTP authenticates packet || ROC (RFC 3711 §4.2): the 4 ROC bytes are taken as an argument and
 * hashed in the final block, so the packet is never copied or extended for them.
 */

import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/** Pass as `roc` when the message has no ROC suffix (SRTCP: the index is already in the packet). */
export const NO_ROC = -1;

// Scratch shared by every instance: a MAC is computed synchronously, start to end, so one set
// serves all sessions of the thread (each worker thread has its own module instance).
/** Running chaining value H0..H4. */
const H = new Int32Array(5);
/** Last one or two blocks: packet tail, ROC, 0x80 pad and the 64-bit length. */
const tail = new Uint8Array(128);
/** The outer hash's only block: inner digest (20 bytes), then fixed padding for 84 bytes. */
const outerBlock = new Uint8Array(64);
outerBlock[20] = 0x80;
outerBlock[62] = ((64 + 20) * 8) >>> 8;
outerBlock[63] = ((64 + 20) * 8) & 0xff;

/**
 * SHA-1 compression of `n` 64-byte blocks at m[off, off + 64 n) into H. Unrolled, the message
 * schedule in 16 locals and the working variables renamed per round instead of shuffled: V8 then
 * keeps everything in registers (the loop-and-array form measured 1.6x slower). Ch and Maj use
 * the one-operation-shorter forms d ^ (b & (c ^ d)) and (b & c) | (d & (b | c)). Reading words
 * through a cached DataView instead of four byte loads measured the same, and a hand-assembled
 * WebAssembly version of this function only ~12 % faster per packet (bench/README.md), so
 * neither is used.
 */
function compressBlocks(m: Uint8Array, off: number, n: number): void {
  let h0 = H[0]!;
  let h1 = H[1]!;
  let h2 = H[2]!;
  let h3 = H[3]!;
  let h4 = H[4]!;
  for (; n > 0; n--, off += 64) {
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let w0 = (m[off]! << 24) | (m[off + 1]! << 16) | (m[off + 2]! << 8) | m[off + 3]!;
    let w1 = (m[off + 4]! << 24) | (m[off + 5]! << 16) | (m[off + 6]! << 8) | m[off + 7]!;
    let w2 = (m[off + 8]! << 24) | (m[off + 9]! << 16) | (m[off + 10]! << 8) | m[off + 11]!;
    let w3 = (m[off + 12]! << 24) | (m[off + 13]! << 16) | (m[off + 14]! << 8) | m[off + 15]!;
    let w4 = (m[off + 16]! << 24) | (m[off + 17]! << 16) | (m[off + 18]! << 8) | m[off + 19]!;
    let w5 = (m[off + 20]! << 24) | (m[off + 21]! << 16) | (m[off + 22]! << 8) | m[off + 23]!;
    let w6 = (m[off + 24]! << 24) | (m[off + 25]! << 16) | (m[off + 26]! << 8) | m[off + 27]!;
    let w7 = (m[off + 28]! << 24) | (m[off + 29]! << 16) | (m[off + 30]! << 8) | m[off + 31]!;
    let w8 = (m[off + 32]! << 24) | (m[off + 33]! << 16) | (m[off + 34]! << 8) | m[off + 35]!;
    let w9 = (m[off + 36]! << 24) | (m[off + 37]! << 16) | (m[off + 38]! << 8) | m[off + 39]!;
    let w10 = (m[off + 40]! << 24) | (m[off + 41]! << 16) | (m[off + 42]! << 8) | m[off + 43]!;
    let w11 = (m[off + 44]! << 24) | (m[off + 45]! << 16) | (m[off + 46]! << 8) | m[off + 47]!;
    let w12 = (m[off + 48]! << 24) | (m[off + 49]! << 16) | (m[off + 50]! << 8) | m[off + 51]!;
    let w13 = (m[off + 52]! << 24) | (m[off + 53]! << 16) | (m[off + 54]! << 8) | m[off + 55]!;
    let w14 = (m[off + 56]! << 24) | (m[off + 57]! << 16) | (m[off + 58]! << 8) | m[off + 59]!;
    let w15 = (m[off + 60]! << 24) | (m[off + 61]! << 16) | (m[off + 62]! << 8) | m[off + 63]!;
    let x: number;
    e = (e + ((a << 5) | (a >>> 27)) + (((c ^ d) & b) ^ d) + w0 + 0x5a827999) | 0; b = (b << 30) | (b >>> 2);
    d = (d + ((e << 5) | (e >>> 27)) + (((b ^ c) & a) ^ c) + w1 + 0x5a827999) | 0; a = (a << 30) | (a >>> 2);
    c = (c + ((d << 5) | (d >>> 27)) + (((a ^ b) & e) ^ b) + w2 + 0x5a827999) | 0; e = (e << 30) | (e >>> 2);
    b = (b + ((c << 5) | (c >>> 27)) + (((e ^ a) & d) ^ a) + w3 + 0x5a827999) | 0; d = (d << 30) | (d >>> 2);
    a = (a + ((b << 5) | (b >>> 27)) + (((d ^ e) & c) ^ e) + w4 + 0x5a827999) | 0; c = (c << 30) | (c >>> 2);
    e = (e + ((a << 5) | (a >>> 27)) + (((c ^ d) & b) ^ d) + w5 + 0x5a827999) | 0; b = (b << 30) | (b >>> 2);
    d = (d + ((e << 5) | (e >>> 27)) + (((b ^ c) & a) ^ c) + w6 + 0x5a827999) | 0; a = (a << 30) | (a >>> 2);
    c = (c + ((d << 5) | (d >>> 27)) + (((a ^ b) & e) ^ b) + w7 + 0x5a827999) | 0; e = (e << 30) | (e >>> 2);
    b = (b + ((c << 5) | (c >>> 27)) + (((e ^ a) & d) ^ a) + w8 + 0x5a827999) | 0; d = (d << 30) | (d >>> 2);
    a = (a + ((b << 5) | (b >>> 27)) + (((d ^ e) & c) ^ e) + w9 + 0x5a827999) | 0; c = (c << 30) | (c >>> 2);
    e = (e + ((a << 5) | (a >>> 27)) + (((c ^ d) & b) ^ d) + w10 + 0x5a827999) | 0; b = (b << 30) | (b >>> 2);
    d = (d + ((e << 5) | (e >>> 27)) + (((b ^ c) & a) ^ c) + w11 + 0x5a827999) | 0; a = (a << 30) | (a >>> 2);
    c = (c + ((d << 5) | (d >>> 27)) + (((a ^ b) & e) ^ b) + w12 + 0x5a827999) | 0; e = (e << 30) | (e >>> 2);
    b = (b + ((c << 5) | (c >>> 27)) + (((e ^ a) & d) ^ a) + w13 + 0x5a827999) | 0; d = (d << 30) | (d >>> 2);
    a = (a + ((b << 5) | (b >>> 27)) + (((d ^ e) & c) ^ e) + w14 + 0x5a827999) | 0; c = (c << 30) | (c >>> 2);
    e = (e + ((a << 5) | (a >>> 27)) + (((c ^ d) & b) ^ d) + w15 + 0x5a827999) | 0; b = (b << 30) | (b >>> 2);
    x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + (((b ^ c) & a) ^ c) + w0 + 0x5a827999) | 0; a = (a << 30) | (a >>> 2);
    x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + (((a ^ b) & e) ^ b) + w1 + 0x5a827999) | 0; e = (e << 30) | (e >>> 2);
    x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + (((e ^ a) & d) ^ a) + w2 + 0x5a827999) | 0; d = (d << 30) | (d >>> 2);
    x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + (((d ^ e) & c) ^ e) + w3 + 0x5a827999) | 0; c = (c << 30) | (c >>> 2);
    x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + (b ^ c ^ d) + w4 + 0x6ed9eba1) | 0; b = (b << 30) | (b >>> 2);
    x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + (a ^ b ^ c) + w5 + 0x6ed9eba1) | 0; a = (a << 30) | (a >>> 2);
    x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + (e ^ a ^ b) + w6 + 0x6ed9eba1) | 0; e = (e << 30) | (e >>> 2);
    x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + (d ^ e ^ a) + w7 + 0x6ed9eba1) | 0; d = (d << 30) | (d >>> 2);
    x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + (c ^ d ^ e) + w8 + 0x6ed9eba1) | 0; c = (c << 30) | (c >>> 2);
    x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + (b ^ c ^ d) + w9 + 0x6ed9eba1) | 0; b = (b << 30) | (b >>> 2);
    x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + (a ^ b ^ c) + w10 + 0x6ed9eba1) | 0; a = (a << 30) | (a >>> 2);
    x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + (e ^ a ^ b) + w11 + 0x6ed9eba1) | 0; e = (e << 30) | (e >>> 2);
    x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + (d ^ e ^ a) + w12 + 0x6ed9eba1) | 0; d = (d << 30) | (d >>> 2);
    x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + (c ^ d ^ e) + w13 + 0x6ed9eba1) | 0; c = (c << 30) | (c >>> 2);
    x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + (b ^ c ^ d) + w14 + 0x6ed9eba1) | 0; b = (b << 30) | (b >>> 2);
    x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + (a ^ b ^ c) + w15 + 0x6ed9eba1) | 0; a = (a << 30) | (a >>> 2);
    x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + (e ^ a ^ b) + w0 + 0x6ed9eba1) | 0; e = (e << 30) | (e >>> 2);
    x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + (d ^ e ^ a) + w1 + 0x6ed9eba1) | 0; d = (d << 30) | (d >>> 2);
    x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + (c ^ d ^ e) + w2 + 0x6ed9eba1) | 0; c = (c << 30) | (c >>> 2);
    x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + (b ^ c ^ d) + w3 + 0x6ed9eba1) | 0; b = (b << 30) | (b >>> 2);
    x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + (a ^ b ^ c) + w4 + 0x6ed9eba1) | 0; a = (a << 30) | (a >>> 2);
    x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + (e ^ a ^ b) + w5 + 0x6ed9eba1) | 0; e = (e << 30) | (e >>> 2);
    x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + (d ^ e ^ a) + w6 + 0x6ed9eba1) | 0; d = (d << 30) | (d >>> 2);
    x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + (c ^ d ^ e) + w7 + 0x6ed9eba1) | 0; c = (c << 30) | (c >>> 2);
    x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + w8 - 0x70e44324) | 0; b = (b << 30) | (b >>> 2);
    x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + w9 - 0x70e44324) | 0; a = (a << 30) | (a >>> 2);
    x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + w10 - 0x70e44324) | 0; e = (e << 30) | (e >>> 2);
    x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + w11 - 0x70e44324) | 0; d = (d << 30) | (d >>> 2);
    x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + w12 - 0x70e44324) | 0; c = (c << 30) | (c >>> 2);
    x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + w13 - 0x70e44324) | 0; b = (b << 30) | (b >>> 2);
    x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + w14 - 0x70e44324) | 0; a = (a << 30) | (a >>> 2);
    x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + w15 - 0x70e44324) | 0; e = (e << 30) | (e >>> 2);
    x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + w0 - 0x70e44324) | 0; d = (d << 30) | (d >>> 2);
    x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + w1 - 0x70e44324) | 0; c = (c << 30) | (c >>> 2);
    x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + w2 - 0x70e44324) | 0; b = (b << 30) | (b >>> 2);
    x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + w3 - 0x70e44324) | 0; a = (a << 30) | (a >>> 2);
    x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + w4 - 0x70e44324) | 0; e = (e << 30) | (e >>> 2);
    x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + w5 - 0x70e44324) | 0; d = (d << 30) | (d >>> 2);
    x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + w6 - 0x70e44324) | 0; c = (c << 30) | (c >>> 2);
    x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + ((b & c) | (d & (b | c))) + w7 - 0x70e44324) | 0; b = (b << 30) | (b >>> 2);
    x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + ((a & b) | (c & (a | b))) + w8 - 0x70e44324) | 0; a = (a << 30) | (a >>> 2);
    x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + ((e & a) | (b & (e | a))) + w9 - 0x70e44324) | 0; e = (e << 30) | (e >>> 2);
    x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + ((d & e) | (a & (d | e))) + w10 - 0x70e44324) | 0; d = (d << 30) | (d >>> 2);
    x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + ((c & d) | (e & (c | d))) + w11 - 0x70e44324) | 0; c = (c << 30) | (c >>> 2);
    x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + (b ^ c ^ d) + w12 - 0x359d3e2a) | 0; b = (b << 30) | (b >>> 2);
    x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + (a ^ b ^ c) + w13 - 0x359d3e2a) | 0; a = (a << 30) | (a >>> 2);
    x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + (e ^ a ^ b) + w14 - 0x359d3e2a) | 0; e = (e << 30) | (e >>> 2);
    x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + (d ^ e ^ a) + w15 - 0x359d3e2a) | 0; d = (d << 30) | (d >>> 2);
    x = w13 ^ w8 ^ w2 ^ w0; w0 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + (c ^ d ^ e) + w0 - 0x359d3e2a) | 0; c = (c << 30) | (c >>> 2);
    x = w14 ^ w9 ^ w3 ^ w1; w1 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + (b ^ c ^ d) + w1 - 0x359d3e2a) | 0; b = (b << 30) | (b >>> 2);
    x = w15 ^ w10 ^ w4 ^ w2; w2 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + (a ^ b ^ c) + w2 - 0x359d3e2a) | 0; a = (a << 30) | (a >>> 2);
    x = w0 ^ w11 ^ w5 ^ w3; w3 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + (e ^ a ^ b) + w3 - 0x359d3e2a) | 0; e = (e << 30) | (e >>> 2);
    x = w1 ^ w12 ^ w6 ^ w4; w4 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + (d ^ e ^ a) + w4 - 0x359d3e2a) | 0; d = (d << 30) | (d >>> 2);
    x = w2 ^ w13 ^ w7 ^ w5; w5 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + (c ^ d ^ e) + w5 - 0x359d3e2a) | 0; c = (c << 30) | (c >>> 2);
    x = w3 ^ w14 ^ w8 ^ w6; w6 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + (b ^ c ^ d) + w6 - 0x359d3e2a) | 0; b = (b << 30) | (b >>> 2);
    x = w4 ^ w15 ^ w9 ^ w7; w7 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + (a ^ b ^ c) + w7 - 0x359d3e2a) | 0; a = (a << 30) | (a >>> 2);
    x = w5 ^ w0 ^ w10 ^ w8; w8 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + (e ^ a ^ b) + w8 - 0x359d3e2a) | 0; e = (e << 30) | (e >>> 2);
    x = w6 ^ w1 ^ w11 ^ w9; w9 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + (d ^ e ^ a) + w9 - 0x359d3e2a) | 0; d = (d << 30) | (d >>> 2);
    x = w7 ^ w2 ^ w12 ^ w10; w10 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + (c ^ d ^ e) + w10 - 0x359d3e2a) | 0; c = (c << 30) | (c >>> 2);
    x = w8 ^ w3 ^ w13 ^ w11; w11 = (x << 1) | (x >>> 31);
    e = (e + ((a << 5) | (a >>> 27)) + (b ^ c ^ d) + w11 - 0x359d3e2a) | 0; b = (b << 30) | (b >>> 2);
    x = w9 ^ w4 ^ w14 ^ w12; w12 = (x << 1) | (x >>> 31);
    d = (d + ((e << 5) | (e >>> 27)) + (a ^ b ^ c) + w12 - 0x359d3e2a) | 0; a = (a << 30) | (a >>> 2);
    x = w10 ^ w5 ^ w15 ^ w13; w13 = (x << 1) | (x >>> 31);
    c = (c + ((d << 5) | (d >>> 27)) + (e ^ a ^ b) + w13 - 0x359d3e2a) | 0; e = (e << 30) | (e >>> 2);
    x = w11 ^ w6 ^ w0 ^ w14; w14 = (x << 1) | (x >>> 31);
    b = (b + ((c << 5) | (c >>> 27)) + (d ^ e ^ a) + w14 - 0x359d3e2a) | 0; d = (d << 30) | (d >>> 2);
    x = w12 ^ w7 ^ w1 ^ w15; w15 = (x << 1) | (x >>> 31);
    a = (a + ((b << 5) | (b >>> 27)) + (c ^ d ^ e) + w15 - 0x359d3e2a) | 0; c = (c << 30) | (c >>> 2);
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  H[0] = h0;
  H[1] = h1;
  H[2] = h2;
  H[3] = h3;
  H[4] = h4;
}

const INIT = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];

/** Byte `i` (0..19) of the digest in H, big-endian. */
function digestByte(i: number): number {
  return (H[i >>> 2]! >>> (24 - ((i & 3) << 3))) & 0xff;
}

export class HmacSha1 {
  /** Chaining value after the (key XOR ipad) block. */
  private readonly inner = new Int32Array(5);
  /** Chaining value after the (key XOR opad) block. */
  private readonly outer = new Int32Array(5);

  /** `key`: the session authentication key (20 bytes for SRTP; any length works). */
  constructor(key: Uint8Array) {
    const k = new Uint8Array(64);
    if (key.length > 64) {
      // RFC 2104: a key longer than the block is replaced by its hash (never the case in SRTP)
      H.set(INIT);
      hashFrom(key, 0, key.length, NO_ROC, 0);
      for (let i = 0; i < 20; i++) k[i] = digestByte(i);
    } else {
      k.set(key);
    }
    const pad = new Uint8Array(64);
    for (let i = 0; i < 64; i++) pad[i] = k[i]! ^ 0x36;
    H.set(INIT);
    compressBlocks(pad, 0, 1);
    this.inner.set(H);
    for (let i = 0; i < 64; i++) pad[i] = k[i]! ^ 0x5c;
    H.set(INIT);
    compressBlocks(pad, 0, 1);
    this.outer.set(H);
  }

  /**
   * Tag of buf[off, off + len) || ROC (when roc >= 0, as 4 big-endian bytes): the first tagLen
   * (at most 20) bytes of the HMAC, written to out[outOff, outOff + tagLen). `out` may be `buf`.
   */
  sign(buf: Uint8Array, off: number, len: number, roc: number, out: Uint8Array, outOff: number, tagLen: number): void {
    this.mac(buf, off, len, roc);
    for (let i = 0; i < tagLen; i++) out[outOff + i] = digestByte(i);
  }

  /**
   * Whether tag[tagOff, tagOff + tagLen) is the (truncated) HMAC of buf[off, off + len) || ROC.
   * Compares every byte whatever the mismatch position (no timing hint to a forger).
   */
  verify(buf: Uint8Array, off: number, len: number, roc: number, tag: Uint8Array, tagOff: number, tagLen: number): boolean {
    this.mac(buf, off, len, roc);
    let d = 0;
    for (let i = 0; i < tagLen; i++) d |= digestByte(i) ^ tag[tagOff + i]!;
    return d === 0;
  }

  /** Full HMAC into H. */
  private mac(buf: Uint8Array, off: number, len: number, roc: number): void {
    H.set(this.inner);
    hashFrom(buf, off, len, roc, 64);
    for (let i = 0; i < 20; i++) outerBlock[i] = digestByte(i);
    H.set(this.outer);
    compressBlocks(outerBlock, 0, 1);
  }
}

/**
 * Continue the hash in H over buf[off, off + len) || ROC with `prefix` bytes already hashed, and
 * finish it (padding and length). Whole blocks are read from buf in place; only the tail is copied.
 */
function hashFrom(buf: Uint8Array, off: number, len: number, roc: number, prefix: number): void {
  const end = off + len;
  const whole = len >>> 6;
  if (whole > 0) compressBlocks(buf, off, whole);
  let p = off + (whole << 6);
  let n = 0;
  while (p < end) tail[n++] = buf[p++]!;
  let total = prefix + len;
  if (roc >= 0) {
    tail[n] = roc >>> 24;
    tail[n + 1] = (roc >>> 16) & 0xff;
    tail[n + 2] = (roc >>> 8) & 0xff;
    tail[n + 3] = roc & 0xff;
    n += 4;
    total += 4;
  }
  tail[n++] = 0x80;
  const blocks = n + 8 <= 64 ? 1 : 2;
  const last = blocks * 64;
  while (n < last - 8) tail[n++] = 0;
  // bit length as 64 bits; packets are far below 2^29 bytes, so the high word is zero
  const bits = total * 8;
  tail[last - 8] = 0;
  tail[last - 7] = 0;
  tail[last - 6] = 0;
  tail[last - 5] = 0;
  tail[last - 4] = bits >>> 24;
  tail[last - 3] = (bits >>> 16) & 0xff;
  tail[last - 2] = (bits >>> 8) & 0xff;
  tail[last - 1] = bits & 0xff;
  compressBlocks(tail, 0, blocks);
}

/**
 * The same interface over node:crypto's createHmac (one Hmac object per packet): what the SRTP
 * path used before HmacSha1, kept selectable (SrtpContextOptions.hmac) so bench/hmac.ts can keep
 * measuring the two against each other on the packet path.
 */
export class NodeHmacSha1 {
  private readonly key: KeyObject;
  private readonly rocBytes = Buffer.alloc(4);

  constructor(key: Uint8Array) {
    this.key = createSecretKey(key);
  }

  private digest(buf: Uint8Array, off: number, len: number, roc: number): Buffer {
    const h = createHmac('sha1', this.key).update(buf.subarray(off, off + len));
    if (roc >= 0) {
      this.rocBytes.writeUInt32BE(roc >>> 0, 0);
      h.update(this.rocBytes);
    }
    return h.digest();
  }

  sign(buf: Uint8Array, off: number, len: number, roc: number, out: Uint8Array, outOff: number, tagLen: number): void {
    const mac = this.digest(buf, off, len, roc);
    for (let i = 0; i < tagLen; i++) out[outOff + i] = mac[i]!;
  }

  verify(buf: Uint8Array, off: number, len: number, roc: number, tag: Uint8Array, tagOff: number, tagLen: number): boolean {
    const mac = this.digest(buf, off, len, roc);
    let d = 0;
    for (let i = 0; i < tagLen; i++) d |= mac[i]! ^ tag[tagOff + i]!;
    return d === 0;
  }
}

/** An SRTP authenticator: HmacSha1 (default) or NodeHmacSha1. */
export type SrtpAuthenticator = HmacSha1 | NodeHmacSha1;
export type SrtpHmacEngine = 'js' | 'node';

export function createSrtpAuthenticator(key: Uint8Array, engine: SrtpHmacEngine = 'js'): SrtpAuthenticator {
  return engine === 'node' ? new NodeHmacSha1(key) : new HmacSha1(key);
}
