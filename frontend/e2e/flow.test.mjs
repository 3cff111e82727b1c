// End-to-end: the built UI in headless Chromium against a real `pflow serve`.
// Run with `npm run e2e` (expects frontend/dist; see harness.mjs for the environment it reads).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FAIL_MARKER, FRONTEND, apiLogin, launchBrowser, login, newPage, screenshot, startServer } from "./harness.mjs";

const RUN = Date.now().toString(36).slice(-5);
let server;
let browser;
const pages = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
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

const statusIs = (page, status) => page.locator(`[data-testid="ticket-status"][data-status="${status}"]`);
const marker = (page, id, cls) => page.locator(`.djs-element.${cls}[data-element-id="${id}"]`);

async function currentTicketId(page) {
  await page.getByTestId("ticket-detail").waitFor();
  return page.getByTestId("ticket-detail").getAttribute("data-ticket-id");
}

/** Fill the new-ticket form and press one of its buttons, as a person would. */
async function createTicket(page, { title, description = "", amount = "", priority }, button = "Save draft") {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "New ticket" }).click();
  await page.getByLabel("Title").fill(title);
  if (description) await page.getByLabel("Description").fill(description);
  if (amount) await page.getByLabel("Amount").fill(amount);
  if (priority) await page.getByLabel("Priority").selectOption(priority);
  await page.getByRole("button", { name: button }).click();
  return currentTicketId(page);
}

async function apiTicket(title, { submit = true, decide } = {}) {
  const alice = await apiLogin(server.url, "alice");
  const created = await alice("POST", "/tickets", { title, amount: "250.00", description: "Set up by the test." });
  assert.equal(created.status, 201, JSON.stringify(created.data));
  const id = created.data.id;
  if (submit) assert.equal((await alice("POST", `/tickets/${id}/submit`)).status, 200);
  if (decide) {
    const bob = await apiLogin(server.url, "bob");
    const r = await bob("POST", `/tickets/${id}/${decide}`, { comment: decide === "reject" ? "Not this quarter." : "OK" });
    assert.equal(r.status, 200, JSON.stringify(r.data));
  }
  return id;
}

describe("approval flow in the browser", () => {
  test("alice creates and submits, bob approves, and the ticket reaches completed on screen", async () => {
    const title = `New laptop for onboarding ${RUN}`;
    const alice = await open();
    await login(alice, "alice");
    const id = await createTicket(alice, {
      title,
      description: "A 14-inch laptop for the designer who starts on Monday.",
      amount: "1899.00",
      priority: "high",
    });
    await statusIs(alice, "draft").waitFor();
    assert.equal(await alice.getByTestId("process-state").getAttribute("data-state"), "none");

    await alice.getByRole("button", { name: "Submit for approval" }).click();
    await statusIs(alice, "pending_approval").waitFor();
    await marker(alice, "ManagerApproval", "pf-active").waitFor();
    await marker(alice, "TicketSubmitted", "pf-done").waitFor();
    await alice.getByTestId("process-state").getByText("Current step: Manager Approval").waitFor();
    assert.equal(await alice.getByRole("button", { name: "Approve" }).count(), 0);
    await screenshot(alice, "01-alice-submitted");

    // Bob signs in with the demo account button and finds the ticket in his inbox.
    const bob = await open();
    await bob.goto("/login");
    await bob.getByTestId("demo-user-bob").click();
    await bob.getByTestId("current-user").waitFor();
    await bob.getByRole("navigation", { name: "Main" }).getByRole("link", { name: /Approvals/ }).click();
    await bob.getByRole("heading", { name: "Approvals" }).waitFor();
    await screenshot(bob, "01-bob-inbox");
    await bob.getByRole("link", { name: title }).click();
    await statusIs(bob, "pending_approval").waitFor();

    await bob.getByRole("button", { name: "Approve" }).click();
    await bob.getByLabel("Comment (optional)").fill("Budget confirmed with finance.");
    await bob.getByRole("button", { name: "Confirm approval" }).click();
    await statusIs(bob, "completed").waitFor();
    await marker(bob, "ProvisionService", "pf-done").waitFor();
    await marker(bob, "Completed", "pf-done").waitFor();
    assert.equal(await bob.locator(".djs-element.pf-active").count(), 0);
    const timeline = bob.getByTestId("timeline");
    await timeline.getByText("bob approved").waitFor();
    await timeline.getByText("Budget confirmed with finance.").waitFor();
    await timeline.locator('[data-action="completed"]').waitFor();
    assert.notEqual((await bob.getByTestId("fulfilment-reference").innerText()).trim(), "—");
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
    await list.getByLabel("Status").selectOption("completed");
    await list.locator(`[data-testid="ticket-row"][data-ticket-id="${id}"] [data-status="completed"]`).waitFor();
  });

  test("bob rejects with a required comment, and alice reads the reason", async () => {
    const title = `Second monitor ${RUN}`;
    const alice = await open();
    await login(alice, "alice");
    const id = await createTicket(alice, { title, amount: "320" }, "Save and submit");
    await statusIs(alice, "pending_approval").waitFor();

    const bob = await open();
    await login(bob, "bob");
    await bob.goto(`/tickets/${id}`);
    await bob.getByRole("button", { name: "Reject" }).click();
    await bob.getByRole("button", { name: "Confirm rejection" }).click();
    // The API refuses a rejection without a reason; its message appears next to the field.
    const api = await apiLogin(server.url, "bob");
    const refusal = await api("POST", `/tickets/${id}/reject`, { comment: "" });
    assert.equal(refusal.status, 422);
    const fieldError = bob.getByTestId("error-comment");
    await fieldError.waitFor();
    assert.equal((await fieldError.innerText()).trim(), refusal.data.error.details.comment.join(" "));
    assert.equal(await bob.getByLabel("Reason for rejecting").getAttribute("aria-invalid"), "true");
    await screenshot(bob, "02-bob-reject-needs-comment");

    await bob.getByLabel("Reason for rejecting").fill("Please reuse a monitor from the storeroom.");
    await bob.getByRole("button", { name: "Confirm rejection" }).click();
    await statusIs(bob, "rejected").waitFor();
    await marker(bob, "Rejected", "pf-done").waitFor();
    await screenshot(bob, "02-bob-rejected");

    await statusIs(alice, "rejected").waitFor();
    const timeline = alice.getByTestId("timeline");
    await timeline.getByText("bob rejected").waitFor();
    await timeline.getByText("Please reuse a monitor from the storeroom.").waitFor();
    await screenshot(alice, "02-alice-sees-rejection");
  });

  test("no approve button on your own ticket, and a forced approval shows the API's refusal", async () => {
    const id = await apiTicket(`Team offsite budget ${RUN}`);
    const alice = await open();
    await login(alice, "alice");
    await alice.goto(`/tickets/${id}`);
    await statusIs(alice, "pending_approval").waitFor();
    await alice.getByTestId("no-actions").waitFor();
    assert.equal(await alice.getByRole("button", { name: "Approve" }).count(), 0);
    assert.equal(await alice.getByRole("button", { name: "Reject" }).count(), 0);

    // A manager's own ticket: no decision buttons either (separation of duties), and not in his inbox.
    const bob = await open();
    await login(bob, "bob");
    const own = await createTicket(bob, { title: `Bob's own conference trip ${RUN}` }, "Save and submit");
    await statusIs(bob, "pending_approval").waitFor();
    assert.equal(await bob.getByRole("button", { name: "Approve" }).count(), 0);
    await bob.goto("/approvals");
    await bob.getByRole("heading", { name: "Approvals" }).waitFor();
    await bob.getByTestId("ticket-row").first().waitFor();
    assert.equal(await bob.locator(`[data-ticket-id="${own}"]`).count(), 0);

    // Force the button onto alice's screen by doctoring the ticket the UI receives; the server still decides.
    await alice.route(`**/api/tickets/${id}`, async (route) => {
      const response = await route.fetch();
      const ticket = await response.json();
      await route.fulfill({ response, json: { ...ticket, allowed_actions: ["approve"] } });
    });
    await alice.reload();
    await alice.getByRole("button", { name: "Approve" }).click();
    await alice.getByRole("button", { name: "Confirm approval" }).click();
    const aliceApi = await apiLogin(server.url, "alice");
    const refusal = await aliceApi("POST", `/tickets/${id}/approve`, {});
    assert.equal(refusal.status, 403);
    const shown = alice.getByTestId("action-error");
    await shown.waitFor();
    assert.equal((await shown.innerText()).trim(), refusal.data.error.message);
    await statusIs(alice, "pending_approval").waitFor();
    await screenshot(alice, "03-alice-forced-approve-refused");
  });

  test("the language switch changes the labels, is remembered, and sets <html lang>", async () => {
    const id = await apiTicket(`Design software licence ${RUN}`, { decide: "approve" });
    const page = await open();
    await page.goto("/login");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByLabel("Language").selectOption("zh-CN");
    await page.getByRole("heading", { name: "登录" }).waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "zh-CN");
    await screenshot(page, "04-zh-login");

    await page.getByLabel("用户名").fill("bob");
    await page.getByLabel("密码").fill("bob");
    await page.locator("form").getByRole("button", { name: "登录" }).click();
    await page.getByRole("heading", { name: "工单" }).waitFor();
    await page.getByRole("navigation", { name: "主导航" }).getByRole("link", { name: /待我审批/ }).waitFor();
    await page.getByLabel("搜索工单").fill(RUN);
    await page.locator(`[data-ticket-id="${id}"]`).getByText("已完成").waitFor();
    await screenshot(page, "04-zh-list");

    // Notifications are worded in the reader's language from their params, not the server's English text.
    if ((await (await apiLogin(server.url, "bob"))("GET", "/notifications")).status === 200) {
      await page.getByTestId("notification-bell").click();
      await page.getByRole("region", { name: "通知" })
        .getByText(`alice 提交的工单“Design software licence ${RUN}”（金额 250.00）等待你审批。`).first().waitFor();
      await screenshot(page, "04-zh-notifications");
      await page.keyboard.press("Escape");
    }

    await page.goto(`/tickets/${id}`);
    await statusIs(page, "completed").getByText("已完成").waitFor();
    await page.getByTestId("timeline").getByText("bob 批准了工单").waitFor();
    await page.getByTestId("timeline").getByText(/^交付编号 PRV-/).waitFor(); // recorded as a fact, worded here
    await page.getByRole("heading", { name: "处理记录" }).waitFor();
    await marker(page, "Completed", "pf-done").waitFor();
    await page.locator('.djs-element[data-element-id="ManagerApproval"]').getByText("经理审批").waitFor();
    await page.reload();
    await page.getByRole("heading", { name: "处理记录" }).waitFor();
    await marker(page, "Completed", "pf-done").waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "zh-CN");
    await screenshot(page, "04-zh-detail");

    await page.getByLabel("语言").selectOption("en");
    await page.getByRole("heading", { name: "History" }).waitFor();
    await page.getByTestId("timeline").getByText(/^Fulfilment reference PRV-/).waitFor();
    await statusIs(page, "completed").getByText("Completed").waitFor();
    await page.locator('.djs-element[data-element-id="ManagerApproval"]').getByText("Manager").waitFor();
    assert.equal(await page.locator("html").getAttribute("lang"), "en");
  });

  test("field errors from the API's 422 appear next to the fields", async () => {
    const page = await open();
    await login(page, "alice");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "New ticket" }).click();
    await page.getByLabel("Amount").fill("12.345");
    await page.getByRole("button", { name: "Save draft" }).click();
    const api = await apiLogin(server.url, "alice");
    const refusal = await api("POST", "/tickets", { title: "", amount: "12.345" });
    assert.equal(refusal.status, 422);
    for (const field of ["title", "amount"]) {
      const shown = page.getByTestId(`error-${field}`);
      await shown.waitFor();
      assert.equal((await shown.innerText()).trim(), refusal.data.error.details[field].join(" "));
    }
    assert.equal(await page.getByLabel("Title").getAttribute("aria-invalid"), "true");
    await screenshot(page, "05-form-field-errors");

    await page.getByLabel("Title").fill(`Fixed title ${RUN}`);
    await page.getByLabel("Amount").fill("12.34");
    await page.getByRole("button", { name: "Save draft" }).click();
    await statusIs(page, "draft").waitFor();

    // Edit the draft: the form comes back filled in and saves the change.
    await page.getByRole("link", { name: "Edit draft" }).click();
    assert.equal(await page.getByLabel("Amount").inputValue(), "12.34");
    await page.getByLabel("Description").fill("Added after the first save.");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Added after the first save.").waitFor();
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
    await screenshot(page, "06-list-paged");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByText("21–22 of 22").waitFor();
    assert.equal(await page.getByTestId("ticket-row").count(), 2);
    await page.getByLabel("Status").selectOption("pending_approval");
    await page.getByText("1–1 of 1").waitFor();
    await page.getByRole("link", { name: `${tag} item 22` }).waitFor();
    await page.getByLabel("Search tickets").fill(`${tag} nothing like this`);
    await page.getByText("No tickets match these filters.").waitFor();
  });

  test("an admin sees failed provisioning and can retry it", async () => {
    const id = await apiTicket(`${FAIL_MARKER} VPN token ${RUN}`, { decide: "approve" });
    const carol = await open();
    await login(carol, "carol");
    await carol.goto(`/tickets/${id}`);
    await statusIs(carol, "provisioning_failed").waitFor({ timeout: 30000 });
    await carol.getByTestId("timeline").locator('[data-action="provisioning_failed"]').waitFor();
    await screenshot(carol, "07-carol-provisioning-failed");
    await carol.getByRole("button", { name: "Retry provisioning" }).click();
    await carol.getByLabel("Comment (optional)").fill("Upstream fixed, trying again.");
    await carol.getByRole("button", { name: "Retry now" }).click();
    await carol.getByTestId("action-done").waitFor();
    await carol.getByTestId("timeline").getByText("Upstream fixed, trying again.").waitFor();
    await carol.getByTestId("timeline").locator('[data-action="provisioning_retried"]').waitFor();
  });

  test("an expired session goes back to the login screen and says why", async () => {
    const page = await open();
    await login(page, "alice");
    await page.evaluate(() => localStorage.setItem("pflow.token", "expired-or-forged"));
    await page.goto("/tickets");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByText("Your session has ended. Please sign in again.").waitFor();
    await screenshot(page, "08-session-expired");
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
    await screenshot(page, "09-diagram-from-di");
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
    await page.getByRole("button", { name: "Reject" }).focus();
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
      // bob is a manager: alice's submitted ticket (above) notified him.
      assert.ok(answer.data.unread > 0, "a manager is notified of a submitted ticket");
      const count = page.getByTestId("notification-count");
      await count.waitFor();
      assert.match(await count.innerText(), /^\d+\+?$/);
      await page.getByRole("region", { name: "Notifications" }).getByText(`Notification check ${RUN}`, { exact: false }).first().waitFor();
      await screenshot(page, "10-notifications");
      await page.getByRole("button", { name: "Mark all as read" }).click();
      await count.waitFor({ state: "detached" });
      assert.equal((await bobApi("GET", "/notifications?unread_only=true")).data.unread, 0);
      await page.getByRole("link", { name: "See all notifications" }).click();
      await page.getByRole("heading", { name: "Notifications" }).waitFor();
      await page.getByText("0 unread").waitFor();
    }
  });
});
