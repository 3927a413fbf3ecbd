/**
 * The Prometheus registry: every Portunus metric is computed at scrape time from read-only state
 * (the gateway's maps and lifetime counters, the media plane, the plugins), so nothing here touches
 * the signalling or packet paths. Process and Node.js metrics (CPU, memory, file descriptors, GC,
 * event-loop lag) come from prom-client's default collectors.
 *
 * Naming: `portunus_` prefix, base units in the name (`_seconds`, `_bytes`), `_total` on counters,
 * `direction="in|out"` from the server's point of view, `kind="audio|video"`. See docs/operations.md.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { FAULT_BOUNDARIES, faultCounts } from '../core/fault.js';
import type { Gateway } from '../core/gateway.js';
import type { MediaPlane, MediaPlaneMetrics, MediaKindCounters } from '../core/media-plane.js';
import { logLinesDropped } from '../log.js';
import { VERSION_STRING } from '../version.js';
import type { WorkerStatus } from '../workers/pool.js';
import { LANE_MAX_AGE_MS, type LaneCounts } from '../workers/bus.js';
import type { ClusterStatus } from '../cluster/cluster.js';
import { collectProcessMetrics } from './event-loop.js';
import { asPeerSource, MediaMetricsReader } from './media.js';
import { readPlugin, type PluginReading } from './plugins.js';
import { udpDropsInPorts } from './udp-drops.js';

export interface MetricsOptions {
  gateway: Gateway;
  /** The media plane the gateway was built with (null: signalling only, no media metrics). */
  media?: MediaPlane | null;
  /** Size of media.rtp_port_range (0: any port). */
  rtpPortsTotal?: number;
  /** The media sockets' ports (rtp_port_range, or the single ports): their kernel receive drops are read at scrape time. */
  mediaPorts?: { min: number; max: number } | null;
  /** The media worker pool, if any: per-worker PeerConnections, packets and event-loop lag (label worker="0".."N-1"). */
  workers?: () => WorkerStatus[];
  /** Cluster mode: the node's view of the cluster (portunus_cluster_*). */
  cluster?: () => ClusterStatus;
  /** Process/Node.js default metrics (default true; tests that build many registries may turn them off). */
  defaultMetrics?: boolean;
}

interface Snapshot {
  plugins: PluginReading[];
  media: MediaPlaneMetrics | null;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The exposition text (computes a fresh snapshot first). */
  scrape(): Promise<string>;
}

const KINDS = ['audio', 'video'] as const;

export function createMetrics(opts: MetricsOptions): Metrics {
  const gw = opts.gateway;
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectProcessMetrics(registry);
  const media = opts.media
    ? new MediaMetricsReader(opts.media, asPeerSource(opts.media), () => gw.handles.keys(), opts.rtpPortsTotal ?? 0)
    : null;
  media?.installTap();
  let snap: Snapshot = { plugins: [], media: null };
  const registers = [registry];

  const ports = opts.mediaPorts ?? null;
  if (ports !== null) {
    new Gauge({
      name: 'portunus_udp_receive_drops',
      help: 'Datagrams the kernel dropped because a media socket (a port of rtp_port_range or the single ports, or a VideoRoom remote publisher\'s RTP/RTCP port) had a full receive buffer: summed over the sockets open now (/proc/net/udp drops, Linux).',
      registers,
      collect() {
        // Remote publishers bind in Janus's fixed 10000-60000, not rtp_port_range: their ports come from the plugins.
        const extra = new Set<number>();
        for (const p of snap.plugins) for (const port of p.udpPorts ?? []) if (port < ports.min || port > ports.max) extra.add(port);
        this.set(udpDropsInPorts(ports.min, ports.max, extra));
      },
    });
  }

  new Gauge({
    name: 'portunus_build_info',
    help: 'Portunus version and Node.js runtime (always 1).',
    labelNames: ['version', 'nodejs'],
    registers,
    collect() {
      this.set({ version: VERSION_STRING, nodejs: process.versions.node }, 1);
    },
  });
  new Gauge({
    name: 'portunus_accepting_new_sessions',
    help: '1 while new sessions are accepted (Admin accept_new_sessions, 0 during shutdown).',
    registers,
    collect() {
      this.set(gw.settings.acceptingNewSessions ? 1 : 0);
    },
  });

  new Counter({
    name: 'portunus_faults_total',
    help: 'Exceptions contained by a fault boundary (boundary="process": the last-line handlers, should stay 0).',
    labelNames: ['boundary'],
    registers,
    collect() {
      this.reset();
      const c = faultCounts();
      for (const b of FAULT_BOUNDARIES) this.inc({ boundary: b }, c[b]);
    },
  });

  new Counter({
    name: 'portunus_log_lines_dropped_total',
    help: 'Log lines dropped because stdout was full (a reader that does not keep up), per thread (workers: since their last start).',
    labelNames: ['thread'],
    registers,
    collect() {
      this.reset();
      this.inc({ thread: 'main' }, logLinesDropped());
      for (const w of opts.workers?.() ?? []) this.inc({ thread: `worker-${w.index}` }, w.logDropped);
    },
  });

  const cluster = opts.cluster;
  if (cluster) {
    new Gauge({
      name: 'portunus_cluster_redis_up',
      help: 'Cluster mode: 1 while this node is connected to Redis.',
      registers,
      collect() {
        this.set(cluster().redis_up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'portunus_cluster_nodes',
      help: 'Cluster mode: nodes this node saw in the registry at its last heartbeat (itself included).',
      registers,
      collect() {
        this.set(cluster().nodes.length);
      },
    });
    new Gauge({
      name: 'portunus_cluster_rooms',
      help: 'Cluster mode: cluster rooms (stored in Redis) this node holds, by plugin.',
      labelNames: ['plugin'],
      registers,
      collect() {
        this.reset();
        for (const [plugin, n] of Object.entries(cluster().rooms)) this.set({ plugin }, n);
      },
    });
    new Counter({
      name: 'portunus_cluster_refused_total',
      help: 'Cluster mode: room changes refused because Redis was unreachable (error 499).',
      registers,
      collect() {
        this.reset();
        this.inc(Object.values(cluster().stats).reduce((n, s) => n + (s.refused ?? 0), 0));
      },
    });
  }

  // ---------------------------------------------------------------- sessions and handles
  new Gauge({
    name: 'portunus_sessions',
    help: 'Janus API sessions alive now.',
    registers,
    collect() {
      this.set(gw.sessions.size);
    },
  });
  new Counter({
    name: 'portunus_sessions_created_total',
    help: 'Janus API sessions created since start.',
    registers,
    collect() {
      this.reset();
      this.inc(gw.lifetime.sessionsCreated);
    },
  });
  new Counter({
    name: 'portunus_sessions_ended_total',
    help: 'Sessions that ended since start, by reason (destroyed: by the client or its transport going away; timeout; shutdown).',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const reason of ['destroyed', 'timeout', 'shutdown']) this.inc({ reason }, gw.lifetime.sessionsOver.get(reason) ?? 0);
    },
  });
  new Gauge({
    name: 'portunus_handles',
    help: 'Plugin handles attached now, by plugin.',
    labelNames: ['plugin'],
    registers,
    collect() {
      this.reset();
      const counts = new Map<string, number>([...gw.plugins.keys()].map((p) => [p, 0]));
      for (const h of gw.handles.values()) counts.set(h.plugin.package, (counts.get(h.plugin.package) ?? 0) + 1);
      for (const [plugin, n] of counts) this.set({ plugin }, n);
    },
  });
  const lifetimeByPlugin = (name: string, help: string, map: Map<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: ['plugin'],
      registers,
      collect() {
        this.reset();
        for (const plugin of gw.plugins.keys()) this.inc({ plugin }, map.get(plugin) ?? 0);
      },
    });
  lifetimeByPlugin('portunus_handles_attached_total', 'Handles attached since start, by plugin.', gw.lifetime.handlesAttached);
  lifetimeByPlugin('portunus_handles_detached_total', 'Handles detached since start, by plugin.', gw.lifetime.handlesDetached);
  new Gauge({
    name: 'portunus_transport_clients',
    help: 'Transport connections (WebSocket or HTTP long-poll owners) that own at least one session.',
    registers,
    collect() {
      this.set(gw.stats().clients);
    },
  });

  // ---------------------------------------------------------------- plugins
  const withRooms = () => snap.plugins.filter((p) => p.source !== 'none');
  new Gauge({
    name: 'portunus_plugin_rooms',
    help: 'Rooms that exist now, by plugin (VideoRoom, AudioBridge, TextRoom).',
    labelNames: ['plugin'],
    registers,
    collect() {
      this.reset();
      for (const p of withRooms()) this.set({ plugin: p.plugin }, p.rooms);
    },
  });
  new Gauge({
    name: 'portunus_plugin_participants',
    help: 'Participants in those rooms now, by plugin.',
    labelNames: ['plugin'],
    registers,
    collect() {
      this.reset();
      for (const p of withRooms()) this.set({ plugin: p.plugin }, p.participants);
    },
  });
  new Gauge({
    name: 'portunus_plugin_metrics_source',
    help: 'Where a plugin\'s room figures come from: "metrics" (exact) or "admin_list" (public rooms only). Always 1.',
    labelNames: ['plugin', 'source'],
    registers,
    collect() {
      this.reset();
      for (const p of withRooms()) this.set({ plugin: p.plugin, source: p.source }, 1);
    },
  });
  new Gauge({
    name: 'portunus_mixer_lag_seconds',
    help: 'How far behind schedule a mixing plugin\'s frame clock is now (worst room), by plugin.',
    labelNames: ['plugin'],
    registers,
    collect() {
      this.reset();
      for (const p of snap.plugins) if (p.mixerLagSeconds !== undefined) this.set({ plugin: p.plugin }, p.mixerLagSeconds);
    },
  });
  new Counter({
    name: 'portunus_mixer_frames_total',
    help: 'Mix frames produced since start (all rooms), by plugin.',
    labelNames: ['plugin'],
    registers,
    collect() {
      this.reset();
      for (const p of snap.plugins) if (p.mixerFramesProduced !== undefined) this.inc({ plugin: p.plugin }, p.mixerFramesProduced);
    },
  });
  new Counter({
    name: 'portunus_mixer_frames_skipped_total',
    help: 'Mix frames skipped after event-loop stalls since start (all rooms), by plugin.',
    labelNames: ['plugin'],
    registers,
    collect() {
      this.reset();
      for (const p of snap.plugins) if (p.mixerFramesSkipped !== undefined) this.inc({ plugin: p.plugin }, p.mixerFramesSkipped);
    },
  });

  // ---------------------------------------------------------------- media
  if (media !== null) {
    new Gauge({
      name: 'portunus_peerconnections',
      help: 'PeerConnections now, by state: connecting (ICE/DTLS in progress), connected (webrtcup), failed (ICE failed, not hung up yet).',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(snap.media?.peerConnections ?? {})) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'portunus_rtp_ports_in_use',
      help: 'UDP ports of media.rtp_port_range held by PeerConnections.',
      registers,
      collect() {
        this.set(snap.media?.portsInUse ?? 0);
      },
    });
    new Gauge({
      name: 'portunus_rtp_ports',
      help: 'Size of media.rtp_port_range (0: any port).',
      registers,
      collect() {
        this.set(snap.media?.portsTotal ?? 0);
      },
    });
    const perKind = (name: string, help: string, pick: Array<[string, keyof MediaKindCounters]>) =>
      new Counter({
        name,
        help,
        labelNames: pick[0]![0] === '' ? ['kind'] : ['direction', 'kind'],
        registers,
        collect() {
          this.reset();
          const m = snap.media;
          if (!m) return;
          for (const kind of KINDS) {
            for (const [direction, key] of pick) this.inc(direction === '' ? { kind } : { direction, kind }, m[kind][key]);
          }
        },
      });
    perKind('portunus_rtp_packets_total', 'RTP packets received from (in) and sent to (out) peers.', [['in', 'packetsIn'], ['out', 'packetsOut']]);
    perKind('portunus_rtp_bytes_total', 'RTP bytes received from (in) and sent to (out) peers.', [['in', 'bytesIn'], ['out', 'bytesOut']]);
    perKind(
      'portunus_rtp_lost_packets_total',
      'RTP packets lost: in = expected from peers and never received; out = reported lost by peers (RTCP receiver reports).',
      [['in', 'lostIn'], ['out', 'lostOut']],
    );
    perKind('portunus_rtp_retransmitted_packets_total', 'RTP packets retransmitted to peers after a NACK.', [['', 'retransmitted']]);
    perKind('portunus_rtcp_nacks_total', 'RTCP NACK messages received from (in) and sent to (out) peers.', [['in', 'nacksIn'], ['out', 'nacksOut']]);
    perKind('portunus_rtcp_plis_total', 'Keyframe requests (RTCP PLI and FIR) received from (in) and sent to (out) peers.', [['in', 'plisIn'], ['out', 'plisOut']]);
    new Counter({
      name: 'portunus_media_errors_total',
      help: 'Media datagrams dropped, by cause (dropped, srtp, unknown_ssrc, malformed_rtp, malformed_rtcp, dtls).',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        for (const [type, n] of Object.entries(snap.media?.errors ?? {})) this.inc({ type }, n);
      },
    });
  }

  // ---------------------------------------------------------------- media workers
  const workers = opts.workers;
  if (workers) {
    new Gauge({
      name: 'portunus_worker_up',
      help: 'Media worker threads: 1 while running, 0 while being restarted after a crash.',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const w of workers()) this.set({ worker: String(w.index) }, w.up ? 1 : 0);
      },
    });
    new Counter({
      name: 'portunus_worker_restarts_total',
      help: 'Media worker threads started again after they died.',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const w of workers()) this.inc({ worker: String(w.index) }, w.restarts);
      },
    });
    new Gauge({
      name: 'portunus_worker_peerconnections',
      help: 'PeerConnections living on each media worker.',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const w of workers()) this.set({ worker: String(w.index) }, w.load.peers);
      },
    });
    new Counter({
      name: 'portunus_worker_rtp_packets_total',
      help: 'RTP packets received from (in) and sent to (out) peers, per media worker (since its last start).',
      labelNames: ['worker', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const w of workers()) {
          const m = w.media;
          if (!m) continue;
          this.inc({ worker: String(w.index), direction: 'in' }, m.audio.packetsIn + m.video.packetsIn);
          this.inc({ worker: String(w.index), direction: 'out' }, m.audio.packetsOut + m.video.packetsOut);
        }
      },
    });
    new Gauge({
      name: 'portunus_worker_rtp_packets_per_second',
      help: 'RTP packets in + out per second on each media worker (the load placement reads).',
      labelNames: ['worker'],
      registers,
      collect() {
        this.reset();
        for (const w of workers()) this.set({ worker: String(w.index) }, w.load.packetsPerSec);
      },
    });
    new Gauge({
      name: 'portunus_worker_event_loop_lag_seconds',
      help: "Event-loop delay of each media worker over its last report period (mean beyond the sampler's 10 ms; max).",
      labelNames: ['worker', 'stat'],
      registers,
      collect() {
        this.reset();
        for (const w of workers()) {
          this.set({ worker: String(w.index), stat: 'mean' }, w.load.loopLagMs / 1000);
          this.set({ worker: String(w.index), stat: 'max' }, w.load.loopLagMaxMs / 1000);
        }
      },
    });
    // Counted where the lane ends (the worker that fell behind reads its rings), so each loss once.
    const laneCounter = (name: string, help: string, pick: (c: LaneCounts) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['worker', 'plugin'],
        registers,
        collect() {
          this.reset();
          for (const w of workers()) for (const [plugin, c] of Object.entries(w.lanes)) this.inc({ worker: String(w.index), plugin }, pick(c));
        },
      });
    };
    laneCounter(
      'portunus_lane_ring_dropped_total',
      "Cross-worker packet-lane records dropped because the receiving worker's ring was full, per receiving worker and plugin (since that worker's last start).",
      (c) => c.dropped,
    );
    laneCounter(
      'portunus_lane_ring_stale_total',
      `Cross-worker packet-lane records skipped because they were older than ${LANE_MAX_AGE_MS} ms when the receiving worker got to them (it fell behind), per receiving worker and plugin (since its last start).`,
      (c) => c.stale,
    );
  }

  const snapshot = async (): Promise<Snapshot> => {
    const plugins = await Promise.all([...gw.plugins.values()].map((p) => readPlugin(p)));
    let m: MediaPlaneMetrics | null = null;
    try {
      m = media?.read() ?? null;
    } catch {
      m = null;
    }
    return { plugins, media: m };
  };

  return {
    registry,
    contentType: registry.contentType,
    async scrape() {
      snap = await snapshot();
      return registry.metrics();
    },
  };
}
