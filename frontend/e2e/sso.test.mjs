// Single sign-on in Chromium against a real Keycloak (deploy/keycloak-dev/keycloak-dev.sh up): sign in through
// Keycloak's own login page, the groups Keycloak lists decide the inbox, a decision from the UI, and signing out
// at Keycloak too. Skips (saying why) when that Keycloak is not running, and fails instead under
// PFLOW_REQUIRE_SERVICES=1.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { checkA11y, launchBrowser, newPage, screenshot, startServer } from "./harness.mjs";

const env = process.env;
const KEYCLOAK = (env.KEYCLOAK_URL || "http://127.0.0.1:8180").replace(/\/$/, "");
const ISSUER = `${KEYCLOAK}/realms/pflow`;
const SECRET = env.KEYCLOAK_CLIENT_SECRET || "pflow-dev-client-secret";
const PORT = 18080; // the address the test realm lets Keycloak send browsers back to
const RUN = Date.now().toString(36).slice(-5);
const password = (user) => `${user}-pass-1`;

async function keycloakAnswers() {
  try {
    const r = await fetch(`${ISSUER}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(3000) });
    return r.ok ? null : `HTTP ${r.status}`;
  } catch (err) {
    return err.message;
  }
}

const why = await keycloakAnswers();
const skip = why ? `Keycloak is not reachable at ${ISSUER} (${why}); run deploy/keycloak-dev/keycloak-dev.sh up` : false;
if (skip && env.PFLOW_REQUIRE_SERVICES === "1") throw new Error(`PFLOW_REQUIRE_SERVICES=1 but ${skip}`);

async function accessToken(user) {
  const r = await fetch(`${ISSUER}/protocol/openid-connect/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: "pflow", client_secret: SECRET, username: user,
                                password: password(user), scope: "openid" }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()).access_token;
}

describe("single sign-on through Keycloak", { skip }, () => {
  let server;
  let browser;
  const pages = [];

  before(async () => {
    server = await startServer({
      port: PORT,
      name: "sso-server",
      env: { OIDC_ISSUER: ISSUER, OIDC_CLIENT_ID: "pflow", OIDC_CLIENT_SECRET: SECRET,
             OIDC_GROUP_MAP: "approvers=managers", OIDC_PROVIDER_NAME: "Keycloak" },
    });
    browser = await launchBrowser();
  });

  afterEach(async () => {
    for (const page of pages.splice(0)) await page.context().close();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function signInAt(user, path = "/tasks") {
    const page = await newPage(browser, server.url);
    pages.push(page);
    await page.goto(path);
    const button = page.getByRole("link", { name: "Sign in with Keycloak" });
    await button.waitFor();
    await checkA11y(page, "the login page with single sign-on", { once: true });
    await button.click();
    // Keycloak's own login page
    await page.waitForURL((url) => url.href.startsWith(ISSUER));
    await page.locator("#username").fill(user);
    await page.locator("#password").fill(password(user));
    await page.locator("#kc-login").click();
    await page.waitForURL((url) => url.href.startsWith(server.url) && !url.pathname.startsWith("/api/"));
    await page.getByTestId("current-user").waitFor({ state: "attached" });
    return page;
  }

  async function api(token, method, path, body) {
    const r = await fetch(`${server.url}/api${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, data: await r.json().catch(() => null) };
  }

  test("a manager signs in through Keycloak, finds the request in the inbox and approves it there", async () => {
    // kim (no group in Keycloak) asks, with the access token Keycloak issued her
    const kim = await accessToken("kim");
    const title = `SSO laptop ${RUN}`;
    const created = await api(kim, "POST", "/tickets", { title, amount: 900, description: "For the new hire." });
    assert.equal(created.status, 201, JSON.stringify(created.data));
    const id = created.data.id;
    assert.equal((await api(kim, "POST", `/tickets/${id}/submit`)).status, 200);

    // noah is in Keycloak's "approvers", which OIDC_GROUP_MAP maps to the "managers" the process names
    const noah = await signInAt("noah", "/tasks");
    assert.equal(new URL(noah.url()).pathname, "/tasks", "back on the page the sign-in started from");
    const row = noah.locator(`[data-testid="task-row"][data-ticket-id="${id}"]`);
    await row.first().waitFor();
    await screenshot(noah, "sso-01-inbox");
    await checkA11y(noah, "the inbox after single sign-on");
    // the session is PFlow's httpOnly cookie; no script on the page can read a token
    const seen = await noah.evaluate(() => document.cookie + JSON.stringify({ ...localStorage }));
    assert.ok(!/pflow_session|eyJ/.test(seen), seen);

    await row.first().getByRole("link").click();
    const card = noah.locator('[data-testid="step"]').first();
    await card.getByRole("button", { name: "Approve", exact: true }).click();
    await card.getByRole("button", { name: "Confirm approval", exact: true }).click();
    await noah.waitForFunction(
      async (ticketId) => {
        const r = await fetch(`/api/tickets/${ticketId}`);
        const t = await r.json();
        return !t.steps.some((s) => s.name === "Manager Approval");
      },
      id,
      { timeout: 20000 },
    );
    const history = await api(kim, "GET", `/tickets/${id}/history`);
    assert.ok(JSON.stringify(history.data).includes("noah"), JSON.stringify(history.data));

    // fay (finance) does not see it
    const fay = await signInAt("fay", "/tasks");
    await fay.getByRole("heading", { name: "My tasks" }).waitFor();
    await fay.waitForLoadState("networkidle");
    assert.equal(await fay.locator(`[data-testid="task-row"][data-ticket-id="${id}"]`).count(), 0);
  });

  test("signing out ends the Keycloak session too", async () => {
    const page = await signInAt("mia", "/tickets");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL((url) => url.href.startsWith(`${server.url}/login`));
    const button = page.getByRole("link", { name: "Sign in with Keycloak" });
    await button.click();
    // signed out at Keycloak: its login form is asked for again, not skipped
    await page.waitForURL((url) => url.href.startsWith(ISSUER));
    await page.locator("#username").waitFor();
    await screenshot(page, "sso-02-keycloak-login-again");
  });
});
