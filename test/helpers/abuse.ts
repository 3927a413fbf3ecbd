/**
 * A bounded, deterministic (seeded) abuse load for memory measurements against a real server process:
 * for `durationMs`, `workers` loops each open a WebSocket, create a session, attach every demo plugin,
 * send offers (a real Chrome offer, malformed SDP, a 200-m-line offer, one far over the limits),
 * trickle candidates, throw garbage datagrams at the media ports the answers advertise, and destroy
 * the session. Not a fuzzer (test/fuzz is): the point is to churn every allocation path and then
 * see whether the server gives the memory back.
 */
import { createSocket, type Socket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { WsClient, postJson, type JsonObject } from './janus-client.js';
import type { RunningServer } from './server-process.js';
import { manyMlineOffer } from './big-offer.js';
import { CHROME_OFFER } from '../plugins/videoroom/fixtures.js';

import { prng } from './prng.js';

export interface ProcessMemory {
  rssKb: number;
  fds: number;
}

export function processMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)![1]), fds: readdirSync(`/proc/${pid}/fd`).length };
}

export interface AdminHeap {
  heap_used: number;
  heap_total: number;
  rss: number;
  external: number;
  gc: boolean;
}

async function admin(srv: RunningServer, janus: string): Promise<JsonObject> {
  return postJson(srv.adminUrl, { janus, transaction: `a${Date.now()}`, admin_secret: srv.adminSecret });
}

/** Admin `heap_usage` (a full GC first when the server runs with --expose-gc). */
export async function heapUsage(srv: RunningServer): Promise<AdminHeap> {
  return (await admin(srv, 'heap_usage')).heap as unknown as AdminHeap;
}

export async function sessionCount(srv: RunningServer): Promise<number> {
  return ((await admin(srv, 'list_sessions')).sessions as unknown[]).length;
}

export interface AbuseOptions {
  durationMs: number;
  seed: number;
  /** Concurrent loops (default 4). */
  workers?: number;
  /** Plugins to attach each round (default: all four demo plugins). */
  plugins?: readonly string[];
  /** Called every second with the server's memory (to record the peak). */
  onSample?: (m: ProcessMemory) => void;
}

export interface AbuseStats {
  rounds: number;
  requests: number;
  datagrams: number;
  errors: number;
}

export const ABUSE_PLUGINS: readonly string[] = ['echotest', 'videoroom', 'textroom', 'audiobridge'];
const MALFORMED = ['v=0\r\nthis is not sdp\r\n', 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio x RTP\r\n', 'garbage', ''];

/** host/port of every UDP candidate in an SDP (what the server advertises). */
function advertisedPorts(sdp: string): Array<{ address: string; port: number }> {
  const out: Array<{ address: string; port: number }> = [];
  for (const m of sdp.matchAll(/a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ/gi)) out.push({ address: m[1]!, port: Number(m[2]) });
  return out;
}

class Round {
  private n = 0;
  constructor(
    private readonly ws: WsClient,
    private readonly stats: AbuseStats,
  ) {}
  async send(msg: Record<string, unknown>, wantEvent = false): Promise<JsonObject | null> {
    const transaction = `r${++this.n}`;
    this.stats.requests++;
    const reply = this.ws.waitFor((m) => m.transaction === transaction && (!wantEvent || m.janus !== 'ack'), 10_000, 'reply');
    this.ws.sendRaw({ ...msg, transaction });
    try {
      return await reply;
    } catch {
      this.stats.errors++;
      return null;
    }
  }
}

async function oneRound(srv: RunningServer, plugins: readonly string[], rnd: () => number, udp: Socket, stats: AbuseStats): Promise<void> {
  const ws = await WsClient.connect(srv.wsUrl);
  try {
    const r = new Round(ws, stats);
    const created = await r.send({ janus: 'create' });
    const session = (created?.data as { id?: number } | undefined)?.id;
    if (session === undefined) return;
    const ports: Array<{ address: string; port: number }> = [];
    for (const plugin of plugins) {
      const att = await r.send({ janus: 'attach', session_id: session, plugin: `janus.plugin.${plugin}` });
      const handle = (att?.data as { id?: number } | undefined)?.id;
      if (handle === undefined) continue;
      const base = { janus: 'message', session_id: session, handle_id: handle };
      const body =
        plugin === 'videoroom' ? { request: 'joinandconfigure', room: 1234, ptype: 'publisher', display: 'abuse' }
        : plugin === 'audiobridge' ? { request: 'join', room: 1234 }
        : plugin === 'textroom' ? { request: 'setup' }
        : { audio: true, video: true };
      const pick = rnd();
      const sdp = pick < 0.5 ? CHROME_OFFER : pick < 0.7 ? MALFORMED[Math.floor(rnd() * MALFORMED.length)]! : pick < 0.9 ? manyMlineOffer(200) : manyMlineOffer(2000);
      const reply = await r.send(plugin === 'textroom' ? { ...base, body } : { ...base, body, jsep: { type: 'offer', sdp } }, true);
      const local = (reply?.jsep as { sdp?: string } | undefined)?.sdp;
      if (local) ports.push(...advertisedPorts(local));
      await r.send({ janus: 'trickle', session_id: session, handle_id: handle, candidates: [
        { sdpMid: '0', sdpMLineIndex: 0, candidate: `candidate:1 1 udp 2122194687 127.0.0.1 ${10000 + Math.floor(rnd() * 50000)} typ host` },
        { sdpMid: 'x', sdpMLineIndex: 99, candidate: 'candidate:garbage' },
        { completed: true },
      ] });
    }
    // Garbage at the media ports: random bytes, STUN-looking, DTLS-looking, RTP-looking.
    for (const p of ports.slice(0, 8)) {
      for (let i = 0; i < 20; i++) {
        const len = 1 + Math.floor(rnd() * 1200);
        const buf = Buffer.allocUnsafe(len);
        for (let j = 0; j < len; j++) buf[j] = Math.floor(rnd() * 256);
        buf[0] = [0x00, 0x16, 0x80, 0x90, buf[0]!][i % 5]!;
        udp.send(buf, p.port, p.address);
        stats.datagrams++;
      }
    }
    await r.send({ janus: 'destroy', session_id: session });
  } finally {
    await ws.close();
  }
}

/** Runs the load for `durationMs`; every session it created is destroyed when it returns. */
export async function runAbuse(srv: RunningServer, opts: AbuseOptions): Promise<AbuseStats> {
  const stats: AbuseStats = { rounds: 0, requests: 0, datagrams: 0, errors: 0 };
  const udp = createSocket('udp4');
  udp.on('error', () => undefined);
  const end = Date.now() + opts.durationMs;
  const sampler = setInterval(() => {
    try {
      opts.onSample?.(processMemory(srv.pid));
    } catch {
      /* process gone: the caller finds out */
    }
  }, 1000);
  try {
    await Promise.all(
      Array.from({ length: opts.workers ?? 4 }, async (_, w) => {
        const rnd = prng(opts.seed + w);
        while (Date.now() < end) {
          try {
            await oneRound(srv, opts.plugins ?? ABUSE_PLUGINS, rnd, udp, stats);
          } catch {
            stats.errors++;
          }
          stats.rounds++;
        }
      }),
    );
  } finally {
    clearInterval(sampler);
    udp.close();
  }
  return stats;
}
