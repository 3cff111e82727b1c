import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { Layout } from "../components/Layout";
import { TasksPage } from "./TasksPage";
import type { Call } from "../test/utils";
import { fakeApi, renderAt, signIn, task, ticket, TYPES, USERS } from "../test/utils";

/** 45 open tasks; the fake pages them as the server would, honouring page and page_size. */
const ALL = Array.from({ length: 45 }, (_, i) =>
  task(
    { id: `task-${i + 1}` },
    ticket({ id: `ticket-${String(i + 1).padStart(3, "0")}-0000`, title: `Request ${i + 1}`, status: "in_progress" }),
  ),
);
function tasksPage(call: Call) {
  const page = Number(call.query.get("page") ?? 1);
  const size = Number(call.query.get("page_size") ?? 20);
  return { body: { items: ALL.slice((page - 1) * size, page * size), total: ALL.length, page, page_size: size } };
}

describe("TasksPage", () => {
  it("keeps the page size in the query key: the header's count (page_size=1) and the inbox do not share an answer", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "GET /api/tasks": tasksPage, "GET /api/ticket-types": { body: TYPES } });
    // Layout's badge and the page mounted together, as in the app (the page inside the layout's outlet).
    renderAt(
      <>
        <Layout />
        <TasksPage />
      </>,
      { route: "/tasks" },
    );
    expect(await screen.findByTestId("tasks-count")).toHaveTextContent("45");
    await screen.findByText("1–20 of 45");
    expect(screen.getAllByTestId("task-row")).toHaveLength(20);
    const sizes = fake.callsTo("GET /api/tasks").map((c) => c.query.get("page_size"));
    expect(sizes).toContain("1");
    expect(sizes).toContain("20");

    await userEvent.click(screen.getByRole("button", { name: "Next" }));
    await screen.findByText("21–40 of 45");
    expect(screen.getAllByTestId("task-row")).toHaveLength(20);
    expect(screen.getByTestId("tasks-count")).toHaveTextContent("45");
    const last = fake.callsTo("GET /api/tasks").at(-1)!;
    expect(Object.fromEntries(last.query)).toMatchObject({ page: "2", page_size: "20" });
  });

  it("shows type, step, title and #id, requester and age per row, and opens the ticket", async () => {
    signIn(USERS.fiona);
    const t = task(
      { id: "t-fin", step: "FinanceApproval", name: "Finance Approval", candidate_groups: ["finance"], created_at: new Date(Date.now() - 3 * 3600_000).toISOString() },
      ticket({ id: "abcdef12-3456", type: "purchase_request", type_name: "Purchase request", title: "Laptops for the new team", status: "in_progress" }),
    );
    fakeApi({
      "GET /api/tasks": { body: { items: [t], total: 1, page: 1, page_size: 20 } },
      "GET /api/ticket-types": { body: TYPES },
    });
    renderAt(<TasksPage />, { route: "/tasks" });
    const [row] = await screen.findAllByTestId("task-row");
    const cells = within(row).getAllByRole("cell").map((c) => c.textContent);
    expect(cells).toEqual(["", "Laptops for the new team#abcdef12", "Purchase request", "Finance Approval", "In progress", "alice", "3 hours ago"]);
    expect(within(row).getByRole("link", { name: "Laptops for the new team" })).toHaveAttribute("href", "/tickets/abcdef12-3456");
  });

  it("passes the type and group filters to the API and keeps them in the address", async () => {
    signIn({ ...USERS.bob, groups: ["managers", "finance"] });
    const fake = fakeApi({
      "GET /api/tasks": { body: { items: [], total: 0, page: 1, page_size: 20 } },
      "GET /api/ticket-types": { body: TYPES },
    });
    renderAt(<TasksPage />, { route: "/tasks" });
    expect(await screen.findByText("Nothing is waiting for you.")).toBeInTheDocument();
    await userEvent.selectOptions(await screen.findByLabelText("Type"), "purchase_request");
    await userEvent.selectOptions(screen.getByLabelText("Group"), "finance");
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/tasks?type=purchase_request&group=finance"));
    await screen.findByText("No tasks match these filters.");
    const last = fake.callsTo("GET /api/tasks").at(-1)!;
    expect(Object.fromEntries(last.query)).toMatchObject({ type: "purchase_request", group: "finance", page: "1", page_size: "20" });
  });

  it("passes the step filter, the order and the search (#id included) to the API and keeps them in the address", async () => {
    signIn(USERS.bob);
    const fin = task({ id: "t-a", step: "FinanceApproval", name: "Finance Approval" }, ticket({ id: "abc12345-1", status: "in_progress" }));
    const mgr = task({ id: "t-b" }, ticket({ id: "def67890-2", status: "in_progress" }));
    const fake = fakeApi({
      "GET /api/tasks": (call) => ({
        body: { items: call.query.get("step") === "FinanceApproval" ? [fin] : [fin, mgr], total: 2, page: 1, page_size: 20 },
      }),
      "GET /api/ticket-types": { body: TYPES },
    });
    renderAt(<TasksPage />, { route: "/tasks" });
    await screen.findAllByTestId("task-row");
    expect(Object.fromEntries(fake.callsTo("GET /api/tasks").at(-1)!.query)).toMatchObject({ sort: "created" });
    // the step filter offers the steps the inbox shows, by their BPMN id
    await userEvent.selectOptions(screen.getByLabelText("Step"), "Finance Approval");
    await userEvent.selectOptions(screen.getByLabelText("Order"), "Due soonest");
    await userEvent.type(screen.getByRole("searchbox", { name: "Search tasks" }), "#abc");
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/tasks?step=FinanceApproval&sort=due&q=%23abc"));
    await waitFor(() =>
      expect(Object.fromEntries(fake.callsTo("GET /api/tasks").at(-1)!.query)).toMatchObject({ step: "FinanceApproval", sort: "due", q: "#abc" }),
    );
    expect(screen.getByRole("searchbox", { name: "Search tasks" })).toHaveAccessibleDescription(/#abc finds tickets whose id starts with abc/);
    // every order of the API is offered
    expect(within(screen.getByLabelText("Order")).getAllByRole("option").map((o) => (o as HTMLOptionElement).value)).toEqual(["created", "-created", "due", "-due"]);
  });
});

describe("TasksPage: due times", () => {
  it("marks overdue tasks and filters to them with the API's overdue=true", async () => {
    signIn(USERS.bob);
    const late = task({ id: "t-late", due: "2026-03-02T09:00:00Z", overdue: true }, ticket({ id: "late0000-1", title: "Late", status: "in_progress" }));
    const soon = task({ id: "t-soon", due: "2099-03-02T09:00:00Z", overdue: false }, ticket({ id: "soon0000-2", title: "Soon", status: "in_progress" }));
    const fake = fakeApi({
      "GET /api/tasks": (call) => ({
        body: { items: call.query.get("overdue") === "true" ? [late] : [late, soon], total: 2, page: 1, page_size: 20 },
      }),
      "GET /api/ticket-types": { body: TYPES },
    });
    renderAt(<TasksPage />, { route: "/tasks" });
    const rows = await screen.findAllByTestId("task-row");
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByTestId("overdue")).toHaveTextContent("Overdue");
    expect(within(rows[1]).queryByTestId("overdue")).not.toBeInTheDocument();
    expect(within(rows[1]).getByTestId("due-time")).toHaveTextContent(/^Due /);
    expect(fake.callsTo("GET /api/tasks").at(-1)!.query.get("overdue")).toBeNull();
    await userEvent.click(screen.getByRole("checkbox", { name: "Overdue only" }));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/tasks?overdue=true"));
    await waitFor(() => expect(fake.callsTo("GET /api/tasks").at(-1)!.query.get("overdue")).toBe("true"));
    await waitFor(() => expect(screen.getAllByTestId("task-row")).toHaveLength(1));
  });
});

describe("TasksPage: deciding several tasks at once", () => {
  const mk = (n: number, overrides = {}, tk = {}) =>
    task({ id: `t-${n}`, ...overrides }, ticket({ id: `${n}0000000-aaaa`, title: `Laptop ${n}`, status: "in_progress", ...tk }));
  const a = mk(1);
  const b = mk(2);
  const other = mk(3, { step: "FinanceApproval", name: "Finance Approval" }, { type: "purchase_request", type_name: "Purchase request" });
  const withForm = mk(4, {
    step: "Fulfil",
    name: "Fulfil",
    form: [
      { id: "done", label: "Done", type: "boolean", required: true, default: null, values: [], decision: true },
      { id: "serial", label: "Serial number", type: "string", required: true, default: null, values: [], decision: false },
    ],
  });
  const page = { body: { items: [a, b, other, withForm], total: 4, page: 1, page_size: 20 } };
  const row = (id: string) => screen.getAllByTestId("task-row").find((r) => r.dataset.taskId === id)!;

  it("selects tasks of one kind only, explains why the others cannot join, and sends one completion per item", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({
      "GET /api/tasks": page,
      "GET /api/ticket-types": { body: TYPES },
      "POST /api/tasks/t-1/complete": { body: ticket({ id: a.ticket.id, status: "completed" }) },
      "POST /api/tasks/t-2/complete": {
        status: 403,
        body: { error: { code: "permission_denied", message: "You requested this ticket, so someone else decides its steps.", details: {}, key: "task.own_ticket" } },
      },
    });
    renderAt(<TasksPage />, { route: "/tasks" });
    await screen.findAllByTestId("task-row");
    // a step with a form to fill in cannot be decided from the list
    const formBox = within(row("t-4")).getByRole("checkbox", { name: "Select “Laptop 4”" });
    expect(formBox).toBeDisabled();
    expect(formBox).toHaveAccessibleDescription("This step has a form to fill in: open the ticket to decide it.");

    await userEvent.click(within(row("t-1")).getByRole("checkbox", { name: "Select “Laptop 1”" }));
    const otherBox = within(row("t-3")).getByRole("checkbox", { name: "Select “Laptop 3”" });
    expect(otherBox).toBeDisabled();
    expect(otherBox).toHaveAccessibleDescription("Only tasks of the step “Manager Approval” (IT request) can be added to this selection.");
    await userEvent.click(within(row("t-2")).getByRole("checkbox", { name: "Select “Laptop 2”" }));
    const bar = screen.getByRole("region", { name: "Decide the selected tasks" });
    expect(bar).toHaveTextContent("2 tasks selected: Manager Approval (IT request)");

    await userEvent.click(within(bar).getByRole("button", { name: "Approve selected" }));
    await userEvent.type(within(bar).getByLabelText("Comment (optional)"), "Fine");
    await userEvent.click(within(bar).getByRole("button", { name: "Approve 2 tasks" }));

    const results = await screen.findByTestId("bulk-results");
    expect(fake.callsTo("POST /api/tasks/t-1/complete")[0].body).toEqual({ variables: { manager_decision: "approve" }, comment: "Fine" });
    expect(fake.callsTo("POST /api/tasks/t-2/complete")[0].body).toEqual({ variables: { manager_decision: "approve" }, comment: "Fine" });
    expect(fake.callsTo("POST /api/tasks/t-3/complete")).toHaveLength(0);
    const items = within(results).getAllByTestId("bulk-result");
    expect(items.map((i) => [i.dataset.taskId, i.dataset.ok])).toEqual([["t-1", "true"], ["t-2", "false"]]);
    expect(items[0]).toHaveTextContent("Laptop 1 #10000000 — approved");
    expect(items[1]).toHaveTextContent("refused: You requested this ticket, so someone else decides its steps.");
    // focus goes to the result, not the body
    expect(within(results).getByRole("heading", { name: "Results: 1 decided, 1 refused" })).toHaveFocus();
    expect(screen.queryByTestId("bulk-bar")).not.toBeInTheDocument();
  });

  it("asks for the one reason before rejecting, and sends it with every item", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({
      "GET /api/tasks": page,
      "GET /api/ticket-types": { body: TYPES },
      "POST /api/tasks/t-1/complete": { body: ticket({ status: "rejected" }) },
      "POST /api/tasks/t-2/complete": { body: ticket({ status: "rejected" }) },
    });
    renderAt(<TasksPage />, { route: "/tasks" });
    await screen.findAllByTestId("task-row");
    await userEvent.click(within(row("t-1")).getByRole("checkbox"));
    await userEvent.click(screen.getByRole("button", { name: "Select all 2 of this step on this page" }));
    expect(within(row("t-2")).getByRole("checkbox")).toBeChecked();
    await userEvent.click(screen.getByRole("button", { name: "Reject selected" }));
    const reason = screen.getByLabelText(/Reason for rejecting/);
    expect(reason).toHaveFocus();
    expect(reason).toHaveAttribute("aria-required", "true");
    await userEvent.click(screen.getByRole("button", { name: "Reject 2 tasks" }));
    expect(screen.getByTestId("bulk-comment-error")).toHaveTextContent("A reason is required to reject.");
    expect(fake.calls.filter((c) => c.method === "POST")).toHaveLength(0);
    await userEvent.type(reason, "No budget this quarter");
    await userEvent.click(screen.getByRole("button", { name: "Reject 2 tasks" }));
    await screen.findByTestId("bulk-results");
    expect(fake.calls.filter((c) => c.method === "POST").map((c) => [c.path, c.body])).toEqual([
      ["/api/tasks/t-1/complete", { variables: { manager_decision: "reject" }, comment: "No budget this quarter" }],
      ["/api/tasks/t-2/complete", { variables: { manager_decision: "reject" }, comment: "No budget this quarter" }],
    ]);
    expect(screen.getByRole("heading", { name: "Results: 2 decided, 0 refused" })).toHaveFocus();
  });
});

describe("TasksPage: a substitute's inbox", () => {
  it("says whose step a task is when the caller stands in for them", async () => {
    signIn(USERS.fiona);
    const theirs = task({ id: "task-sub", on_behalf_of: "bob" }, ticket({ id: "ticket-sub-0000", title: "Chairs", status: "in_progress" }));
    const own = task({ id: "task-own" }, ticket({ id: "ticket-own-0000", title: "Desk", status: "in_progress" }));
    fakeApi({
      "GET /api/tasks": { body: { items: [theirs, own], total: 2, page: 1, page_size: 20 } },
      "GET /api/ticket-types": { body: TYPES },
    });
    renderAt(<TasksPage />, { route: "/tasks" });
    const rows = await screen.findAllByTestId("task-row");
    expect(within(rows[0]).getByTestId("task-on-behalf")).toHaveTextContent("for bob");
    expect(within(rows[1]).queryByTestId("task-on-behalf")).not.toBeInTheDocument();
  });
});
