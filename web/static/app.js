// parley's chat page: plain JavaScript, no build step, no other origin.
// Every text from the server is put in the page with textContent (never
// as HTML); links are made only for http and https URLs.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  me: null,          // {id, name, csrf}
  ws: null,
  current: "",       // the room shown
  rooms: [],         // [{name, topic, private, people}]
  views: new Map(),  // room -> {items: [], unread: 0, members: [], read: 0}
  retry: 0,
  ended: false,
};

function view(name) {
  let v = state.views.get(name);
  if (!v) {
    v = { items: [], unread: 0, members: [], read: 0, start: false, loading: false };
    state.views.set(name, v);
  }
  return v;
}

// ---- rendering -----------------------------------------------------------

function hue(id) {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) % 360;
}

function nameEl(name, id) {
  const s = document.createElement("span");
  s.className = "from";
  s.textContent = name;
  if (id) s.style.setProperty("--h", String(hue(id)));
  return s;
}

const urlPattern = /\bhttps?:\/\/[^\s<>"']+/g;

// appendText puts text in el as text nodes, with http(s) links as anchors.
function appendText(el, text) {
  let last = 0;
  for (const m of text.matchAll(urlPattern)) {
    let raw = m[0].replace(/[.,;:!?)\]]+$/, "");
    let url;
    try { url = new URL(raw); } catch { continue; }
    if (url.protocol !== "http:" && url.protocol !== "https:") continue;
    el.append(document.createTextNode(text.slice(last, m.index)));
    const a = document.createElement("a");
    a.href = url.href;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    a.textContent = raw;
    el.append(a);
    last = m.index + raw.length;
  }
  el.append(document.createTextNode(text.slice(last)));
}

function fmtTime(t) {
  const d = new Date(t);
  if (isNaN(d)) return "";
  return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
}

function mentions(text) {
  if (!state.me || !text) return false;
  const n = state.me.name.toLowerCase();
  const lower = text.toLowerCase();
  let i = lower.indexOf(n);
  while (i >= 0) {
    const before = i === 0 ? "" : lower[i - 1];
    const after = lower[i + n.length] || "";
    if (!/[\p{L}\p{N}_-]/u.test(before) && !/[\p{L}\p{N}_-]/u.test(after)) return true;
    i = lower.indexOf(n, i + 1);
  }
  return false;
}

// row builds the list item of one message.
function row(m) {
  const li = document.createElement("li");
  const time = document.createElement("time");
  if (m.time) {
    time.dateTime = m.time;
    time.textContent = fmtTime(m.time);
  }
  const body = document.createElement("div");
  body.className = "body";
  li.append(time, body);
  const who = m.from || m.text;
  switch (m.kind) {
    case "chat":
      body.append(nameEl(m.from, m.fromId), " ");
      appendText(body, m.text);
      if (m.fromId !== state.me.id && mentions(m.text)) li.classList.add("mention");
      break;
    case "emote":
      body.append("* ", nameEl(m.from, m.fromId), " ");
      appendText(body, m.text);
      break;
    case "join":
      li.className = "event";
      body.textContent = "→ " + who + " joined #" + m.room;
      break;
    case "leave":
      li.className = "event";
      body.textContent = "← " + (m.from || m.text) + " left" + (m.from && m.text ? " (" + m.text + ")" : "");
      break;
    case "nick":
      li.className = "event";
      body.textContent = "~ " + m.from + " is now known as " + m.text;
      break;
    case "topic":
      li.className = "event";
      body.textContent = "~ " + m.from + " set the topic: ";
      appendText(body, m.text);
      break;
    case "announce":
      li.className = "announce";
      body.textContent = "*** " + m.text;
      break;
    case "private": {
      li.className = "private";
      const out = m.fromId === state.me.id;
      body.append(out ? "[private] to " : "[private] from ");
      body.append(out ? nameEl(m.to, m.toId) : nameEl(m.from, m.fromId), " ");
      appendText(body, m.text);
      break;
    }
    case "error":
      li.className = "error";
      body.textContent = m.text;
      break;
    default: // notice
      li.className = "notice";
      body.textContent = m.text;
  }
  return li;
}

function unreadLine() {
  const li = document.createElement("li");
  li.className = "unread-line";
  li.textContent = "new since you were last here";
  return li;
}

function nearBottom(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 48;
}

// renderLog draws the whole conversation of the current room.
function renderLog() {
  const log = $("log");
  const v = view(state.current);
  log.setAttribute("aria-busy", "true");
  const items = [];
  let marked = false;
  for (const m of v.items) {
    if (!marked && v.read && m.seq > v.read && m.fromId !== state.me.id && (m.kind === "chat" || m.kind === "emote")) {
      items.push(unreadLine());
      marked = true;
    }
    items.push(row(m));
  }
  if (v.start) items.unshift(startLine(state.current)); // scrollback.js
  log.replaceChildren(...items);
  log.scrollTop = log.scrollHeight;
  log.setAttribute("aria-busy", "false");
}

function renderRooms() {
  const list = $("room-list");
  const items = state.rooms.map((r) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.room = r.name;
    b.setAttribute("aria-current", r.name === state.current ? "true" : "false");
    const name = document.createElement("span");
    name.className = "rname";
    name.textContent = "#" + r.name + (r.private ? " 🔒" : "");
    b.append(name);
    const unread = view(r.name).unread;
    if (unread > 0 && r.name !== state.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = unread > 99 ? "99+" : String(unread);
      badge.setAttribute("aria-label", unread + " unread");
      b.append(badge);
    }
    b.addEventListener("click", () => { show(r.name); closePanels(); });
    li.append(b);
    return li;
  });
  list.replaceChildren(...items);
  let others = 0;
  for (const r of state.rooms) if (r.name !== state.current) others += view(r.name).unread;
  $("toggle-rooms").textContent = others > 0 ? "# " + (others > 99 ? "99+" : others) : "#";
  $("toggle-rooms").setAttribute("aria-label", others > 0 ? "Rooms: " + others + " unread" : "Rooms");
  const cur = state.rooms.find((r) => r.name === state.current);
  $("room-name").textContent = "#" + state.current;
  $("room-topic").replaceChildren();
  if (cur && cur.topic) appendText($("room-topic"), cur.topic);
  $("input").placeholder = "Message #" + state.current;
  document.title = "#" + state.current + " · parley";
}

// updateMember applies one changed entry of a room's member list (or its
// removal), keeping the list in the server's order: by name, ignoring case.
function updateMember(v, f) {
  const id = f.gone ? f.id : f.member.id;
  const list = v.members.filter((m) => m.id !== id);
  if (!f.gone) list.push(f.member);
  list.sort((a, b) => {
    const x = a.name.toLowerCase(), y = b.name.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
  v.members = list;
}

function renderMembers() {
  const v = view(state.current);
  $("members-title").textContent = "People · " + v.members.length;
  $("toggle-members").textContent = "☺ " + v.members.length;
  $("toggle-members").setAttribute("aria-label", "People in this room: " + v.members.length);
  $("member-list").replaceChildren(...v.members.map((m) => {
    const li = document.createElement("li");
    if (m.away) { li.className = "away"; li.title = "away: " + m.away; }
    const dot = document.createElement("span");
    dot.className = "dot";
    const n = nameEl(m.name, m.id);
    n.classList.add("mname");
    li.append(dot, n);
    if (m.admin) li.append(tag("admin"));
    if (m.bot) li.append(tag("bot"));
    if (m.away) li.append(tag("away"));
    return li;
  }));
}

function tag(text) {
  const t = document.createElement("span");
  t.className = "tag";
  t.textContent = text;
  return t;
}

function show(name) {
  if (!name) return;
  state.current = name;
  view(name).unread = 0;
  renderRooms();
  renderLog();
  renderMembers();
  send({ type: "switch", room: name });
}

// ---- the connection --------------------------------------------------------

function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

function add(m) {
  const name = m.room || state.current;
  const v = view(name);
  v.items.push(m);
  if (v.items.length > 2000) {
    v.items.splice(0, v.items.length - 2000);
    v.start = false; // scrolling back will load them again
  }
  notifyMaybe(m, name); // notify.js
  if (name !== state.current) {
    if (m.kind === "chat" || m.kind === "emote") {
      v.unread++;
      renderRooms();
    }
    return;
  }
  const log = $("log");
  const stick = nearBottom(log) || m.fromId === state.me.id;
  log.append(row(m));
  if (stick) log.scrollTop = log.scrollHeight;
}

function onFrame(f) {
  switch (f.type) {
    case "hello":
      state.me.name = f.name;
      $("me").textContent = "Signed in as " + f.name;
      if (!state.current) state.current = f.room;
      break;
    case "rooms":
      state.rooms = f.rooms || [];
      if (!state.rooms.some((r) => r.name === state.current)) {
        state.current = f.room;
        renderLog();
        renderMembers();
      }
      renderRooms();
      break;
    case "backlog": {
      const v = view(f.room);
      v.items = f.messages || [];
      v.read = f.read || 0;
      v.start = false;
      v.loading = false;
      if (f.current && f.room !== state.current) {
        state.current = f.room;
        v.unread = 0;
        renderRooms();
      }
      if (f.room === state.current) {
        renderLog();
        fillLog(); // scrollback.js
      }
      break;
    }
    case "older":
      onOlder(f); // scrollback.js
      break;
    case "members":
      view(f.room).members = f.members || [];
      if (f.room === state.current) renderMembers();
      break;
    case "member":
      updateMember(view(f.room), f);
      if (f.room === state.current) renderMembers();
      break;
    case "message":
      if (f.message.kind === "leave" && f.message.fromId === state.me.id && f.message.room) {
        state.views.delete(f.message.room); // they left it (here or elsewhere)
        break;
      }
      add(f.message);
      break;
    case "error":
      add({ kind: "error", text: f.text, time: new Date().toISOString() });
      break;
    case "end":
      state.ended = true;
      setStatus("Disconnected: " + (f.reason || "the session ended"));
      add({ kind: "error", text: "Disconnected: " + (f.reason || "the session ended") + ". Reload the page to come back.", time: new Date().toISOString() });
      break;
  }
}

function setStatus(text) { $("status").textContent = text; }

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + "/ws?csrf=" + encodeURIComponent(state.me.csrf));
  state.ws = ws;
  setStatus("connecting…");
  ws.addEventListener("open", () => { state.retry = 0; setStatus(""); });
  ws.addEventListener("message", (e) => {
    let f;
    try { f = JSON.parse(e.data); } catch { return; }
    onFrame(f);
  });
  ws.addEventListener("close", (e) => {
    state.ws = null;
    if (state.ended || e.code === 4000) {
      state.ended = true;
      if (!$("status").textContent) setStatus("Disconnected: " + (e.reason || "the session ended"));
      return;
    }
    // A network blip: come back after a pause that grows.
    const wait = Math.min(30000, 1000 * 2 ** state.retry++);
    setStatus("reconnecting…");
    setTimeout(start, wait);
  });
}

// ---- start -----------------------------------------------------------------

async function signInFromLink() {
  const token = location.hash.slice(1);
  history.replaceState(null, "", "/");
  if (!token) return null;
  const r = await fetch("/api/signin", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
    credentials: "same-origin",
  });
  if (r.ok) return null;
  const body = await r.json().catch(() => ({}));
  return body.error || "sign-in failed";
}

async function start() {
  if (location.pathname.startsWith("/invite/")) { showInvite(); return; } // passkey.js
  let problem = null;
  if (location.pathname === "/signin") problem = await signInFromLink();
  let r;
  try {
    r = await fetch("/api/me", { credentials: "same-origin" });
  } catch {
    setStatus("offline; retrying…");
    setTimeout(start, Math.min(30000, 1000 * 2 ** state.retry++));
    return;
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    $("app").hidden = true;
    $("signin").hidden = false;
    if (body.hint) $("signin-hint").textContent = body.hint;
    $("signin-msg").textContent = problem || "You are not signed in.";
    return;
  }
  state.me = body;
  $("signin").hidden = true;
  $("app").hidden = false;
  connect();
}

function closePanels() {
  for (const id of ["rooms", "members"]) {
    $(id).classList.remove("open");
    $("toggle-" + id).setAttribute("aria-expanded", "false");
  }
}

function toggle(id) {
  const open = !$(id).classList.contains("open");
  closePanels();
  $(id).classList.toggle("open", open);
  $("toggle-" + id).setAttribute("aria-expanded", String(open));
}

function submit() {
  const input = $("input");
  const text = input.value;
  if (!text.trim()) return;
  if (send({ type: "send", room: state.current, text })) {
    input.value = "";
    grow();
  } else {
    add({ kind: "error", text: "Not connected: the message was not sent.", time: new Date().toISOString() });
  }
}

function grow() {
  const input = $("input");
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight + 2, 160) + "px";
}

document.addEventListener("DOMContentLoaded", () => {
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  $("input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  $("input").addEventListener("input", grow);
  $("toggle-rooms").addEventListener("click", () => toggle("rooms"));
  $("toggle-members").addEventListener("click", () => toggle("members"));
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closePanels(); });
  $("conversation").addEventListener("click", closePanels);
  setupSessions(); // sessions.js
  setupScrollback(); // scrollback.js
  setupNotify(); // notify.js
  $("signout").addEventListener("click", async () => {
    await fetch("/api/signout", { method: "POST", headers: { "X-CSRF-Token": state.me.csrf }, credentials: "same-origin" });
    state.ended = true;
    if (state.ws) state.ws.close(1000, "signed out");
    location.reload();
  });
  start();
});
