import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { TicketDetailPage } from "../pages/TicketDetailPage";
import { TicketListPage } from "../pages/TicketListPage";
import { TasksPage } from "../pages/TasksPage";
import { Layout } from "./Layout";
import { fakeApi, renderAt, signIn, step, task, ticket, TYPES, USERS } from "../test/utils";

vi.mock("./ProcessDiagram", () => ({ default: () => <div data-testid="bpmn-canvas" /> }));

// jsdom applies no stylesheet and has no viewport: these tests check the markup the phone layout hangs on (classes,
// labels, the media query the components follow) and the stylesheet's rules for the breakpoint; the browser suite
// looks at 390×844 itself.
const css = readFileSync(resolve(import.meta.dirname, "../styles.css"), "utf8");
const narrowBlock = css.slice(css.indexOf("@media (max-width: 720px)"), css.indexOf("@media (prefers-reduced-motion"));

function phone(matches: boolean) {
  vi.stubGlobal("matchMedia", (query: string) => ({
    matches: matches && query === "(max-width: 720px)",
    media: query,
    addEventListener: () => {},
    removeEventListener: () => {},
  }));
}

const xml = readFileSync(resolve(import.meta.dirname, "../../../deploy/workflows/ticket-process.bpmn"), "utf8");

describe("on a phone (390×844)", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("the stylesheet turns the lists into cards and keeps the signed-in user in the header", () => {
    expect(narrowBlock).toMatch(/\.table-cards tr \{/);
    expect(narrowBlock).toMatch(/\.table-cards td\[data-label\]::before \{ content: attr\(data-label\)/);
    expect(narrowBlock).toMatch(/\.action-bar \{ display: flex; \}/);
    expect(css).toMatch(/\.action-bar \{[^}]*position: sticky; bottom: 0;/);
    // no width hides who is signed in
    expect(css).not.toMatch(/\.user-chip \{ display: none; \}/);
    expect(css).not.toMatch(/\.user-name \{ display: none; \}/);
    // and no card loses the status or the requester (the old rule hid columns 3 and 5)
    expect(narrowBlock).not.toMatch(/nth-child/);
  });

  it("ticket list rows carry each value's label for their card: title, status, type, requester, age", async () => {
    signIn(USERS.alice);
    fakeApi({
      "GET /api/ticket-types": { body: TYPES },
      "GET /api/tickets": { body: { items: [ticket({ id: "a", title: "Laptop", status: "in_progress" })], total: 1, page: 1, page_size: 20 } },
    });
    renderAt(<TicketListPage />);
    const [row] = await screen.findAllByTestId("ticket-row");
    expect(row.closest("table")).toHaveClass("table-cards");
    const labels = within(row).getAllByRole("cell").map((c) => c.dataset.label);
    expect(labels).toEqual(["Title", "Type", "Status", "Current steps", "Requester", "Last change"]);
  });

  it("inbox rows carry each value's label for their card, the checkbox apart", async () => {
    signIn(USERS.bob);
    fakeApi({ "GET /api/ticket-types": { body: TYPES }, "GET /api/tasks": { body: { items: [task()], total: 1, page: 1, page_size: 20 } } });
    renderAt(<TasksPage />, { route: "/tasks" });
    const [row] = await screen.findAllByTestId("task-row");
    expect(row.closest("table")).toHaveClass("table-cards");
    const cells = within(row).getAllByRole("cell");
    expect(cells[0]).toHaveClass("cell-select");
    expect(cells.slice(1).map((c) => c.dataset.label)).toEqual(["Title", "Type", "Step", "Status", "Requester", "Waiting"]);
  });

  it("the signed-in user is in the header", async () => {
    signIn(USERS.bob);
    fakeApi({ "GET /api/tasks": { body: { items: [], total: 0, page: 1, page_size: 1 } } });
    renderAt(<Layout />);
    expect(screen.getByTestId("current-user")).toHaveTextContent("Bob");
    expect(screen.getByTestId("current-user").closest(".user-chip")).toBeInTheDocument();
  });

  const detail = (tk: ReturnType<typeof ticket>) => {
    const base = `/api/tickets/${tk.id}`;
    fakeApi({
      "GET /api/ticket-types": { body: TYPES },
      [`GET ${base}`]: { body: tk },
      [`GET ${base}/history`]: { body: [] },
      [`GET ${base}/process`]: {
        body: { ticket_id: tk.id, state: "active", definition_xml: xml, active_activity_ids: ["ManagerApproval"], completed_activity_ids: ["TicketSubmitted"], incidents: [] },
      },
    });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id" });
  };

  it("the ticket page's bar takes the reader to the step waiting for them", async () => {
    signIn(USERS.bob);
    phone(true);
    detail(ticket({ status: "in_progress", current_steps: ["Manager Approval"], steps: [step()] }));
    const bar = await screen.findByRole("region", { name: "Next step" });
    expect(bar).toHaveTextContent("“Manager Approval” waits for you");
    await userEvent.click(within(bar).getByRole("button", { name: "Go to: Manager Approval" }));
    expect(within(screen.getByTestId("step")).getByRole("button", { name: "Approve" })).toHaveFocus();
  });

  it("the bar offers the ticket's own next action when no step waits", async () => {
    signIn(USERS.alice);
    detail(ticket({ status: "draft", allowed_actions: ["edit", "submit", "delete"] }));
    const bar = await screen.findByRole("region", { name: "Next step" });
    await userEvent.click(within(bar).getByRole("button", { name: "Go to: Submit" }));
    expect(within(screen.getByTestId("ticket-actions")).getByRole("button", { name: "Submit" })).toHaveFocus();
  });

  it("has no bar when there is nothing to do", async () => {
    signIn(USERS.alice);
    detail(ticket({ status: "completed" }));
    await screen.findByTestId("ticket-detail");
    expect(screen.queryByTestId("action-bar")).not.toBeInTheDocument();
  });

  it("shows the process as a step list on a narrow screen, the diagram on request", async () => {
    signIn(USERS.alice);
    phone(true);
    detail(ticket({ status: "in_progress", current_steps: ["Manager Approval"] }));
    const list = await screen.findByTestId("diagram-steps");
    expect(within(list).getByRole("list", { name: "Steps of the process" })).toBeInTheDocument();
    expect(within(list).getByText("Manager Approval")).toHaveClass("step-active");
    expect(screen.queryByTestId("bpmn-canvas")).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Show the diagram" }));
    expect(await screen.findByTestId("bpmn-canvas")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Show the steps as a list" }));
    await waitFor(() => expect(screen.getByTestId("diagram-steps")).toBeInTheDocument());
  });

  it("shows the diagram on a wide screen", async () => {
    signIn(USERS.alice);
    phone(false);
    detail(ticket({ status: "in_progress", current_steps: ["Manager Approval"] }));
    expect(await screen.findByTestId("bpmn-canvas")).toBeInTheDocument();
    expect(screen.queryByTestId("diagram-steps")).not.toBeInTheDocument();
  });
});

