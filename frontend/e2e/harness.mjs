// Test harness for the end-to-end suite: a real `pflow serve` on a temporary data dir and a free port,
// driven by Debian's Chromium through playwright-core (no browser download).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
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
export async function startServer({ port: fixedPort, env: extraEnv = {}, name = "server" } = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  if (env.PFLOW_E2E_URL && !fixedPort) return { url: env.PFLOW_E2E_URL.replace(/\/$/, ""), stop: async () => {} };

  const dist = join(FRONTEND, "dist", "index.html");
  if (!existsSync(dist)) throw new Error(`${dist} is missing: build the UI first (npm run build)`);
  if (!env.PFLOW_E2E_ALLOW_STALE_BUILD) checkBuildIsFresh(dist);
  const pflow = env.PFLOW_BIN || join(REPO, ".venv", "bin", "pflow");
  if (!existsSync(pflow)) throw new Error(`${pflow} not found: install PFlow first (make install) or set PFLOW_BIN`);

  const dataDir = mkdtempSync(join(tmpdir(), "pflow-e2e-"));
  const port = fixedPort || (await freePort());
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
    ...extraEnv,
  };
  const log = createWriteStream(join(ARTIFACTS, `${name}.log`));
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
    throw new Error(`${err.message}; see ${join(ARTIFACTS, `${name}.log`)}`);
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

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/**
 * A fresh browser profile (own localStorage) for one user, in English unless told otherwise. `lang` is
 * a UI language ("en" or "zh-CN"): the browser prefers it, so the UI starts in it. `viewport` is a size
 * (DESKTOP or PHONE); a phone size also gets a touch screen. (Not Chromium's mobile emulation: it widens
 * the layout viewport to fit content that sticks out, which would hide the very overflow the suite checks.)
 */
export async function newPage(browser, baseURL, { locale, lang, viewport = { width: 1320, height: 900 } } = {}) {
  const phone = viewport.width < 600;
  const context = await browser.newContext({
    baseURL,
    locale: locale || (lang === "zh-CN" ? "zh-CN" : "en-US"),
    viewport,
    ...(phone ? { hasTouch: true } : {}),
  });
  context.setDefaultTimeout(Number(env.PFLOW_E2E_TIMEOUT_MS || 20000));
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`[browser] page error: ${err.message}`));
  // The UI runs under the server's Content-Security-Policy: anything it blocks is a failure (checkA11y says so).
  page.cspViolations = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && msg.text().includes("Content Security Policy")) page.cspViolations.push(msg.text());
  });
  return page;
}

/**
 * Check the page as it is now for accessibility (axe-core, WCAG 2.x A/AA and best practices) and fail on
 * any serious or critical violation, naming the rule, its impact, the elements (CSS selectors) and
 * where to read about it. `where` says which screen this is in the failure message; with `once`, a screen
 * already checked in this language and window size is not checked again.
 */
const checkedOnce = new Set();
export async function checkA11y(page, where, { once = false } = {}) {
  if (once) {
    // a screen met many times (the login page, the inbox) is checked once per language and window size
    const size = page.viewportSize();
    const key = `${where} ${await page.locator("html").getAttribute("lang")} ${size?.width}x${size?.height}`;
    if (checkedOnce.has(key)) return;
    checkedOnce.add(key);
    where = key;
  }
  // Finish running transitions (a button's hover colour) so the contrast rule reads the colours at rest.
  await page.evaluate(() => Promise.all(document.getAnimations().filter((a) => a.effect?.getTiming().iterations !== Infinity).map((a) => a.finished.catch(() => {}))));
  if (page.cspViolations?.length) {
    throw new Error(`the Content-Security-Policy blocked something on ${where} (${page.url()}):\n${page.cspViolations.join("\n")}`);
  }
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (a script tag would be blocked).
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(AXE_SOURCE());
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl, targets: v.nodes.map((n) => n.target.join(" ")), summary: v.nodes[0]?.failureSummary }));
  });
  if (violations.length) {
    const lines = violations.map(
      (v) => `- ${v.id} (${v.impact}): ${v.help} <${v.helpUrl}>\n    ${v.targets.slice(0, 8).join("\n    ")}${v.targets.length > 8 ? `\n    … and ${v.targets.length - 8} more` : ""}\n    ${(v.summary || "").replace(/\n/g, "\n    ")}`,
    );
    throw new Error(`accessibility: ${violations.length} serious or critical axe violation(s) on ${where} (${page.url()}):\n${lines.join("\n")}`);
  }
}

let axeSource;
function AXE_SOURCE() {
  axeSource ??= readFileSync(join(FRONTEND, "node_modules", "axe-core", "axe.min.js"), "utf8");
  return axeSource;
}

/** Fail when the page scrolls sideways: everything fits the window's width. */
export async function assertNoHorizontalScroll(page, where) {
  const { scrollWidth, innerWidth, widest } = await page.evaluate(() => {
    const root = document.scrollingElement || document.documentElement;
    // the element sticking out furthest, to say what to fix
    let widest = "";
    let right = window.innerWidth;
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect().right + window.scrollX;
      if (r > right + 0.5) {
        right = r;
        widest = `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.classList.length ? `.${[...el.classList].join(".")}` : ""} (right edge ${Math.round(r)}px)`;
      }
    }
    return { scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, widest };
  });
  const expected = page.viewportSize()?.width;
  if (expected && innerWidth !== expected) throw new Error(`${where}: the window is ${innerWidth}px wide, not the ${expected}px asked for`);
  if (scrollWidth > innerWidth) {
    throw new Error(`${where} scrolls sideways at ${innerWidth}px: the page is ${scrollWidth}px wide${widest ? `; widest: ${widest}` : ""}`);
  }
}

/**
 * The checks every screen the suite shows gets: no serious accessibility violation, then a full-page
 * screenshot in artifacts/e2e/ named after the scenario, its language and its window size.
 */
export async function screenshot(page, name, { a11y = true } = {}) {
  if (a11y) await checkA11y(page, name);
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Sign in through the login form, as a person would (the login page is checked for accessibility once per language and size). */
export async function login(page, username, password = username) {
  await page.goto("/login");
  const name = page.getByLabel(/Username|用户名/);
  await name.waitFor();
  await checkA11y(page, "the login page", { once: true });
  await name.fill(username);
  await page.getByLabel(/Password|密码/).fill(password);
  await page.locator("form").getByRole("button", { name: /Sign in|登录/ }).click();
  // on a phone the name is not shown (the top bar has no room for it), but it is there
  await page.getByTestId("current-user").waitFor({ state: "attached" });
}

/**
 * The UI's words in one language, from the same locale files the UI ships (src/i18n/locales), with
 * `{{name}}` filled in; ticket types' names and field titles from the server's type list, and BPMN step
 * names from the BPMN files (English) or `bpmn.<id>` (Chinese), as the UI words them.
 */
const BPMN_NAMES = (() => {
  const names = {};
  const dir = join(REPO, "deploy", "workflows");
  for (const file of existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".bpmn")) : []) {
    for (const m of readFileSync(join(dir, file), "utf8").matchAll(/<bpmn:\w+ id="([^"]+)" name="([^"]*)"/g)) names[m[1]] ??= m[2];
  }
  return names;
})();

export function labels(lang, ticketTypes = []) {
  const file = join(FRONTEND, "src", "i18n", "locales", `${lang}.json`);
  const messages = JSON.parse(readFileSync(file, "utf8"));
  const fallback = lang === "en" ? messages : JSON.parse(readFileSync(join(FRONTEND, "src", "i18n", "locales", "en.json"), "utf8"));
  const lookup = (tree, key) => key.split(".").reduce((node, part) => (node && typeof node === "object" ? node[part] : undefined), tree);
  const pick = (map, other) => (map && (map[lang] ?? map[lang.split("-")[0]])) || other;
  const t = (key, params = {}) => {
    const text = lookup(messages, key) ?? lookup(fallback, key);
    if (typeof text !== "string") throw new Error(`no text ${key} in ${file}`);
    return text.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name) => {
      if (!(name in params)) throw new Error(`${key} needs {{${name}}}`);
      return String(params[name]);
    });
  };
  const type = (key) => {
    const found = ticketTypes.find((tp) => tp.key === key);
    if (!found) throw new Error(`no ticket type ${key} on the server (${ticketTypes.map((tp) => tp.key).join(", ")})`);
    return found;
  };
  return {
    lang,
    t,
    status: (code) => t(`status.${code}`),
    typeName: (key) => pick(type(key).names, type(key).name),
    field: (typeKey, name) => {
      const prop = type(typeKey).form.properties[name];
      if (!prop) throw new Error(`ticket type ${typeKey} has no field ${name}`);
      return pick(prop["x-title"], prop.title ?? name);
    },
    step: (id) => {
      const own = lookup(messages, `bpmn.${id}`);
      if (typeof own === "string") return own;
      if (!BPMN_NAMES[id]) throw new Error(`no BPMN element ${id} in deploy/workflows`);
      return BPMN_NAMES[id];
    },
  };
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
