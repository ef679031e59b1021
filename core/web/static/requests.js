// Requests on the pages: the request button without reloading, the season picker, and the
// request lists' live status.
//
// - form[data-request-form] (search hits, media details): posted with `partial=1`; the hub
//   answers the title's request box (its new status, or the refusal's message) as HTML, with
//   the answer's status, and it replaces the box in place. Without JavaScript the same form
//   posts and the hub answers a page.
// - the season picker: "All seasons" and single seasons exclude each other.
// - table#requests[data-topic]: rows follow the topic ("me" on My requests, "requests" on
//   Manage requests); a request the page does not show yet is announced.
import { follow } from "./live.js";
import { problemText, send } from "./net.js";

const FINAL = new Set(["available", "declined", "deleted"]);

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !("requestForm" in form.dataset)) { return; }
  event.preventDefault();
  const box = form.closest("[data-request-box]") || form;
  const button = form.querySelector("button[type=submit]");
  if (button) { button.disabled = true; }
  const data = new FormData(form);
  data.set("partial", "1");
  let result;
  try {
    result = await send(form.action, { method: "POST", body: data, headers: { Accept: "text/html" } });
  } catch {
    if (button) { button.disabled = false; }
    return;
  }
  if (typeof result.body === "string" && result.body.includes("data-request-box")) {
    const fragment = document.createRange().createContextualFragment(result.body);
    const replacement = fragment.querySelector("[data-request-box]");
    box.replaceWith(fragment);
    const message = replacement && replacement.querySelector("[role=status], [role=alert]");
    if (message) { message.tabIndex = -1; message.focus(); }
  } else {
    if (button) { button.disabled = false; }
    const note = document.createElement("p");
    note.className = "notice bad";
    note.setAttribute("role", "alert");
    note.textContent = problemText(result);
    form.after(note);
  }
});

document.addEventListener("change", (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement)) { return; }
  const picker = input.closest(".season-picker");
  if (!picker) { return; }
  const all = picker.querySelector("[data-all-seasons]");
  const seasons = [...picker.querySelectorAll("[data-season]")];
  if (input === all && all.checked) {
    for (const season of seasons) { season.checked = false; }
  } else if (input !== all && input.checked) {
    all.checked = false;
  } else if (!seasons.some((season) => season.checked)) {
    all.checked = true;
  }
});

const table = document.querySelector("table#requests[data-topic]");
const labels = table ? JSON.parse(table.dataset.labels || "{}") : {};
const dates = new Intl.DateTimeFormat(document.documentElement.lang || undefined, { dateStyle: "medium", timeStyle: "medium", timeZone: "UTC" });

function show(request) {
  const row = document.getElementById(`request-${request.id}`);
  if (!row) {
    const news = document.getElementById("requests-news");
    if (news && table.dataset.topic === "requests" && request.status === "pending") { news.hidden = false; }
    return;
  }
  row.dataset.status = request.status;
  const pill = row.querySelector('[data-field="status"]');
  if (pill) {
    pill.className = "pill" + (request.status === "available" ? " ok" : ["declined", "failed"].includes(request.status) ? " bad" : "");
    pill.dataset.status = request.status;
    pill.textContent = labels[request.status] || request.status;
  }
  const reason = row.querySelector('[data-field="reason"]');
  if (reason) { reason.textContent = request.reason || ""; }
  const updated = row.querySelector('[data-field="updated"]');
  const shownAt = updated && updated.querySelector("time");
  if (updated && request.updated_at && (!shownAt || shownAt.dateTime !== request.updated_at)) {
    const time = document.createElement("time");
    time.dateTime = request.updated_at;
    time.textContent = dates.format(new Date(request.updated_at));
    updated.replaceChildren(time);
  }
  if (request.status !== "pending") {
    for (const form of row.querySelectorAll("form[data-confirm]")) { form.remove(); }
  }
}

// Rows still moving when the page was made may have moved on before the socket was open.
async function catchUp() {
  const moving = [...table.querySelectorAll("tr[data-request-id]")].filter((row) => !FINAL.has(row.dataset.status));
  for (const row of moving) {
    const result = await send(`/api/v1/requests/${row.dataset.requestId}`);
    if (result.ok && result.body && result.body.id !== undefined) { show(result.body); }
  }
}

if (table) {
  const topic = table.dataset.topic;
  document.addEventListener("live:subscribed", catchUp);
  follow([topic], (_topic, data) => {
    if (!data || !data.request) { return; }
    if (topic === "me" && data.type !== "request") { return; }
    show(data.request);
  });
  const all = document.getElementById("pick-all");
  if (all) {
    all.hidden = false;
    all.addEventListener("change", () => {
      for (const pick of table.querySelectorAll('input[name="ids"]')) { pick.checked = all.checked; }
    });
  }
}
