import { act, renderHook, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import i18n from "../i18n";
import { useFormat } from "../i18n/format";
import type { Notification } from "../api/types";
import { notificationMessage, notificationTitle, NotificationBell } from "./NotificationBell";
import { apiError, fakeApi, renderAt, signIn, USERS } from "../test/utils";

const page = {
  items: [
    { id: "n1", ticket_id: "t1", kind: "ticket.submitted", message: "alice submitted New laptop", created_at: new Date().toISOString(), read_at: null },
    { id: "n2", ticket_id: "t2", kind: "ticket.approved", message: "bob approved Monitor", created_at: new Date().toISOString(), read_at: "2026-01-01T00:00:00Z" },
  ],
  total: 2,
  unread: 1,
  page: 1,
  page_size: 8,
};

describe("NotificationBell", () => {
  it("is hidden when the server has no notifications endpoint (404)", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "GET /api/notifications": apiError(404, "Not Found") });
    const { container } = renderAt(<NotificationBell />);
    await waitFor(() => expect(fake.callsTo("GET /api/notifications").length).toBeGreaterThan(0));
    await waitFor(() => expect(container.querySelector(".bell")).toBeNull());
    expect(screen.queryByTestId("notification-bell")).not.toBeInTheDocument();
  });

  it("shows the unread count, lists notifications and opens the ticket, marking it read", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({
      "GET /api/notifications": { body: page },
      "POST /api/notifications/n1/read": { body: { ...page.items[0], read_at: "now" } },
    });
    renderAt(<NotificationBell />);
    expect(await screen.findByTestId("notification-count")).toHaveTextContent("1");
    const bell = screen.getByRole("button", { name: "Notifications, 1 unread" });
    expect(bell).toHaveAttribute("aria-expanded", "false");
    await userEvent.click(bell);
    expect(bell).toHaveAttribute("aria-expanded", "true");
    expect(screen.getByText("Ticket submitted")).toBeInTheDocument();
    await userEvent.click(screen.getByText("alice submitted New laptop"));
    await waitFor(() => expect(fake.callsTo("POST /api/notifications/n1/read")).toHaveLength(1));
    expect(screen.getByTestId("location")).toHaveTextContent("/tickets/t1");
  });

  it("marks all as read and closes with Escape", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({
      "GET /api/notifications": { body: page },
      "POST /api/notifications/read-all": { body: { unread: 0 } },
    });
    renderAt(<NotificationBell />);
    await userEvent.click(await screen.findByTestId("notification-bell"));
    await userEvent.click(screen.getByRole("button", { name: "Mark all as read" }));
    await waitFor(() => expect(fake.callsTo("POST /api/notifications/read-all")).toHaveLength(1));
    await userEvent.keyboard("{Escape}");
    expect(screen.queryByRole("region", { name: "Notifications" })).not.toBeInTheDocument();
  });

  it("words notifications in the reader's language from their params", async () => {
    signIn(USERS.alice);
    const rejected = {
      id: "n3", ticket_id: "t3", kind: "ticket.rejected", message: 'Your ticket "Monitor" was rejected by bob: too dear',
      params: { title: "Monitor", actor: "bob", comment: "too dear" }, created_at: new Date().toISOString(), read_at: null,
    };
    fakeApi({ "GET /api/notifications": { body: { ...page, items: [rejected], total: 1 } } });
    await act(() => i18n.changeLanguage("zh-CN"));
    renderAt(<NotificationBell />);
    await userEvent.click(await screen.findByTestId("notification-bell"));
    expect(screen.getByText("工单已驳回")).toBeInTheDocument();
    expect(screen.getByText("你的工单“Monitor”已被 bob 驳回。 备注：too dear")).toBeInTheDocument();
  });
});

describe("notificationMessage", () => {
  const note = (kind: string, params: Record<string, string> = {}): Notification => ({
    id: "n", ticket_id: "t", kind, message: "the server's English text", params, created_at: "2026-01-01T00:00:00Z", read_at: null,
  });

  it("picks the variant for the optional part and formats the amount", async () => {
    const { result, rerender } = renderHook(() => useFormat());
    const t = i18n.t.bind(i18n);
    expect(notificationMessage(t, result.current, note("ticket.submitted", { title: "Laptop", actor: "alice", amount: "1899.5" })))
      .toBe("Ticket “Laptop” for 1,899.50 from alice awaits your approval.");
    expect(notificationMessage(t, result.current, note("ticket.completed", { title: "Laptop", reference: "PRV-1" })))
      .toBe("Your ticket “Laptop” is done (fulfilment reference PRV-1).");
    await act(() => i18n.changeLanguage("zh-CN"));
    rerender();
    expect(notificationMessage(i18n.t.bind(i18n), result.current, note("ticket.submitted", { title: "笔记本", actor: "alice" })))
      .toBe("alice 提交的工单“笔记本”等待你审批。");
    expect(notificationMessage(i18n.t.bind(i18n), result.current, note("ticket.provisioning_failed", { title: "笔记本", error: "quota" }), { admin: true }))
      .toBe("你的工单“笔记本”开通失败：quota。管理员可以重试。");
  });

  it("words the process-driven kinds: a step for you, a step done, withdrawn, needs attention", async () => {
    const { result, rerender } = renderHook(() => useFormat());
    const en = i18n.t.bind(i18n);
    expect(notificationMessage(en, result.current, note("task.created", { title: "Laptops", step: "Finance Approval", requester: "alice" })))
      .toBe("“Finance Approval” of ticket “Laptops” from alice awaits you.");
    expect(notificationMessage(en, result.current, note("task.completed", { title: "Laptops", step: "Manager Approval", actor: "bob", comment: "OK" })))
      .toBe("bob completed “Manager Approval” of your ticket “Laptops”. Comment: OK");
    expect(notificationMessage(en, result.current, note("ticket.rejected", { title: "Laptops" }))).toBe("Your ticket “Laptops” was rejected.");
    expect(notificationMessage(en, result.current, note("ticket.withdrawn", { title: "Laptops", actor: "carol" })))
      .toBe("Ticket “Laptops” was withdrawn by carol.");
    expect(notificationMessage(en, result.current, note("ticket.needs_attention", { title: "Laptops", error: "quota" }), { admin: true }))
      .toBe("Ticket “Laptops” needs attention: quota. An admin can retry it.");
    expect(notificationMessage(en, result.current, note("ticket.decision_refused", { title: "Laptops", step: "Manager Approval", by: "dave", reason: "own_ticket" }), { admin: true }))
      .toBe("“Manager Approval” of ticket “Laptops” was completed in the engine by dave, outside PFlow’s checks (it is their own ticket): it was not applied and the step is open again.");
    // the error text is for admins: everyone else reads the failure without it
    expect(notificationMessage(en, result.current, note("ticket.needs_attention", { title: "Laptops", error: "Traceback: quota" })))
      .toBe("Ticket “Laptops” needs attention. An admin can retry it.");
    await act(() => i18n.changeLanguage("zh-CN"));
    rerender();
    expect(notificationMessage(i18n.t.bind(i18n), result.current, note("task.created", { title: "笔记本", step: "财务审批", requester: "alice" })))
      .toBe("alice 的工单“笔记本”的步骤“财务审批”等待你处理。");
  });

  it("words the reminders of a due step and of an overdue one, with the due time in the reader's format", async () => {
    const { result, rerender } = renderHook(() => useFormat());
    const en = i18n.t.bind(i18n);
    const params = { title: "Chairs", step: "Manager Approval", requester: "alice", due: "2026-03-03T09:31:00Z" };
    const due = result.current.dateTime(params.due);
    expect(notificationMessage(en, result.current, note("task.reminder", params)))
      .toBe(`Reminder: “Manager Approval” of ticket “Chairs” from alice is due ${due}.`);
    expect(notificationMessage(en, result.current, note("task.overdue", params)))
      .toBe(`“Manager Approval” of ticket “Chairs” from alice is overdue (it was due ${due}).`);
    await act(() => i18n.changeLanguage("zh-CN"));
    rerender();
    const zhDue = result.current.dateTime(params.due);
    expect(notificationMessage(i18n.t.bind(i18n), result.current, note("task.overdue", { ...params, step: "经理审批" })))
      .toBe(`alice 的工单“Chairs”的步骤“经理审批”已逾期（截止时间 ${zhDue}）。`);
    expect(notificationTitle(i18n.t.bind(i18n), note("task.reminder", params))).toBe("有步骤即将到期");
  });

  it("falls back to the server's text for older notifications and kinds it does not know", () => {
    const { result } = renderHook(() => useFormat());
    const t = i18n.t.bind(i18n);
    expect(notificationMessage(t, result.current, note("ticket.approved"))).toBe("the server's English text");
    expect(notificationMessage(t, result.current, note("ticket.archived", { title: "x" }))).toBe("the server's English text");
  });
});
