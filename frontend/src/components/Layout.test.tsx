import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { Layout } from "./Layout";
import { StatusBadge } from "./StatusBadge";
import { csrfCookie, fakeApi, renderAt, signIn, USERS } from "../test/utils";
import { navigation, SSO_LOGOUT_URL } from "../auth/AuthContext";

const noTasks = { "GET /api/tasks": { body: { items: [], total: 0, page: 1, page_size: 1 } } };

describe("Layout and the language switch", () => {
  it("switches every label to Simplified Chinese, sets <html lang> and remembers the choice", async () => {
    signIn(USERS.bob);
    fakeApi(noTasks);
    renderAt(
      <>
        <Layout />
        <StatusBadge status="in_progress" />
      </>,
    );
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("link", { name: "My tasks" })).toHaveAttribute("href", "/tasks");
    expect(screen.getByText("In progress")).toBeInTheDocument();

    await userEvent.selectOptions(screen.getByLabelText("Language"), "zh-CN");

    const zhNav = await screen.findByRole("navigation", { name: "主导航" });
    expect(within(zhNav).getByRole("link", { name: "我的待办" })).toBeInTheDocument();
    expect(within(zhNav).getByRole("link", { name: "工单" })).toBeInTheDocument();
    expect(screen.getByText("处理中")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "退出登录" })).toBeInTheDocument();
    expect(document.documentElement.lang).toBe("zh-CN");
    expect(localStorage.getItem("pflow.lang")).toBe("zh-CN");
  });

  it("gives every user a task inbox with the count of their tasks, asking for one item only", async () => {
    signIn(USERS.sam);
    const fake = fakeApi({ "GET /api/tasks": { body: { items: [], total: 3, page: 1, page_size: 1 } } });
    renderAt(<Layout />);
    const link = screen.getByRole("link", { name: /My tasks/ });
    expect(await within(link).findByTestId("tasks-count")).toHaveTextContent("3");
    expect(fake.callsTo("GET /api/tasks")[0].query.get("page_size")).toBe("1");
    expect(screen.getByText("Security")).toBeInTheDocument(); // sam's group, worded
  });

  it("shows no count when nothing waits", async () => {
    signIn(USERS.alice);
    const fake = fakeApi(noTasks);
    renderAt(<Layout />);
    expect(screen.getByRole("link", { name: "My tasks" })).toBeInTheDocument();
    await waitFor(() => expect(fake.callsTo("GET /api/tasks")).toHaveLength(1));
    expect(screen.queryByTestId("tasks-count")).not.toBeInTheDocument();
    expect(screen.getByRole("link", { name: "New ticket" })).toBeInTheDocument();
  });

  it("signs out, revoking the session on the server with its CSRF token, and forgets it here", async () => {
    signIn(USERS.alice);
    const fake = fakeApi({ ...noTasks, "POST /api/auth/logout": { status: 204 } });
    renderAt(<Layout />);
    await userEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(csrfCookie()).toBeNull();
    expect(localStorage.getItem("pflow.user")).toBeNull();
    await waitFor(() => expect(fake.callsTo("POST /api/auth/logout")).toHaveLength(1));
    const sent = fake.callsTo("POST /api/auth/logout")[0].headers;
    expect(sent["X-CSRF-Token"]).toBe("csrf-alice");
    expect(sent.Authorization).toBeUndefined();
  });

  it("signs someone who came through single sign-on out at the identity provider too", async () => {
    signIn({ ...USERS.alice, sso: true });
    const assign = vi.spyOn(navigation, "assign").mockImplementation(() => undefined);
    const fake = fakeApi({ ...noTasks, "POST /api/auth/logout": { status: 204 } });
    renderAt(<Layout />);
    await userEvent.click(screen.getByRole("button", { name: "Sign out" }));
    await waitFor(() => expect(assign).toHaveBeenCalledWith(SSO_LOGOUT_URL));
    expect(fake.callsTo("POST /api/auth/logout")).toHaveLength(1); // PFlow's own session is revoked first
  });

});
