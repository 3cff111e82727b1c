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
    expect(cells).toEqual(["Purchase request", "Finance Approval", "Laptops for the new team#abcdef12", "alice", "3 hours ago"]);
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
});
