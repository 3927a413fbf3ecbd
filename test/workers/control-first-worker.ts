/**
 * Worker side of control-first.test.ts: a thread busy with "media work" in one long task (units of
 * `unitMs` CPU, `units` of them, as a fan-out of queued packets on a starved core) that calls
 * serveControl() between units, as the media paths do between datagrams and ring records. With
 * `poll` false it does not: main's messages then wait for the end of the task.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { controlServed, installControlPoll, serveControl } from '../../src/workers/control-first.js';

const { unitMs, units, poll } = workerData as { unitMs: number; units: number; poll: boolean };
const port = parentPort!;
const onMessage = (m: unknown): void => {
  const msg = m as { ping?: number; work?: boolean };
  if (msg.work) {
    port.postMessage({ workStart: true });
    for (let i = 0; i < units; i++) {
      if (poll) serveControl();
      const until = performance.now() + unitMs;
      while (performance.now() < until) {
        // the unit's CPU
      }
    }
    port.postMessage({ workDone: true });
    return;
  }
  port.postMessage({ pong: msg.ping, at: performance.now() });
};
port.on('message', (m) => {
  controlServed();
  onMessage(m);
});
installControlPoll(port as unknown as import('node:worker_threads').MessagePort, onMessage);
port.postMessage({ ready: true });
