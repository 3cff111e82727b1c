import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { TicketActions } from "./TicketActions";
import { apiError, fakeApi, renderAt, signIn, ticket, USERS } from "../test/utils";

const pending = ticket({ status: "pending_approval", allowed_actions: ["approve", "reject"] });
const base = `/api/tickets/${pending.id}`;

describe("TicketActions", () => {
  it("offers only what allowed_actions says: a requester waiting on a manager sees no decision buttons", () => {
    signIn(USERS.alice);
    fakeApi({});
    renderAt(<TicketActions ticket={{ ...pending, allowed_actions: [] }} />);
    expect(screen.queryByRole("button", { name: "Approve" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Reject" })).not.toBeInTheDocument();
    expect(screen.getByTestId("no-actions")).toHaveTextContent("Waiting for a manager's decision.");
  });

  it("approves with the optional comment", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ [`POST ${base}/approve`]: { body: { ...pending, status: "approved", allowed_actions: [] } } });
    renderAt(<TicketActions ticket={pending} />);
    await userEvent.click(screen.getByRole("button", { name: "Approve" }));
    await userEvent.type(screen.getByLabelText("Comment (optional)"), "Budget OK");
    await userEvent.click(screen.getByRole("button", { name: "Confirm approval" }));
    expect(await screen.findByTestId("action-done")).toHaveTextContent("Approved.");
    expect(fake.callsTo(`POST ${base}/approve`)[0].body).toEqual({ comment: "Budget OK" });
  });

  it("shows the API's 422 for a rejection without a reason next to the reason field", async () => {
    signIn(USERS.bob);
    fakeApi({
      [`POST ${base}/reject`]: apiError(422, "A comment is required.", { comment: ["Must not be empty."] }),
    });
    renderAt(<TicketActions ticket={pending} />);
    await userEvent.click(screen.getByRole("button", { name: "Reject" }));
    const reason = screen.getByLabelText(/Reason for rejecting/);
    expect(reason).toHaveAttribute("aria-required", "true");
    await userEvent.click(screen.getByRole("button", { name: "Confirm rejection" }));
    expect(await screen.findByTestId("error-comment")).toHaveTextContent("Must not be empty.");
    expect(reason).toHaveAttribute("aria-invalid", "true");
    expect(reason).toHaveAccessibleDescription(/Must not be empty\./);
  });

  it("shows the API's refusal when a decision is not allowed after all", async () => {
    signIn(USERS.alice);
    fakeApi({
      [`POST ${base}/approve`]: apiError(403, "You cannot approve your own ticket.", {}, "permission_denied"),
      [`GET ${base}`]: { body: pending },
    });
    renderAt(<TicketActions ticket={pending} />);
    await userEvent.click(screen.getByRole("button", { name: "Approve" }));
    await userEvent.click(screen.getByRole("button", { name: "Confirm approval" }));
    expect(await screen.findByTestId("action-error")).toHaveTextContent("You cannot approve your own ticket.");
  });

  it("lets an admin retry failed provisioning", async () => {
    signIn(USERS.carol);
    const failed = ticket({ status: "provisioning_failed", allowed_actions: ["retry_provisioning"] });
    const fake = fakeApi({
      [`POST ${base}/retry-provisioning`]: { body: { ...failed, status: "approved", allowed_actions: [] } },
    });
    renderAt(<TicketActions ticket={failed} />);
    await userEvent.click(screen.getByRole("button", { name: "Retry provisioning" }));
    await userEvent.click(screen.getByRole("button", { name: "Retry now" }));
    await waitFor(() => expect(fake.callsTo(`POST ${base}/retry-provisioning`)).toHaveLength(1));
    expect(fake.callsTo(`POST ${base}/retry-provisioning`)[0].body).toEqual({ comment: null });
  });

  it("submits a draft with one click", async () => {
    signIn(USERS.alice);
    const draft = ticket({ allowed_actions: ["edit", "submit"] });
    const fake = fakeApi({ [`POST ${base}/submit`]: { body: { ...draft, status: "pending_approval", allowed_actions: [] } } });
    renderAt(<TicketActions ticket={draft} />);
    expect(screen.getByRole("link", { name: "Edit draft" })).toHaveAttribute("href", `/tickets/${draft.id}/edit`);
    await userEvent.click(screen.getByRole("button", { name: "Submit for approval" }));
    await waitFor(() => expect(fake.callsTo(`POST ${base}/submit`)).toHaveLength(1));
  });
});
