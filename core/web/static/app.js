// Loaded by every page: the progressive enhancements the shell itself offers.
//
// - form[data-confirm]: asks in a <dialog> before submitting.
// - form[data-enhance]: submitted without reloading; the answer (HTML) replaces the element
//   named by data-target (default: the form itself), or the page reloads for a redirect.
// - the person's menu closes on Escape and when clicking elsewhere.
// Text from the server is written with textContent, never as HTML, except fragments the hub
// rendered itself for data-enhance.
import { csrfToken, send, problemText } from "./net.js";

function confirmDialog(message) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    const text = document.createElement("p");
    text.textContent = message;
    const buttons = document.createElement("form");
    buttons.method = "dialog";
    buttons.className = "inline";
    const cancel = document.createElement("button");
    cancel.value = "cancel";
    cancel.textContent = document.documentElement.lang === "fr" ? "Annuler" : "Cancel";
    const ok = document.createElement("button");
    ok.value = "ok";
    ok.className = "primary";
    ok.textContent = "OK";
    buttons.append(cancel, ok);
    dialog.append(text, buttons);
    document.body.append(dialog);
    dialog.addEventListener("close", () => { resolve(dialog.returnValue === "ok"); dialog.remove(); });
    dialog.showModal();
    ok.focus();
  });
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement)) { return; }
  if (form.dataset.confirm && form.dataset.confirmed !== "yes") {
    event.preventDefault();
    if (await confirmDialog(form.dataset.confirm)) {
      form.dataset.confirmed = "yes";
      form.requestSubmit();
    }
    return;
  }
  delete form.dataset.confirmed;
  if (!("enhance" in form.dataset)) { return; }
  event.preventDefault();
  const data = new FormData(form);
  if (!data.has("csrf_token")) { data.set("csrf_token", csrfToken()); }
  const result = await send(form.action, { method: form.method || "POST", body: data, headers: { Accept: "text/html" } });
  if (result.response.redirected) { window.location.assign(result.response.url); return; }
  const target = document.querySelector(form.dataset.target || "") || form;
  if (result.ok && typeof result.body === "string") {
    const fragment = document.createRange().createContextualFragment(result.body);
    target.replaceWith(fragment);
  } else {
    const note = document.createElement("p");
    note.className = "notice bad";
    note.setAttribute("role", "alert");
    note.textContent = problemText(result);
    form.after(note);
  }
});

const menu = document.querySelector("details.menu");
if (menu) {
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) { menu.open = false; menu.querySelector("summary").focus(); }
  });
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) { menu.open = false; }
  });
}

// A poster that cannot be loaded at all (the hub answers a see-through image when it has
// none, but a network failure has no body) is hidden, so its letter placeholder shows.
document.addEventListener("error", (event) => {
  const image = event.target;
  if (image instanceof HTMLImageElement && image.classList.contains("poster-img")) { image.hidden = true; }
}, true);
