import { screen, within } from "@testing-library/react";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { TicketDetailPage } from "./TicketDetailPage";
import { apiError, fakeApi, renderAt, signIn, ticket, USERS } from "../test/utils";

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

const xml = readFileSync(resolve(import.meta.dirname, "../../../deploy/workflows/ticket-process.bpmn"), "utf8");
const tk = ticket({ status: "rejected", approver: "bob", allowed_actions: [] });
const base = `/api/tickets/${tk.id}`;

describe("TicketDetailPage", () => {
  it("shows the fields, the timeline with comments, and where the process stands", async () => {
    signIn(USERS.alice);
    fakeApi({
      [`GET ${base}`]: { body: tk },
      [`GET ${base}/history`]: {
        body: [
          { at: "2026-03-01T09:30:00Z", actor: "alice", action: "created", from_status: null, to_status: "draft", comment: null },
          { at: "2026-03-01T09:31:00Z", actor: "alice", action: "submitted", from_status: "draft", to_status: "pending_approval", comment: null },
          { at: "2026-03-01T10:00:00Z", actor: "bob", action: "rejected", from_status: "pending_approval", to_status: "rejected", comment: "Reuse the old one." },
        ],
      },
      [`GET ${base}/process`]: {
        body: {
          ticket_id: tk.id,
          state: "completed",
          definition_xml: xml,
          active_activity_ids: [],
          completed_activity_ids: ["TicketSubmitted", "ManagerApproval", "ApprovalDecision", "Rejected"],
          incidents: [],
        },
      },
    });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id" });

    expect(await screen.findByRole("heading", { name: "New laptop" })).toBeInTheDocument();
    expect(screen.getByTestId("ticket-status")).toHaveTextContent("Rejected");
    expect(screen.getByText("1,899.00")).toBeInTheDocument();
    const timeline = await screen.findByTestId("timeline");
    expect(within(timeline).getByText("bob rejected")).toBeInTheDocument();
    expect(within(timeline).getByText("Reuse the old one.")).toBeInTheDocument();
    expect(within(timeline).getAllByRole("listitem")).toHaveLength(3);
    expect(screen.getByTestId("no-actions")).toHaveTextContent("This ticket was rejected.");

    const fallback = await screen.findByTestId("diagram-fallback");
    expect(screen.getByTestId("process-state")).toHaveTextContent("The process has finished.");
    expect(within(fallback).getByText("Manager Approval").closest("li")).toHaveClass("step-done");
    expect(within(fallback).getByText("Provision Service").closest("li")).toHaveClass("step-todo");
  });

  it("shows the API's message instead of a blank page when the ticket cannot be read", async () => {
    signIn(USERS.alice);
    fakeApi({ [`GET ${base}`]: apiError(403, "You may only see your own tickets.", {}, "permission_denied") });
    renderAt(<TicketDetailPage />, { route: `/tickets/${tk.id}`, path: "/tickets/:id" });
    expect(await screen.findByRole("alert")).toHaveTextContent("You may only see your own tickets.");
    expect(screen.getByRole("link", { name: "Tickets" })).toBeInTheDocument();
  });
});
