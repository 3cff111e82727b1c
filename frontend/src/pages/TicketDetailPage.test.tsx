import { act, screen, within } from "@testing-library/react";
import i18n from "../i18n";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { TicketDetailPage } from "./TicketDetailPage";
import { apiError, fakeApi, renderAt, signIn, step, ticket, TYPES, USERS } from "../test/utils";

// bpmn-js needs a real browser's SVG layout (the e2e suite covers it); here the diagram reports it cannot draw,
// which exercises the text fallback.
vi.mock("../components/ProcessDiagram", async () => {
  const { useEffect } = await import("react");
  return {
    default: ({ onUnavailable }: { onUnavailable: (why: string) => void }) => {
      useEffect(() => onUnavailable("no SVG layout in this environment"), [onUnavailable]);
      return null;
    },
  };
});

const workflows = resolve(import.meta.dirname, "../../../deploy/workflows");
const ticketXml = readFileSync(resolve(workflows, "ticket-process.bpmn"), "utf8");
const accessXml = readFileSync(resolve(workflows, "access-request.bpmn"), "utf8");
const types = { "GET /api/ticket-types": { body: TYPES } };

describe("TicketDetailPage", () => {
  it("shows the type, its fields labelled from the type's form, the timeline with step values, and where the process stands", async () => {
    const tk = ticket({ status: "rejected", allowed_actions: ["resubmit"] });
    const base = `/api/tickets/${tk.id}`;
    signIn(USERS.alice);
    fakeApi({
      ...types,
      [`GET ${base}`]: { body: tk },
      [`GET ${base}/history`]: {
        body: [
          { at: "2026-03-01T09:30:00Z", actor: "alice", action: "created", from_status: null, to_status: "draft", comment: null },
          { at: "2026-03-01T09:31:00Z", actor: "alice", action: "submitted", from_status: "draft", to_status: "in_progress", comment: null },
          {
            at: "2026-03-01T10:00:00Z", actor: "bob", action: "step_completed", from_status: "in_progress", to_status: "in_progress",
            comment: "Reuse the old one.", details: { step: "ManagerApproval", step_name: "Manager Approval", task_id: "t1", values: { approved: false } },
          },
          { at: "2026-03-01T10:00:01Z", actor: "system", action: "rejected", from_status: "in_progress", to_status: "rejected", comment: null },
        ],
      },
      [`GET ${base}/process`]: {
        body: {
          ticket_id: tk.id,
          state: "completed",
          definition_xml: ticketXml,
          active_activity_ids: [],
          completed_activity_ids: ["TicketSubmitted", "ManagerApproval", "ApprovalDecision", "Rejected"],
          incidents: [],
        },
      },
    });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id" });

    expect(await screen.findByRole("heading", { name: "New laptop" })).toBeInTheDocument();
    expect(screen.getByTestId("ticket-status")).toHaveTextContent("Rejected");
    expect(await screen.findByTestId("ticket-type")).toHaveTextContent("IT request");
    const fields = screen.getByTestId("ticket-fields");
    expect(within(fields).getByText("Description")).toBeInTheDocument();
    expect(within(fields).getByText("For the new designer.")).toBeInTheDocument();
    expect(within(fields).getByText("Amount").nextSibling).toHaveTextContent("1,899.00");
    expect(within(fields).getByText("Priority").nextSibling).toHaveTextContent("Normal");
    expect(screen.queryByTestId("steps-card")).not.toBeInTheDocument();

    const timeline = await screen.findByTestId("timeline");
    expect(within(timeline).getByText("bob rejected “Manager Approval”")).toBeInTheDocument();
    expect(within(timeline).getByText("Decision: reject")).toBeInTheDocument();
    expect(within(timeline).getByText("Reuse the old one.")).toBeInTheDocument();
    expect(within(timeline).getAllByRole("listitem")).toHaveLength(4);
    expect(screen.getByRole("button", { name: "Resubmit as a new draft" })).toBeInTheDocument();

    const fallback = await screen.findByTestId("diagram-fallback");
    expect(screen.getByTestId("process-state")).toHaveTextContent("The process has finished.");
    expect(within(fallback).getByText("Manager Approval").closest("li")).toHaveClass("step-done");
    expect(within(fallback).getByText("Provision Service").closest("li")).toHaveClass("step-todo");
  });

  it("lists every open step of a parallel review, the caller's form on theirs and the refusal on the other", async () => {
    const security = step({
      id: "task-sec", step: "SecurityReview", name: "Security Review", candidate_groups: ["security"],
      can_complete: false, refusal: "not_a_candidate",
      form: [{ ...step().form[0], id: "security_decision" }],
    });
    const tk = ticket({
      type: "access_request", type_name: "Access request", title: "Payroll read access",
      fields: { system: "Payroll", access_level: "read", temporary: true, until: "2026-06-30" },
      status: "in_progress", current_steps: ["Manager Approval", "Security Review"],
      steps: [step({ id: "task-mgr", due: "2026-03-03T09:31:00Z", overdue: true }), security],
    });
    const base = `/api/tickets/${tk.id}`;
    signIn(USERS.bob);
    fakeApi({
      ...types,
      [`GET ${base}`]: { body: tk },
      [`GET ${base}/history`]: { body: [] },
      [`GET ${base}/process`]: {
        body: { ticket_id: tk.id, state: "active", definition_xml: accessXml, active_activity_ids: ["ManagerApproval", "SecurityReview"], completed_activity_ids: ["AccessRequested", "ReviewFork"], incidents: [] },
      },
    });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id" });
    const card = await screen.findByTestId("steps-card");
    expect(within(card).getByRole("heading", { name: "Open steps (2, in parallel)" })).toBeInTheDocument();
    const [mgr, sec] = within(card).getAllByTestId("step");
    expect(within(mgr).getByRole("button", { name: "Approve" })).toBeInTheDocument();
    expect(within(sec).queryByRole("button", { name: "Approve" })).not.toBeInTheDocument();
    expect(within(sec).getByTestId("step-refusal")).toHaveTextContent("This step is not offered to you.");
    expect(within(sec).getByTestId("step-who")).toHaveTextContent("anyone in Security");
    // the manager's step is past its due time; the security review has none
    expect(within(mgr).getByTestId("overdue")).toHaveTextContent("Overdue");
    expect(within(mgr).getByTestId("due-time")).toHaveTextContent(/Due Mar 3, 2026/);
    expect(within(sec).queryByTestId("due-time")).not.toBeInTheDocument();
    expect(screen.getByTestId("current-steps")).toHaveTextContent("Manager Approval, Security Review");
    const fields = await screen.findByTestId("ticket-fields");
    expect(within(fields).getByText("Access level").nextSibling).toHaveTextContent("Read");
    expect(within(fields).getByText("Temporary access").nextSibling).toHaveTextContent("Yes");
    expect(within(fields).getByText("Until").nextSibling).toHaveTextContent("Jun 30, 2026");
    expect(await screen.findByTestId("process-state")).toHaveTextContent("Current step: Manager Approval, Security Review");
  });

  it("shows the fulfilment reference and the other results of its automated steps, in the details and the timeline", async () => {
    const tk = ticket({ status: "completed", results: { units: 2, fulfilment_reference: "PRV-4F2A91", shipped: true } });
    const base = `/api/tickets/${tk.id}`;
    signIn(USERS.alice);
    fakeApi({
      ...types,
      [`GET ${base}`]: { body: tk },
      [`GET ${base}/history`]: {
        body: [
          {
            at: "2026-03-01T10:05:00Z", actor: "system", action: "step_results", from_status: "in_progress", to_status: "in_progress",
            comment: null,
            details: {
              step: "ProvisionService", step_name: "Provision Service", task_id: "x1", reference: "PRV-4F2A91",
              results: { fulfilment_reference: "PRV-4F2A91", units: 2, shipped: true },
            },
          },
          { at: "2026-03-01T10:05:01Z", actor: "system", action: "completed", from_status: "in_progress", to_status: "completed", comment: null, details: {} },
        ],
      },
      [`GET ${base}/process`]: apiError(503, "Engine down."),
    });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id" });

    const reference = await screen.findByTestId("fulfilment-reference");
    expect(reference).toHaveTextContent("PRV-4F2A91");
    const facts = reference.closest("dl")!;
    const rows = [...facts.querySelectorAll("[data-result]")].map((row) => [row.querySelector("dt")!.textContent, row.querySelector("dd")!.textContent]);
    // the reference first and worded; a team's own results by their variable name
    expect(rows).toEqual([["Fulfilment reference", "PRV-4F2A91"], ["units", "2"], ["shipped", "Yes"]]);
    const timeline = await screen.findByTestId("timeline");
    expect(within(timeline).getByText("“Provision Service” returned its results")).toBeInTheDocument();
    expect(within(timeline).getByText("Fulfilment reference PRV-4F2A91")).toBeInTheDocument();
    expect(within(timeline).getByText("units: 2")).toBeInTheDocument();
    expect(within(timeline).getByText("shipped: Yes")).toBeInTheDocument();
    expect(within(timeline).queryByText(/fulfilment_reference/)).not.toBeInTheDocument();

    await act(() => i18n.changeLanguage("zh-CN"));
    expect(within(facts).getByText("交付编号")).toBeInTheDocument();
    expect(within(timeline).getByText("“开通服务”返回了结果")).toBeInTheDocument();
    expect(within(timeline).getByText("交付编号 PRV-4F2A91")).toBeInTheDocument();
    expect(within(timeline).getByText("shipped：是")).toBeInTheDocument();
  });

  it("shows no results row while its automated steps have returned nothing", async () => {
    const tk = ticket({ status: "in_progress" });
    const base = `/api/tickets/${tk.id}`;
    signIn(USERS.alice);
    fakeApi({ ...types, [`GET ${base}`]: { body: tk }, [`GET ${base}/history`]: { body: [] }, [`GET ${base}/process`]: apiError(503, "Engine down.") });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id" });
    expect(await screen.findByTestId("current-steps")).toBeInTheDocument();
    expect(screen.queryByTestId("fulfilment-reference")).not.toBeInTheDocument();
    expect(screen.queryByText("Fulfilment reference")).not.toBeInTheDocument();
  });

  it("says why a ticket needs attention", async () => {
    const tk = ticket({ status: "needs_attention", attention: "quota exceeded", current_steps: ["Provision Service"] });
    const base = `/api/tickets/${tk.id}`;
    signIn(USERS.carol);
    fakeApi({ ...types, [`GET ${base}`]: { body: tk }, [`GET ${base}/history`]: { body: [] }, [`GET ${base}/process`]: apiError(503, "Engine down.") });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id" });
    expect(await screen.findByTestId("attention")).toHaveTextContent("An automated step failed: quota exceeded");
    expect(screen.getByTestId("no-actions")).toHaveTextContent("An automated step failed. An administrator can retry it.");
  });

  it("shows the API's message instead of a blank page when the ticket cannot be read", async () => {
    const tk = ticket();
    signIn(USERS.alice);
    fakeApi({ ...types, [`GET /api/tickets/${tk.id}`]: apiError(403, "You may only see your own tickets.", {}, "permission_denied") });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id" });
    expect(await screen.findByRole("alert")).toHaveTextContent("You may only see your own tickets.");
    expect(screen.getByRole("link", { name: "Tickets" })).toBeInTheDocument();
  });
});
