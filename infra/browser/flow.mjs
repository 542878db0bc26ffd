// The demo page of carpool-local in a real browser (Debian's chromium, driven by playwright-core):
// two people sign up and in from separate browser contexts, one becomes an approved driver
// (license, photo scan, an admin's approval) and offers a ride, the other asks to join and is
// accepted, and the two chat over the WebSocket in real time. Then pages on two other origins
// probe the API with the rider's cookie: the allow-listed one may call it, the other one is
// refused (CORS, the CSRF guard and the WebSocket handshake). Last, the rider downloads her data
// and deletes her account, and the driver's chat shows her as "Deleted user". Screenshots of the main screens go
// to the artefact directory; on a failure, every open page is captured there as well.
//
// Run by infra/browser_test.sh, which installs chromium and playwright-core and passes:
//   CHROMIUM, CARPOOL_LOCAL, CARPOOL_ADMIN (binaries), LICENSE_PNG (a stand-in license photo for
//   Dana Driver, number D7654321), ARTEFACTS (a directory).

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";

const env = (name) => process.env[name] || assert.fail(`${name} is not set`);
const artefacts = env("ARTEFACTS");
const PASSWORD = "marble kiosk velvet tundra";
const people = {
  dana: { name: "Dana Driver", email: "dana@example.edu" },
  riley: { name: "Riley Rider", email: "riley@example.edu" },
  alex: { name: "Alex Admin", email: "alex@example.edu" },
};

let step = "setting up";
const log = (message) => console.log(`  ${message}`);
function begin(name) {
  step = name;
  console.log(`- ${name}`);
}

/** A loopback port nobody listens on right now. */
async function freePort() {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address();
  probe.close();
  await once(probe, "close");
  return port;
}

/** carpool-local on a fixed port (so a restart keeps the origin), its output kept for failures. */
class Server {
  constructor(port, dataDir, allowedOrigins) {
    this.url = `http://127.0.0.1:${port}`;
    this.args = ["--addr", `127.0.0.1:${port}`, "--data-dir", dataDir, "--dev-mode", "true",
      "--allowed-origin", allowedOrigins.join(",")];
    this.output = "";
  }

  async start() {
    const childEnv = { ...process.env, RUST_LOG: "warn" };
    delete childEnv.CAPTCHA_SECRET;
    delete childEnv.ALLOWED_ORIGINS;
    this.child = spawn(env("CARPOOL_LOCAL"), this.args, { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    const keep = (chunk) => { this.output = (this.output + chunk).slice(-20000); };
    this.child.stdout.on("data", keep);
    this.child.stderr.on("data", keep);
    for (let tries = 0; tries < 300; tries++) {
      if (this.child.exitCode !== null) break;
      const ready = await fetch(`${this.url}/api/openapi.json`).then((r) => r.ok, () => false);
      if (ready) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`carpool-local did not start:\n${this.output}`);
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill("SIGTERM");
    await once(this.child, "exit");
  }

  /** A call without a browser (no Origin header), for set-up only. */
  async call(method, path, body) {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  }
}

/** Pages of other origins: a blank page on each port, for scripts that probe the API. */
async function blankSite(port) {
  const site = createServer((_, response) => {
    response.writeHead(200, { "content-type": "text/html" });
    response.end("<!doctype html><title>another site</title>");
  }).listen(port, "127.0.0.1");
  await once(site, "listening");
  return site;
}

async function shot(page, name) {
  await page.screenshot({ path: join(artefacts, `${name}.png`), fullPage: true });
}

/** Waits for the status line to read `expected`. */
async function statusSays(page, expected) {
  await page.locator("#status").filter({ hasText: expected }).waitFor();
}

async function register(page, server, person) {
  await page.goto(server.url);
  await page.fill("#register-name", person.name);
  await page.fill("#register-email", person.email);
  await page.fill("#register-password", "password");
  // The strength meter asks the API as one types: a common word is weak, the passphrase strong.
  await page.locator("#register-strength").filter({ hasNotText: "Use a few unrelated words." }).waitFor();
  const weak = await page.evaluate(() => document.getElementById("register-meter").value);
  assert.ok(weak <= 1, `a common word scores ${weak} of 4`);
  await page.fill("#register-password", PASSWORD);
  await page.locator("#register-strength").filter({ hasText: "Strong enough" }).waitFor();
  await page.click("#register-form button[type=submit]");
  await page.locator("#dev-token").waitFor();
}

async function verifyAndSignIn(page, person) {
  await page.click("#verify-now");
  await statusSays(page, "Email verified");
  await page.fill("#signin-email", person.email);
  await page.fill("#signin-password", PASSWORD);
  await page.check("#signin-remember");
  await page.click("#signin-form button[type=submit]");
  await page.locator("#signed-in").waitFor();
  await statusSays(page, `Signed in as ${person.email}`);
}

async function tab(page, name) {
  await page.click(`#tab-${name}`);
  await page.locator(`#panel-${name}`).waitFor();
}

/** Runs `fetch` inside the page (its origin, its cookies); the outcome, or the error's name. */
function fetchFrom(page, url, init) {
  return page.evaluate(async ([url, init]) => {
    try {
      const response = await fetch(url, { credentials: "include", ...init });
      const body = init && init.mode === "no-cors" ? null : await response.json().catch(() => null);
      return { status: response.status, type: response.type, body };
    } catch (error) {
      return { error: error.name };
    }
  }, [url, init]);
}

/** Opens a WebSocket from the page: "open", or "refused" when the handshake fails. */
function socketFrom(page, url) {
  return page.evaluate((url) => new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.onopen = () => { socket.close(); resolve("open"); };
    socket.onerror = () => resolve("refused");
  }), url);
}

async function main() {
  mkdirSync(artefacts, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), "carpool-browser-"));
  const [port, allowedPort, foreignPort] = [await freePort(), await freePort(), await freePort()];
  const allowedOrigin = `http://127.0.0.1:${allowedPort}`;
  const foreignOrigin = `http://127.0.0.1:${foreignPort}`;
  const server = new Server(port, dataDir, [`http://127.0.0.1:${port}`, allowedOrigin]);
  const sites = [await blankSite(allowedPort), await blankSite(foreignPort)];
  const browser = await chromium.launch({
    executablePath: env("CHROMIUM"),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const pages = {};
  try {
    begin("an admin for the demo campus (the operator command, the server stopped)");
    await server.start();
    const registered = await server.call("POST", "/api/auth/register", { ...people.alex, password: PASSWORD });
    assert.equal(registered.status, 202, JSON.stringify(registered.body));
    const verified = await server.call("POST", "/api/auth/verify-email", { token: registered.body.devVerificationToken });
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    await server.stop();
    execFileSync(env("CARPOOL_ADMIN"), ["--data-dir", dataDir, "user", "grant-admin", people.alex.email]);
    await server.start();

    for (const who of ["dana", "riley", "alex"]) {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
      context.setDefaultTimeout(15000);
      pages[who] = await context.newPage();
    }
    const { dana, riley, alex } = pages;

    begin("Dana and Riley register (strength meter, dev token) and sign in with remember me");
    await register(dana, server, people.dana);
    await shot(dana, "01-registered");
    await verifyAndSignIn(dana, people.dana);
    await register(riley, server, people.riley);
    await verifyAndSignIn(riley, people.riley);
    await shot(riley, "02-signed-in-feed");
    for (const [who, page] of [["dana", dana], ["riley", riley]]) {
      assert.equal(await page.evaluate(() => document.cookie), "", `${who}'s scripts see no cookie`);
      const [cookie] = (await page.context().cookies()).filter((c) => c.name === "__Host-session");
      assert.ok(cookie, `${who} holds the session cookie`);
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, "Lax");
      assert.ok(cookie.expires > Date.now() / 1000 + 29 * 86400, "remember me keeps it for 30 days");
      log(`${who}: __Host-session is HttpOnly, SameSite=Lax, 30 days; document.cookie is empty`);
    }

    begin("Dana enters a license, uploads its photo (the OCR stand-in reads it) and asks to drive");
    await tab(dana, "driver");
    await dana.locator("#driver-state").filter({ hasText: "No license on file yet." }).waitFor();
    const expires = new Date(Date.now() + 365 * 86400000).toISOString().slice(0, 10);
    await dana.fill("#license-name", people.dana.name);
    await dana.fill("#license-number", "D765-4321");
    await dana.fill("#license-region", "California");
    await dana.fill("#license-expires", expires);
    await dana.click("#license-form button[type=submit]");
    await statusSays(dana, "License saved.");
    await dana.locator("#driver-state").filter({ hasText: "License US-CA …4321" }).waitFor();
    await dana.setInputFiles("#photo-file", env("LICENSE_PNG"));
    await dana.click("#photo-form button[type=submit]");
    await dana.locator("#scan-result").filter({ hasText: "Checked: ocr_matched." }).waitFor();
    await dana.click("#driver-enable");
    await statusSays(dana, "Waiting for an admin's review.");
    await dana.locator("#driver-state").filter({ hasText: "pending_review" }).waitFor();
    await shot(dana, "03-driver-pending");

    begin("Alex, a campus admin, approves Dana from the review queue");
    await alex.goto(server.url);
    await alex.fill("#signin-email", people.alex.email);
    await alex.fill("#signin-password", PASSWORD);
    await alex.click("#signin-form button[type=submit]");
    await alex.locator("#signed-in").waitFor();
    const queue = await fetchFrom(alex, "/api/admin/driver-reviews");
    assert.equal(queue.status, 200, JSON.stringify(queue));
    const review = queue.body.reviews.find((r) => r.email === people.dana.email);
    assert.ok(review, `Dana is in the queue: ${JSON.stringify(queue.body)}`);
    assert.equal(review.verification, "ocr_matched");
    const decision = await fetchFrom(alex, `/api/admin/driver-reviews/${review.userId}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ decision: "approve" }),
    });
    assert.equal(decision.status, 200, JSON.stringify(decision));
    assert.equal(decision.body.capability, "approved");

    begin("Dana, approved, goes available and offers a ride");
    await tab(dana, "driver");
    await dana.locator("#driver-state").filter({ hasText: "Driving: approved." }).waitFor();
    await dana.check("#driver-available");
    await tab(dana, "feed");
    await dana.check("input[name=kind][value=offer]");
    await dana.fill("#post-origin", "Main gate");
    await dana.fill("#post-destination", "Airport");
    await dana.fill("#post-seats", "2");
    await dana.fill("#post-notes", "Room for two bags.");
    await dana.click("#post-form button[type=submit]");
    await statusSays(dana, "Posted to the campus feed.");
    await dana.locator("#feed li", { hasText: "Offer: Main gate → Airport" }).waitFor();

    begin("Riley finds the offer in the campus feed and asks to join");
    await riley.click("#feed-refresh");
    const offerCard = riley.locator("#feed li", { hasText: "Offer: Main gate → Airport" });
    await offerCard.locator("text=2 of 2 seats left").waitFor();
    await shot(riley, "04-feed-with-offer");
    await offerCard.getByRole("button", { name: "Ask to join" }).click();
    await statusSays(riley, "Sent: the author will answer.");

    begin("Dana accepts Riley under My rides; the seat is taken");
    await tab(dana, "mine");
    const asking = dana.locator("#posted li li", { hasText: "Riley Rider asks for 1 seat(s)" });
    await asking.getByRole("button", { name: "Accept" }).click();
    await dana.locator("#posted li", { hasText: "1 of 2 seats left" }).first().waitFor();
    await dana.locator("#posted li li", { hasText: "(accepted)" }).waitFor();
    await shot(dana, "05-my-rides-accepted");
    await tab(riley, "mine");
    await riley.locator("#joined li", { hasText: "Your request: accepted" }).waitFor();

    begin("Riley and Dana chat in the ride's conversation over the WebSocket");
    for (const page of [dana, riley]) {
      await tab(page, "chat");
      await page.locator("#socket-state", { hasText: /^connected$/ }).waitFor();
      await page.locator("#conversations button").first().click();
      await page.locator("#message-form").waitFor();
    }
    await riley.fill("#message-body", "Hi Dana, where exactly at the main gate?");
    await riley.press("#message-body", "Enter");
    // Dana's page did nothing: the message arrives over the socket.
    await dana.locator("#messages li", { hasText: "Riley Rider: Hi Dana, where exactly at the main gate?" }).waitFor({ timeout: 5000 });
    await dana.fill("#message-body", "By the bike racks, 10 minutes early.");
    await dana.press("#message-body", "Enter");
    await riley.locator("#messages li", { hasText: "Dana Driver: By the bike racks, 10 minutes early." }).waitFor({ timeout: 5000 });
    await dana.locator("#messages li", { hasText: "Dana Driver: By the bike racks" }).waitFor({ timeout: 5000 });
    await shot(dana, "06-chat-dana");
    await shot(riley, "07-chat-riley");

    begin("another origin's page, with Riley's cookie: refused unless it is in the allow-list");
    const api = (path) => `${server.url}${path}`;
    const rideJson = {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "request", origin: { label: "Library" }, destination: { label: "Station" },
        departAt: new Date(Date.now() + 7200000).toISOString(), seats: 1 }),
    };
    const probe = await riley.context().newPage();
    await probe.goto(`${foreignOrigin}/`);
    assert.deepEqual(await fetchFrom(probe, api("/api/auth/session")), { error: "TypeError" },
      "no CORS answer: the foreign page cannot read the session");
    assert.deepEqual(await fetchFrom(probe, api("/api/carpool/rides"), rideJson), { error: "TypeError" },
      "the preflight is refused, so the POST is never sent");
    // A form-like POST needs no preflight: the browser sends it, cookie and all; the guard refuses it.
    const [signOut] = await Promise.all([
      probe.waitForResponse(api("/api/auth/signout")),
      fetchFrom(probe, api("/api/auth/signout"), { method: "POST", mode: "no-cors" }),
    ]);
    assert.equal(signOut.status(), 403, "the CSRF guard refuses it (an opaque answer: the page sees nothing)");
    assert.equal(await socketFrom(probe, `ws://127.0.0.1:${port}/ws`), "refused", "a foreign WebSocket handshake");

    await probe.goto(`${allowedOrigin}/`);
    const session = await fetchFrom(probe, api("/api/auth/session"));
    assert.equal(session.status, 200, JSON.stringify(session));
    assert.equal(session.body.user.email, people.riley.email, "the allow-listed page reads the session");
    const posted = await fetchFrom(probe, api("/api/carpool/rides"), rideJson);
    assert.equal(posted.status, 201, JSON.stringify(posted));
    assert.equal(await socketFrom(probe, `ws://127.0.0.1:${port}/ws`), "open", "an allow-listed WebSocket handshake");
    await probe.close();
    // The refused sign-out changed nothing: Riley is still signed in on the demo page.
    await riley.reload();
    await statusSays(riley, `Signed in as ${people.riley.email}`);
    log("foreign origin: CORS read, preflight, CSRF POST and WebSocket refused; the allow-listed origin reads the session, posts a ride and opens a socket");

    begin("Riley downloads her data, then deletes her account; Dana's chat shows her as Deleted user");
    await tab(riley, "data");
    const [download] = await Promise.all([riley.waitForEvent("download"), riley.click("#export-link")]);
    const exported = JSON.parse(readFileSync(await download.path(), "utf8"));
    assert.equal(exported.user.email, people.riley.email);
    assert.ok(exported.messages.some((m) => m.body.startsWith("Hi Dana")), "her messages are in it");
    await shot(riley, "08-your-data");
    await riley.fill("#delete-password", PASSWORD);
    await riley.check("#delete-sure");
    await riley.click("#delete-form button[type=submit]");
    await statusSays(riley, "Your account is deleted.");
    await riley.locator("#signed-out").waitFor();
    await tab(dana, "chat");
    await dana.locator("#conversations button").first().click();
    await dana.locator("#messages li", { hasText: "Deleted user: Hi Dana, where exactly at the main gate?" }).waitFor();
    await shot(dana, "09-chat-after-deletion");
    log("export downloaded with her messages; deletion signed her out; her messages read as from Deleted user");
    console.log(`browser tests passed; screenshots in ${artefacts}`);
  } catch (error) {
    console.error(`\nFAILED while ${step}:\n${error.stack || error}`);
    for (const [who, page] of Object.entries(pages)) {
      await shot(page, `failure-${who}`).catch(() => {});
    }
    writeFileSync(join(artefacts, "server.log"), server.output);
    console.error(`screenshots and the server's output are in ${artefacts}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
    await server.stop();
    sites.forEach((site) => site.close());
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
