// The local demo: plain JavaScript over the real API (same origin, so the session cookie, which
// scripts cannot read, goes with every call) and the chat WebSocket. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
let me = null;
let socket = null;
let openConversation = null;

// ---- calling the API

/** Calls the API; resolves to the parsed body, or throws an Error carrying the API's code. */
async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error((data && data.error && data.error.message) || response.statusText);
    error.code = data && data.error && data.error.code;
    error.status = response.status;
    throw error;
  }
  return data;
}

function say(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

/** Runs a form's action, reporting its outcome; the form's button is busy meanwhile. */
function onSubmit(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await action(new FormData(form));
    } catch (error) {
      say(error.message, true);
    } finally {
      button.disabled = false;
    }
  });
}

function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
  return node;
}

function button(label, onClick, secondary = false) {
  const node = el("button", label, { type: "button" });
  if (secondary) node.classList.add("secondary");
  node.addEventListener("click", async () => {
    node.disabled = true;
    try {
      await onClick();
    } catch (error) {
      say(error.message, true);
    } finally {
      node.disabled = false;
    }
  });
  return node;
}

const when = (iso) => new Date(iso).toLocaleString();

// ---- signed out

function strengthMeter(input, meter, hint, context) {
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!input.value) return;
      const strength = await api("POST", "/api/auth/password/strength", { password: input.value, ...context() });
      meter.value = strength.score;
      hint.textContent = strength.acceptable
        ? `Strong enough (${strength.score}/4).`
        : [strength.warning, ...strength.suggestions].filter(Boolean).join(" ") || "Too easy to guess.";
    }, 250);
  });
}

function setUpSignedOut() {
  strengthMeter($("register-password"), $("register-meter"), $("register-strength"), () => ({
    email: $("register-email").value || undefined,
    name: $("register-name").value || undefined,
  }));
  strengthMeter($("reset-password"), $("reset-meter"), $("reset-strength"), () => ({}));

  onSubmit($("register-form"), async (data) => {
    const answer = await api("POST", "/api/auth/register", Object.fromEntries(data));
    say("Check your mail for the verification link.");
    if (answer.devVerificationToken) {
      $("dev-token-value").textContent = answer.devVerificationToken;
      $("dev-token").hidden = false;
      $("verify-now").focus();
    }
  });
  $("verify-now").addEventListener("click", () => verifyEmail($("dev-token-value").textContent));

  onSubmit($("signin-form"), async (data) => {
    const body = { email: data.get("email"), password: data.get("password"), rememberMe: data.has("rememberMe") };
    if (data.get("totpCode")) body.totpCode = data.get("totpCode");
    try {
      const answer = await api("POST", "/api/auth/signin", body);
      $("signin-form").reset();
      $("totp-row").hidden = true;
      signedIn(answer.user);
    } catch (error) {
      if (error.code === "totp_required") {
        $("totp-row").hidden = false;
        $("signin-totp").focus();
      }
      throw error;
    }
  });

  onSubmit($("forgot-form"), async (data) => {
    await api("POST", "/api/auth/password/forgot", Object.fromEntries(data));
    say("If the address has an account, a reset link is on its way.");
  });

  onSubmit($("reset-form"), async (data) => {
    const token = new URLSearchParams(location.search).get("token");
    await api("POST", "/api/auth/password/reset", { token, password: data.get("password") });
    history.replaceState(null, "", "/");
    $("reset").hidden = true;
    $("signed-out").hidden = false;
    say("Password set. Sign in with it.");
  });
}

async function verifyEmail(token) {
  try {
    await api("POST", "/api/auth/verify-email", { token });
    say("Email verified: you can sign in.");
    $("dev-token").hidden = true;
    $("signin-email").focus();
  } catch (error) {
    say(`${error.message} (${error.code})`, true);
  }
  if (location.pathname !== "/") history.replaceState(null, "", "/");
}

// ---- signed in

function signedIn(user) {
  me = user;
  $("who").textContent = `${user.name} · ${user.campus.name}`;
  $("account-nav").hidden = false;
  $("signed-out").hidden = true;
  $("reset").hidden = true;
  $("signed-in").hidden = false;
  say(`Signed in as ${user.email}.`);
  showTab("feed");
  connectSocket();
}

function signedOut() {
  me = null;
  if (socket) socket.close();
  socket = null;
  $("account-nav").hidden = true;
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
}

const tabs = ["feed", "mine", "driver", "chat", "data"];
const loaders = { feed: loadFeed, mine: loadMine, driver: loadDriver, chat: loadConversations, data: async () => {} };

function showTab(name) {
  tabs.forEach((tab) => {
    const selected = tab === name;
    $(`tab-${tab}`).setAttribute("aria-selected", String(selected));
    $(`tab-${tab}`).tabIndex = selected ? 0 : -1;
    $(`panel-${tab}`).hidden = !selected;
  });
  loaders[name]().catch((error) => say(error.message, true));
}

function setUpTabs() {
  tabs.forEach((tab, index) => {
    const node = $(`tab-${tab}`);
    node.addEventListener("click", () => showTab(tab));
    // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
    node.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(index + step + tabs.length) % tabs.length];
      showTab(next);
      $(`tab-${next}`).focus();
    });
  });
}

// ---- feed and rides

function rideCard(ride, actions = []) {
  const item = el("li");
  item.append(el("strong", `${ride.kind === "offer" ? "Offer" : "Request"}: ${ride.origin.label} → ${ride.destination.label}`));
  item.append(el("p", `${when(ride.departAt)} · ${ride.seatsLeft} of ${ride.seats} seats left · by ${ride.author.name} · ${ride.status}`));
  if (ride.notes) item.append(el("p", ride.notes));
  const row = el("div", undefined, { class: "row" });
  actions.forEach((action) => row.append(action));
  item.append(row);
  return item;
}

async function loadFeed() {
  const page = await api("GET", "/api/carpool/rides?limit=20");
  const list = $("feed");
  list.replaceChildren();
  if (!page.rides.length) list.append(el("li", "No rides yet: post the first one."));
  page.rides.forEach((ride) => {
    const actions = [];
    if (ride.author.id !== me.id) {
      // Joining an offer takes a seat; answering a request offers to drive (approved drivers).
      const label = ride.kind === "offer" ? "Ask to join" : "Offer to drive";
      actions.push(button(label, async () => {
        await api("POST", `/api/carpool/rides/${ride.id}/join`, { seats: 1, message: "Can I come along?" });
        say("Sent: the author will answer.");
      }));
    }
    list.append(rideCard(ride, actions));
  });
}

function setUpFeed() {
  const inAnHour = new Date(Date.now() + 60 * 60 * 1000);
  inAnHour.setSeconds(0, 0);
  $("post-depart").value = new Date(inAnHour - inAnHour.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  onSubmit($("post-form"), async (data) => {
    await api("POST", "/api/carpool/rides", {
      kind: data.get("kind"),
      origin: { label: data.get("origin") },
      destination: { label: data.get("destination") },
      departAt: new Date(data.get("departAt")).toISOString(),
      seats: Number(data.get("seats")),
      notes: data.get("notes") || undefined,
    });
    say("Posted to the campus feed.");
    await loadFeed();
  });
  $("feed-refresh").addEventListener("click", () => loadFeed().catch((error) => say(error.message, true)));
}

async function loadMine() {
  const mine = await api("GET", "/api/carpool/me/rides");
  const posted = $("posted");
  posted.replaceChildren();
  for (const ride of mine.posted) {
    const detail = await api("GET", `/api/carpool/rides/${ride.id}`);
    const card = rideCard(ride, [button("Cancel ride", async () => {
      await api("DELETE", `/api/carpool/rides/${ride.id}`);
      say("Cancelled; its riders are told.");
      await loadMine();
    }, true)]);
    const requests = el("ul");
    detail.requests.forEach((request) => {
      const entry = el("li", `${request.rider.name} asks for ${request.seats} seat(s): “${request.message}” (${request.status})`);
      if (request.status === "pending") {
        entry.append(" ", button("Accept", async () => {
          await api("POST", `/api/carpool/rides/${ride.id}/requests/${request.id}/accept`);
          say(`${request.rider.name} is in.`);
          await loadMine();
        }), " ", button("Decline", async () => {
          await api("POST", `/api/carpool/rides/${ride.id}/requests/${request.id}/decline`);
          await loadMine();
        }, true));
      }
      requests.append(entry);
    });
    card.append(requests);
    posted.append(card);
  }
  const joined = $("joined");
  joined.replaceChildren();
  mine.joined.forEach(({ ride, request }) => {
    const card = rideCard(ride, [button("Leave", async () => {
      await api("POST", `/api/carpool/rides/${ride.id}/leave`);
      await loadMine();
    }, true)]);
    card.append(el("p", `Your request: ${request.status}`));
    joined.append(card);
  });
}

// ---- driver

async function loadDriver() {
  const driver = await api("GET", "/api/auth/driver");
  const license = driver.license
    ? `License ${driver.license.region} …${driver.license.numberLast4}, expires ${driver.license.expiresOn} (${driver.license.verification}).`
    : "No license on file yet.";
  $("driver-state").textContent = `Driving: ${driver.capability}. ${license}`;
  $("driver-available").checked = driver.available;
  if (driver.license) {
    $("license-name").value = driver.license.legalName;
    $("license-region").value = driver.license.region;
    $("license-expires").value = driver.license.expiresOn;
  }
}

function setUpDriver() {
  onSubmit($("license-form"), async (data) => {
    await api("PUT", "/api/auth/driver/license", Object.fromEntries(data));
    say("License saved.");
    await loadDriver();
  });
  onSubmit($("photo-form"), async () => {
    const file = $("photo-file").files[0];
    const grant = await api("POST", "/api/auth/driver/license/upload", { contentType: file.type, contentLength: file.size });
    const put = await fetch(grant.uploadUrl, { method: "PUT", headers: grant.headers, body: file });
    if (!put.ok) throw new Error(`The upload was refused (${put.status}).`);
    const scan = await api("POST", "/api/auth/driver/license/scan", { objectKey: grant.objectKey });
    $("scan-result").textContent = `Checked: ${scan.verification}.`;
    await loadDriver();
  });
  $("driver-enable").addEventListener("click", async () => {
    try {
      const driver = await api("POST", "/api/auth/driver/enable");
      say(driver.capability === "approved" ? "Approved to drive." : "Waiting for an admin's review.");
      await loadDriver();
    } catch (error) {
      say(error.message, true);
    }
  });
  $("driver-available").addEventListener("change", async (event) => {
    try {
      await api("POST", "/api/auth/driver/toggle", { available: event.target.checked });
      await loadDriver();
    } catch (error) {
      event.target.checked = !event.target.checked;
      say(error.message, true);
    }
  });
}

// ---- chat

async function loadConversations() {
  const page = await api("GET", "/api/chat/conversations");
  const list = $("conversations");
  list.replaceChildren();
  if (!page.conversations.length) list.append(el("li", "No conversations yet: join or post a ride."));
  page.conversations.forEach((conversation) => {
    const label = conversation.unread ? `${conversation.title} (${conversation.unread} new)` : conversation.title;
    const item = el("li");
    item.append(button(label, () => openChat(conversation), true));
    list.append(item);
  });
}

function showMessage(message) {
  const item = el("li", message.kind === "system" ? message.body : `${message.senderName}: ${message.body}`);
  if (message.kind === "system") item.classList.add("system");
  item.dataset.id = message.id;
  $("messages").append(item);
  item.scrollIntoView({ block: "nearest" });
}

async function openChat(conversation) {
  openConversation = conversation.id;
  $("chat-title").textContent = conversation.title;
  const page = await api("GET", `/api/chat/conversations/${conversation.id}/messages?limit=50`);
  $("messages").replaceChildren();
  page.messages.slice().reverse().forEach(showMessage);
  $("message-form").hidden = false;
  $("message-body").focus();
  const newest = page.messages[0];
  if (newest && conversation.unread) {
    await api("POST", `/api/chat/conversations/${conversation.id}/read`, { messageId: newest.id });
    await loadConversations();
  }
}

function setUpChat() {
  onSubmit($("message-form"), async (data) => {
    const frame = {
      action: "sendMessage",
      conversationId: openConversation,
      body: data.get("body"),
      clientMessageId: crypto.randomUUID(),
    };
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(frame));
    } else {
      const sent = await api("POST", `/api/chat/conversations/${openConversation}/messages`, frame);
      showMessage(sent.message);
    }
    $("message-form").reset();
  });
}

/** The chat socket: messages of the open conversation appear as they arrive; it reconnects. */
function connectSocket() {
  if (socket || !me) return;
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.addEventListener("open", () => { $("socket-state").textContent = "connected"; });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "message" && frame.message.conversationId === openConversation) {
      showMessage(frame.message);
    } else if (frame.type === "message") {
      say(frame.message.kind === "system" ? frame.message.body : `New message from ${frame.message.senderName}.`);
    } else if (frame.type === "error") {
      say(frame.message, true);
    }
  });
  socket.addEventListener("close", () => {
    $("socket-state").textContent = "disconnected, reconnecting…";
    socket = null;
    if (me) setTimeout(connectSocket, 2000);
  });
}

// ---- your data

function setUpData() {
  onSubmit($("delete-form"), async (form) => {
    const code = form.get("totpCode").trim();
    await api("POST", "/api/auth/account/delete", { password: form.get("password"), totpCode: code || undefined });
    $("delete-form").reset();
    signedOut();
    say("Your account is deleted. A confirmation is on its way to your address.");
  });
}

// ---- start

async function start() {
  setUpSignedOut();
  setUpTabs();
  setUpFeed();
  setUpDriver();
  setUpChat();
  setUpData();
  $("signout").addEventListener("click", async () => {
    await api("POST", "/api/auth/signout").catch(() => {});
    signedOut();
    say("Signed out.");
  });
  const token = new URLSearchParams(location.search).get("token");
  if (location.pathname === "/reset-password" && token) {
    $("signed-out").hidden = true;
    $("reset").hidden = false;
    $("reset-password").focus();
    return;
  }
  try {
    const session = await api("GET", "/api/auth/session");
    signedIn(session.user);
  } catch {
    signedOut();
  }
  if (location.pathname === "/verify-email" && token) await verifyEmail(token);
}

start();
