import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Incident } from "../api/admin";
import { apiError, fakeApi, renderAt, signIn, ticket, TYPES, USERS } from "../test/utils";
import { IncidentsPage } from "./IncidentsPage";

const LONG_ERROR =
  "SMTPServerDisconnected: Connection unexpectedly closed\nTraceback (most recent call last):\n  File \"/srv/pflow/handlers/mail.py\", line 42, in send\n" +
  "x".repeat(400);

const PURCHASE: Incident = {
  ticket_id: "5a6b7c8d-0000-4000-8000-00000000000a",
  title: "Laptops for the new team",
  type: "purchase_request",
  requester: "alice",
  step: "Place Order",
  step_id: "PlaceOrder",
  error: LONG_ERROR,
  retries_left: 0,
  failed_at: "2026-03-02T10:15:00Z",
};

const ACCESS: Incident = {
  ticket_id: "9e8d7c6b-0000-4000-8000-00000000000b",
  title: "Read access to the data warehouse",
  type: "access_request",
  requester: "bob",
  step: "Grant Access",
  step_id: "GrantAccess",
  error: "LDAP: invalid credentials",
  retries_left: null,
  failed_at: "2026-03-03T16:40:00Z",
};

/** A server whose incidents go away once their step is retried successfully. */
function incidentServer(items: Incident[], retry: Record<string, { status?: number; body?: unknown }> = {}) {
  let open = [...items];
  return fakeApi({
    "GET /api/incidents": () => ({ body: { items: open, total: open.length } }),
    "GET /api/ticket-types": { body: TYPES },
    [`POST /api/tickets/${PURCHASE.ticket_id}/retry`]: () => {
      const reply = retry[PURCHASE.ticket_id] ?? { body: ticket({ id: PURCHASE.ticket_id, status: "in_progress" }) };
      if (!reply.status || reply.status < 400) open = open.filter((i) => i.ticket_id !== PURCHASE.ticket_id);
      return reply;
    },
    [`POST /api/tickets/${ACCESS.ticket_id}/retry`]: () => {
      const reply = retry[ACCESS.ticket_id] ?? { body: ticket({ id: ACCESS.ticket_id, status: "in_progress" }) };
      if (!reply.status || reply.status < 400) open = open.filter((i) => i.ticket_id !== ACCESS.ticket_id);
      return reply;
    },
  });
}

function rowOf(title: string) {
  return screen.getAllByTestId("incident-row").find((r) => within(r).queryByRole("link", { name: title }))!;
}

describe("IncidentsPage", () => {
  it("lists each failed step with its ticket, type, requester, step, full error, retries left and time", async () => {
    signIn(USERS.carol);
    incidentServer([PURCHASE, ACCESS]);
    renderAt(<IncidentsPage />, { route: "/admin/incidents" });

    expect(await screen.findByRole("heading", { level: 1, name: "Incidents" })).toBeInTheDocument();
    const table = await screen.findByRole("table", { name: "Incidents" });
    expect(within(table).getAllByRole("columnheader").map((h) => h.textContent)).toEqual([
      "Ticket",
      "Type",
      "Requester",
      "Step",
      "Error",
      "Retries left",
      "Failed at",
      "Action",
    ]);
    const row = rowOf("Laptops for the new team");
    await waitFor(() => expect(within(row).getAllByRole("cell")[1]).toHaveTextContent("Purchase request"));
    const cells = within(row).getAllByRole("cell").map((c) => c.textContent);
    expect(cells.slice(0, 4)).toEqual(["Laptops for the new team#5a6b7c8d", "Purchase request", "alice", "Place Order"]);
    expect(cells[5]).toBe("0");
    expect(cells[6]).toMatch(/Mar 2, 2026/);
    expect(within(row).getByRole("link", { name: "Laptops for the new team" })).toHaveAttribute("href", `/tickets/${PURCHASE.ticket_id}`);
    // the whole error, in a block that wraps
    const error = row.querySelector("pre.incident-error")!;
    expect(error.textContent).toBe(LONG_ERROR);
    expect(within(rowOf("Read access to the data warehouse")).getAllByRole("cell")[5]).toHaveTextContent("—");
  });

  it("retries one row with the comment; the row goes away once the server no longer lists it", async () => {
    signIn(USERS.carol);
    const fake = incidentServer([PURCHASE, ACCESS]);
    renderAt(<IncidentsPage />, { route: "/admin/incidents" });
    await screen.findAllByTestId("incident-row");

    await userEvent.type(
      screen.getByRole("textbox", { name: "Comment on the retry of “Laptops for the new team” (optional)" }),
      "Mail server is back",
    );
    await userEvent.click(screen.getByRole("button", { name: "Retry the step of “Laptops for the new team”" }));

    expect(await screen.findByText("The step of “Laptops for the new team” runs again.")).toBeInTheDocument();
    await waitFor(() => expect(screen.getAllByTestId("incident-row")).toHaveLength(1));
    expect(screen.queryByRole("link", { name: "Laptops for the new team" })).not.toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Read access to the data warehouse" })).toBeInTheDocument();
    const [call] = fake.callsTo(`POST /api/tickets/${PURCHASE.ticket_id}/retry`);
    expect(call.body).toEqual({ comment: "Mail server is back" });
    expect(fake.callsTo(`POST /api/tickets/${ACCESS.ticket_id}/retry`)).toHaveLength(0);
    expect(fake.callsTo("GET /api/incidents").length).toBeGreaterThanOrEqual(2);
  });

  it("shows a refused retry's message on its own row and keeps the row", async () => {
    signIn(USERS.carol);
    const fake = incidentServer([PURCHASE, ACCESS], {
      [ACCESS.ticket_id]: apiError(409, "The ticket does not need attention any more.", {}, "conflict"),
    });
    renderAt(<IncidentsPage />, { route: "/admin/incidents" });
    await screen.findAllByTestId("incident-row");

    await userEvent.click(screen.getByRole("button", { name: "Retry the step of “Read access to the data warehouse”" }));

    const row = rowOf("Read access to the data warehouse");
    const alert = await within(row).findByRole("alert");
    expect(alert).toHaveTextContent("The retry was refused");
    expect(alert).toHaveTextContent("The ticket does not need attention any more.");
    expect(fake.callsTo(`POST /api/tickets/${ACCESS.ticket_id}/retry`)[0].body).toEqual({ comment: null });
    // the other row says nothing, and both rows stay
    expect(within(rowOf("Laptops for the new team")).queryByRole("alert")).not.toBeInTheDocument();
    await waitFor(() => expect(fake.callsTo("GET /api/incidents").length).toBeGreaterThanOrEqual(2));
    expect(screen.getAllByTestId("incident-row")).toHaveLength(2);
    expect(within(row).getByRole("button", { name: /Retry the step/ })).toBeEnabled();
  });

  it("says so when no step failed", async () => {
    signIn(USERS.carol);
    incidentServer([]);
    renderAt(<IncidentsPage />, { route: "/admin/incidents" });
    expect(await screen.findByText("No failed steps")).toBeInTheDocument();
    expect(screen.queryByRole("table")).not.toBeInTheDocument();
  });

  it("is for admins only: others are told so and the incidents are not asked for", async () => {
    signIn(USERS.bob);
    const fake = incidentServer([PURCHASE]);
    renderAt(<IncidentsPage />, { route: "/admin/incidents" });
    expect(screen.getByRole("heading", { name: "You may not open the incidents." })).toBeInTheDocument();
    expect(screen.getByText("Incidents are for administrators.")).toBeInTheDocument();
    expect(fake.callsTo("GET /api/incidents")).toHaveLength(0);
  });

  it("words the server's 403 the same way (a role taken away meanwhile)", async () => {
    signIn(USERS.carol);
    fakeApi({ "GET /api/incidents": apiError(403, "Administrators only.", {}, "forbidden") });
    renderAt(<IncidentsPage />, { route: "/admin/incidents" });
    expect(await screen.findByRole("heading", { name: "You may not open the incidents." })).toBeInTheDocument();
  });
});
