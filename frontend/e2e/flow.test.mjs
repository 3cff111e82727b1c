// End-to-end: the built UI in headless Chromium against a real `pflow serve`.
// Run with `npm run e2e` (expects frontend/dist; see harness.mjs for the environment it reads).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import {
  DESKTOP,
  FAIL_MARKER,
  FRONTEND,
  PHONE,
  apiLogin,
  assertNoHorizontalScroll,
  checkA11y,
  labels,
  launchBrowser,
  login,
  newPage,
  screenshot,
  startServer,
} from "./harness.mjs";

const RUN = Date.now().toString(36).slice(-5);
const LANGS = ["en", "zh-CN"];
let server;
let browser;
let TYPES = [];
let EN;
const pages = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  const alice = await apiLogin(server.url, "alice");
  const types = await alice("GET", "/ticket-types");
  assert.equal(types.status, 200, JSON.stringify(types.data));
  TYPES = types.data;
  EN = labels("en", TYPES);
});

// Each scenario's browsers go when it ends: pages left open would go on polling the server.
afterEach(async () => {
  for (const page of pages.splice(0)) await page.context().close();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function open(options) {
  const page = await newPage(browser, server.url, options);
  pages.push(page);
  return page;
}

/** A browser in `L`'s language at `viewport` (the browser prefers the language; the UI starts in it). */
const openIn = (L, viewport = DESKTOP) => open({ lang: L.lang, viewport });

const statusIs = (page, status) => page.locator(`[data-testid="ticket-status"][data-status="${status}"]`);
const marker = (page, id, cls) => page.locator(`.djs-element.${cls}[data-element-id="${id}"]`);
const stepCard = (page, step) => page.locator(`[data-testid="step"][data-step="${step}"]`);
const nav = (page, name, L = EN) => page.getByRole("navigation", { name: L.t("nav.label"), exact: true }).getByRole("link", { name });

async function currentTicketId(page) {
  await page.getByTestId("ticket-detail").waitFor();
  return page.getByTestId("ticket-detail").getAttribute("data-ticket-id");
}

/**
 * Fill the new-ticket form and press one of its buttons (a `form.*` key), as a person would, in `L`'s
 * words. `type` is a ticket type key (none: the default type, not picked); `fields` maps a field's name
 * to a value (a boolean ticks a checkbox, `{ select }` picks an option). The form is checked for
 * accessibility once per language and size.
 */
async function createTicket(page, { type, title, fields = {} }, button = "form.saveDraft", L = EN) {
  await nav(page, L.t("nav.newTicket"), L).click();
  const typeKey = type ?? TYPES.find((tp) => tp.default)?.key;
  if (type) await page.getByRole("radio", { name: L.typeName(type) }).check();
  await page.locator(`form[data-type="${typeKey}"]`).waitFor();
  await checkA11y(page, `the new ticket form (${typeKey})`, { once: true });
  await page.getByLabel(L.t("ticket.title")).fill(title);
  for (const [name, value] of Object.entries(fields)) {
    const input = page.getByLabel(L.field(typeKey, name));
    if (typeof value === "boolean") await input.setChecked(value);
    else if (value && typeof value === "object") await input.selectOption(value.select);
    else await input.fill(String(value));
  }
  await page.getByRole("button", { name: L.t(button), exact: true }).click();
  return currentTicketId(page);
}

/** Complete a step from its card on the ticket page: Approve or Reject, with a comment. */
async function decide(page, step, decision, comment = "", L = EN) {
  const card = stepCard(page, step);
  await card.getByRole("button", { name: L.t(`actions.${decision}`), exact: true }).click();
  if (comment) await card.getByLabel(L.t(decision === "approve" ? "actions.commentLabel" : "actions.reasonLabel")).fill(comment);
  await card.getByRole("button", { name: L.t(`actions.confirm.${decision}`), exact: true }).click();
}

/** How the UI words an API error about one field: its own text for the error's key, else the API's words. */
function fieldErrorText(L, error, field) {
  const keyed = error.fields?.[field];
  if (keyed?.length) {
    try {
      return keyed.map((e) => L.t(`serverError.${e.key}`, e.params ?? {})).join(" ");
    } catch {
      /* no text of its own for this key: the API's words */
    }
  }
  return error.details[field].join(" ");
}

async function apiTicket(title, { type, fields = { amount: 250, description: "Set up by the test." }, submit = true, decide: decision } = {}) {
  const alice = await apiLogin(server.url, "alice");
  const created = await alice("POST", "/tickets", { ...(type ? { type } : {}), title, fields });
  assert.equal(created.status, 201, JSON.stringify(created.data));
  const id = created.data.id;
  if (submit) {
    const submitted = await alice("POST", `/tickets/${id}/submit`);
    assert.equal(submitted.status, 200, JSON.stringify(submitted.data));
  }
  if (decision) {
    const bob = await apiLogin(server.url, "bob");
    const r = await bob("POST", `/tickets/${id}/${decision}`, { comment: decision === "reject" ? "Not this quarter." : "OK" });
    assert.equal(r.status, 200, JSON.stringify(r.data));
  }
  return id;
}

/** Open the caller's inbox (checked for accessibility once per language and size) and the ticket from its row there. */
async function openFromTasks(page, ticketId, step, L = EN) {
  await nav(page, L.t("nav.tasks"), L).click();
  await page.getByRole("heading", { name: L.t("tasks.title") }).waitFor();
  const row = page.locator(`[data-testid="task-row"][data-ticket-id="${ticketId}"][data-step="${step}"]`);
  await row.waitFor();
  await checkA11y(page, "the task inbox", { once: true });
  await row.getByRole("link").click();
  await page.locator(`[data-testid="ticket-detail"][data-ticket-id="${ticketId}"]`).waitFor();
}

describe("process-driven tickets in the browser", () => {
  test("IT request: alice creates and submits, bob approves from his tasks, and it is provisioned to completed", async () => {
    const title = `New laptop for onboarding ${RUN}`;
    const alice = await open();
    await login(alice, "alice");
    const id = await createTicket(alice, {
      title,
      fields: { description: "A 14-inch laptop for the designer who starts on Monday.", amount: "1899.00", priority: { select: "high" } },
    });
    await statusIs(alice, "draft").waitFor();
    await screenshot(alice, "01-alice-draft");
    await alice.getByTestId("ticket-type").getByText("IT request").waitFor();
    assert.equal(await alice.getByTestId("process-state").getAttribute("data-state"), "none");

    await alice.getByRole("button", { name: "Submit", exact: true }).click();
    await statusIs(alice, "in_progress").waitFor();
    await marker(alice, "ManagerApproval", "pf-active").waitFor();
    await marker(alice, "TicketSubmitted", "pf-done").waitFor();
    await alice.getByTestId("current-steps").getByText("Manager Approval").waitFor();
    // not hers to decide: the step says who decides, and why not her
    await stepCard(alice, "ManagerApproval").getByTestId("step-who").getByText("anyone in Managers").waitFor();
    await stepCard(alice, "ManagerApproval").getByTestId("step-refusal").waitFor();
    assert.equal(await alice.getByRole("button", { name: "Approve" }).count(), 0);
    await screenshot(alice, "01-alice-submitted");

    // Bob signs in with the demo account button and finds the step in his tasks.
    const bob = await open();
    await bob.goto("/login");
    await bob.getByTestId("demo-user-bob").click();
    await bob.getByTestId("current-user").waitFor();
    await bob.getByTestId("tasks-count").waitFor();
    await openFromTasks(bob, id, "ManagerApproval");
    await statusIs(bob, "in_progress").waitFor();
    await decide(bob, "ManagerApproval", "approve", "Budget confirmed with finance.");
    await statusIs(bob, "completed").waitFor();
    await marker(bob, "ProvisionService", "pf-done").waitFor();
    await marker(bob, "Completed", "pf-done").waitFor();
    assert.equal(await bob.locator(".djs-element.pf-active").count(), 0);
    const timeline = bob.getByTestId("timeline");
    await timeline.getByText("bob approved “Manager Approval”").waitFor();
    await timeline.getByText("Budget confirmed with finance.").waitFor();
    await timeline.locator('[data-action="completed"]').waitFor();
    await screenshot(bob, "01-bob-completed");

    // Alice's page follows on its own (polling), without a reload.
    await statusIs(alice, "completed").waitFor();
    await alice.getByTestId("timeline").getByText("Budget confirmed with finance.").waitFor();
    await marker(alice, "Completed", "pf-done").waitFor();
    await screenshot(alice, "01-alice-sees-completed");

    const list = await open();
    await login(list, "alice");
    await list.getByLabel("Search tickets").fill(RUN);
    await list.locator(`[data-testid="ticket-row"][data-ticket-id="${id}"]`).waitFor();
    await checkA11y(list, "the ticket list");
    await list.getByLabel("Status").selectOption("completed");
    await list.locator(`[data-testid="ticket-row"][data-ticket-id="${id}"] [data-status="completed"]`).waitFor();

    // The fulfilment reference the automated step returned is on the ticket, and search finds it by it.
    const reference = (await bob.getByTestId("fulfilment-reference").innerText()).trim();
    assert.match(reference, /^PRV-/);
    await list.getByLabel("Status").selectOption("");
    const part = reference.slice(4).toLowerCase();
    const searched = list.waitForResponse((r) => new URL(r.url()).searchParams.get("q") === part);
    await list.getByLabel("Search tickets").fill(part);
    assert.equal((await (await searched).json()).total, 1, "only the ticket with that reference");
    await list.locator(`[data-testid="ticket-row"][data-ticket-id="${id}"]`).waitFor();
    await list.waitForFunction(() => document.querySelectorAll('[data-testid="ticket-row"]').length === 1);
    // The #id the UI shows finds it too.
    await list.getByLabel("Search tickets").fill(`#${id.slice(0, 8)}`);
    await list.locator(`[data-testid="ticket-row"][data-ticket-id="${id}"]`).waitFor();
  });

  test("purchase of 500: bob's approval is enough, finance is skipped", async () => {
    const id = await apiTicket(`Desk lamp ${RUN}`, { type: "purchase_request", fields: { amount: 500, supplier: "Lamps Ltd" } });
    const bob = await open();
    await login(bob, "bob");
    await openFromTasks(bob, id, "ManagerApproval");
    await decide(bob, "ManagerApproval", "approve");
    await statusIs(bob, "completed").waitFor();
    await marker(bob, "Completed", "pf-done").waitFor();
    assert.equal(await marker(bob, "FinanceApproval", "pf-done").count(), 0);
    assert.equal(await bob.getByTestId("timeline").locator('[data-action="step_completed"]').count(), 1);

    const fionaApi = await apiLogin(server.url, "fiona");
    const inbox = await fionaApi("GET", "/tasks?page_size=100");
    assert.equal(inbox.status, 200);
    assert.equal(inbox.data.items.filter((t) => t.ticket.id === id).length, 0);
  });

  test("no decision on your own ticket, and a forced completion shows the API's refusal", async () => {
    const id = await apiTicket(`Team offsite budget ${RUN}`);
    const alice = await open();
    await login(alice, "alice");
    await alice.goto(`/tickets/${id}`);
    await statusIs(alice, "in_progress").waitFor();
    await stepCard(alice, "ManagerApproval").getByTestId("step-refusal").waitFor();
    assert.equal(await alice.getByRole("button", { name: "Approve" }).count(), 0);
    assert.equal(await alice.getByRole("button", { name: "Reject" }).count(), 0);

    // A manager's own ticket: no decision buttons either (separation of duties), and not in his tasks.
    const bob = await open();
    await login(bob, "bob");
    const own = await createTicket(bob, { title: `Bob's own conference trip ${RUN}` }, "form.saveAndSubmit");
    await statusIs(bob, "in_progress").waitFor();
    await stepCard(bob, "ManagerApproval").getByTestId("step-refusal").getByText("You requested this ticket").waitFor();
    assert.equal(await bob.getByRole("button", { name: "Approve" }).count(), 0);
    await bob.goto("/approvals"); // the old address lands on the task inbox
    await bob.getByRole("heading", { name: "My tasks" }).waitFor();
    assert.match(bob.url(), /\/tasks$/);
    await bob.getByTestId("task-row").first().waitFor();
    assert.equal(await bob.locator(`[data-ticket-id="${own}"]`).count(), 0);

    // Force the form onto alice's screen by doctoring the ticket the UI receives; the server still decides.
    await alice.route(`**/api/tickets/${id}`, async (route) => {
      const response = await route.fetch();
      const ticket = await response.json();
      const steps = ticket.steps.map((s) => ({ ...s, can_complete: true, refusal: null }));
      await route.fulfill({ response, json: { ...ticket, steps } });
    });
    await alice.reload();
    await decide(alice, "ManagerApproval", "approve");
    const aliceApi = await apiLogin(server.url, "alice");
    const step = (await aliceApi("GET", `/tickets/${id}`)).data.steps[0];
    const decision = step.form.find((f) => f.decision);
    const refusal = await aliceApi("POST", `/tasks/${step.id}/complete`, {
      variables: { [decision.id]: decision.type === "boolean" ? true : "approve" },
    });
    assert.equal(refusal.status, 403);
    const shown = stepCard(alice, "ManagerApproval").getByTestId("action-error");
    await shown.waitFor();
    assert.equal((await shown.innerText()).trim(), refusal.data.error.message);
    await statusIs(alice, "in_progress").waitFor();
    await screenshot(alice, "07-alice-forced-approve-refused");
  });

  test("the language switch changes the labels, is remembered, and sets <html lang>", async () => {
    const id = await apiTicket(`Design software licence ${RUN}`, { decide: "approve" });
    const page = await open();
    await page.goto("/login");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByLabel("Language").selectOption("zh-CN");
    await page.getByRole("heading", { name: "登录" }).waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "zh-CN");
    await screenshot(page, "08-zh-login");

    await page.getByLabel("用户名").fill("bob");
    await page.getByLabel("密码").fill("bob");
    await page.locator("form").getByRole("button", { name: "登录" }).click();
    await page.getByRole("heading", { name: "工单" }).waitFor();
    await nav(page, /我的待办/, labels("zh-CN", TYPES)).waitFor();
    await page.getByLabel("搜索工单").fill(RUN);
    await page.locator(`[data-ticket-id="${id}"]`).getByText("已完成").waitFor();
    await page.locator(`[data-ticket-id="${id}"]`).getByText("IT 申请").waitFor();
    await screenshot(page, "08-zh-list");

    await page.goto(`/tickets/${id}`);
    await statusIs(page, "completed").getByText("已完成").waitFor();
    await page.getByTestId("timeline").getByText("bob 批准了“经理审批”").waitFor();
    await page.getByRole("heading", { name: "处理记录" }).waitFor();
    await page.getByTestId("ticket-fields").getByText("金额").waitFor(); // the field's x-title
    await marker(page, "Completed", "pf-done").waitFor();
    await page.locator('.djs-element[data-element-id="ManagerApproval"]').getByText("经理审批").waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "处理记录" }).waitFor();
    await marker(page, "Completed", "pf-done").waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "zh-CN");
    await screenshot(page, "08-zh-detail");

    await page.getByLabel("语言").selectOption("en");
    await page.getByRole("heading", { name: "History" }).waitFor();
    await page.getByTestId("timeline").getByText("bob approved “Manager Approval”").waitFor();
    await statusIs(page, "completed").getByText("Completed").waitFor();
    await page.locator('.djs-element[data-element-id="ManagerApproval"]').getByText("Manager").waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "en");
  });

  test("field errors from the API's 422 appear next to the generated fields", async () => {
    const page = await open();
    await login(page, "alice");
    await nav(page, "New ticket").click();
    await page.getByRole("radio", { name: "Purchase request" }).check();
    await page.getByLabel("Amount").fill("0");
    await page.getByRole("button", { name: "Save draft" }).click();
    // Every field the API names is marked on screen with the API's words: the title first, then (with a
    // title) the type's own fields.
    const api = await apiLogin(server.url, "alice");
    const expectShown = async (body, fields) => {
      const refusal = await api("POST", "/tickets", body);
      assert.equal(refusal.status, 422, JSON.stringify(refusal.data));
      for (const field of fields) assert.ok(refusal.data.error.details[field], `the API names ${field}`);
      for (const [field, messages] of Object.entries(refusal.data.error.details)) {
        const shown = page.getByTestId(`error-${field}`);
        await shown.waitFor();
        assert.equal((await shown.innerText()).trim(), messages.join(" "));
      }
    };
    await expectShown({ type: "purchase_request", title: "", fields: { amount: 0 } }, ["title"]);
    assert.equal(await page.getByLabel("Title").getAttribute("aria-invalid"), "true");
    await page.getByLabel("Title").fill(`Fixed title ${RUN}`);
    await page.getByRole("button", { name: "Save draft" }).click();
    await expectShown({ type: "purchase_request", title: `Fixed title ${RUN}`, fields: { amount: 0 } }, ["amount", "supplier"]);
    assert.equal(await page.getByLabel("Supplier").getAttribute("aria-invalid"), "true");
    await screenshot(page, "09-form-field-errors");

    await page.getByLabel("Title").fill(`Fixed title ${RUN}`);
    await page.getByLabel("Amount").fill("12.5");
    await page.getByLabel("Supplier").fill("Paper Co");
    await page.getByRole("button", { name: "Save draft" }).click();
    await statusIs(page, "draft").waitFor();

    // Edit the draft: the same form comes back filled in and saves the change.
    await page.getByRole("link", { name: "Edit draft" }).click();
    assert.equal(await page.getByLabel("Amount").inputValue(), "12.5");
    await page.getByLabel("Justification").fill("Added after the first save.");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Added after the first save.").waitFor();

    // A draft can be deleted, after a confirmation.
    await page.getByRole("button", { name: "Delete draft" }).click();
    await page.getByRole("button", { name: "Delete for good" }).click();
    await page.getByTestId("flash").getByText("The draft was deleted.").waitFor();
  });

  test("the ticket list pages through results and filters by status", async () => {
    const tag = `bulk${RUN}`;
    const alice = await apiLogin(server.url, "alice");
    for (let i = 1; i <= 22; i++) {
      const r = await alice("POST", "/tickets", { title: `${tag} item ${String(i).padStart(2, "0")}` });
      assert.equal(r.status, 201);
      if (i === 22) await alice("POST", `/tickets/${r.data.id}/submit`);
    }
    const page = await open();
    await login(page, "alice");
    await page.getByLabel("Search tickets").fill(tag);
    await page.getByText("1–20 of 22").waitFor();
    assert.equal(await page.getByTestId("ticket-row").count(), 20);
    await screenshot(page, "10-list-paged");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByText("21–22 of 22").waitFor();
    assert.equal(await page.getByTestId("ticket-row").count(), 2);
    await page.getByLabel("Status").selectOption("in_progress");
    await page.getByText("1–1 of 1").waitFor();
    await page.getByRole("link", { name: `${tag} item 22` }).waitFor();
    await page.getByTestId("row-current-steps").getByText("Manager Approval").waitFor();
    await page.getByLabel("Search tickets").fill(`${tag} nothing like this`);
    await page.getByText("No tickets match these filters.").waitFor();
  });

  test("an admin sees a failed automated step and can retry it", async () => {
    const id = await apiTicket(`${FAIL_MARKER} VPN token ${RUN}`, { decide: "approve" });
    const carol = await open();
    await login(carol, "carol");
    await carol.goto(`/tickets/${id}`);
    await statusIs(carol, "needs_attention").waitFor({ timeout: 30000 });
    await carol.getByTestId("attention").waitFor();
    await carol.getByTestId("timeline").locator('[data-action="needs_attention"]').waitFor();
    await screenshot(carol, "11-carol-needs-attention");
    await carol.getByRole("button", { name: "Retry the failed step" }).click();
    await carol.getByLabel("Comment (optional)").fill("Upstream fixed, trying again.");
    await carol.getByRole("button", { name: "Retry now" }).click();
    await carol.getByTestId("action-done").waitFor();
    await carol.getByTestId("timeline").getByText("Upstream fixed, trying again.").waitFor();
    await carol.getByTestId("timeline").locator('[data-action="retried"]').waitFor();
  });

  test("the API documentation (Swagger UI) runs under its Content-Security-Policy", async () => {
    const page = await open();
    await page.goto("/api/docs");
    await page.locator(".swagger-ui .opblock").first().waitFor();
    assert.deepEqual(page.cspViolations, [], "nothing blocked on /api/docs");
  });

  test("an expired session goes back to the login screen and says why", async () => {
    const page = await open();
    await login(page, "alice");
    // the session is an httpOnly cookie: no script on the page can read it, and no token is kept in storage
    const seen = await page.evaluate(() => ({ cookies: document.cookie, storage: JSON.stringify({ ...localStorage }) }));
    assert.ok(!seen.cookies.includes("pflow_session"), seen.cookies);
    const [cookie] = (await page.context().cookies()).filter((c) => c.name === "pflow_session");
    assert.ok(cookie?.httpOnly && cookie.sameSite === "Strict", JSON.stringify(cookie));
    assert.ok(!seen.storage.includes(cookie.value), "the session token is not in localStorage");
    await page.context().addCookies([{ ...cookie, value: "expired-or-forged" }]);
    await page.goto("/tickets");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByText("Your session has ended. Please sign in again.").waitFor();
    await screenshot(page, "12-session-expired");
  });

  test("a definition with its own diagram section is drawn from it, with the current step marked", async () => {
    const fixture = readFileSync(join(FRONTEND, "src", "test", "fixtures", "ticket-process-di.bpmn"), "utf8");
    const id = await apiTicket(`Diagram check ${RUN}`);
    const page = await open();
    await login(page, "alice");
    await page.route(`**/api/tickets/${id}/process`, async (route) => {
      const response = await route.fetch();
      const view = await response.json();
      await route.fulfill({ response, json: { ...view, definition_xml: fixture } });
    });
    await page.goto(`/tickets/${id}`);
    await marker(page, "ManagerApproval", "pf-active").waitFor();
    // The fixture places the user task at x=260,y=140: bpmn-js used the file's own layout.
    const transform = await page.locator('.djs-element.djs-shape[data-element-id="ManagerApproval"]').getAttribute("transform");
    assert.equal(transform, "matrix(1 0 0 1 260 140)");
    await screenshot(page, "13-diagram-from-di");
  });

  test("keyboard only: sign in, open a decision, type the reason and confirm", async () => {
    const id = await apiTicket(`Keyboard check ${RUN}`);
    const page = await open();
    await page.goto("/login");
    await page.getByLabel("Username").waitFor();
    // the username field has focus on arrival
    await page.waitForFunction(() => document.activeElement?.getAttribute("autocomplete") === "username");
    await page.keyboard.type("bob");
    await page.keyboard.press("Tab");
    await page.keyboard.type("bob");
    await page.keyboard.press("Enter");
    await page.getByTestId("current-user").waitFor();
    await page.goto(`/tickets/${id}`);
    await stepCard(page, "ManagerApproval").getByRole("button", { name: "Reject" }).focus();
    await page.keyboard.press("Enter");
    const reason = page.getByLabel("Reason for rejecting");
    await reason.waitFor();
    assert.equal(await reason.evaluate((el) => el === document.activeElement), true);
    await page.keyboard.type("Typed without a mouse.");
    await page.keyboard.press("Tab"); // Cancel
    await page.keyboard.press("Tab"); // Confirm rejection
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Confirm rejection");
    await page.keyboard.press("Enter");
    await statusIs(page, "rejected").waitFor();
    await page.getByTestId("timeline").getByText("Typed without a mouse.").waitFor();
  });

  test("notifications: the bell shows the server's unread count, or stays hidden where there are none", async () => {
    await apiTicket(`Notification check ${RUN}`);
    const bobApi = await apiLogin(server.url, "bob");
    const answer = await bobApi("GET", "/notifications?unread_only=false&page=1&page_size=20");
    const page = await open();
    const asked = page.waitForResponse((r) => r.url().includes("/api/notifications"));
    await login(page, "bob");
    await page.getByRole("heading", { name: "Tickets" }).waitFor();
    assert.equal((await asked).status(), answer.status);
    if (answer.status === 404) {
      // This server has no notifications: the UI hides the feature instead of showing an error.
      assert.equal(await page.getByTestId("notification-bell").count(), 0);
      assert.equal(await page.getByRole("alert").count(), 0);
    } else {
      assert.equal(answer.status, 200, JSON.stringify(answer.data));
      await page.getByTestId("notification-bell").click();
      await page.getByRole("region", { name: "Notifications" }).waitFor();
      // bob is in the managers group: alice's submitted ticket (above) notified him.
      assert.ok(answer.data.unread > 0, "a manager is notified of a submitted ticket");
      const count = page.getByTestId("notification-count");
      await count.waitFor();
      assert.match(await count.innerText(), /^\d+\+?$/);
      await page.getByRole("region", { name: "Notifications" }).getByText(`Notification check ${RUN}`, { exact: false }).first().waitFor();
      await screenshot(page, "14-notifications");
      await page.getByRole("button", { name: "Mark all as read" }).click();
      await count.waitFor({ state: "detached" });
      assert.equal((await bobApi("GET", "/notifications?unread_only=true")).data.unread, 0);
      await page.getByRole("link", { name: "See all notifications" }).click();
      await page.getByRole("heading", { name: "Notifications" }).waitFor();
      await page.getByText("0 unread").waitFor();
      await screenshot(page, "14-notifications-page");
    }
  });
});

// The main scenarios, step for step the same in every language: the words come from the locale files
// (and the server's type list), so a label that changes or goes missing in one language fails here.
for (const lang of LANGS) {
  describe(`main scenarios in ${lang}`, () => {
    let L;
    before(() => {
      L = labels(lang, TYPES);
    });
    const timelineSays = (page, key, params) => page.getByTestId("timeline").getByText(L.t(key, params)).waitFor();

    test(`${lang}: purchase of 5000: bob approves, then fiona (finance), and it completes`, async () => {
      const title = `Laptops for the new team ${lang} ${RUN}`;
      const alice = await openIn(L);
      await login(alice, "alice");
      const id = await createTicket(
        alice,
        { type: "purchase_request", title, fields: { amount: "5000", supplier: "ACME", needed_by: "2026-12-24" } },
        "form.saveAndSubmit",
        L,
      );
      await statusIs(alice, "in_progress").getByText(L.status("in_progress")).waitFor();
      await alice.getByTestId("ticket-type").getByText(L.typeName("purchase_request")).waitFor();
      await alice.getByTestId("ticket-fields").getByText("ACME").waitFor();
      await alice.getByTestId("ticket-fields").getByText(L.field("purchase_request", "supplier"), { exact: true }).waitFor();
      await screenshot(alice, `02-${lang}-alice-submitted`);

      const bob = await openIn(L);
      await login(bob, "bob");
      await openFromTasks(bob, id, "ManagerApproval", L);
      await decide(bob, "ManagerApproval", "approve", "", L);
      // Above 1 000 the process goes on to finance: the ticket is not done, and bob cannot decide that step.
      await stepCard(bob, "FinanceApproval").waitFor();
      await statusIs(bob, "in_progress").waitFor();
      await bob.getByTestId("current-steps").getByText(L.step("FinanceApproval")).waitFor();
      await stepCard(bob, "FinanceApproval").getByTestId("step-refusal").waitFor();
      await stepCard(bob, "FinanceApproval").getByTestId("step-who").getByText(L.t("step.group", { group: L.t("group.finance") })).waitFor();
      await marker(bob, "FinanceApproval", "pf-active").waitFor();
      await screenshot(bob, `02-${lang}-bob-approved-finance-next`);

      const fiona = await openIn(L);
      await login(fiona, "fiona");
      await openFromTasks(fiona, id, "FinanceApproval", L);
      await decide(fiona, "FinanceApproval", "approve", `Within the quarter's budget (${lang}).`, L);
      await statusIs(fiona, "completed").getByText(L.status("completed")).waitFor();
      await timelineSays(fiona, "history.stepApproved", { actor: "bob", step: L.step("ManagerApproval") });
      await timelineSays(fiona, "history.stepApproved", { actor: "fiona", step: L.step("FinanceApproval") });
      await marker(fiona, "FinanceApproval", "pf-done").waitFor();
      await screenshot(fiona, `02-${lang}-fiona-completed`);
      await statusIs(alice, "completed").waitFor();
    });

    test(`${lang}: access request: bob and sam review in parallel, both must approve`, async () => {
      const id = await apiTicket(`Payroll read access ${lang} ${RUN}`, {
        type: "access_request",
        fields: { system: "Payroll", access_level: "read", reason: "Quarterly audit." },
      });
      const bob = await openIn(L);
      await login(bob, "bob");
      await bob.goto(`/tickets/${id}`);
      await stepCard(bob, "ManagerApproval").waitFor();
      await stepCard(bob, "SecurityReview").getByTestId("step-refusal").waitFor();
      // both at once (the engine names them in either order)
      await bob.getByTestId("current-steps").filter({ hasText: L.step("ManagerApproval") }).filter({ hasText: L.step("SecurityReview") }).waitFor();
      await marker(bob, "ManagerApproval", "pf-active").waitFor();
      await marker(bob, "SecurityReview", "pf-active").waitFor();
      await screenshot(bob, `04-${lang}-parallel-steps`);
      await decide(bob, "ManagerApproval", "approve", "", L);
      await stepCard(bob, "ManagerApproval").waitFor({ state: "detached" });
      await statusIs(bob, "in_progress").waitFor();
      await bob.getByTestId("current-steps").getByText(L.step("SecurityReview")).waitFor();

      const sam = await openIn(L);
      await login(sam, "sam");
      await sam.getByRole("heading", { name: L.t("tickets.title"), exact: true }).waitFor();
      await openFromTasks(sam, id, "SecurityReview", L);
      await statusIs(sam, "in_progress").getByText(L.status("in_progress")).waitFor();
      const comment = lang === "zh-CN" ? "最小权限，同意。" : "Least privilege, fine.";
      await decide(sam, "SecurityReview", "approve", comment, L);
      await statusIs(sam, "completed").getByText(L.status("completed")).waitFor();
      await timelineSays(sam, "history.stepApproved", { actor: "sam", step: L.step("SecurityReview") });
      await sam.getByTestId("timeline").getByText(comment).waitFor();
      await screenshot(sam, `04-${lang}-sam-completed`);
      await statusIs(bob, "completed").waitFor();
    });

    test(`${lang}: alice withdraws a ticket in progress, then resubmits it as a new draft`, async () => {
      const title = `Standing desk ${lang} ${RUN}`;
      const id = await apiTicket(title, { type: "purchase_request", fields: { amount: 700, supplier: "Desks & Co" } });
      const alice = await openIn(L);
      await login(alice, "alice");
      await alice.goto(`/tickets/${id}`);
      await statusIs(alice, "in_progress").waitFor();
      await alice.getByRole("button", { name: L.t("actions.withdraw"), exact: true }).click();
      await alice.getByLabel(L.t("actions.commentLabel")).fill("Found one in the storeroom.");
      await alice.getByRole("button", { name: L.t("actions.confirm.withdraw"), exact: true }).click();
      await statusIs(alice, "withdrawn").getByText(L.status("withdrawn")).waitFor();
      await timelineSays(alice, "history.withdrawn", { actor: "alice" });
      await alice.getByTestId("timeline").getByText("Found one in the storeroom.").waitFor();
      assert.equal(await alice.getByTestId("steps-card").count(), 0);
      const bobApi = await apiLogin(server.url, "bob");
      const inbox = await bobApi("GET", "/tasks?page_size=100");
      assert.equal(inbox.data.items.filter((t) => t.ticket.id === id).length, 0);
      await screenshot(alice, `05-${lang}-withdrawn`);

      await alice.getByRole("button", { name: L.t("actions.resubmit"), exact: true }).click();
      await alice.waitForURL((url) => !url.pathname.endsWith(id) && /\/tickets\/[^/]+$/.test(url.pathname));
      await statusIs(alice, "draft").getByText(L.status("draft")).waitFor();
      const draft = await currentTicketId(alice);
      assert.notEqual(draft, id);
      await alice.getByRole("heading", { name: title }).waitFor();
      await alice.getByTestId("ticket-fields").getByText("Desks & Co").waitFor();
      await alice.getByTestId("timeline").getByTestId("link-resubmitted_from").waitFor();
      await screenshot(alice, `05-${lang}-new-draft`);
      await alice.getByRole("link", { name: L.t("actions.edit"), exact: true }).click();
      assert.equal(await alice.getByLabel(L.field("purchase_request", "supplier")).inputValue(), "Desks & Co");
      await checkA11y(alice, "the draft's edit form", { once: true });
      await alice.getByLabel(L.field("purchase_request", "amount")).fill("650");
      await alice.getByRole("button", { name: L.t("form.saveAndSubmit"), exact: true }).click();
      await statusIs(alice, "in_progress").waitFor();
      await screenshot(alice, `05-${lang}-resubmitted`);

      await alice.goto(`/tickets/${id}`);
      await alice.getByTestId("timeline").getByTestId("link-resubmitted_as").click();
      await alice.locator(`[data-testid="ticket-detail"][data-ticket-id="${draft}"]`).waitFor();
    });

    test(`${lang}: bob rejects with a required comment, and alice reads the reason`, async () => {
      const title = `Second monitor ${lang} ${RUN}`;
      const alice = await openIn(L);
      await login(alice, "alice");
      const id = await createTicket(alice, { title, fields: { amount: "320" } }, "form.saveAndSubmit", L);
      await statusIs(alice, "in_progress").waitFor();

      const bob = await openIn(L);
      await login(bob, "bob");
      await bob.goto(`/tickets/${id}`);
      const card = stepCard(bob, "ManagerApproval");
      await card.getByRole("button", { name: L.t("actions.reject"), exact: true }).click();
      await card.getByRole("button", { name: L.t("actions.confirm.reject"), exact: true }).click();
      // The API refuses a rejection without a reason; its words appear next to the field.
      const api = await apiLogin(server.url, "bob");
      const step = (await api("GET", `/tickets/${id}`)).data.steps[0];
      const decision = step.form.find((f) => f.decision);
      const refusal = await api("POST", `/tasks/${step.id}/complete`, {
        variables: { [decision.id]: decision.type === "boolean" ? false : "reject" },
        comment: null, // what the form sends for an empty reason
      });
      assert.equal(refusal.status, 422);
      const fieldError = card.getByTestId("error-comment");
      await fieldError.waitFor();
      assert.equal((await fieldError.innerText()).trim(), fieldErrorText(L, refusal.data.error, "comment"));
      const reason = card.getByLabel(L.t("actions.reasonLabel"));
      assert.equal(await reason.getAttribute("aria-invalid"), "true");
      await screenshot(bob, `06-${lang}-bob-reject-needs-comment`);

      await reason.fill("Please reuse a monitor from the storeroom.");
      await card.getByRole("button", { name: L.t("actions.confirm.reject"), exact: true }).click();
      await statusIs(bob, "rejected").getByText(L.status("rejected")).waitFor();
      await marker(bob, "Rejected", "pf-done").waitFor();

      await statusIs(alice, "rejected").waitFor();
      await timelineSays(alice, "history.stepRejected", { actor: "bob", step: L.step("ManagerApproval") });
      await alice.getByTestId("timeline").getByText("Please reuse a monitor from the storeroom.").waitFor();
      await alice.getByRole("button", { name: L.t("actions.resubmit"), exact: true }).waitFor();
      await screenshot(alice, `06-${lang}-alice-sees-rejection`);
    });

    test(`${lang}: bob approves three tasks at once; one was decided meanwhile and is shown refused`, async () => {
      const titles = [1, 2, 3].map((n) => `Bulk ${n} ${lang} ${RUN}`);
      const ids = [];
      for (const title of titles) ids.push(await apiTicket(title));
      const bob = await openIn(L);
      await login(bob, "bob");
      await nav(bob, L.t("nav.tasks"), L).click();
      await bob.getByRole("heading", { name: L.t("tasks.title") }).waitFor();
      const words = `${lang} ${RUN}`;
      const searched = bob.waitForResponse((r) => new URL(r.url()).searchParams.get("q") === words);
      await bob.getByLabel(L.t("tasks.search")).fill(words);
      const inbox = await searched;
      const seen = await inbox.text();
      // From here bob's inbox does not refresh (the screen he decides from is the one he saw), so the ticket
      // dave decides meanwhile is still on it and selected when bob confirms.
      await bob.route((url) => url.pathname === "/api/tasks" && url.searchParams.get("page_size") !== "1",
        (route) => route.fulfill({ status: 200, contentType: "application/json", body: seen }));
      for (const title of titles) await bob.getByRole("checkbox", { name: L.t("tasks.bulk.select", { title }) }).check();
      const bar = bob.getByRole("region", { name: L.t("tasks.bulk.label") });
      await bar.getByRole("button", { name: L.t("tasks.bulk.approve"), exact: true }).click();
      const dave = await apiLogin(server.url, "dave");
      const decided = await dave("POST", `/tickets/${ids[1]}/approve`, { comment: "Done already." });
      assert.equal(decided.status, 200, JSON.stringify(decided.data));
      await checkA11y(bob, "the task inbox with a bulk decision open");
      await screenshot(bob, `17-${lang}-bob-bulk-confirm`);
      await bar.getByRole("button", { name: L.t("tasks.bulk.confirmApprove_other", { count: 3 }), exact: true }).click();
      const results = bob.getByTestId("bulk-results");
      await results.getByText(L.t("tasks.bulk.summary", { decided: 2, refused: 1 })).waitFor();
      await results.locator(`[data-ticket-id="${ids[1]}"][data-ok="false"]`).getByText(L.t("tasks.bulk.refused"), { exact: false }).waitFor();
      for (const i of [0, 2]) {
        await results.locator(`[data-ticket-id="${ids[i]}"][data-ok="true"]`).getByText(L.t("tasks.bulk.approved")).waitFor();
      }
      await screenshot(bob, `17-${lang}-bob-bulk-results`);
      const api = await apiLogin(server.url, "bob");
      for (const id of ids) {
        const history = (await api("GET", `/tickets/${id}/history`)).data;
        const completions = history.filter((h) => h.action === "step_completed");
        assert.equal(completions.length, 1, `${id}: one decision recorded`);
        assert.equal(completions[0].actor, id === ids[1] ? "dave" : "bob");
      }
    });

    test(`${lang}: carol retries a failed automated step from the incidents page`, async () => {
      const title = `${FAIL_MARKER} Incident ${lang} ${RUN}`;
      const id = await apiTicket(title, { decide: "approve" });
      const carol = await openIn(L);
      await login(carol, "carol");
      // The menu counts the open incidents; the page lists this one with its error.
      await carol.getByTestId("incidents-count").waitFor({ timeout: 30000 });
      await nav(carol, new RegExp(`^${L.t("nav.incidents")}`), L).click();
      await carol.getByRole("heading", { name: L.t("incidents.title"), level: 1 }).waitFor();
      const row = carol.locator(`[data-testid="incident-row"][data-ticket-id="${id}"]`);
      await row.waitFor({ timeout: 30000 });
      await checkA11y(carol, "the incidents page");
      await screenshot(carol, `18-${lang}-carol-incidents`);
      await row.getByLabel(L.t("incidents.commentFor", { title })).fill("Upstream fixed, trying again.");
      await row.getByRole("button", { name: L.t("incidents.retryFor", { title }) }).click();
      await carol.getByText(L.t("incidents.retried", { title })).waitFor();
      const api = await apiLogin(server.url, "carol");
      const history = (await api("GET", `/tickets/${id}/history`)).data;
      const retried = history.find((h) => h.comment === "Upstream fixed, trying again.");
      assert.ok(retried && retried.actor === "carol", JSON.stringify(history.slice(-3)));
    });

    test(`${lang}: bob reads the dashboard: open tasks, cycle times, throughput and rejections`, async () => {
      await apiTicket(`Dashboard ${lang} ${RUN}`);
      const bob = await openIn(L);
      await login(bob, "bob");
      await nav(bob, L.t("nav.dashboard"), L).click();
      await bob.getByRole("heading", { name: L.t("dashboard.title"), level: 1 }).waitFor();
      for (const key of ["openTasks", "cycleType", "cycleStep", "throughput", "rejection"]) {
        await bob.getByRole("heading", { name: L.t(`dashboard.${key}.title`), level: 2 }).waitFor();
      }
      // Earlier scenarios decided and rejected tickets: the charts have figures, not empty states.
      await bob.getByTestId("dash-open-tasks").locator(".recharts-surface").first().waitFor();
      await bob.getByTestId("dash-throughput").locator(".recharts-surface").first().waitFor();
      const table = bob.getByTestId("dash-open-tasks");
      await table.locator("summary").getByText(L.t("dashboard.showTable")).click();
      const managers = table.getByRole("row").filter({ hasText: L.t("group.managers") });
      await managers.waitFor();
      const stats = (await (await apiLogin(server.url, "bob"))("GET", "/stats")).data;
      const open = stats.open_tasks.find((g) => g.group === "managers");
      assert.ok(open.total >= 1);
      await managers.getByText(String(open.total), { exact: true }).first().waitFor();
      await checkA11y(bob, "the dashboard");
      await screenshot(bob, `19-${lang}-bob-dashboard`);
    });
  });
}

// Phones: the screens people use most fit 390×844 without sideways scrolling, in both languages.
for (const lang of LANGS) {
  test(`${lang}: at phone size (390×844) the login page, ticket list, task inbox and ticket page fit the width`, async () => {
    const L = labels(lang, TYPES);
    const title = `Phone check ${lang} ${RUN}`;
    const id = await apiTicket(title);
    const page = await openIn(L, PHONE);
    await page.goto("/login");
    await page.getByLabel(L.t("login.username")).waitFor();
    await page.getByRole("main").getByRole("form", { name: L.t("login.title") }).waitFor();
    await assertNoHorizontalScroll(page, "the login page");
    await screenshot(page, `15-${lang}-phone-login`);

    await login(page, "bob");
    await page.getByRole("heading", { name: L.t("tickets.title"), exact: true }).waitFor();
    await page.locator(`[data-testid="ticket-row"][data-ticket-id="${id}"]`).getByRole("link", { name: title }).waitFor();
    // The top bar on a phone: the sections, signing out, and who is signed in.
    await nav(page, L.t("nav.tasks"), L).waitFor();
    await page.getByRole("button", { name: L.t("nav.logout"), exact: true }).waitFor();
    assert.equal(await page.getByTestId("current-user").isVisible(), true, "the signed-in user is shown on a phone");
    // Rows are cards: the status is there, under its column's name.
    const listCard = page.locator(`[data-testid="ticket-row"][data-ticket-id="${id}"]`);
    assert.equal(await listCard.locator(`td[data-label="${L.t("ticket.status")}"]`).isVisible(), true,
      "a ticket card shows its status on a phone");
    await assertNoHorizontalScroll(page, "the ticket list");
    await screenshot(page, `15-${lang}-phone-list`);

    await nav(page, L.t("nav.tasks"), L).click();
    await page.getByRole("heading", { name: L.t("tasks.title") }).waitFor();
    const row = page.locator(`[data-testid="task-row"][data-ticket-id="${id}"][data-step="ManagerApproval"]`);
    await row.waitFor();
    await assertNoHorizontalScroll(page, "the task inbox");
    await screenshot(page, `15-${lang}-phone-tasks`);

    await row.getByRole("link").click();
    await page.locator(`[data-testid="ticket-detail"][data-ticket-id="${id}"]`).waitFor();
    // On a phone the process is a list of steps (the diagram on request), and a bar at the bottom leads to
    // the step that waits for the reader.
    await page.getByRole("list", { name: L.t("process.stepList") }).getByText(L.step("ManagerApproval")).first().waitFor();
    await page.getByRole("region", { name: L.t("actions.bar.label") })
      .getByRole("button", { name: L.t("actions.bar.goTo", { target: L.step("ManagerApproval") }) }).click();
    const card = stepCard(page, "ManagerApproval");
    await card.getByRole("button", { name: L.t("actions.approve"), exact: true }).click();
    await card.getByLabel(L.t("actions.commentLabel")).waitFor();
    await assertNoHorizontalScroll(page, "the ticket page with a decision open");
    await screenshot(page, `15-${lang}-phone-ticket-deciding`);
    await card.getByRole("button", { name: L.t("actions.confirm.approve"), exact: true }).click();
    await statusIs(page, "completed").getByText(L.status("completed")).waitFor();
    await page.getByRole("list", { name: L.t("process.stepList") }).locator("li.step-done")
      .getByText(L.step("ManagerApproval")).waitFor();
    // The diagram is there on request, and pans inside its frame rather than widening the page.
    await page.getByRole("button", { name: L.t("process.showDiagram"), exact: true }).click();
    await marker(page, "Completed", "pf-done").waitFor();
    await assertNoHorizontalScroll(page, "the completed ticket page");
    await screenshot(page, `15-${lang}-phone-ticket-completed`);
  });
}

// Unbroken text (a pasted URL, a hash, a run of one letter) wraps instead of widening the page.
for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
  test(`a 3000-character unbroken description and an over-long unbroken title do not widen the page (${viewport.width}×${viewport.height})`, async () => {
    const tag = `long${size}${RUN}`;
    const tooLong = tag + "T".repeat(300 - tag.length); // 300 characters: more than a title may have
    const title = tag + "W".repeat(200 - tag.length); // the longest title the API takes
    const description = "D".repeat(3000);
    const page = await openIn(EN, viewport);
    await login(page, "alice");
    await nav(page, "New ticket").click();
    await page.locator('form[data-type="it_request"]').waitFor();
    await page.getByLabel("Title").fill(tooLong);
    await page.getByLabel("Description").fill(description);
    // The field stops at the API's own limit (from its OpenAPI document), which the API refuses beyond.
    const typed = await page.getByLabel("Title").inputValue();
    assert.equal(typed.length, 200, `the title field took ${typed.length} characters`);
    const api = await apiLogin(server.url, "alice");
    const refusal = await api("POST", "/tickets", { title: tooLong, fields: { description } });
    assert.equal(refusal.status, 422, JSON.stringify(refusal.data));
    await assertNoHorizontalScroll(page, "the new ticket form with a 300-character title typed");
    await screenshot(page, `16-${size}-long-title-typed`);

    await page.getByLabel("Title").fill(title);
    await page.getByRole("button", { name: "Save draft", exact: true }).click();
    await statusIs(page, "draft").waitFor();
    const id = await currentTicketId(page);
    await page.getByRole("heading", { name: title }).waitFor();
    await page.getByTestId("ticket-fields").getByText(description).waitFor();
    await assertNoHorizontalScroll(page, "the ticket page");
    await screenshot(page, `16-${size}-long-ticket`);

    await nav(page, "Tickets").click();
    await page.getByLabel("Search tickets").fill(tag);
    await page.locator(`[data-testid="ticket-row"][data-ticket-id="${id}"]`).getByRole("link", { name: title }).waitFor();
    await assertNoHorizontalScroll(page, "the ticket list");
    await screenshot(page, `16-${size}-long-list`);
  });
}
