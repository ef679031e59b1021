// The search page: results as you type. Each change of the form asks the hub for the results
// part of the page (partial=1) after a short pause; a newer change aborts the request still
// going, so a slow answer never replaces a fresher one. The address bar follows the search,
// and paging links load in place. Without this module the form is a plain GET.
const form = document.getElementById("search-form");
const results = document.getElementById("results");
const DEBOUNCE_MS = 250;
let timer = null;
let inFlight = null;

function urlOf(params) {
  const url = new URL(form.action, window.location.href);
  url.search = params.toString();
  return url;
}

function formParams() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (String(value).trim()) { params.set(name, String(value)); }
  }
  return params;
}

async function load(params, { push = false } = {}) {
  if (inFlight) { inFlight.abort(); }
  const controller = new AbortController();
  inFlight = controller;
  const shown = urlOf(params);
  params.set("partial", "1");
  results.setAttribute("aria-busy", "true");
  try {
    const response = await fetch(urlOf(params), {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      signal: controller.signal,
    });
    if (response.redirected) { window.location.assign(shown); return; }
    const html = await response.text();
    if (controller.signal.aborted) { return; }
    results.replaceChildren(document.createRange().createContextualFragment(html));
    if (push) { window.history.pushState(null, "", shown); }
    else { window.history.replaceState(null, "", shown); }
  } catch (error) {
    if (error.name !== "AbortError") { window.location.assign(shown); }
  } finally {
    if (inFlight === controller) { inFlight = null; results.removeAttribute("aria-busy"); }
  }
}

// The form's search as last asked for: a "change" event that changes nothing (the search box
// losing focus when a paging link is clicked) must not bring the first page back.
let asked = null;

function changed() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    const params = formParams();
    if (params.toString() === asked) { return; }
    asked = params.toString();
    load(params);
  }, DEBOUNCE_MS);
}

if (form && results) {
  asked = formParams().toString();
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    asked = formParams().toString();
    load(formParams(), { push: true });
  });
  results.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-page-link]");
    if (!link) { return; }
    event.preventDefault();
    const params = new URL(link.href).searchParams;
    load(params, { push: true }).then(() => results.scrollIntoView({ block: "start" }));
  });
  window.addEventListener("popstate", () => load(new URLSearchParams(window.location.search)));
}
