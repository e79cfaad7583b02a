// The orbflow acceptance bench's workloads (docs/BENCHMARKS.md) on BullMQ, with
// 1, 2 and 4 `Worker`s of concurrency 8 (like `orbflow worker --concurrency 8`),
// all in this one Node process. Traffic goes to 127.0.0.1 only.
//
//   chain-1000          1,000 jobs, each enqueued by the previous one's processor
//                       (a 1,000-deep flow is not how users write a chain)
//   webhook-chain-200   the same with 200 jobs whose processor POSTs to the local peer
//   fan-out-1000+join   a flow whose parent job (the join) has 1,000 children
//   runs-200x10         200 flows at once, each a 10-deep nesting (a chain of 10:
//                       even steps transform, odd steps POST to the local peer)
//   loop-1000/-10000    that many jobs with the queue's global concurrency at 8
//
// `node bench.mjs` runs every workload with 1, 2 and 4 workers and prints a table;
// `node bench.mjs --json --workload NAME --workers N` runs one and prints one JSON
// line (how crates/cli/benches/fleet.rs calls it). Environment:
//   BULLMQ_REDIS_URL    redis://127.0.0.1:PORT[/DB] (default redis://127.0.0.1:6379)
//   BENCH_PEER_URL      the HTTP peer (default: one started here on 127.0.0.1)
//   BENCH_TIMEOUT_SECS  per workload (default 240); a workload past it reports a timeout
//
// Latencies: ready-to-start is job.timestamp → processedOn-time (ms clock);
// step-to-step is a job's processor start minus its predecessor's processor end
// (after its action, before it enqueues a successor), on performance.now(); a
// fan-out child's or loop job's predecessor is the latest job that ended before
// it started (the one that freed its slot), the join's is the last child.
import http from "node:http";
import { FlowProducer, Queue, Worker } from "bullmq";

const redis = new URL(process.env.BULLMQ_REDIS_URL ?? "redis://127.0.0.1:6379");
if (!["127.0.0.1", "localhost"].includes(redis.hostname)) throw new Error("BULLMQ_REDIS_URL must be on 127.0.0.1");
const connection = { host: "127.0.0.1", port: Number(redis.port || 6379), db: Number(redis.pathname.slice(1) || 0) };
const timeoutMs = Number(process.env.BENCH_TIMEOUT_SECS ?? 240) * 1000;
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.round((s.length - 1) * p)] ?? 0;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms).unref());

async function peerUrl() {
  if (process.env.BENCH_PEER_URL) {
    if (!new URL(process.env.BENCH_PEER_URL).hostname.startsWith("127.")) throw new Error("BENCH_PEER_URL must be on 127.0.0.1");
    return process.env.BENCH_PEER_URL;
  }
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  server.unref();
  return `http://127.0.0.1:${server.address().port}/hook`;
}

// What a step does: TRANSFORM returns a value; TRIGGER_WEBHOOK POSTs to the peer.
async function act(webhook, peer, key, i) {
  if (!webhook) return { value: i };
  const r = await fetch(peer, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify({ i }),
  });
  if (!r.ok) throw new Error(`peer answered ${r.status}`);
  return await r.json();
}

// Latency samples of one workload.
class Tracker {
  constructor() {
    this.ready = [];
    this.start = new Map();
    this.end = new Map();
  }
  begin(job, key) {
    this.ready.push(Date.now() - job.timestamp);
    this.start.set(key, performance.now());
  }
  finish(key) {
    this.end.set(key, performance.now());
  }
  // start(key) - end(pred(key)) for every key with a recorded predecessor;
  // where pred gives "slot", the latest end before the start (the step that
  // freed the worker slot: fan-out children, loop iterations).
  steps(pred) {
    const ends = [...this.end.values()].sort((a, b) => a - b);
    const latestBefore = (t) => {
      let lo = 0;
      let hi = ends.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ends[mid] <= t) lo = mid + 1;
        else hi = mid;
      }
      return lo > 0 ? ends[lo - 1] : undefined;
    };
    const out = [];
    for (const [key, t] of this.start) {
      const p = pred(key);
      let e;
      if (p === "slot") e = latestBefore(t);
      else if (Array.isArray(p)) e = Math.max(...p.map((k) => this.end.get(k) ?? -Infinity));
      else if (p !== undefined) e = this.end.get(p);
      if (e !== undefined && e !== -Infinity) out.push(t - e);
    }
    return out;
  }
}

// Runs `body` with `workers` Workers on a fresh queue until `isDone` says the
// workload finished (on a `completed` event) or the timeout passes.
async function withWorkers({ workers, processor, isDone, add }) {
  const name = `orbflow-ref-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  let done;
  const finished = new Promise((r) => (done = r));
  const ws = [];
  for (let w = 0; w < workers; w++) {
    const worker = new Worker(name, processor, { connection, concurrency: 8 });
    worker.on("completed", (job) => {
      if (isDone(job)) done("done");
    });
    worker.on("failed", (job, err) => done(`failed: ${err?.message}`));
    ws.push(worker);
  }
  await Promise.all(ws.map((w) => w.waitUntilReady()));
  const t = performance.now();
  await add(queue, name);
  const how = await Promise.race([finished, sleep(timeoutMs).then(() => "timeout")]);
  const secs = (performance.now() - t) / 1000;
  await Promise.all(ws.map((w) => w.close(how !== "done")));
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  if (how.startsWith("failed")) throw new Error(how);
  return { secs, timeout: how === "timeout" };
}

async function chain(workers, { n, webhook, peer }) {
  const tr = new Tracker();
  let queue;
  const r = await withWorkers({
    workers,
    processor: async (job) => {
      const i = job.data.i;
      tr.begin(job, i);
      const out = await act(webhook, peer, `chain:${i}`, i);
      tr.finish(i);
      if (i + 1 < n) await queue.add("s", { i: i + 1 }, { removeOnComplete: true });
      return out;
    },
    isDone: (job) => job.data.i === n - 1,
    add: async (q) => {
      queue = q;
      await q.add("s", { i: 0 }, { removeOnComplete: true });
    },
  });
  return { ...r, runs: 1, steps: n, ready: tr.ready, s2s: tr.steps((i) => (i > 0 ? i - 1 : undefined)) };
}

async function fan(workers, { n }) {
  const tr = new Tracker();
  const flow = new FlowProducer({ connection });
  const kids = Array.from({ length: n }, (_, i) => `f${i}`);
  const r = await withWorkers({
    workers,
    processor: async (job) => {
      const key = job.name === "join" ? "join" : `f${job.data.i}`;
      tr.begin(job, key);
      tr.finish(key);
      return job.data.i ?? 0;
    },
    isDone: (job) => job.name === "join",
    add: (_q, name) =>
      flow.add({ name: "join", queueName: name, data: {}, children: kids.map((_, i) => ({ name: "f", queueName: name, data: { i } })) }),
  });
  await flow.close();
  return { ...r, runs: 1, steps: n + 1, ready: tr.ready, s2s: tr.steps((k) => (k === "join" ? kids : "slot")) };
}

async function runs(workers, { runs: count, len, peer }) {
  const tr = new Tracker();
  const flow = new FlowProducer({ connection });
  let finishedRuns = 0;
  const nest = (name, run, i) => ({
    name: "s",
    queueName: name,
    data: { run, i },
    children: i > 0 ? [nest(name, run, i - 1)] : undefined,
  });
  const r = await withWorkers({
    workers,
    processor: async (job) => {
      const { run, i } = job.data;
      const key = `${run}:${i}`;
      tr.begin(job, key);
      const out = await act(i % 2 === 1, peer, key, i);
      tr.finish(key);
      return out;
    },
    isDone: (job) => job.data.i === len - 1 && ++finishedRuns === count,
    add: (_q, name) => flow.addBulk(Array.from({ length: count }, (_, run) => nest(name, run, len - 1))),
  });
  await flow.close();
  const pred = (key) => {
    const [run, i] = key.split(":").map(Number);
    return i > 0 ? `${run}:${i - 1}` : undefined;
  };
  return { ...r, runs: count, steps: count * len, ready: tr.ready, s2s: tr.steps(pred) };
}

async function loop(workers, { n }) {
  const tr = new Tracker();
  let completed = 0;
  const r = await withWorkers({
    workers,
    processor: async (job) => {
      tr.begin(job, job.data.i);
      tr.finish(job.data.i);
      return { value: job.data.i };
    },
    isDone: () => ++completed === n,
    add: async (q) => {
      await q.setGlobalConcurrency(8);
      for (let from = 0; from < n; from += 1000) {
        const chunk = Array.from({ length: Math.min(1000, n - from) }, (_, k) => ({ name: "each", data: { i: from + k }, opts: { removeOnComplete: true } }));
        await q.addBulk(chunk);
      }
    },
  });
  return { ...r, runs: 1, steps: n, ready: tr.ready, s2s: tr.steps(() => "slot") };
}

const WORKLOADS = {
  "chain-1000": (w, peer) => chain(w, { n: 1000, webhook: false, peer }),
  "webhook-chain-200": (w, peer) => chain(w, { n: 200, webhook: true, peer }),
  "fan-out-1000+join": (w) => fan(w, { n: 1000 }),
  "runs-200x10": (w, peer) => runs(w, { runs: 200, len: 10, peer }),
  "loop-1000": (w) => loop(w, { n: 1000 }),
  "loop-10000": (w) => loop(w, { n: 10000 }),
};

async function one(workload, workers, peer) {
  const f = WORKLOADS[workload];
  if (!f) throw new Error(`unknown workload ${workload}; one of ${Object.keys(WORKLOADS).join(", ")}`);
  const r = await f(workers, peer);
  return {
    workload,
    workers,
    runs: r.runs,
    steps: r.steps,
    secs: r.secs,
    timeout: r.timeout,
    ready_p50: pct(r.ready, 0.5),
    ready_p99: pct(r.ready, 0.99),
    s2s_p50: pct(r.s2s, 0.5),
    s2s_p99: pct(r.s2s, 0.99),
    maxrss_kib: process.resourceUsage().maxRSS,
  };
}

const argv = process.argv.slice(2);
const arg = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const peer = await peerUrl();
if (argv.includes("--json")) {
  console.log(JSON.stringify(await one(arg("--workload"), Number(arg("--workers") ?? 1), peer)));
} else {
  console.log(["workload", "workers", "steps", "seconds", "steps/s", "ready p50/p99 ms", "step-to-step p50/p99 ms"].join("\t"));
  for (const workload of Object.keys(WORKLOADS)) {
    for (const workers of [1, 2, 4]) {
      const r = await one(workload, workers, peer);
      const rate = r.timeout ? "timeout" : Math.round(r.steps / r.secs);
      const ms = (x) => x.toFixed(2);
      console.log([workload, workers, r.steps, r.secs.toFixed(3), rate, `${r.ready_p50}/${r.ready_p99}`, `${ms(r.s2s_p50)}/${ms(r.s2s_p99)}`].join("\t"));
    }
  }
}
process.exit(0);
