// Opt-in desktop notifications (Notification API): asked for only when
// the person clicks the button, for mentions and private messages that
// arrive while the tab is hidden. The choice is kept in localStorage.
"use strict";

const notifyKey = "parley.notify";

function notifyOn() {
  return localStorage.getItem(notifyKey) === "on" && "Notification" in window && Notification.permission === "granted";
}

function renderNotify(msg) {
  const on = notifyOn();
  $("notify").textContent = "Notifications: " + (on ? "on" : "off");
  $("notify").setAttribute("aria-pressed", String(on));
  $("notify-msg").textContent = msg || "";
}

async function toggleNotify() {
  if (!("Notification" in window)) {
    renderNotify("This browser cannot show desktop notifications.");
    return;
  }
  if (notifyOn()) {
    localStorage.setItem(notifyKey, "off");
    renderNotify("");
    return;
  }
  let perm = Notification.permission;
  if (perm !== "granted") perm = await Notification.requestPermission();
  if (perm !== "granted") {
    localStorage.setItem(notifyKey, "off");
    renderNotify("Notifications are blocked for this page: allow them in the browser's site settings.");
    return;
  }
  localStorage.setItem(notifyKey, "on");
  renderNotify("You will be notified of mentions and private messages while this tab is hidden.");
}

// notifyMaybe shows a notification for m (just arrived in room name) when
// it is a mention or a private message to the person and the tab is hidden.
function notifyMaybe(m, name) {
  if (!state.me || m.fromId === state.me.id || !document.hidden || !notifyOn()) return;
  let title;
  if (m.kind === "private") title = m.from + " (private)";
  else if ((m.kind === "chat" || m.kind === "emote") && mentions(m.text)) title = m.from + " in #" + name;
  else return;
  const body = m.text.length > 200 ? m.text.slice(0, 200) + "…" : m.text;
  try {
    const n = new Notification(title, { body, tag: "parley-" + (m.kind === "private" ? "private" : name) });
    n.onclick = () => {
      window.focus();
      if (m.kind !== "private" && name !== state.current) show(name);
      n.close();
    };
  } catch {
    // Some browsers allow notifications only from a service worker.
  }
}

function setupNotify() {
  $("notify").addEventListener("click", toggleNotify);
  renderNotify("");
}
