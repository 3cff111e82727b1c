import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { TicketActions } from "./TicketActions";
import { useTicket } from "../api/hooks";
import type { Ticket } from "../api/types";
import { apiError, fakeApi, renderAt, signIn, step, ticket, USERS } from "../test/utils";

const running = ticket({ status: "in_progress", current_steps: ["Manager Approval"], steps: [step({ can_complete: false, refusal: "own_ticket" })] });
const base = `/api/tickets/${running.id}`;

describe("TicketActions", () => {
  it("offers only what allowed_actions says, and says who the ticket waits for", () => {
    signIn(USERS.alice);
    fakeApi({});
    renderAt(<TicketActions ticket={running} />);
    expect(screen.queryByRole("button", { name: "Withdraw" })).not.toBeInTheDocument();
    expect(screen.getByTestId("no-actions")).toHaveTextContent("Waiting for the people its open steps are offered to.");
  });

  it("submits a draft with one click", async () => {
    signIn(USERS.alice);
    const draft = ticket({ allowed_actions: ["edit", "submit", "delete"] });
    const fake = fakeApi({ [`POST ${base}/submit`]: { body: { ...running, allowed_actions: ["withdraw"] } } });
    renderAt(<TicketActions ticket={draft} />);
    expect(screen.getByRole("link", { name: "Edit draft" })).toHaveAttribute("href", `/tickets/${draft.id}/edit`);
    await userEvent.click(screen.getByRole("button", { name: "Submit" }));
    await waitFor(() => expect(fake.callsTo(`POST ${base}/submit`)).toHaveLength(1));
  });

  it("withdraws after a confirmation, with the optional comment", async () => {
    signIn(USERS.alice);
    const mine = { ...running, allowed_actions: ["withdraw" as const] };
    const fake = fakeApi({ [`POST ${base}/withdraw`]: { body: { ...mine, status: "withdrawn", steps: [], allowed_actions: ["resubmit"] } } });
    renderAt(<TicketActions ticket={mine} />);
    await userEvent.click(screen.getByRole("button", { name: "Withdraw" }));
    expect(screen.getByText("Withdrawing stops the ticket's process. Its open steps are cancelled.")).toBeInTheDocument();
    expect(fake.callsTo(`POST ${base}/withdraw`)).toHaveLength(0);
    await userEvent.type(screen.getByLabelText("Comment (optional)"), "Not needed any more");
    await userEvent.click(screen.getByRole("button", { name: "Withdraw the ticket" }));
    expect(await screen.findByTestId("action-done")).toHaveTextContent("The ticket was withdrawn.");
    expect(fake.callsTo(`POST ${base}/withdraw`)[0].body).toEqual({ comment: "Not needed any more" });
  });

  it("deletes a draft only after the confirmation, then goes back to the list", async () => {
    signIn(USERS.alice);
    const draft = ticket({ allowed_actions: ["edit", "submit", "delete"] });
    const fake = fakeApi({ [`DELETE ${base}`]: { status: 204 } });
    renderAt(<TicketActions ticket={draft} />, { route: `/tickets/${draft.id}`, path: "/tickets/:id" });
    await userEvent.click(screen.getByRole("button", { name: "Delete draft" }));
    expect(screen.getByText("Delete this draft? This cannot be undone.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(fake.callsTo(`DELETE ${base}`)).toHaveLength(0);
    await userEvent.click(screen.getByRole("button", { name: "Delete draft" }));
    await userEvent.click(screen.getByRole("button", { name: "Delete for good" }));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent(/^\/tickets$/));
    expect(fake.callsTo(`DELETE ${base}`)).toHaveLength(1);
  });

  it("resubmits a rejected ticket and opens the new draft", async () => {
    signIn(USERS.alice);
    const rejected = ticket({ status: "rejected", allowed_actions: ["resubmit"] });
    fakeApi({ [`POST ${base}/resubmit`]: { status: 201, body: ticket({ id: "new-draft", allowed_actions: ["edit", "submit"] }) } });
    renderAt(<TicketActions ticket={rejected} />, { route: `/tickets/${rejected.id}`, path: "/tickets/:id" });
    await userEvent.click(screen.getByRole("button", { name: "Resubmit as a new draft" }));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/tickets/new-draft"));
  });

  it("lets an admin retry a failed automated step", async () => {
    signIn(USERS.carol);
    const failed = ticket({ status: "needs_attention", attention: "quota exceeded", allowed_actions: ["retry"] });
    const fake = fakeApi({ [`POST ${base}/retry`]: { body: { ...failed, status: "in_progress", allowed_actions: [] } } });
    renderAt(<TicketActions ticket={failed} />);
    await userEvent.click(screen.getByRole("button", { name: "Retry the failed step" }));
    await userEvent.click(screen.getByRole("button", { name: "Retry now" }));
    await waitFor(() => expect(fake.callsTo(`POST ${base}/retry`)).toHaveLength(1));
    expect(fake.callsTo(`POST ${base}/retry`)[0].body).toEqual({ comment: null });
  });

  it("shows the API's refusal", async () => {
    signIn(USERS.bob);
    const other = { ...running, allowed_actions: ["withdraw" as const] };
    fakeApi({
      [`POST ${base}/withdraw`]: apiError(403, "Only the requester or an admin may withdraw a ticket.", { reason: "not_requester" }, "permission_denied"),
      [`GET ${base}`]: { body: other },
    });
    renderAt(<TicketActions ticket={other} />);
    await userEvent.click(screen.getByRole("button", { name: "Withdraw" }));
    await userEvent.click(screen.getByRole("button", { name: "Withdraw the ticket" }));
    expect(await screen.findByTestId("action-error")).toHaveTextContent("Only the requester or an admin may withdraw a ticket.");
  });

  it("drops the retry's confirmation once the ticket's status changes again (the retry failed again)", async () => {
    signIn(USERS.carol);
    const failed = ticket({ status: "needs_attention", attention: "quota exceeded", allowed_actions: ["retry"], version: 1 });
    let current: Ticket = failed;
    fakeApi({
      [`GET ${base}`]: () => ({ body: current }),
      [`POST ${base}/retry`]: () => {
        current = { ...failed, status: "in_progress", attention: null, allowed_actions: [], version: 2 };
        return { body: current };
      },
    });
    function Live() {
      const q = useTicket(failed.id);
      return q.data ? <TicketActions ticket={q.data} /> : null;
    }
    const { queryClient } = renderAt(<Live />);
    await userEvent.click(await screen.findByRole("button", { name: "Retry the failed step" }));
    await userEvent.click(screen.getByRole("button", { name: "Retry now" }));
    const done = await screen.findByTestId("action-done");
    expect(done).toHaveTextContent("The failed step is being retried.");
    // focus moves to the confirmation, not the body
    expect(done).toHaveFocus();
    // a refresh that still says in progress keeps it
    await act(() => queryClient.refetchQueries());
    expect(screen.getByTestId("action-done")).toBeInTheDocument();
    // the step fails again: the ticket needs attention once more, and "being retried" is no longer true
    current = { ...failed, version: 3 };
    await act(() => queryClient.refetchQueries());
    await waitFor(() => expect(screen.queryByTestId("action-done")).not.toBeInTheDocument());
    expect(screen.getByRole("button", { name: "Retry the failed step" })).toBeInTheDocument();
  });
});
