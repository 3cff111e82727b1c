import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Stats } from "../api/admin";
import i18n from "../i18n";
import { apiError, fakeApi, renderAt, signIn, TYPES, USERS } from "../test/utils";
import { DashboardPage } from "./DashboardPage";

const STATS: Stats = {
  generated_at: "2026-03-09T08:00:00Z",
  open_tasks: [
    {
      group: "managers",
      total: 7,
      by_age: [
        { bucket: "lt_1d", count: 3 },
        { bucket: "d1_3", count: 2 },
        { bucket: "d3_7", count: 1 },
        { bucket: "gt_7d", count: 1 },
      ],
    },
    // a bucket the server leaves out counts as none
    { group: "finance", total: 2, by_age: [{ bucket: "lt_1d", count: 2 }] },
  ],
  cycle_time: {
    by_type: [
      { type: "purchase_request", count: 5, median_s: 5400, p90_s: 3 * 86400 },
      { type: "it_request", count: 2, median_s: 30, p90_s: 600 },
    ],
    by_step: [
      { type: "purchase_request", step: "Finance Approval", step_id: "FinanceApproval", count: 4, median_s: 7200, p90_s: 36 * 3600 },
      { type: "it_request", step: "Custom Step", step_id: "CustomStep", count: 1, median_s: 90000, p90_s: 90000 },
    ],
  },
  throughput: [
    { week_start: "2026-02-23", created: 4, completed: 2, rejected: 1 },
    { week_start: "2026-03-02", created: 6, completed: 3, rejected: 0 },
  ],
  rejection_rate: {
    decided: 8,
    rejected: 2,
    rate: 0.25,
    by_type: [
      { type: "purchase_request", decided: 5, rejected: 2, rate: 0.4 },
      { type: "it_request", decided: 3, rejected: 0, rate: 0 },
      { type: "access_request", decided: 0, rejected: 0, rate: null },
    ],
  },
  sla: {
    with_due: 4,
    on_time: 3,
    share: 0.75,
    open_overdue: 2,
    by_type: [{ type: "purchase_request", with_due: 4, on_time: 3, share: 0.75, open_overdue: 2 }],
  },
};

const EMPTY: Stats = {
  generated_at: "2026-03-09T08:00:00Z",
  open_tasks: [{ group: "managers", total: 0, by_age: [] }],
  cycle_time: { by_type: [], by_step: [] },
  throughput: [{ week_start: "2026-03-02", created: 0, completed: 0, rejected: 0 }],
  rejection_rate: { decided: 0, rejected: 0, rate: null, by_type: [] },
  sla: { with_due: 0, on_time: 0, share: null, open_overdue: 0, by_type: [] },
};

/** The figures of a table, row by row (header row left out), as a reader hears them. */
function figures(name: string) {
  const table = screen.getByRole("table", { name });
  return within(table)
    .getAllByRole("row")
    .slice(1)
    .map((row) => Array.from(row.querySelectorAll("th, td")).map((c) => c.textContent));
}

function headings() {
  return screen.getAllByRole("heading").map((h) => h.textContent);
}

describe("DashboardPage", () => {
  it("shows every chart's figures, named in the reader's language, with durations in hours and days", async () => {
    signIn(USERS.fiona);
    const fake = fakeApi({ "GET /api/stats": { body: STATS }, "GET /api/ticket-types": { body: TYPES } });
    renderAt(<DashboardPage />, { route: "/dashboard" });

    expect(await screen.findByRole("heading", { level: 1, name: "Dashboard" })).toBeInTheDocument();
    await screen.findByRole("table", { name: "Open tasks by group" });
    expect(headings()).toEqual([
      "Dashboard",
      "Open tasks by group",
      "Cycle time per type",
      "Cycle time per step",
      "Throughput per week",
      "Rejection rate",
      "Steps done in time",
    ]);
    expect(fake.callsTo("GET /api/stats")[0].query.get("weeks")).toBe("12");

    expect(figures("Open tasks by group")).toEqual([
      ["Managers", "3", "2", "1", "1", "7"],
      ["Finance", "2", "0", "0", "0", "2"],
    ]);
    // the type names come from /api/ticket-types
    await waitFor(() =>
      expect(figures("Cycle time per type")).toEqual([
        ["Purchase request", "5", "1.5 hours", "3 days"],
        ["IT request", "2", "under a minute", "10 minutes"],
      ]),
    );
    expect(figures("Cycle time per step")).toEqual([
      ["Finance Approval", "Purchase request", "4", "2 hours", "36 hours"],
      ["Custom Step", "IT request", "1", "25 hours", "25 hours"],
    ]);
    expect(figures("Throughput per week")).toEqual([
      ["Feb 23, 2026", "4", "2", "1"],
      ["Mar 2, 2026", "6", "3", "0"],
    ]);
    expect(figures("Rejection rate")).toEqual([
      ["Purchase request", "5", "2", "40%"],
      ["IT request", "3", "0", "0%"],
      ["Access request", "0", "0", "—"],
      ["Overall", "8", "2", "25%"],
    ]);
    expect(screen.getByTestId("rejection-overall")).toHaveTextContent("25% rejected (2 of 8 decided)");
    expect(figures("Steps done in time")).toEqual([
      ["Purchase request", "4", "3", "75%", "2"],
      ["Overall", "4", "3", "75%", "2"],
    ]);
    expect(screen.getByTestId("sla-overall")).toHaveTextContent("75% in time (3 of 4); 2 open overdue");
    // every chart says what it is and where its figures are
    expect(screen.getAllByRole("img", { name: /^Chart: / })).toHaveLength(6);
    expect(screen.getByRole("img", { name: "Chart: Throughput per week. The same figures are in the table “Figures as a table”." })).toBeInTheDocument();
  });

  it("words headings, groups, types, steps and durations in Simplified Chinese", async () => {
    await act(() => i18n.changeLanguage("zh-CN"));
    signIn(USERS.fiona);
    fakeApi({ "GET /api/stats": { body: STATS }, "GET /api/ticket-types": { body: TYPES } });
    renderAt(<DashboardPage />, { route: "/dashboard" });

    await screen.findByRole("table", { name: "各组待办任务" });
    expect(headings()).toEqual(["仪表盘", "各组待办任务", "各类型处理时长", "各步骤处理时长", "每周吞吐量", "驳回率", "按时完成的步骤"]);
    expect(figures("各组待办任务").map((r) => r[0])).toEqual(["经理", "财务"]);
    await waitFor(() => expect(figures("各类型处理时长")[0]).toEqual(["采购申请", "5", "1.5小时", "3天"]));
    expect(figures("各类型处理时长")[1][2]).toBe("不到一分钟");
    // a step with a Chinese name under bpmn.* is translated; one without keeps the BPMN's name
    expect(figures("各步骤处理时长").map((r) => r[0])).toEqual(["财务审批", "Custom Step"]);
    expect(screen.getByTestId("rejection-overall")).toHaveTextContent("驳回 25%（已决定 8 件，驳回 2 件）");
    expect(screen.getByTestId("sla-overall")).toHaveTextContent("按时 75%（4 个中 3 个）；2 个未完成已逾期");
    expect(screen.getAllByText("以表格查看数据")).toHaveLength(6);
  });

  it("words an empty state per chart instead of drawing nothing", async () => {
    signIn(USERS.carol);
    fakeApi({ "GET /api/stats": { body: EMPTY }, "GET /api/ticket-types": { body: TYPES } });
    renderAt(<DashboardPage />, { route: "/dashboard" });
    await screen.findByText("No open tasks.");
    expect(screen.getAllByTestId("dash-empty").map((e) => e.textContent)).toEqual([
      "No open tasks.",
      "No ticket ended in this period.",
      "No step was completed in this period.",
      "No ticket was created or decided in this period.",
      "No ticket was decided in this period.",
      "No step with a due time was completed in this period, and none is overdue.",
    ]);
    expect(screen.queryByRole("table")).not.toBeInTheDocument();
    expect(screen.queryByRole("img")).not.toBeInTheDocument();
  });

  it("asks for another period and keeps it in the address", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "GET /api/stats": { body: STATS }, "GET /api/ticket-types": { body: TYPES } });
    renderAt(<DashboardPage />, { route: "/dashboard" });
    await screen.findByRole("table", { name: "Open tasks by group" });
    await userEvent.selectOptions(screen.getByLabelText("Period"), "Last 4 weeks");
    await waitFor(() => expect(fake.callsTo("GET /api/stats").at(-1)!.query.get("weeks")).toBe("4"));
    expect(screen.getByTestId("location")).toHaveTextContent("/dashboard?weeks=4");
  });

  it("tells a reader in no group that the dashboard is not for them, without asking the server", async () => {
    signIn(USERS.alice);
    const fake = fakeApi({ "GET /api/stats": { body: STATS } });
    renderAt(<DashboardPage />, { route: "/dashboard" });
    expect(screen.getByRole("heading", { name: "You may not open the dashboard." })).toBeInTheDocument();
    expect(screen.getByText("The dashboard is for administrators and members of a group.")).toBeInTheDocument();
    expect(fake.callsTo("GET /api/stats")).toHaveLength(0);
  });

  it("words the server's refusal (403) the same way, and other failures with their message", async () => {
    signIn(USERS.sam);
    fakeApi({ "GET /api/stats": apiError(403, "Forbidden", {}, "forbidden") });
    const { unmount } = renderAt(<DashboardPage />, { route: "/dashboard" });
    expect(await screen.findByRole("heading", { name: "You may not open the dashboard." })).toBeInTheDocument();
    unmount();

    fakeApi({ "GET /api/stats": apiError(503, "The database is unavailable.") });
    renderAt(<DashboardPage />, { route: "/dashboard" });
    expect(await screen.findByRole("alert")).toHaveTextContent("The database is unavailable.");
  });
});
