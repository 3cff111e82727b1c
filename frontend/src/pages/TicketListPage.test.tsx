import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import i18n from "../i18n";
import { TicketListPage } from "./TicketListPage";
import { apiError, fakeApi, renderAt, signIn, ticket, TYPES, USERS } from "../test/utils";

const pageOf = (items: ReturnType<typeof ticket>[], total = items.length, page = 1) => ({
  body: { items, total, page, page_size: 20 },
});

describe("TicketListPage", () => {
  it("lists tickets with type, status badges, current steps and links", async () => {
    signIn(USERS.alice);
    fakeApi({
      "GET /api/ticket-types": { body: TYPES },
      "GET /api/tickets": pageOf([
        ticket({ id: "a", title: "Laptop", status: "in_progress", current_steps: ["Manager Approval"] }),
        ticket({
          id: "b", title: "Monitors", status: "completed", type: "purchase_request", type_name: "Purchase request",
          fields: { amount: 5000, supplier: "ACME" },
        }),
        ticket({ id: "c", title: "Access", status: "in_progress", type: "access_request", type_name: "Access request", current_steps: ["Manager Approval", "Security Review"] }),
      ]),
    });
    renderAt(<TicketListPage />);
    expect(screen.getByRole("status")).toHaveTextContent("Loading…");
    const rows = await screen.findAllByTestId("ticket-row");
    expect(rows).toHaveLength(3);
    expect(within(rows[0]).getByRole("link", { name: "Laptop" })).toHaveAttribute("href", "/tickets/a");
    expect(within(rows[0]).getByText("In progress")).toBeInTheDocument();
    expect(within(rows[0]).getByTestId("row-current-steps")).toHaveTextContent("Manager Approval");
    expect(within(rows[1]).getByText("Completed")).toBeInTheDocument();
    expect(await within(rows[1]).findByText("Purchase request")).toBeInTheDocument();
    expect(within(rows[1]).getByText(/Amount: 5,000.00 · Supplier: ACME/)).toBeInTheDocument();
    expect(within(rows[1]).getByTestId("row-current-steps")).toHaveTextContent("—");
    expect(within(rows[2]).getByTestId("row-current-steps")).toHaveTextContent("Manager Approval, Security Review");
  });

  it("passes the status filter, the search text and the page to the API", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({
      "GET /api/tickets": (call) =>
        pageOf([ticket({ id: `p${call.query.get("page")}` })], 45, Number(call.query.get("page") ?? 1)),
    });
    renderAt(<TicketListPage />);
    await screen.findByText("1–20 of 45");
    await userEvent.selectOptions(screen.getByLabelText("Status"), "rejected");
    await userEvent.type(screen.getByLabelText("Search tickets"), "laptop");
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("?status=rejected&q=laptop"));
    await userEvent.click(await screen.findByRole("button", { name: "Next" }));
    await screen.findByText("21–40 of 45");
    const last = fake.calls.at(-1)!;
    expect(Object.fromEntries(last.query)).toMatchObject({ status: "rejected", q: "laptop", page: "2", page_size: "20" });
  });

  it("says when nothing matches, and clears the filters", async () => {
    signIn(USERS.alice);
    fakeApi({ "GET /api/tickets": pageOf([]) });
    renderAt(<TicketListPage />, { route: "/?status=rejected" });
    expect(await screen.findByText("No tickets match these filters.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Clear filters" }));
    expect(await screen.findByText("No tickets yet.")).toBeInTheDocument();
  });

  it("shows the API's message and a retry button when the list fails", async () => {
    signIn(USERS.alice);
    fakeApi({
      "GET /api/tickets": apiError(503, "The ticket store is unavailable.", { dependency: "database" }, "service_unavailable"),
    });
    renderAt(<TicketListPage />);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("The ticket store is unavailable. (database)");
    expect(within(alert).getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });

  it("orders by the API's sorts, keeps the order in the address, and says what the search matches", async () => {
    signIn(USERS.alice);
    const fake = fakeApi({ "GET /api/tickets": pageOf([ticket({ id: "a" })]) });
    renderAt(<TicketListPage />);
    await screen.findAllByTestId("ticket-row");
    // newest first is the API's own default: nothing sent
    expect(fake.calls.at(-1)!.query.has("sort")).toBe(false);
    const order = screen.getByLabelText("Order");
    expect(within(order).getAllByRole("option").map((o) => (o as HTMLOptionElement).value)).toEqual([
      "-created", "created", "-updated", "updated", "title", "-title",
    ]);
    await userEvent.selectOptions(order, "Title A–Z");
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("?sort=title"));
    await waitFor(() => expect(fake.calls.at(-1)!.query.get("sort")).toBe("title"));
    const search = screen.getByRole("searchbox", { name: "Search tickets" });
    expect(search).toHaveAttribute("placeholder", "Search title, fields, reference or #id…");
    expect(search).toHaveAccessibleDescription(/#abc finds tickets whose id starts with abc/);
    expect(search).toHaveAccessibleDescription(/its fulfilment reference/);
    await act(() => i18n.changeLanguage("zh-CN"));
    expect(search).toHaveAttribute("placeholder", "搜索标题、字段、交付编号或 #编号…");
    expect(search).toHaveAccessibleDescription(/交付编号/);
  });
});
