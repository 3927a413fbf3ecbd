/**
 * prom-client's default metrics with the main thread's event-loop delay sampled every 100 ms instead of
 * its 10 ms: that monitor is a repeating libuv timer, and at 10 ms it woke an idle server 100 times a
 * second (the media workers already sample at 100 ms, src/workers/plugin-worker.ts).
 *
 * Node's delay histogram holds the intervals between samples, the resolution included: at 100 ms its
 * percentiles would all sit above 0.1 s and every `nodejs_eventloop_lag_p99_seconds > 0.05` alert would
 * fire. So the min/max/mean/percentile series keep their names and report the delay beyond the
 * sampling interval (what an operator means by lag; before, they carried prom-client's 10 ms on top).
 * A stall delays the sample whatever the resolution, so the max still shows every stall.
 */
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';

/** The main thread's event-loop delay sampling interval (ms). */
export const EVENT_LOOP_PRECISION_MS = 100;

/** prom-client's histogram-based series that carry the sampling interval (stddev does not). */
const OFFSET_SERIES = ['min', 'max', 'mean', 'p50', 'p90', 'p99'].map((s) => `nodejs_eventloop_lag_${s}_seconds`);

/** Above this (s) a histogram statistic is the empty histogram's sentinel, not a delay. */
const EMPTY_HISTOGRAM_S = 1e6;

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
  const offset = EVENT_LOOP_PRECISION_MS / 1000;
  for (const name of OFFSET_SERIES) {
    const raw = registry.getSingleMetric(name) as Gauge | undefined;
    if (raw === undefined) continue; // a runtime without perf_hooks' monitor
    // prom-client's own gauge stays the sink its collector writes into (once per scrape, from
    // nodejs_eventloop_lag_seconds' collect, which is registered before this one); this one, under the
    // same name, exposes it without the sampling interval.
    registry.removeSingleMetric(name);
    const help = (raw as unknown as { help?: string }).help ?? name;
    new Gauge({
      name,
      help: `${help} Beyond the ${EVENT_LOOP_PRECISION_MS} ms sampling interval.`,
      registers: [registry],
      async collect() {
        const v = (await raw.get()).values[0]?.value;
        // An empty histogram (no sample since the last scrape) reads NaN, or int64 max for its min: kept
        // as prom-client reports them.
        this.set(v === undefined || Number.isNaN(v) || v > EMPTY_HISTOGRAM_S ? (v ?? NaN) : Math.max(0, v - offset));
      },
    });
  }
}
