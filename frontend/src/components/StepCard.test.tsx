import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Step } from "../api/types";
import { StepCard } from "./StepCard";
import { apiError, fakeApi, renderAt, signIn, step, ticket, USERS } from "../test/utils";

const tk = ticket({ status: "in_progress", current_steps: ["Manager Approval"] });
const done = { body: { ...tk, steps: [] } };
const renderStep = (s: Step) => renderAt(<ul><StepCard ticket={tk} step={s} /></ul>);

describe("StepCard: a step's form generated from its FormFields", () => {
  it("shows an approve/reject enum as decision buttons and completes the task with the decision and comment", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "POST /api/tasks/task-1/complete": done });
    renderStep(step());
    const card = screen.getByTestId("step");
    expect(within(card).getByRole("heading", { name: "Manager Approval" })).toBeInTheDocument();
    expect(within(card).getByTestId("step-who")).toHaveTextContent("Who can act: anyone in Managers");
    // the enum is not rendered as a select: its values are the buttons
    expect(within(card).queryByRole("combobox")).not.toBeInTheDocument();
    await userEvent.click(within(card).getByRole("button", { name: "Approve" }));
    await userEvent.type(screen.getByLabelText("Comment (optional)"), "Budget OK");
    await userEvent.click(screen.getByRole("button", { name: "Confirm approval" }));
    await waitFor(() => expect(fake.callsTo("POST /api/tasks/task-1/complete")).toHaveLength(1));
    expect(fake.callsTo("POST /api/tasks/task-1/complete")[0].body).toEqual({
      variables: { manager_decision: "approve" },
      comment: "Budget OK",
    });
  });

  it("sends false for a boolean decision on reject, marks the reason required and shows the server's 422 on it", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({
      "POST /api/tasks/task-1/complete": apiError(422, "A comment is required to reject.", { comment: ["A reason is required."] }),
    });
    renderStep(step({ form: [{ id: "approved", label: "Approved?", type: "boolean", required: true, default: null, values: [], decision: true }] }));
    await userEvent.click(screen.getByRole("button", { name: "Reject" }));
    const reason = screen.getByLabelText(/Reason for rejecting/);
    expect(reason).toHaveAttribute("aria-required", "true");
    expect(reason).toHaveFocus();
    await userEvent.click(screen.getByRole("button", { name: "Confirm rejection" }));
    expect(await screen.findByTestId("error-comment")).toHaveTextContent("A reason is required.");
    expect(reason).toHaveAttribute("aria-invalid", "true");
    expect(reason).toHaveAccessibleDescription("A reason is required.");
    expect(screen.queryByTestId("action-error")).not.toBeInTheDocument();
    expect(fake.callsTo("POST /api/tasks/task-1/complete")[0].body).toEqual({ variables: { approved: false }, comment: null });
  });

  it("renders the step's other fields as inputs, sends them typed, and places their 422 on them", async () => {
    signIn(USERS.fiona);
    const fake = fakeApi({
      "POST /api/tasks/task-2/complete": apiError(422, "The step's form has invalid values.", {
        po_number: ["Must be a whole number."],
      }),
    });
    renderStep(
      step({
        id: "task-2",
        step: "FinanceApproval",
        name: "Finance Approval",
        candidate_groups: ["finance"],
        form: [
          { id: "finance_decision", label: "Decision", type: "enum", required: true, default: null, values: [{ id: "approve", name: "Approve" }, { id: "reject", name: "Reject" }], decision: true },
          { id: "po_number", label: "PO number", type: "long", required: true, default: null, values: [], decision: false },
          { id: "budget", label: "Budget line", type: "enum", required: false, default: "opex", values: [{ id: "opex", name: "Opex" }, { id: "capex", name: "Capex" }], decision: false },
          { id: "paid_on", label: "Paid on", type: "date", required: false, default: null, values: [], decision: false },
          { id: "note", label: "Note", type: "string", required: false, default: null, values: [], decision: false },
        ],
      }),
    );
    await userEvent.click(screen.getByRole("button", { name: "Approve" }));
    const po = screen.getByLabelText(/^PO number/);
    expect(po).toHaveAttribute("aria-required", "true");
    expect(screen.getByLabelText("Budget line")).toHaveValue("opex");
    expect(screen.getByLabelText("Paid on")).toHaveAttribute("type", "date");
    await userEvent.type(po, "4.5");
    await userEvent.selectOptions(screen.getByLabelText("Budget line"), "capex");
    await userEvent.click(screen.getByRole("button", { name: "Confirm approval" }));
    expect(await screen.findByTestId("error-po_number")).toHaveTextContent("Must be a whole number.");
    expect(po).toHaveAttribute("aria-invalid", "true");
    // not a whole number: sent as typed so the server names the field
    expect(fake.callsTo("POST /api/tasks/task-2/complete")[0].body).toEqual({
      variables: { finance_decision: "approve", po_number: "4.5", budget: "capex" },
      comment: null,
    });
    await userEvent.clear(po);
    await userEvent.type(po, "4711");
    await userEvent.click(screen.getByRole("button", { name: "Confirm approval" }));
    await waitFor(() => expect(fake.callsTo("POST /api/tasks/task-2/complete")).toHaveLength(2));
    expect((fake.callsTo("POST /api/tasks/task-2/complete")[1].body as { variables: Record<string, unknown> }).variables.po_number).toBe(4711);
  });

  it("offers 'Complete step' when the step has no decision field", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "POST /api/tasks/task-1/complete": done });
    renderStep(step({ name: "Confirm delivery", step: "ConfirmDelivery", form: [], assignee: "bob" }));
    expect(screen.getByTestId("step-who")).toHaveTextContent("assigned to bob");
    expect(screen.queryByRole("button", { name: "Approve" })).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Complete step" }));
    await userEvent.click(within(screen.getByRole("form")).getByRole("button", { name: "Complete step" }));
    await waitFor(() => expect(fake.callsTo("POST /api/tasks/task-1/complete")).toHaveLength(1));
    expect(fake.callsTo("POST /api/tasks/task-1/complete")[0].body).toEqual({ variables: {}, comment: null });
  });

  it("shows the API's message when someone else completed the step first", async () => {
    signIn(USERS.bob);
    fakeApi({
      "POST /api/tasks/task-1/complete": apiError(409, "dave completed this step first.", { completed_by: "dave" }, "conflict"),
      [`GET /api/tickets/${tk.id}`]: { body: tk },
    });
    renderStep(step());
    await userEvent.click(screen.getByRole("button", { name: "Approve" }));
    await userEvent.click(screen.getByRole("button", { name: "Confirm approval" }));
    expect(await screen.findByTestId("action-error")).toHaveTextContent("dave completed this step first.");
  });

  it.each([
    ["not_a_candidate", "This step is not offered to you."],
    ["own_ticket", "You requested this ticket, so someone else decides its steps."],
    ["last_editor", "You edited this ticket, so someone else decides its steps."],
    ["second_decision", "You already decided another step of this ticket; a second person decides this one."],
  ] as const)("words the refusal %s instead of offering the form", (refusal, words) => {
    signIn(USERS.alice);
    fakeApi({});
    renderStep(step({ can_complete: false, refusal }));
    expect(screen.getByTestId("step-refusal")).toHaveTextContent(words);
    expect(screen.queryByRole("button", { name: "Approve" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Reject" })).not.toBeInTheDocument();
  });

  it("names candidate users and groups together", () => {
    signIn(USERS.alice);
    fakeApi({});
    renderStep(step({ can_complete: false, refusal: "not_a_candidate", candidate_users: ["dave"], candidate_groups: ["security", "managers"] }));
    expect(screen.getByTestId("step-who")).toHaveTextContent("Who can act: dave, anyone in Security, or anyone in Managers");
  });
});

describe("StepCard: when the step is due", () => {
  it("shows the due time, and an Overdue badge once the server says it has passed", () => {
    signIn(USERS.bob);
    fakeApi({});
    const { unmount } = renderStep(step({ due: "2026-03-03T09:31:00Z", overdue: false }));
    expect(screen.getByTestId("due-time")).toHaveTextContent(/^Due /);
    expect(screen.queryByTestId("overdue")).not.toBeInTheDocument();
    unmount();
    renderStep(step({ due: "2026-03-03T09:31:00Z", overdue: true }));
    expect(screen.getByTestId("overdue")).toHaveTextContent("Overdue");
    expect(screen.getByTestId("overdue")).toHaveAttribute("title", expect.stringMatching(/^Overdue since /));
  });

  it("shows nothing about time for a step without a due time", () => {
    signIn(USERS.bob);
    fakeApi({});
    renderStep(step({ due: null, overdue: false }));
    expect(screen.queryByTestId("due-time")).not.toBeInTheDocument();
  });
});
