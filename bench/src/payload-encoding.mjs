// Measures what the broker pays per task when it forwards a payload, for the two wire choices:
// nested MessagePack values (decode the whole submit, re-encode the task) versus an opaque `bin`
// holding the document (decode the envelope, copy bytes). 4 KB structured payload, as in
// docs/decisions/002-opaque-payloads.md. Bounded: a fixed count per variant, progress on stderr.
import { Packr, Unpackr } from "msgpackr";

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false });
const N = Number(process.env.N ?? 50_000);

const doc = { orders: [] };
for (let i = 0; doc.orders.length < 54; i++) {
  doc.orders.push({ id: `ord-${i}`, symbol: "SOL", side: i % 2 ? "buy" : "sell", qty: i * 1.5, price: 150.25 + i, tags: ["a", "b"], ts: 1_700_000_000_000 + i });
}
const docBytes = packr.pack(doc);
const envelope = { type: "submit", ref: "r-1", capability: "price.quote", priority: "normal", timeout_ms: 30_000 };

function forward(submitBytes) {
  const s = unpackr.unpack(submitBytes);
  return packr.pack({ type: "task", task_id: "t-1", capability: s.capability, input: s.input, priority: s.priority, deadline: 1_700_000_000_000, attempt: 1, max_attempts: 3 });
}

function measure(name, submitBytes) {
  for (let i = 0; i < 2_000; i++) forward(submitBytes); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) forward(submitBytes);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  process.stderr.write(`${name}: done\n`);
  return { name, frame_bytes: submitBytes.length, ns_per_forward: Math.round(ns) };
}

const rows = [
  measure("nested", packr.pack({ ...envelope, input: doc })),
  measure("opaque-bin", packr.pack({ ...envelope, input: docBytes })),
];
console.log(`payload document: ${docBytes.length} bytes, ${N} forwards each`);
console.log("| encoding | submit frame bytes | broker decode+re-encode ns/task |");
console.log("|---|---|---|");
for (const r of rows) console.log(`| ${r.name} | ${r.frame_bytes} | ${r.ns_per_forward} |`);
console.log(`ratio nested/opaque: ${(rows[0].ns_per_forward / rows[1].ns_per_forward).toFixed(1)}x`);
