import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { EditTicketPage, NewTicketPage } from "./TicketFormPage";
import { apiError, fakeApi, renderAt, signIn, ticket, USERS } from "../test/utils";

describe("new ticket form", () => {
  it("shows each 422 field error next to its field and marks the field invalid", async () => {
    signIn(USERS.alice);
    fakeApi({
      "POST /api/tickets": apiError(422, "The ticket has invalid fields.", {
        title: ["Must not be empty."],
        amount: ["Must have at most 2 decimal places."],
      }),
    });
    renderAt(<NewTicketPage />, { route: "/tickets/new", path: "/tickets/new" });
    await userEvent.type(screen.getByLabelText("Amount"), "12.345");
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));

    const title = screen.getByLabelText(/^Title/);
    expect(await screen.findByTestId("error-title")).toHaveTextContent("Must not be empty.");
    expect(title).toHaveAttribute("aria-invalid", "true");
    expect(title).toHaveAccessibleDescription(/Must not be empty\./);
    expect(screen.getByLabelText("Amount")).toHaveAccessibleDescription(/Must have at most 2 decimal places\./);
    expect(title).toHaveFocus();
    expect(screen.queryByTestId("form-error")).not.toBeInTheDocument();
  });

  it("creates a draft with the typed values and opens it", async () => {
    signIn(USERS.alice);
    const created = ticket({ id: "new-id" });
    const fake = fakeApi({ "POST /api/tickets": { status: 201, body: created } });
    renderAt(<NewTicketPage />, { route: "/tickets/new", path: "/tickets/new" });
    await userEvent.type(screen.getByLabelText(/^Title/), "New laptop");
    await userEvent.type(screen.getByLabelText("Amount"), "1899.00");
    await userEvent.selectOptions(screen.getByLabelText("Priority"), "high");
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/tickets/new-id"));
    expect(fake.callsTo("POST /api/tickets")[0].body).toEqual({
      title: "New laptop",
      description: "",
      amount: "1899.00",
      priority: "high",
    });
  });

  it("shows errors for fields the form does not have in the summary", async () => {
    signIn(USERS.alice);
    fakeApi({ "POST /api/tickets": apiError(422, "The ticket has invalid fields.", { colour: ["Unknown field."] }) });
    renderAt(<NewTicketPage />, { route: "/tickets/new", path: "/tickets/new" });
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));
    const summary = await screen.findByTestId("form-error");
    expect(summary).toHaveTextContent("The ticket has invalid fields.");
    expect(summary).toHaveTextContent("colour: Unknown field.");
  });
});

describe("edit draft form", () => {
  const draft = ticket({ allowed_actions: ["edit", "submit"], version: 3 });

  it("sends the version it edited and offers to reload on a 409", async () => {
    signIn(USERS.alice);
    const fake = fakeApi({
      [`GET /api/tickets/${draft.id}`]: { body: draft },
      [`PATCH /api/tickets/${draft.id}`]: apiError(409, "The ticket was changed by someone else (version 4, you edited 3)."),
    });
    renderAt(<EditTicketPage />, { route: `/tickets/${draft.id}/edit`, path: "/tickets/:id/edit" });
    const title = await screen.findByLabelText(/^Title/);
    expect(title).toHaveValue("New laptop");
    await userEvent.type(title, " (15 inch)");
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await screen.findByTestId("form-error")).toHaveTextContent("changed by someone else");
    expect(fake.callsTo(`PATCH /api/tickets/${draft.id}`)[0].body).toMatchObject({ title: "New laptop (15 inch)", version: 3 });
    expect(screen.getByRole("button", { name: "Load the latest version" })).toBeInTheDocument();
  });

  it("says so when the ticket is no longer a draft", async () => {
    signIn(USERS.alice);
    fakeApi({ [`GET /api/tickets/${draft.id}`]: { body: { ...draft, status: "pending_approval", allowed_actions: [] } } });
    renderAt(<EditTicketPage />, { route: `/tickets/${draft.id}/edit`, path: "/tickets/:id/edit" });
    expect(await screen.findByText("This ticket can no longer be edited.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Save changes" })).not.toBeInTheDocument();
  });

  it("shows the API's message when the ticket cannot be loaded", async () => {
    signIn(USERS.alice);
    fakeApi({ [`GET /api/tickets/${draft.id}`]: apiError(404, "Ticket not found.") });
    renderAt(<EditTicketPage />, { route: `/tickets/${draft.id}/edit`, path: "/tickets/:id/edit" });
    expect(await screen.findByRole("alert")).toHaveTextContent("Ticket not found.");
  });
});
