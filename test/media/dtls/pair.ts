/** In-memory harness: two DtlsEndpoints wired through a lossy, inspectable "network". */
import { generateCertificate, type DtlsCertificate, type Fingerprint } from '../../../src/media/dtls/certificate.js';
import {
  DtlsEndpoint, type DtlsCloseReason, type DtlsConnectedInfo, type DtlsEndpointOptions,
} from '../../../src/media/dtls/endpoint.js';

export interface Side {
  ep: DtlsEndpoint;
  cert: DtlsCertificate;
  sent: Buffer[];
  received: Buffer[];
  connected?: DtlsConnectedInfo;
  closed?: { reason: DtlsCloseReason; detail: string };
  failed?: Error;
  onData?: (d: Buffer) => void;
}

export interface PairOptions {
  client?: Partial<DtlsEndpointOptions>;
  server?: Partial<DtlsEndpointOptions>;
  /** Return false to drop a datagram. */
  filter?: (from: 'client' | 'server', d: Buffer, index: number) => boolean;
  clientCert?: DtlsCertificate;
  serverCert?: DtlsCertificate;
  clientFingerprints?: Fingerprint[];
  serverFingerprints?: Fingerprint[];
}

let shared: [DtlsCertificate, DtlsCertificate] | undefined;
export function certs(): [DtlsCertificate, DtlsCertificate] {
  return (shared ??= [generateCertificate(), generateCertificate()]);
}

export interface Pair {
  client: Side;
  server: Side;
  now: number;
  /** Delivers queued datagrams (and lets werift's microtasks run) until quiet. */
  flush(): Promise<void>;
  /** Advances fake time, firing due timers, then flushes. */
  advance(ms: number): Promise<void>;
}

export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

export function makePair(o: PairOptions = {}): Pair {
  const [cc, sc] = certs();
  const clientCert = o.clientCert ?? cc;
  const serverCert = o.serverCert ?? sc;
  const queue: { to: 'client' | 'server'; d: Buffer }[] = [];
  const counters = { client: 0, server: 0 };
  const pair = { now: 0 } as Pair;
  const mk = (role: 'client' | 'server', cert: DtlsCertificate, fps: Fingerprint[], extra: Partial<DtlsEndpointOptions> | undefined): Side => {
    const side = { cert, sent: [], received: [] } as unknown as Side;
    side.ep = new DtlsEndpoint({ role, certificate: cert, remoteFingerprints: fps, ...extra }, {
      transmit: (d) => {
        side.sent.push(d);
        const idx = counters[role]++;
        if (o.filter && !o.filter(role, d, idx)) return;
        queue.push({ to: role === 'client' ? 'server' : 'client', d });
      },
      connected: (info) => { side.connected = info; },
      data: (d) => { side.received.push(d); side.onData?.(d); },
      closed: (reason, detail) => { side.closed = { reason, detail }; },
      failed: (e) => { side.failed = e; },
    });
    return side;
  };
  pair.client = mk('client', clientCert, o.clientFingerprints ?? [serverCert.fingerprint], o.client);
  pair.server = mk('server', serverCert, o.serverFingerprints ?? [clientCert.fingerprint], o.server);
  pair.flush = async () => {
    for (let quiet = 0; quiet < 3;) {
      await tick();
      if (queue.length === 0) { quiet++; continue; }
      quiet = 0;
      const { to, d } = queue.shift()!;
      (to === 'client' ? pair.client : pair.server).ep.handleDatagram(d, pair.now);
    }
  };
  pair.advance = async (ms: number) => {
    pair.now += ms;
    for (const s of [pair.client, pair.server]) {
      const t = s.ep.pollTimeout();
      if (t !== undefined && t <= pair.now) s.ep.handleTimeout(pair.now);
    }
    await pair.flush();
  };
  return pair;
}

export async function connectPair(o: PairOptions = {}): Promise<Pair> {
  const p = makePair(o);
  p.client.ep.start(p.now);
  await p.flush();
  return p;
}
