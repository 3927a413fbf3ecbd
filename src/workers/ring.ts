/**
 * A single-producer / single-consumer ring of variable-length records in a SharedArrayBuffer: how one
 * media worker hands packets to another without a postMessage (structured clone, allocation, a task) per
 * packet.
 *
 * API (stable; other plugins' cross-worker paths build on it):
 *
 *   const sab = createRing(1 << 20);            // capacity in bytes, a power of two >= 4096
 *   // producer thread                           // consumer thread
 *   const tx = new RingProducer(sab);            const rx = new RingConsumer(sab, (tag, meta, data, offset, length) => {
 *   tx.write(tag, meta, buf, off, len);            // data (a Buffer over the ring) [offset, offset + length) is the payload; copy it if
 *   // -> false: ring full, record dropped          // kept past the callback: the producer reuses the space afterwards.
 *   tx.flush();   // optional: wake the            });
 *                 // consumer now                rx.start();   // drains on every wake-up until close()
 *   tx.dropped, tx.written                       rx.close();   // stops waiting (the producer's writes are then just dropped by no one)
 *
 *   // optional: a consumer that would rather lose old records than deliver them late
 *   new RingConsumer(sab, onRecord, { maxAgeMs: 500, onStale: (tag, meta, count) => { ... } });
 *
 * - `tag` and `meta` are two unsigned 32-bit words carried with each record, for the caller's routing:
 *   e.g. tag = the feed's stream key, meta = substream | temporal << 8 | flags << 16 (see packMeta).
 * - The producer never blocks: a record that does not fit is dropped and counted (`dropped`, also
 *   readable by the consumer as `rx.dropped`). A record larger than a quarter of the ring is refused
 *   the same way.
 * - Wake-ups are batched: the producer wakes the consumer (Atomics.notify; the consumer waits with
 *   Atomics.waitAsync, one promise per wake-up, never per record) at most once per turn of its event
 *   loop (setImmediate after the first write of a batch), and only if the consumer is idle; a consumer
 *   that is still draining picks the new records up before it sleeps again.
 * - A consumer never holds its thread: one drain delivers at most what was written when it began, and for
 *   at most DRAIN_BUDGET_MS; the rest comes on the next turn of its event loop (setImmediate), after the
 *   thread's messages, timers and sockets. A consumer behind a faster producer used to drain until the
 *   ring was empty, which never happened: its thread then answered nothing for seconds (issue 12).
 * - Records are delivered in order, each exactly once, with the payload's bytes as written.
 * - Bounded latency (option `maxAgeMs`): each record carries the time it was written; one that is older
 *   than maxAgeMs when the consumer reaches it is skipped, not delivered, and counted (`stale`, readable
 *   on both sides like `dropped`). A consumer thread starved of CPU otherwise turns its backlog into
 *   seconds of delay with no gap (a loaded bench saw subscribers 15-24 s behind), which is worth less to
 *   a viewer than the loss and a fresh keyframe. `onStale(tag, meta, count)` runs after the drain,
 *   once per tag that lost records in it (meta: of the first record lost), so the owner can react (ask
 *   for a keyframe) without a call per record; `keep(tag, meta)`, asked about old records only, can
 *   exempt the few that must arrive however late (control records among packets). Records that are
 *   delivered are still in order, each once. Without the option nothing is skipped.
 *
 * Layout: a 64-byte control block (Int32 words: head, tail, dropped, signal, closed, written, stale) then
 * the data area. head and tail are byte counters that wrap at 2^32; the data area's size divides 2^32,
 * so `counter & mask` is the position. A record is a 16-byte header (payload length, tag, meta, stamp)
 * and the payload padded to 4 bytes; a record that would cross the end leaves a WRAP marker and starts
 * at 0.
 *
 * The stamp: the write time in ms as a 32-bit counter, performance.timeOrigin + performance.now() mod
 * 2^32. That sum is the one clock the threads of a process share (each thread's performance.now() has
 * its own origin; timeOrigin puts them on the same wall-clock base, measured within a ms of each other
 * across worker threads) and it is monotonic within a thread, unlike Date.now(). A 32-bit word keeps the
 * header 4-byte aligned and 16 bytes (a float64 would need 8-byte alignment, which records do not have,
 * or a DataView per record); the age is the difference mod 2^32 read as signed, right for any age under
 * 24 days, and a record a few tenths of a ms "from the future" (clock skew) is simply fresh. The producer
 * reads the clock once per write (tens of ns, beside a packet copy); the consumer reads it once per
 * delivered record already (its drain budget) and judges the next record by that reading, so a record
 * is at most maxAgeMs + 1 ms old (the ms truncation) when its handler starts. The bound is the ring's
 * only: time a packet spent before the write (the producer's socket buffer) is not seen here.
 */

const HEAD = 0;
const TAIL = 1;
const DROPPED = 2;
const SIGNAL = 3;
const CLOSED = 4;
const WRITTEN = 5;
const STALE = 6;
const CONTROL_BYTES = 64;
const HEADER_BYTES = 16;
/** In the length word: the rest of the data area up to its end is padding. */
const WRAP = -1;
/** How long one drain may deliver before its thread's event loop gets a turn (messages, timers, sockets). */
const DRAIN_BUDGET_MS = 4;

/** Atomics.waitAsync (V8 has it since Node 16; TypeScript's ES2023 lib does not declare it yet). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/** `data` is a Buffer over the whole data area (copy out with data.copy(dst, 0, offset, offset + length): no allocation). */
export type RingRecordHandler = (tag: number, meta: number, data: Buffer, offset: number, length: number) => void;

/** RingConsumer's latency bound (see the header comment). */
export interface RingConsumerOptions {
  /** Records older than this (ms since they were written) when the consumer reaches them are skipped and counted. */
  maxAgeMs?: number;
  /** After a drain that skipped records: once per tag, with the meta of its first skipped record and how many were skipped. */
  onStale?: (tag: number, meta: number, count: number) => void;
  /**
   * Asked only about a record that is too old: true delivers it anyway (a control record that shares
   * the ring with packets, whose loss nothing would repair). Absent: every old record is skipped.
   */
  keep?: (tag: number, meta: number) => boolean;
}

/** Tags one drain tracks skipped records of before it reports them early (no allocation: fixed tables). */
const STALE_TAGS = 16;

/** The clock records are stamped with: ms, shared by the process's threads, mod 2^32 (see the header comment). */
function stampNow(origin: number): number {
  return (origin + performance.now()) >>> 0;
}

/** A SharedArrayBuffer laid out as a ring of `capacity` data bytes (a power of two, >= 4096). */
export function createRing(capacity: number): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < 4096 || (capacity & (capacity - 1)) !== 0 || capacity > 1 << 30) {
    throw new RangeError(`ring capacity must be a power of two between 4096 and 2^30, got ${capacity}`);
  }
  return new SharedArrayBuffer(CONTROL_BYTES + capacity);
}

/** meta as packMeta builds it: substream (8 bits), temporal layer (8 bits), flags (16 bits). */
export function packMeta(substream: number, temporal: number, flags: number): number {
  return ((substream & 0xff) | ((temporal & 0xff) << 8) | ((flags & 0xffff) << 16)) >>> 0;
}
export const metaSubstream = (meta: number): number => meta & 0xff;
export const metaTemporal = (meta: number): number => (meta >>> 8) & 0xff;
export const metaFlags = (meta: number): number => meta >>> 16;

function views(sab: SharedArrayBuffer): { ctl: Int32Array; data: Buffer; words: Int32Array; mask: number } {
  const capacity = sab.byteLength - CONTROL_BYTES;
  if (capacity < 4096 || (capacity & (capacity - 1)) !== 0) throw new RangeError('not a ring made by createRing');
  return {
    ctl: new Int32Array(sab, 0, CONTROL_BYTES / 4),
    data: Buffer.from(sab, CONTROL_BYTES, capacity),
    words: new Int32Array(sab, CONTROL_BYTES, capacity / 4),
    mask: capacity - 1,
  };
}

export class RingProducer {
  private readonly ctl: Int32Array;
  private readonly data: Buffer;
  private readonly words: Int32Array;
  private readonly mask: number;
  private readonly capacity: number;
  private readonly maxRecord: number;
  private readonly origin = performance.timeOrigin;
  /** Our copy of head: only we write it. */
  private head: number;
  private wakeScheduled = false;
  private readonly wake = (): void => {
    this.wakeScheduled = false;
    this.flush();
  };

  constructor(sab: SharedArrayBuffer) {
    const v = views(sab);
    this.ctl = v.ctl;
    this.data = v.data;
    this.words = v.words;
    this.mask = v.mask;
    this.capacity = v.mask + 1;
    this.maxRecord = this.capacity >>> 2;
    this.head = Atomics.load(this.ctl, HEAD) >>> 0;
  }

  /** Records dropped because the ring was full (or the record too large) since the ring was made. */
  get dropped(): number {
    return Atomics.load(this.ctl, DROPPED) >>> 0;
  }

  /** Records written since the ring was made. */
  get written(): number {
    return Atomics.load(this.ctl, WRITTEN) >>> 0;
  }

  /** Records the consumer skipped as too old (its maxAgeMs) since the ring was made. */
  get stale(): number {
    return Atomics.load(this.ctl, STALE) >>> 0;
  }

  /** The consumer closed the ring: writing is pointless (and the caller may drop its producer). */
  get closed(): boolean {
    return Atomics.load(this.ctl, CLOSED) !== 0;
  }

  /** Appends one record; false (and counted as dropped) when it does not fit. Never blocks. */
  write(tag: number, meta: number, src: Uint8Array, offset: number, length: number): boolean {
    const padded = (length + 3) & ~3;
    const need = HEADER_BYTES + padded;
    if (need > this.maxRecord) {
      Atomics.add(this.ctl, DROPPED, 1);
      return false;
    }
    const head = this.head;
    const free = this.capacity - ((head - (Atomics.load(this.ctl, TAIL) >>> 0)) >>> 0);
    let pos = head & this.mask;
    const toEnd = this.capacity - pos;
    let skip = 0;
    if (toEnd < need) skip = toEnd;
    if (skip + need > free) {
      Atomics.add(this.ctl, DROPPED, 1);
      return false;
    }
    if (skip > 0) {
      this.words[pos >>> 2] = WRAP;
      pos = 0;
    }
    const w = pos >>> 2;
    this.words[w] = length;
    this.words[w + 1] = tag | 0;
    this.words[w + 2] = meta | 0;
    this.words[w + 3] = stampNow(this.origin) | 0;
    if (Buffer.isBuffer(src)) src.copy(this.data, pos + HEADER_BYTES, offset, offset + length);
    else this.data.set(length === src.length && offset === 0 ? src : src.subarray(offset, offset + length), pos + HEADER_BYTES);
    this.head = (head + skip + need) >>> 0;
    // The store publishes the record (Atomics are sequentially consistent: the bytes above are visible first).
    Atomics.store(this.ctl, HEAD, this.head | 0);
    Atomics.add(this.ctl, WRITTEN, 1);
    if (!this.wakeScheduled) {
      this.wakeScheduled = true;
      setImmediate(this.wake);
    }
    return true;
  }

  /** Wakes the consumer now if it sleeps (write() does it once per event-loop turn by itself). */
  flush(): void {
    if (Atomics.compareExchange(this.ctl, SIGNAL, 0, 1) === 0) Atomics.notify(this.ctl, SIGNAL);
  }
}

export class RingConsumer {
  private readonly ctl: Int32Array;
  private readonly data: Buffer;
  private readonly words: Int32Array;
  private readonly mask: number;
  private readonly capacity: number;
  private tail: number;
  private running = false;
  /** Drains of the started consumer that delivered records (tests, diagnostics: batching). */
  batches = 0;
  private readonly onWake = (): void => this.loop();
  private readonly origin = performance.timeOrigin;
  /** Infinity: no bound (nothing is skipped). */
  private readonly maxAgeMs: number;
  private readonly onStale: ((tag: number, meta: number, count: number) => void) | null;
  private readonly keep: ((tag: number, meta: number) => boolean) | null;
  /** Per tag, the records one drain skipped: typed arrays made once, so skipping allocates nothing. */
  private readonly staleTags = new Uint32Array(STALE_TAGS);
  private readonly staleMetas = new Uint32Array(STALE_TAGS);
  private readonly staleCounts = new Uint32Array(STALE_TAGS);
  private staleN = 0;

  constructor(
    sab: SharedArrayBuffer,
    private readonly onRecord: RingRecordHandler,
    options: RingConsumerOptions = {},
  ) {
    const v = views(sab);
    this.ctl = v.ctl;
    this.data = v.data;
    this.words = v.words;
    this.mask = v.mask;
    this.capacity = v.mask + 1;
    this.tail = Atomics.load(this.ctl, TAIL) >>> 0;
    const max = options.maxAgeMs;
    if (max !== undefined && !(max >= 0)) throw new RangeError(`maxAgeMs must be >= 0, got ${max}`);
    this.maxAgeMs = max ?? Number.POSITIVE_INFINITY;
    this.onStale = options.onStale ?? null;
    this.keep = options.keep ?? null;
  }

  get dropped(): number {
    return Atomics.load(this.ctl, DROPPED) >>> 0;
  }

  /** Records skipped as older than maxAgeMs since the ring was made. */
  get stale(): number {
    return Atomics.load(this.ctl, STALE) >>> 0;
  }

  get closed(): boolean {
    return Atomics.load(this.ctl, CLOSED) !== 0;
  }

  /** Starts draining on every wake-up (asynchronously, on this thread's event loop). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop();
  }

  /**
   * Delivers every record written before the call, in order; returns how many. Records written meanwhile
   * wait for the next call (a drain that re-read the head until the ring was empty never returned while a
   * faster producer kept writing). A handler that throws loses only its record (the fault stays with the
   * caller's packet, not the ring).
   */
  drain(): number {
    return this.drainFor(Number.POSITIVE_INFINITY);
  }

  /**
   * As drain(), but stops once `budgetMs` have passed (the clock read after every record: one can cost
   * tens of ms, a fan-out to hundreds of subscribers on a starved core, and reading it tens of ns).
   * Records older than maxAgeMs are skipped on the way; they cost next to nothing, so they do not read
   * the clock again (the one read after the last delivered record is the age's "now": skipped records
   * only get older meanwhile, so none is skipped that was fresh).
   */
  private drainFor(budgetMs: number): number {
    let n = 0;
    let skipped = 0;
    let tail = this.tail;
    const head = Atomics.load(this.ctl, HEAD) >>> 0;
    const maxAge = this.maxAgeMs;
    const bounded = maxAge !== Number.POSITIVE_INFINITY;
    let now = performance.now();
    const until = now + budgetMs;
    let stampedNow = (this.origin + now) >>> 0;
    while (tail !== head) {
      const pos = tail & this.mask;
      const w = pos >>> 2;
      const length = this.words[w]!;
      if (length === WRAP) {
        tail = (tail + (this.capacity - pos)) >>> 0;
        continue;
      }
      const tag = this.words[w + 1]! >>> 0;
      const meta = this.words[w + 2]! >>> 0;
      const next = (tail + HEADER_BYTES + ((length + 3) & ~3)) >>> 0;
      // Signed difference mod 2^32: a stamp slightly ahead of our clock (another thread's) is age <= 0.
      if (bounded && ((stampedNow - this.words[w + 3]!) | 0) > maxAge && (this.keep === null || !this.keep(tag, meta))) {
        tail = next;
        skipped++;
        this.noteStale(tag, meta);
        continue;
      }
      try {
        this.onRecord(tag, meta, this.data, pos + HEADER_BYTES, length);
      } catch {
        // the handler's own fault boundary is its business; the ring moves on
      }
      tail = next;
      n++;
      now = performance.now();
      if (now >= until) break;
      stampedNow = (this.origin + now) >>> 0;
    }
    // Free the space only after the handler has read the bytes.
    this.tail = tail;
    Atomics.store(this.ctl, TAIL, tail | 0);
    if (skipped > 0) {
      Atomics.add(this.ctl, STALE, skipped);
      this.reportStale();
    }
    return n;
  }

  /** One skipped record, counted under its tag (reported at the drain's end, or now if the table is full). */
  private noteStale(tag: number, meta: number): void {
    const tags = this.staleTags;
    const n = this.staleN;
    for (let i = 0; i < n; i++) {
      if (tags[i] === tag) {
        this.staleCounts[i]!++;
        return;
      }
    }
    if (n === STALE_TAGS) this.reportStale();
    const i = this.staleN++;
    tags[i] = tag;
    this.staleMetas[i] = meta;
    this.staleCounts[i] = 1;
  }

  private reportStale(): void {
    const n = this.staleN;
    this.staleN = 0;
    const cb = this.onStale;
    if (cb === null) return;
    for (let i = 0; i < n; i++) {
      try {
        cb(this.staleTags[i]!, this.staleMetas[i]!, this.staleCounts[i]!);
      } catch {
        // the owner's reaction is its business, as a record handler's
      }
    }
  }

  /** Records written and not yet delivered. */
  get pending(): boolean {
    return (Atomics.load(this.ctl, HEAD) >>> 0) !== this.tail;
  }

  /** Stops waiting for wake-ups; the producer sees `closed`. */
  close(): void {
    Atomics.store(this.ctl, CLOSED, 1);
    this.running = false;
    Atomics.store(this.ctl, SIGNAL, 1);
    Atomics.notify(this.ctl, SIGNAL);
  }

  /**
   * One drain per event-loop turn. More records than one drain takes: come back with setImmediate (SIGNAL
   * stays 1, so producers do not notify meanwhile), after the turn has served this thread's messages,
   * timers and sockets. Empty: clear SIGNAL, look once more (a producer that wrote after the drain but
   * saw SIGNAL = 1 did not notify), then wait; waitAsync with 0 expected returns 'not-equal' when a
   * producer set SIGNAL after the clear, so no wake-up is missed.
   */
  private loop(): void {
    if (!this.running || Atomics.load(this.ctl, CLOSED) !== 0) return;
    if (this.drainFor(DRAIN_BUDGET_MS) > 0) this.batches++;
    if (this.pending) {
      setImmediate(this.onWake);
      return;
    }
    Atomics.store(this.ctl, SIGNAL, 0);
    if (this.pending) {
      setImmediate(this.onWake);
      return;
    }
    const r = waitAsync(this.ctl, SIGNAL, 0);
    if (r.async) void r.value.then(this.onWake);
    else setImmediate(this.onWake);
  }
}
