// The orbflow fleet bench's two workloads on BullMQ, on the same Redis
// (127.0.0.1:6379 only), with 1, 2 and 4 worker processes' worth of
// concurrency (8 each, like `orbflow worker --concurrency 8`):
//   chain-1000: 1,000 jobs, each enqueued by the completion of the previous
//               (a hand-rolled sequential chain: BullMQ flows nest children, a
//               1,000-deep flow is not how users write a chain);
//   fan-out-1000+join: a flow whose parent job (the join) has 1,000 children.
// Prints steps/s and job wait latency (timestamp → processedOn) p50/p99.
import { FlowProducer, Queue, Worker } from "bullmq";

const connection = { host: "127.0.0.1", port: 6379 };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.round((s.length - 1) * p)] ?? 0; };

async function chain(workers, n) {
  const name = `orbflow-ref-chain-${Date.now()}`;
  const q = new Queue(name, { connection });
  const lat = [];
  let done;
  const finished = new Promise((r) => (done = r));
  const ws = [];
  for (let w = 0; w < workers; w++) {
    ws.push(new Worker(name, async (job) => {
      lat.push(Date.now() - job.timestamp);
      const i = job.data.i;
      if (i + 1 < n) await q.add("s", { i: i + 1 }, { removeOnComplete: true });
      else done();
      return i;
    }, { connection, concurrency: 8 }));
  }
  const t = performance.now();
  await q.add("s", { i: 0 }, { removeOnComplete: true });
  await finished;
  const secs = (performance.now() - t) / 1000;
  await Promise.all(ws.map((w) => w.close()));
  await q.obliterate({ force: true });
  await q.close();
  return { secs, lat };
}

async function fan(workers, n) {
  const name = `orbflow-ref-fan-${Date.now()}`;
  const flow = new FlowProducer({ connection });
  const lat = [];
  let done;
  const finished = new Promise((r) => (done = r));
  const ws = [];
  for (let w = 0; w < workers; w++) {
    ws.push(new Worker(name, async (job) => {
      lat.push(Date.now() - job.timestamp);
      if (job.name === "join") done();
      return job.data.i ?? 0;
    }, { connection, concurrency: 8 }));
  }
  const t = performance.now();
  await flow.add({ name: "join", queueName: name, data: {}, children: Array.from({ length: n }, (_, i) => ({ name: "f", queueName: name, data: { i } })) });
  await finished;
  const secs = (performance.now() - t) / 1000;
  await Promise.all(ws.map((w) => w.close()));
  const q = new Queue(name, { connection });
  await q.obliterate({ force: true });
  await q.close();
  await flow.close();
  return { secs, lat };
}

console.log(["workload", "workers", "steps", "seconds", "steps/s", "p50 ms", "p99 ms"].join("\t"));
for (const workers of [1, 2, 4]) {
  for (const [label, f, steps] of [["chain-1000", chain, 1000], ["fan-out-1000+join", fan, 1001]]) {
    const { secs, lat } = await f(workers, 1000);
    console.log([label, workers, steps, secs.toFixed(3), Math.round(steps / secs), pct(lat, 0.5), pct(lat, 0.99)].join("\t"));
  }
}
process.exit(0);
