// The person's signed-in browsers: listed in a dialog (GET /api/sessions),
// each can be signed out (POST /api/sessions/revoke with the CSRF token),
// which closes that browser's open pages at once.
"use strict";

function fmtWhen(t) {
  const d = new Date(t);
  if (isNaN(d)) return "";
  return d.toLocaleString(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

function sessionRow(s) {
  const li = document.createElement("li");
  li.dataset.session = s.id;
  const what = document.createElement("div");
  what.className = "what";
  const name = document.createElement("strong");
  name.textContent = s.agent || "a browser";
  what.append(name);
  if (s.current) {
    const tag = document.createElement("span");
    tag.className = "tag";
    tag.textContent = "this browser";
    what.append(" ", tag);
  }
  const detail = document.createElement("p");
  detail.className = "hint";
  detail.textContent = "from " + s.addr + " · signed in " + fmtWhen(s.created) + " · last seen " + fmtWhen(s.lastSeen);
  what.append(detail);
  const b = document.createElement("button");
  b.type = "button";
  b.className = "plain";
  b.textContent = "Sign out";
  b.setAttribute("aria-label", "Sign out " + (s.current ? "this browser" : (s.agent || "a browser") + " from " + s.addr));
  b.addEventListener("click", () => revokeSession(s, li));
  li.append(what, b);
  return li;
}

async function loadSessions() {
  $("sessions-msg").textContent = "";
  let r;
  try {
    r = await fetch("/api/sessions", { credentials: "same-origin" });
  } catch {
    $("sessions-msg").textContent = "Could not reach the server.";
    return;
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    $("sessions-msg").textContent = body.error || "Could not list your browsers.";
    return;
  }
  $("session-list").replaceChildren(...(body.sessions || []).map(sessionRow));
}

async function revokeSession(s, li) {
  let r;
  try {
    r = await fetch("/api/sessions/revoke", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": state.me.csrf },
      body: JSON.stringify({ id: s.id }),
      credentials: "same-origin",
    });
  } catch {
    $("sessions-msg").textContent = "Could not reach the server: nothing was signed out.";
    return;
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok && r.status !== 404) {
    $("sessions-msg").textContent = body.error || "Could not sign that browser out.";
    return;
  }
  if (s.current) {
    state.ended = true;
    location.reload();
    return;
  }
  li.remove();
  $("sessions-msg").textContent = "Signed out " + (s.agent || "a browser") + " from " + s.addr + ".";
}

function setupSessions() {
  $("open-sessions").addEventListener("click", () => {
    $("session-list").replaceChildren();
    $("sessions").showModal();
    loadSessions();
  });
}
