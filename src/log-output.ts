/**
 * Where a thread's log lines go: fd 1, without ever waiting for it.
 *
 * When the server's stdout is a pipe, main made it non-blocking (Node does, for process.stdout), and a
 * slow or stuck reader (a full `docker logs` pipe, a paused `| less`) fills it. Waiting for room there
 * stalls the thread that logs: pino's sync destination retries forever on the main thread, and a media
 * worker that waited up to 1 s per line stopped forwarding for that long. So each thread writes what the
 * pipe takes now and keeps the rest in a bounded queue (QUEUE_LIMIT_BYTES) written on a short timer
 * while the pipe is full; past the bound, lines are dropped and counted (`dropped`, the metric
 * `portunus_log_lines_dropped_total`), and once there is room again one warning line says how many went.
 *
 * A line goes out whole or not at all while nothing is queued (a pipe takes writes up to PIPE_BUF, 4 KiB,
 * atomically), so lines of all threads interleave whole; only a longer line the pipe split can have
 * another thread's line land inside it. Lines already queued when a thread ends are written if the pipe
 * takes them within EXIT_WAIT_MS.
 */
import { writeSync } from 'node:fs';

/** What one thread may hold back while stdout is full (~5000 typical lines); PORTUNUS_LOG_QUEUE_BYTES sets another. */
export const QUEUE_LIMIT_BYTES = queueLimitFromEnv(process.env.PORTUNUS_LOG_QUEUE_BYTES);

function queueLimitFromEnv(v: string | undefined): number {
  const n = v === undefined ? NaN : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : 1 << 20;
}
/** How often a full stdout is tried again while lines wait. */
const RETRY_MS = 25;
/** At the thread's exit: how long queued lines may wait for room before they are given up. */
const EXIT_WAIT_MS = 500;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class LineOutput {
  /** Lines dropped since start (the queue was full, or stdout failed). */
  dropped = 0;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  /** Dropped since the last warning about it. */
  private unreported = 0;
  private timer: NodeJS.Timeout | null = null;

  /**
   * `droppedLine(n)`: the warning line (the thread's own format) written when writing resumes after `n`
   * lines were dropped.
   */
  constructor(
    private readonly droppedLine: (n: number) => string,
    private readonly fd = 1,
    private readonly limit = QUEUE_LIMIT_BYTES,
  ) {}

  /** Bytes waiting for stdout. */
  get pending(): number {
    return this.queuedBytes;
  }

  write(line: string): void {
    const buf = Buffer.from(line);
    if (this.queue.length === 0 && this.unreported === 0) {
      const rest = this.tryWrite(buf);
      if (rest === null || rest.length === 0) return;
      this.enqueue(rest);
      return;
    }
    this.resumeIfRoom();
    // Once dropping, keep dropping until the warning is in (half the bound free): it marks one gap.
    if (this.unreported > 0 || this.queuedBytes + buf.length > this.limit) {
      this.drop();
      return;
    }
    this.enqueue(buf);
    if (this.queue.length === 1) this.flush();
  }

  /** Writes what stdout takes now (the timer, and the thread's exit). */
  flush(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const rest = this.tryWrite(head);
      if (rest === null) {
        // stdout failed (closed): what waits cannot go either.
        this.dropQueued();
        break;
      }
      this.queuedBytes -= head.length - rest.length;
      if (rest.length > 0) {
        this.queue[0] = rest;
        break;
      }
      this.queue.shift();
    }
    this.resumeIfRoom();
    if (this.queue.length === 0 && this.unreported === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** At exit: a bounded wait for room, then whatever still waits is given up. */
  drain(maxWaitMs = EXIT_WAIT_MS): void {
    const end = performance.now() + maxWaitMs;
    this.flush();
    while (this.queue.length > 0 && performance.now() < end) {
      Atomics.wait(sleeper, 0, 0, 5);
      this.flush();
    }
  }

  /** The warning about dropped lines goes in the queue once there is room for more lines (half the bound). */
  private resumeIfRoom(): void {
    if (this.unreported === 0 || this.queuedBytes > this.limit / 2) return;
    const n = this.unreported;
    this.unreported = 0;
    this.enqueue(Buffer.from(this.droppedLine(n)));
    if (this.queue.length === 1) this.flush();
  }

  private enqueue(buf: Buffer): void {
    this.queue.push(buf);
    this.queuedBytes += buf.length;
    if (this.timer === null) {
      this.timer = setInterval(() => this.flush(), RETRY_MS);
      // The queue never keeps a process alive; exit drains it (drain).
      this.timer.unref();
    }
  }

  private drop(): void {
    this.dropped++;
    this.unreported++;
    if (this.timer === null) {
      this.timer = setInterval(() => this.flush(), RETRY_MS);
      this.timer.unref();
    }
  }

  private dropQueued(): void {
    this.dropped += this.queue.length;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  /** What stdout did not take (empty: all of it), or null when it failed for good (the line is counted dropped). */
  private tryWrite(buf: Buffer): Buffer | null {
    let rest = buf;
    while (rest.length > 0) {
      try {
        rest = rest.subarray(writeSync(this.fd, rest));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return rest;
        this.dropped++;
        return null;
      }
    }
    return rest;
  }
}
