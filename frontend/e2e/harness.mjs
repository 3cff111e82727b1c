// Test harness for the end-to-end suite: a real `pflow serve` on a temporary data dir and a free port,
// driven by Debian's Chromium through playwright-core (no browser download).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const FRONTEND = resolve(here, "..");
export const REPO = resolve(FRONTEND, "..");
export const ARTIFACTS = resolve(process.env.PFLOW_E2E_ARTIFACTS || join(REPO, "artifacts", "e2e"));
export const FAIL_MARKER = "[fail]";
const env = process.env;

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function waitForHealth(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pflow serve exited with code ${child.exitCode} before it was healthy`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = err.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`pflow serve did not become healthy at ${url}/healthz within ${timeoutMs} ms (${last})`);
}

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** Testing an old build would test old code: refuse a dist older than the sources it is built from. */
function checkBuildIsFresh(dist) {
  const sources = ["src", "index.html", "public", "vite.config.ts", "package-lock.json"]
    .map((p) => join(FRONTEND, p))
    .filter(existsSync);
  const newest = Math.max(...sources.map(newestMtime));
  if (newest > statSync(dist).mtimeMs) {
    throw new Error(`${dist} is older than the UI sources: rebuild it (npm run build) before the e2e suite`);
  }
}

/**
 * Start `pflow serve` for the suite. The engine and stores come from the environment
 * (WORKFLOW_ENGINE, DATABASE_URL, RABBITMQ_URL; default: the embedded default `make run` uses —
 * SpiffWorkflow and tickets in one SQLite file, events in the local store), so the same suite runs
 * against any engine. PFLOW_E2E_URL points the suite at a server already running.
 */
export async function startServer() {
  mkdirSync(ARTIFACTS, { recursive: true });
  if (env.PFLOW_E2E_URL) return { url: env.PFLOW_E2E_URL.replace(/\/$/, ""), stop: async () => {} };

  const dist = join(FRONTEND, "dist", "index.html");
  if (!existsSync(dist)) throw new Error(`${dist} is missing: build the UI first (npm run build)`);
  if (!env.PFLOW_E2E_ALLOW_STALE_BUILD) checkBuildIsFresh(dist);
  const pflow = env.PFLOW_BIN || join(REPO, ".venv", "bin", "pflow");
  if (!existsSync(pflow)) throw new Error(`${pflow} not found: install PFlow first (make install) or set PFLOW_BIN`);

  const dataDir = mkdtempSync(join(tmpdir(), "pflow-e2e-"));
  const port = await freePort();
  const engine = env.WORKFLOW_ENGINE || "embedded";
  const childEnv = {
    ...env,
    WORKFLOW_ENGINE: engine,
    DATABASE_URL: env.DATABASE_URL || (engine === "memory" ? "memory://" : `sqlite:///${join(dataDir, "pflow.db")}`),
    RABBITMQ_URL: env.RABBITMQ_URL || (engine === "memory" ? "memory://" : `sqla+sqlite:///${join(dataDir, "events.db")}`),
    PFLOW_DATA_DIR: dataDir,
    API_HTTP_PORT: `127.0.0.1:${port}`,
    PFLOW_UI_DIR: join(FRONTEND, "dist"),
    PFLOW_SECRET_KEY: randomBytes(24).toString("hex"),
    PFLOW_PROVISIONING_FAIL_MARKER: FAIL_MARKER,
  };
  const log = createWriteStream(join(ARTIFACTS, "server.log"));
  const child = spawn(pflow, ["serve"], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForHealth(url, child, Number(env.PFLOW_E2E_START_TIMEOUT_MS || 90000));
  } catch (err) {
    await stop();
    throw new Error(`${err.message}; see ${join(ARTIFACTS, "server.log")}`);
  }
  return { url, stop, engine };
}

export async function launchBrowser() {
  const executablePath = env.CHROMIUM_PATH || "/usr/bin/chromium";
  if (!existsSync(executablePath)) {
    throw new Error(`${executablePath} not found: install Chromium (apt-get install -y chromium fonts-noto-cjk) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

/** A fresh browser profile (own localStorage) for one user, in English unless told otherwise. */
export async function newPage(browser, baseURL, { locale = "en-US" } = {}) {
  const context = await browser.newContext({ baseURL, locale, viewport: { width: 1320, height: 900 } });
  context.setDefaultTimeout(Number(env.PFLOW_E2E_TIMEOUT_MS || 20000));
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`[browser] page error: ${err.message}`));
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Sign in through the login form, as a person would. */
export async function login(page, username, password = username) {
  await page.goto("/login");
  await page.getByLabel(/Username|用户名/).fill(username);
  await page.getByLabel(/Password|密码/).fill(password);
  await page.locator("form").getByRole("button", { name: /Sign in|登录/ }).click();
  await page.getByTestId("current-user").waitFor();
}

/** Direct API calls, for setting up state a scenario is not about (and for reading the API's own words). */
export async function apiLogin(baseURL, username, password = username) {
  const r = await fetch(`${baseURL}/api/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!r.ok) throw new Error(`login ${username}: HTTP ${r.status} ${await r.text()}`);
  const token = (await r.json()).token;
  return async (method, path, body) => {
    const res = await fetch(`${baseURL}/api${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await res.json().catch(() => null);
    return { status: res.status, data };
  };
}
