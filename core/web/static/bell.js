// The bell in the header: the unread count, kept current from the live socket (topic "me").
// Without JavaScript the bell is a plain link to the inbox with the count of the page load.
import { follow } from "./live.js";

const bell = document.querySelector("[data-bell]");
if (bell) {
  const count = bell.querySelector("[data-bell-count]");
  const label = bell.dataset.label || "Notifications";
  const show = (unread) => {
    count.textContent = unread > 0 ? String(unread) : "";
    count.hidden = unread <= 0;
    bell.setAttribute("aria-label", unread > 0 ? `${label} (${unread})` : label);
  };
  follow(["me"], (_topic, data) => {
    if (data && (data.type === "notification" || data.type === "notification.unread")) {
      show(Number(data.unread) || 0);
    }
  });
}
