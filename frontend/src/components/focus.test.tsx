import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Ticket } from "../api/types";
import { LoginPage } from "../pages/LoginPage";
import { TicketDetailPage } from "../pages/TicketDetailPage";
import { TicketListPage } from "../pages/TicketListPage";
import { EditTicketPage } from "../pages/TicketFormPage";
import { apiError, fakeApi, renderAt, signIn, step, ticket, TYPES, USERS } from "../test/utils";

vi.mock("./ProcessDiagram", () => ({ default: () => null }));

/** After an action, focus lands on what it produced, never on the body. */
describe("focus after an action", () => {
  it("moves to the step's result on the ticket page once the decided step's card is gone, and the result goes when the ticket moves on", async () => {
    signIn(USERS.bob);
    const open = ticket({ status: "in_progress", current_steps: ["Manager Approval"], steps: [step()], version: 2 });
    let current: Ticket = open;
    const base = `/api/tickets/${open.id}`;
    fakeApi({
      "GET /api/ticket-types": { body: TYPES },
      [`GET ${base}`]: () => ({ body: current }),
      [`GET ${base}/history`]: { body: [] },
      [`GET ${base}/process`]: apiError(503, "Engine down."),
      "POST /api/tasks/task-1/complete": () => {
        current = { ...open, steps: [], current_steps: ["Provision"], version: 3 };
        return { body: current };
      },
    });
    const { queryClient } = renderAt(<TicketDetailPage />, { route: `/tickets/${open.id}`, path: "/tickets/:id" });
    await userEvent.click(await screen.findByRole("button", { name: "Approve" }));
    await userEvent.click(screen.getByRole("button", { name: "Confirm approval" }));
    const done = await screen.findByTestId("step-done");
    expect(done).toHaveTextContent("Approved.");
    await waitFor(() => expect(screen.queryByTestId("step")).not.toBeInTheDocument());
    expect(done).toHaveFocus();
    expect(document.activeElement).not.toBe(document.body);
    // the process finishes: "Approved." no longer describes where the ticket is
    current = { ...current, status: "completed", current_steps: [], version: 4 };
    await act(() => queryClient.refetchQueries());
    await waitFor(() => expect(screen.queryByTestId("step-done")).not.toBeInTheDocument());
  });

  it("moves to the flash of the page an action opened (a deleted draft's list)", async () => {
    signIn(USERS.alice);
    fakeApi({ "GET /api/tickets": { body: { items: [], total: 0, page: 1, page_size: 20 } } });
    renderAt(<TicketListPage />, { route: "/tickets", state: { flash: "deleted" } });
    expect(await screen.findByTestId("flash")).toHaveTextContent("The draft was deleted.");
    expect(screen.getByTestId("flash")).toHaveFocus();
  });

  it("moves to the flash of a ticket page once the ticket has loaded (submitted from the form)", async () => {
    signIn(USERS.alice);
    const tk = ticket({ status: "in_progress" });
    const base = `/api/tickets/${tk.id}`;
    fakeApi({
      "GET /api/ticket-types": { body: TYPES },
      [`GET ${base}`]: { body: tk },
      [`GET ${base}/history`]: { body: [] },
      [`GET ${base}/process`]: apiError(503, "Engine down."),
    });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id", state: { flash: "submitted" } });
    const flash = await screen.findByTestId("flash");
    await waitFor(() => expect(flash).toHaveFocus());
  });

  it("moves to the refusal of a failed sign-in and of a conflicting save", async () => {
    fakeApi({ "POST /api/auth/login": apiError(401, "Wrong username or password.") });
    const login = renderAt(<LoginPage />, { route: "/login", path: "/login" });
    await userEvent.type(screen.getByLabelText("Username"), "alice");
    await userEvent.type(screen.getByLabelText("Password"), "wrong{Enter}");
    expect(await screen.findByRole("alert")).toHaveFocus();
    login.unmount();

    signIn(USERS.alice);
    const draft = ticket({ allowed_actions: ["edit", "submit"], version: 3 });
    fakeApi({
      "GET /api/ticket-types": { body: TYPES },
      [`GET /api/tickets/${draft.id}`]: { body: draft },
      [`PATCH /api/tickets/${draft.id}`]: apiError(409, "The ticket was changed by someone else."),
    });
    renderAt(<EditTicketPage />, { route: `/tickets/${draft.id}/edit`, path: "/tickets/:id/edit" });
    await screen.findByLabelText(/^Title/);
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await screen.findByTestId("form-error")).toHaveFocus();
  });
});
