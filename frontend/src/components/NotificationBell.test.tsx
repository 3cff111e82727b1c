import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { NotificationBell } from "./NotificationBell";
import { apiError, fakeApi, renderAt, signIn, USERS } from "../test/utils";

const page = {
  items: [
    { id: "n1", ticket_id: "t1", kind: "ticket.submitted", message: "alice submitted New laptop", created_at: new Date().toISOString(), read_at: null },
    { id: "n2", ticket_id: "t2", kind: "ticket.approved", message: "bob approved Monitor", created_at: new Date().toISOString(), read_at: "2026-01-01T00:00:00Z" },
  ],
  total: 2,
  unread: 1,
  page: 1,
  page_size: 8,
};

describe("NotificationBell", () => {
  it("is hidden when the server has no notifications endpoint (404)", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "GET /api/notifications": apiError(404, "Not Found") });
    const { container } = renderAt(<NotificationBell />);
    await waitFor(() => expect(fake.callsTo("GET /api/notifications").length).toBeGreaterThan(0));
    await waitFor(() => expect(container.querySelector(".bell")).toBeNull());
    expect(screen.queryByTestId("notification-bell")).not.toBeInTheDocument();
  });

  it("shows the unread count, lists notifications and opens the ticket, marking it read", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({
      "GET /api/notifications": { body: page },
      "POST /api/notifications/n1/read": { body: { ...page.items[0], read_at: "now" } },
    });
    renderAt(<NotificationBell />);
    expect(await screen.findByTestId("notification-count")).toHaveTextContent("1");
    const bell = screen.getByRole("button", { name: "Notifications, 1 unread" });
    expect(bell).toHaveAttribute("aria-expanded", "false");
    await userEvent.click(bell);
    expect(bell).toHaveAttribute("aria-expanded", "true");
    expect(screen.getByText("Ticket submitted")).toBeInTheDocument();
    await userEvent.click(screen.getByText("alice submitted New laptop"));
    await waitFor(() => expect(fake.callsTo("POST /api/notifications/n1/read")).toHaveLength(1));
    expect(screen.getByTestId("location")).toHaveTextContent("/tickets/t1");
  });

  it("marks all as read and closes with Escape", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({
      "GET /api/notifications": { body: page },
      "POST /api/notifications/read-all": { body: { unread: 0 } },
    });
    renderAt(<NotificationBell />);
    await userEvent.click(await screen.findByTestId("notification-bell"));
    await userEvent.click(screen.getByRole("button", { name: "Mark all as read" }));
    await waitFor(() => expect(fake.callsTo("POST /api/notifications/read-all")).toHaveLength(1));
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("region", { name: "Notifications" })).not.toBeInTheDocument();
  });
});
