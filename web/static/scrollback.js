// Infinite scrollback: scrolling to the top of the conversation asks the
// server for older messages ("older" frames, docs/web-protocol.md), keeps
// the reading position, and stops at the room's start.
"use strict";

// oldestSeq is the seq of the oldest message of v that has one.
function oldestSeq(v) {
  for (const m of v.items) if (m.seq > 0) return m.seq;
  return 0;
}

// loadOlder asks for the page before the oldest message of the shown room.
function loadOlder() {
  const v = view(state.current);
  if (v.loading || v.start) return;
  const before = oldestSeq(v);
  if (before <= 1) {
    v.start = before === 1;
    return;
  }
  if (send({ type: "older", room: state.current, before })) v.loading = true;
}

// fillLog loads older messages while the conversation does not fill its
// box (there is then no scrolling to ask for them).
function fillLog() {
  const log = $("log");
  if (log.scrollHeight <= log.clientHeight + 8) loadOlder();
}

// startLine marks the top of what can be scrolled back to: the room's
// first message, or the oldest one the server keeps (no store, or
// retention deleted the rest).
function startLine(name) {
  const li = document.createElement("li");
  li.className = "start-line";
  li.textContent = oldestSeq(view(name)) <= 1 ? "This is the start of #" + name : "Nothing older is kept for #" + name;
  return li;
}

// onOlder puts an "older" frame's messages before the room's, keeping
// what the reader sees where it was.
function onOlder(f) {
  const v = view(f.room);
  v.loading = false;
  const oldest = oldestSeq(v);
  const msgs = (f.messages || []).filter((m) => !oldest || m.seq < oldest);
  v.items = msgs.concat(v.items);
  if (f.start) v.start = true;
  if (f.room !== state.current) return;
  const log = $("log");
  const fromBottom = log.scrollHeight - log.scrollTop;
  renderLog();
  log.scrollTop = log.scrollHeight - fromBottom;
  fillLog();
}

function setupScrollback() {
  $("log").addEventListener("scroll", () => {
    if ($("log").scrollTop < 64) loadOlder();
  }, { passive: true });
}
