import { screen, within } from "@testing-library/react";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { TicketDetailPage } from "../pages/TicketDetailPage";
import { TicketListPage } from "../pages/TicketListPage";
import { TasksPage } from "../pages/TasksPage";
import { apiError, fakeApi, renderAt, signIn, task, ticket, TYPES, USERS } from "../test/utils";

vi.mock("./ProcessDiagram", () => ({ default: () => null }));

// jsdom lays nothing out, so it cannot measure widths: these tests check that unbroken text gets the wrapping
// class and that the stylesheet defines it; the browser suite (e2e) measures that the page does not widen.
const longTitle = "T".repeat(300);
const longText = "x".repeat(3000);
const css = readFileSync(resolve(import.meta.dirname, "../styles.css"), "utf8");

describe("long unbroken text", () => {
  it("the stylesheet wraps it anywhere and lets its boxes shrink", () => {
    expect(css).toMatch(/\.wrap-anywhere \{[^}]*overflow-wrap: anywhere;[^}]*min-width: 0;/);
    expect(css).toMatch(/\.detail-grid \{[^}]*grid-template-columns: minmax\(0, 1fr\)/);
    expect(css).toMatch(/\.detail-main, \.detail-side \{ min-width: 0; \}/);
  });

  it("wraps a 300-character title and a 3 000-character description on the ticket page", async () => {
    signIn(USERS.alice);
    const tk = ticket({ title: longTitle, fields: { description: longText, amount: 1, priority: "normal" }, status: "in_progress" });
    const base = `/api/tickets/${tk.id}`;
    fakeApi({
      "GET /api/ticket-types": { body: TYPES },
      [`GET ${base}`]: { body: tk },
      [`GET ${base}/history`]: { body: [] },
      [`GET ${base}/process`]: apiError(503, "Engine down."),
    });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id" });
    const heading = await screen.findByRole("heading", { level: 1, name: longTitle });
    expect(heading).toHaveClass("wrap-anywhere");
    const description = screen.getByText(longText);
    expect(description).toHaveClass("wrap-anywhere");
    expect(description.tagName).toBe("P");
  });

  it("wraps a long title inside its cell in the ticket list and the inbox", async () => {
    signIn(USERS.bob);
    const tk = ticket({ id: "long-1", title: longTitle, status: "in_progress" });
    fakeApi({
      "GET /api/ticket-types": { body: TYPES },
      "GET /api/tickets": { body: { items: [tk], total: 1, page: 1, page_size: 20 } },
      "GET /api/tasks": { body: { items: [task({}, tk)], total: 1, page: 1, page_size: 20 } },
    });
    const list = renderAt(<TicketListPage />);
    const [row] = await screen.findAllByTestId("ticket-row");
    expect(within(row).getByRole("link", { name: longTitle }).closest("td")).toHaveClass("wrap-anywhere", "cell-title");
    list.unmount();
    renderAt(<TasksPage />, { route: "/tasks" });
    const [taskRow] = await screen.findAllByTestId("task-row");
    expect(within(taskRow).getByRole("link", { name: longTitle }).closest("td")).toHaveClass("wrap-anywhere", "cell-title");
  });
});
