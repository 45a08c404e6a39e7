/**
 * A latency probe: one GET every `intervalMs` on its own keep-alive connection, timed from a worker thread,
 * so a busy load generator in the main thread cannot delay the probe's own clock. It answers "was the
 * server's event loop ever blocked?": a blocked loop shows up as one slow probe.
 */
import { Worker } from "node:worker_threads";
import { summarize, type LatencySummary } from "./load.js";

// Plain CommonJS for `eval: true`: no loader, no TypeScript, nothing but node:http.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const url = new URL(workerData.url);
const samples = [];
let errors = 0;
let stopping = false;
parentPort.on("message", () => { stopping = true; });
const once = () => new Promise((resolve) => {
  const t0 = performance.now();
  const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, agent }, (res) => {
    res.resume();
    res.on("end", () => { if (res.statusCode === 200) samples.push(performance.now() - t0); else errors++; resolve(); });
  });
  req.on("error", () => { errors++; resolve(); });
  req.end();
});
(async () => {
  while (!stopping) {
    await once();
    await new Promise((r) => setTimeout(r, workerData.intervalMs));
  }
  agent.destroy();
  parentPort.postMessage({ samples, errors });
})();
`;

export interface ProbeResult extends LatencySummary {
  count: number;
  errors: number;
}

export const startProbe = (url: string, intervalMs = 10): { stop(): Promise<ProbeResult> } => {
  const worker = new Worker(WORKER, { eval: true, workerData: { url, intervalMs } });
  const done = new Promise<{ samples: number[]; errors: number }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return {
    stop: async () => {
      worker.postMessage("stop");
      const { samples, errors } = await done;
      await worker.terminate();
      return { ...summarize(samples), count: samples.length, errors };
    },
  };
};
