// The syncs page: each run's row follows its progress live (topic "sync"); a run the page
// has not shown yet gets a row at the top.
import { follow } from "./live.js";
import { send } from "./net.js";

const table = document.getElementById("runs");
const labels = table ? JSON.parse(table.dataset.labels || "{}") : {};
const numbers = new Intl.NumberFormat(document.documentElement.lang || undefined);

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function newRow(run) {
  const row = document.createElement("tr");
  row.id = `run-${run.id}`;
  row.dataset.runId = String(run.id);
  const status = document.createElement("td");
  status.dataset.field = "status";
  status.append(document.createElement("span"));
  const progress = document.createElement("td");
  progress.dataset.field = "progress";
  const wrap = document.createElement("span");
  wrap.className = "run-progress";
  const bar = document.createElement("progress");
  bar.setAttribute("aria-label", `#${run.id}`);
  const counts = document.createElement("span");
  counts.className = "muted";
  counts.dataset.field = "counts";
  wrap.append(bar, counts);
  progress.append(wrap);
  const when = cell(run.created_at ? new Date(run.created_at).toLocaleString() : "");
  row.append(cell(String(run.id)), cell(run.source), cell(labels[run.kind] || run.kind), status, progress,
    cell(run.requested_by || run.trigger || ""), when);
  table.tBodies[0].prepend(row);
  const empty = document.getElementById("no-runs");
  if (empty) { empty.remove(); }
  return row;
}

function show(run) {
  const row = document.getElementById(`run-${run.id}`) || newRow(run);
  const pill = row.querySelector('[data-field="status"] span');
  pill.className = "pill" + (run.status === "succeeded" ? " ok" : run.status === "failed" ? " bad" : "");
  pill.textContent = labels[run.status] || run.status;
  const bar = row.querySelector("progress");
  const total = run.total || 0;
  bar.max = total || 1;
  bar.value = total ? Math.min(run.items_seen, total) : (run.status === "succeeded" ? 1 : 0);
  row.querySelector('[data-field="counts"]').textContent =
    numbers.format(run.items_seen) + (total ? ` / ${numbers.format(total)}` : "");
  row.dataset.status = run.status;
  if (run.error) { row.title = run.error; }
}

// Runs still going when the page was made may have moved on before the socket was open.
async function catchUp() {
  const going = [...table.querySelectorAll("tr[data-run-id]")]
    .filter((row) => !["succeeded", "failed"].includes(row.dataset.status));
  for (const row of going) {
    const result = await send(`/api/v1/sync/runs/${row.dataset.runId}`);
    if (result.ok && result.body) { show(result.body); }
  }
}

if (table) {
  document.addEventListener("live:subscribed", catchUp);
  document.addEventListener("live:gap", catchUp);
  follow(["sync"], (_topic, data) => { if (data && data.run) { show(data.run); } });
}
