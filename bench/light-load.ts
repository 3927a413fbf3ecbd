/**
 * Subscriber load spread over several processes (bench/light-load-child.ts), so the load side can use
 * more than one core: the parent asks each process over IPC to join subscribers, reads their counters
 * and CPU, and closes them. Subscriber i lives in process i % procs.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ReceiveMode } from './light-client.js';

export type ChildRequest = { id: number } & (
  | { op: 'init'; wsUrl: string; address: string; portMin: number; portMax: number; mode: ReceiveMode; decryptEvery: number }
  | { op: 'subscribe'; room: number; feeds: number[] }
  | { op: 'state' }
  | { op: 'close' }
);
export type ChildReply = { id: number; value?: unknown; error?: string };

/**
 * One subscriber's join, in ms from sending `join`: its offer received, `start` (with the answer)
 * acknowledged by the plugin, the PeerConnection up at the client (ICE + DTLS done), the first RTP
 * packet received. NaN: not (yet) reached.
 */
export interface JoinTiming {
  offer: number;
  started: number;
  up: number;
  first: number;
}

export interface ChildState {
  up: number;
  /** Per subscriber, in the order they were asked to join here. */
  joins?: JoinTiming[];
  closed: string[];
  rtp: number[];
  /** Per subscriber: packets missing from its sequence numbers since its first one (light/count clients). */
  gaps?: number[];
  /** Per subscriber: the worst delivery lag (ms behind the sender's clock) since the previous state request. */
  maxLag?: number[];
  decrypted: number;
  authFailures: number;
  reportsSent: number;
  cpuUs: number;
  bySsrc?: unknown;
}

class LoadChild {
  private next = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: ChildReply) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(`load process: ${m.error}`));
      else w.resolve(m.value);
    });
    proc.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`load process exited (${code})`));
      this.waiting.clear();
    });
  }
  static start(): LoadChild {
    const script = fileURLToPath(new URL('./light-load-child.js', import.meta.url));
    return new LoadChild(fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }
  request<T>(req: Record<string, unknown>): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...req, id });
    });
  }
}

export interface LoadProcessesOptions {
  procs: number;
  wsUrl: string;
  address: string;
  mode: ReceiveMode;
  decryptEvery: number;
  /** Client UDP ports: process k gets its own `portsPerProc`-port slice (default 500) from here. */
  portBase?: number;
  portsPerProc?: number;
}

export class LoadProcesses {
  private placed = 0;
  private constructor(private readonly children: LoadChild[]) {}

  static async start(o: LoadProcessesOptions): Promise<LoadProcesses> {
    const children = Array.from({ length: Math.max(1, o.procs) }, () => LoadChild.start());
    const base = o.portBase ?? 44000;
    const slice = o.portsPerProc ?? 500;
    await Promise.all(
      children.map((c, k) =>
        c.request({ op: 'init', wsUrl: o.wsUrl, address: o.address, portMin: base + slice * k, portMax: base + slice * k + slice - 1, mode: o.mode, decryptEvery: o.decryptEvery }),
      ),
    );
    return new LoadProcesses(children);
  }

  get procs(): number {
    return this.children.length;
  }

  /** Join one subscriber to `room` with every feed in `feeds` (one PeerConnection). */
  async subscribe(room: number, feeds: number[]): Promise<void> {
    const c = this.children[this.placed++ % this.children.length]!;
    await c.request({ op: 'subscribe', room, feeds });
  }

  async states(): Promise<ChildState[]> {
    return Promise.all(this.children.map((c) => c.request<ChildState>({ op: 'state' })));
  }

  /** Join timings of every subscriber (any order: for distributions). */
  static joins(states: ChildState[]): JoinTiming[] {
    // NaN crosses the IPC channel (JSON) as null.
    const num = (x: number | null): number => (typeof x === 'number' ? x : NaN);
    return states.flatMap((s) => (s.joins ?? []).map((j) => ({ offer: num(j.offer), started: num(j.started), up: num(j.up), first: num(j.first) })));
  }

  /** Received RTP per subscriber, in the order they were subscribed. */
  static received(states: ChildState[]): number[] {
    const n = states.reduce((a, s) => a + s.rtp.length, 0);
    return Array.from({ length: n }, (_, i) => states[i % states.length]!.rtp[Math.floor(i / states.length)]!);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.children.map(async (c) => {
        const exited = new Promise<void>((r) => (c.proc.exitCode !== null ? r() : c.proc.once('exit', () => r())));
        await c.request({ op: 'close' }).catch(() => undefined);
        const t = setTimeout(() => c.proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}
