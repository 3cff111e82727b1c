import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Step } from "../api/types";
import { StepCard } from "./StepCard";
import { apiError, fakeApi, renderAt, signIn, step, ticket, USERS } from "../test/utils";

const tk = ticket({ status: "in_progress", current_steps: ["Manager Approval"] });
const renderStep = (s: Step) => renderAt(<ul><StepCard ticket={tk} step={s} /></ul>);

describe("StepCard: who holds a step", () => {
  it("claims a group's step and gives it back", async () => {
    signIn(USERS.bob);
    const claimed = { ...tk, steps: [step({ assignee: "bob", can_claim: false, can_unclaim: true })] };
    const fake = fakeApi({ "POST /api/tasks/task-1/claim": { body: claimed }, "POST /api/tasks/task-1/unclaim": { body: tk } });
    renderStep(step({ can_claim: true }));
    expect(screen.queryByRole("button", { name: "Give back" })).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Claim" }));
    await waitFor(() => expect(fake.callsTo("POST /api/tasks/task-1/claim")).toHaveLength(1));
    // not an admin: no reassignment form
    expect(screen.queryByLabelText("Reassign to")).not.toBeInTheDocument();
  });

  it("gives back a step the caller holds", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "POST /api/tasks/task-1/unclaim": { body: tk } });
    renderStep(step({ assignee: "bob", can_unclaim: true }));
    expect(screen.getByTestId("step-who")).toHaveTextContent("assigned to bob");
    await userEvent.click(screen.getByRole("button", { name: "Give back" }));
    await waitFor(() => expect(fake.callsTo("POST /api/tasks/task-1/unclaim")).toHaveLength(1));
  });

  it("says who claimed it first when the claim loses", async () => {
    signIn(USERS.bob);
    fakeApi({
      "POST /api/tasks/task-1/claim": { status: 409, body: { error: { code: "conflict", message: "dave has claimed this step already.", details: {}, key: "task.claimed_by", params: { by: "dave" } } } },
    });
    renderStep(step({ can_claim: true }));
    await userEvent.click(screen.getByRole("button", { name: "Claim" }));
    expect(await screen.findByTestId("holder-error")).toHaveTextContent("dave has claimed this step already.");
  });

  it("lets an admin reassign, placing the server's refusal on the assignee field", async () => {
    signIn(USERS.carol);
    const fake = fakeApi({
      "PUT /api/tasks/task-1/assignee": apiError(422, "The step cannot be reassigned", { assignee: ["No such user."] }),
    });
    renderStep(step({ can_complete: false, refusal: "not_a_candidate" }));
    const form = screen.getByRole("form", { name: "Reassign “Manager Approval”" });
    await userEvent.type(within(form).getByLabelText("Reassign to"), "nobody");
    await userEvent.click(within(form).getByRole("button", { name: "Reassign" }));
    expect(await screen.findByTestId("error-assignee")).toHaveTextContent("No such user.");
    expect(fake.callsTo("PUT /api/tasks/task-1/assignee")[0].body).toEqual({ assignee: "nobody" });
    await userEvent.clear(within(form).getByLabelText("Reassign to"));
    await userEvent.click(within(form).getByRole("button", { name: "Back to the candidates" }));
    await waitFor(() => expect(fake.callsTo("PUT /api/tasks/task-1/assignee")).toHaveLength(2));
    expect(fake.callsTo("PUT /api/tasks/task-1/assignee")[1].body).toEqual({ assignee: null });
  });

  it("says whose step a substitute acts on", () => {
    signIn(USERS.fiona);
    renderStep(step({ on_behalf_of: "bob" }));
    expect(screen.getByTestId("step-on-behalf")).toHaveTextContent("You act on behalf of bob (their substitute).");
  });
});
