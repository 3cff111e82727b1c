import { act, render, waitFor } from "@testing-library/react";
import { useEffect } from "react";
import { MemoryRouter, useNavigate } from "react-router";
import { describe, expect, it } from "vitest";
import i18n from "../i18n";
import { DocumentTitle, documentTitle } from "./DocumentTitle";

const ID = "0f1e2d3c-0000-4000-8000-000000000001";
const t = i18n.t.bind(i18n);

const EN: [string, string][] = [
  ["/login", "Sign in — PFlow"],
  ["/dashboard", "Dashboard — PFlow"],
  ["/admin/incidents", "Incidents — PFlow"],
  ["/admin/users", "Users and groups — PFlow"],
  ["/tickets", "Tickets — PFlow"],
  ["/tickets/new", "New ticket — PFlow"],
  [`/tickets/${ID}`, "Ticket #0f1e2d3c — PFlow"],
  [`/tickets/${ID}/edit`, "Edit ticket #0f1e2d3c — PFlow"],
  ["/tasks", "My tasks — PFlow"],
  ["/notifications", "Notifications — PFlow"],
  ["/preferences", "Notification settings — PFlow"],
  ["/admin/webhooks", "Webhooks — PFlow"],
  ["/tasks/task-1", "My tasks — PFlow"],
  ["/", "Tickets — PFlow"],
  ["/no/such/page", "Page not found — PFlow"],
];

describe("page titles", () => {
  it("names every route, the ticket page with the ticket's number", () => {
    for (const [path, title] of EN) expect(documentTitle(path, t), path).toBe(title);
    expect(documentTitle("/tickets/", t)).toBe("Tickets — PFlow"); // a trailing slash is the same page
  });

  it("words the titles in Chinese", async () => {
    await act(() => i18n.changeLanguage("zh-CN"));
    expect(documentTitle("/tickets", t)).toBe("工单 — PFlow");
    expect(documentTitle(`/tickets/${ID}`, t)).toBe("工单 #0f1e2d3c — PFlow");
    expect(documentTitle("/tasks", t)).toBe("我的待办 — PFlow");
    expect(documentTitle("/admin/users", t)).toBe("用户和组 — PFlow");
    expect(documentTitle("/elsewhere", t)).toBe("页面不存在 — PFlow");
    for (const [path] of EN) expect(documentTitle(path, t), path).not.toMatch(/[A-Za-z]{4,}.*— PFlow$/);
  });

  it("follows navigation and a change of language in document.title", async () => {
    let go: (path: string) => void = () => {};
    function Navigator() {
      const navigate = useNavigate();
      useEffect(() => {
        go = (path) => void navigate(path);
      }, [navigate]);
      return null;
    }
    render(
      <MemoryRouter initialEntries={["/tasks"]}>
        <DocumentTitle />
        <Navigator />
      </MemoryRouter>,
    );
    await waitFor(() => expect(document.title).toBe("My tasks — PFlow"));
    act(() => go(`/tickets/${ID}`));
    await waitFor(() => expect(document.title).toBe("Ticket #0f1e2d3c — PFlow"));
    await act(() => i18n.changeLanguage("zh-CN"));
    await waitFor(() => expect(document.title).toBe("工单 #0f1e2d3c — PFlow"));
    act(() => go("/admin/incidents"));
    await waitFor(() => expect(document.title).toBe("故障 — PFlow"));
  });
});
