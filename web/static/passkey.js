// parley's passkeys (issue 17): register one when signed in, sign in with
// one, and join with an invite code by creating one. Plain JavaScript;
// app.js owns the page and calls showInvite() on /invite/CODE.
"use strict";

// passkeyJSON posts body as JSON (with the CSRF token when signed in) and
// returns the answer's JSON, or throws an Error with the server's words.
async function passkeyJSON(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (typeof state !== "undefined" && state.me && state.me.csrf) headers["X-CSRF-Token"] = state.me.csrf;
  const r = await fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}), credentials: "same-origin" });
  const out = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(out.error || "the server said " + r.status);
  return out;
}

function passkeysSupported() {
  return typeof PublicKeyCredential !== "undefined" &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
}

// describeFailure turns a WebAuthn DOMException into words.
function describeFailure(e) {
  if (e && e.name === "NotAllowedError") return "The passkey request was cancelled or timed out.";
  if (e && e.name === "InvalidStateError") return "This device already has a passkey for you here.";
  return (e && e.message) || String(e);
}

// createPasskey runs the registration ceremony that begin answers.
async function createPasskey(begin) {
  const opts = PublicKeyCredential.parseCreationOptionsFromJSON(begin.options.publicKey);
  const cred = await navigator.credentials.create({ publicKey: opts });
  return { ceremony: begin.ceremony, credential: cred.toJSON() };
}

async function addPasskey() {
  const msg = $("passkey-msg");
  msg.textContent = "Follow your browser's prompt…";
  try {
    const begin = await passkeyJSON("/api/passkey/register/begin");
    await passkeyJSON("/api/passkey/register/finish", await createPasskey(begin));
    msg.textContent = "Passkey added. Next time, sign in with it: no SSH needed.";
  } catch (e) {
    msg.textContent = "No passkey added: " + describeFailure(e);
  }
}

async function signInWithPasskey() {
  const msg = $("signin-msg");
  try {
    const begin = await passkeyJSON("/api/passkey/signin/begin");
    const opts = PublicKeyCredential.parseRequestOptionsFromJSON(begin.options.publicKey);
    const cred = await navigator.credentials.get({ publicKey: opts });
    await passkeyJSON("/api/passkey/signin/finish", { ceremony: begin.ceremony, credential: cred.toJSON() });
    start();
  } catch (e) {
    msg.textContent = "Not signed in: " + describeFailure(e);
  }
}

// showInvite shows the invite card of /invite/CODE.
function showInvite() {
  const code = decodeURIComponent(location.pathname.slice("/invite/".length));
  $("app").hidden = true;
  $("signin").hidden = true;
  $("invite").hidden = false;
  if (!passkeysSupported()) {
    $("invite-msg").textContent = "This browser cannot create passkeys; use another browser, or ask for an SSH invite.";
    return;
  }
  $("invite-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = $("invite-name").value.trim();
    const msg = $("invite-msg");
    msg.textContent = "Follow your browser's prompt…";
    $("invite-join").disabled = true;
    try {
      const begin = await passkeyJSON("/api/invite/begin", { code, name });
      await passkeyJSON("/api/invite/finish", await createPasskey(begin));
      history.replaceState(null, "", "/");
      $("invite").hidden = true;
      start();
    } catch (err) {
      msg.textContent = "Not joined: " + describeFailure(err);
    } finally {
      $("invite-join").disabled = false;
    }
  });
  $("invite-name").focus();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("passkey-add").addEventListener("click", addPasskey);
  $("passkey-signin").addEventListener("click", signInWithPasskey);
  if (!passkeysSupported()) return;
  const r = await fetch("/api/passkey", { credentials: "same-origin" }).catch(() => null);
  const status = r && r.ok ? await r.json().catch(() => ({})) : {};
  $("passkey-add").hidden = !status.passkeys;
  $("passkey-signin").hidden = !status.passkeys;
});
