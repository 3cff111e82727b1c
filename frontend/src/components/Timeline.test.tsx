import { act, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import i18n from "../i18n";
import type { HistoryEntry } from "../api/types";
import { Timeline } from "./Timeline";
import { renderAt, signIn, USERS } from "../test/utils";

const at = "2026-03-01T09:30:00Z";
const entries: HistoryEntry[] = [
  { at, actor: "alice", action: "updated", from_status: "draft", to_status: "draft", comment: null, details: { changed: ["amount", "title"] } },
  { at, actor: "system", action: "needs_attention", from_status: "in_progress", to_status: "needs_attention", comment: null, details: { error: "quota exceeded" } },
  { at, actor: "carol", action: "retried", from_status: "needs_attention", to_status: "in_progress", comment: "Quota raised.", details: {} },
  { at, actor: "system", action: "resumed", from_status: "needs_attention", to_status: "in_progress", comment: null, details: {} },
  // recorded before details were kept: the server's text stands as the comment
  { at, actor: "system", action: "completed", from_status: "approved", to_status: "completed", comment: "fulfilment reference PRV-0", details: {} },
];

const process: HistoryEntry[] = [
  {
    at, actor: "bob", action: "step_completed", from_status: "in_progress", to_status: "in_progress", comment: "Budget OK",
    details: { step: "ManagerApproval", step_name: "Manager Approval", task_id: "t1", values: { manager_decision: "approve" } },
  },
  {
    at, actor: "fiona", action: "step_completed", from_status: "in_progress", to_status: "in_progress", comment: null,
    details: { step: "FinanceApproval", step_name: "Finance Approval", task_id: "t2", values: { finance_decision: "approve", po_number: 4711 }, recorded_from: "engine" },
  },
  { at, actor: "alice", action: "withdrawn", from_status: "in_progress", to_status: "withdrawn", comment: "Not needed", details: {} },
  { at, actor: "alice", action: "resubmitted_as", from_status: "withdrawn", to_status: "withdrawn", comment: null, details: { ticket_id: "9a8b7c6d-1111" } },
  { at, actor: "system", action: "engine_step_refused", from_status: "in_progress", to_status: "in_progress", comment: null, details: { reason: "own_ticket", step_name: "Manager Approval", by: "alice" } },
];

describe("Timeline", () => {
  it("words the facts the system recorded in the reader's language, and keeps what people wrote", async () => {
    signIn(USERS.carol); // the error text is for admins
    renderAt(<Timeline entries={entries} />);
    const timeline = screen.getByTestId("timeline");
    expect(within(timeline).getByText("Changed Amount and Title")).toBeInTheDocument();
    expect(within(timeline).getByText("An automated step failed")).toBeInTheDocument();
    expect(within(timeline).getByText("Error: quota exceeded")).toBeInTheDocument();
    expect(within(timeline).getByText("carol retried the failed step")).toBeInTheDocument();
    expect(within(timeline).getByText("The process is running again")).toBeInTheDocument();
    expect(within(timeline).getByText("Quota raised.")).toBeInTheDocument();
    expect(within(timeline).getByText("fulfilment reference PRV-0")).toBeInTheDocument();

    // the timeline follows the language switch on its own
    await act(() => i18n.changeLanguage("zh-CN"));
    expect(within(timeline).getByText("修改了金额和标题")).toBeInTheDocument();
    expect(within(timeline).getByText("错误：quota exceeded")).toBeInTheDocument();
    expect(within(timeline).getByText("carol 重试了失败的步骤")).toBeInTheDocument();
    expect(within(timeline).getByText("Quota raised.")).toBeInTheDocument();
  });

  it("words a failed step for a requester from the key the server sends instead of the error", async () => {
    signIn(USERS.alice);
    const requesterView: HistoryEntry[] = [
      { at, actor: "system", action: "needs_attention", from_status: "in_progress", to_status: "needs_attention", comment: null, details: { error_key: "attention.step_failed" } },
    ];
    renderAt(<Timeline entries={requesterView} />);
    const timeline = screen.getByTestId("timeline");
    expect(within(timeline).getByText("An automated step failed. The admins have been told and can retry it.")).toBeInTheDocument();
    await act(() => i18n.changeLanguage("zh-CN"));
    expect(within(timeline).queryByText(/automated step failed/)).not.toBeInTheDocument();
    expect(timeline.textContent).toContain(i18n.t("serverError.attention.step_failed"));
  });

  it("shows completed steps with their name, values and comment; withdrawals, resubmission links and refusals worded", async () => {
    renderAt(<Timeline entries={process} />);
    const timeline = screen.getByTestId("timeline");
    expect(within(timeline).getByText("bob approved “Manager Approval”")).toBeInTheDocument();
    expect(within(timeline).getAllByText("Decision: approve")).toHaveLength(2);
    expect(within(timeline).getByText("Budget OK")).toBeInTheDocument();
    expect(within(timeline).getByText("fiona approved “Finance Approval”")).toBeInTheDocument();
    expect(within(timeline).getByText("po_number: 4711")).toBeInTheDocument();
    expect(within(timeline).getByText("Recorded from the workflow engine")).toBeInTheDocument();
    expect(within(timeline).getByText("alice withdrew the ticket")).toBeInTheDocument();
    expect(within(timeline).getByText("Not needed")).toBeInTheDocument();
    expect(within(timeline).getByRole("link", { name: "New draft #9a8b7c6d" })).toHaveAttribute("href", "/tickets/9a8b7c6d-1111");
    expect(
      within(timeline).getByText(
        "PFlow refused “Manager Approval”, completed by alice in the engine outside its checks (it is their own ticket); the step is open again",
      ),
    ).toBeInTheDocument();

    await act(() => i18n.changeLanguage("zh-CN"));
    expect(within(timeline).getByText("bob 批准了“经理审批”")).toBeInTheDocument();
    expect(within(timeline).getAllByText("决定：批准")).toHaveLength(2);
    expect(within(timeline).getByText("alice 撤回了工单")).toBeInTheDocument();
    expect(within(timeline).getByRole("link", { name: "新草稿 #9a8b7c6d" })).toBeInTheDocument();
  });

  it("words a fulfilment reference found in the engine, whose step is not known", async () => {
    const healed: HistoryEntry[] = [
      {
        at, actor: "system", action: "step_results", from_status: "in_progress", to_status: "in_progress", comment: null,
        details: { results: { fulfilment_reference: "PRV-77" }, reference: "PRV-77", recorded_from: "engine" },
      },
    ];
    renderAt(<Timeline entries={healed} />);
    const timeline = screen.getByTestId("timeline");
    expect(within(timeline).getByText("An automated step returned its results")).toBeInTheDocument();
    expect(within(timeline).getByText("Fulfilment reference PRV-77")).toBeInTheDocument();
    expect(within(timeline).getByText("Recorded from the workflow engine")).toBeInTheDocument();
    expect(within(timeline).getAllByText(/PRV-77/)).toHaveLength(1); // the reference once, not again as a result
    await act(() => i18n.changeLanguage("zh-CN"));
    expect(within(timeline).getByText("一个自动步骤返回了结果")).toBeInTheDocument();
    expect(within(timeline).getByText("交付编号 PRV-77")).toBeInTheDocument();
  });
});

describe("Timeline: who acts", () => {
  it("words a substitute's decision as on behalf of, and claims and reassignments", async () => {
    signIn(USERS.alice);
    const step = { step: "ManagerApproval", step_name: "Manager Approval", task_id: "t1" };
    renderAt(
      <Timeline
        entries={[
          { at, actor: "bob", action: "step_claimed", from_status: "in_progress", to_status: "in_progress", comment: null, details: { ...step, assignee: "bob" } },
          { at, actor: "bob", action: "step_unclaimed", from_status: "in_progress", to_status: "in_progress", comment: null, details: { ...step, previous: "bob" } },
          { at, actor: "carol", action: "step_reassigned", from_status: "in_progress", to_status: "in_progress", comment: null, details: { ...step, assignee: "dave", previous: "bob" } },
          { at, actor: "carol", action: "step_reassigned", from_status: "in_progress", to_status: "in_progress", comment: null, details: { ...step, previous: "dave" } },
          { at, actor: "erin", action: "step_completed", from_status: "in_progress", to_status: "in_progress", comment: null, details: { ...step, values: { manager_decision: "approve" }, on_behalf_of: "bob" } },
        ]}
      />,
    );
    const timeline = screen.getByTestId("timeline");
    expect(within(timeline).getByText("bob claimed “Manager Approval”")).toBeInTheDocument();
    expect(within(timeline).getByText("bob gave “Manager Approval” back to its candidates")).toBeInTheDocument();
    expect(within(timeline).getByText("carol gave “Manager Approval” to dave")).toBeInTheDocument();
    expect(within(timeline).getByText("carol gave “Manager Approval” back to its candidates")).toBeInTheDocument();
    expect(within(timeline).getByText("erin on behalf of bob approved “Manager Approval”")).toBeInTheDocument();
    await act(() => i18n.changeLanguage("zh-CN"));
    expect(timeline).toHaveTextContent("代 bob");
    await act(() => i18n.changeLanguage("en"));
  });
});

describe("Timeline: where a step was decided", () => {
  it("says when a decision came from the links of an e-mail", async () => {
    signIn(USERS.alice);
    const step = { step: "ManagerApproval", step_name: "Manager Approval", task_id: "t1" };
    renderAt(
      <Timeline
        entries={[
          { at, actor: "bob", action: "step_completed", from_status: "in_progress", to_status: "in_progress", comment: null, details: { ...step, values: { manager_decision: "approve" }, via: "email" } },
          { at, actor: "fiona", action: "step_completed", from_status: "in_progress", to_status: "in_progress", comment: null, details: { ...step, values: { manager_decision: "reject" } } },
        ]}
      />,
    );
    const timeline = screen.getByTestId("timeline");
    expect(within(timeline).getByText("bob approved “Manager Approval” (via e-mail)")).toBeInTheDocument();
    expect(within(timeline).getByText("fiona rejected “Manager Approval”")).toBeInTheDocument();
    await act(() => i18n.changeLanguage("zh-CN"));
    expect(timeline).toHaveTextContent("（通过邮件）");
    expect(timeline.querySelectorAll(".timeline-line")[1].textContent).not.toContain("邮件");
    await act(() => i18n.changeLanguage("en"));
  });
});
