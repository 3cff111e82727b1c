import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { Layout } from "./Layout";
import { StatusBadge } from "./StatusBadge";
import { fakeApi, renderAt, signIn, USERS } from "../test/utils";

describe("Layout and the language switch", () => {
  it("switches every label to Simplified Chinese, sets <html lang> and remembers the choice", async () => {
    signIn(USERS.bob);
    fakeApi({ "GET /api/approvals": { body: { items: [], total: 0, page: 1, page_size: 1 } } });
    renderAt(
      <>
        <Layout />
        <StatusBadge status="pending_approval" />
      </>,
    );
    const nav = screen.getByRole("navigation", { name: "Main" });
    expect(within(nav).getByRole("link", { name: "Approvals" })).toBeInTheDocument();
    expect(screen.getByText("Pending approval")).toBeInTheDocument();

    await userEvent.selectOptions(screen.getByLabelText("Language"), "zh-CN");

    const zhNav = await screen.findByRole("navigation", { name: "主导航" });
    expect(within(zhNav).getByRole("link", { name: "待我审批" })).toBeInTheDocument();
    expect(within(zhNav).getByRole("link", { name: "工单" })).toBeInTheDocument();
    expect(screen.getByText("待审批")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "退出登录" })).toBeInTheDocument();
    expect(document.documentElement.lang).toBe("zh-CN");
    expect(localStorage.getItem("pflow.lang")).toBe("zh-CN");
  });

  it("shows the approvals link to managers only", () => {
    signIn(USERS.alice);
    fakeApi({});
    renderAt(<Layout />);
    expect(screen.queryByRole("link", { name: "Approvals" })).not.toBeInTheDocument();
    expect(screen.getByRole("link", { name: "New ticket" })).toBeInTheDocument();
  });

  it("signs out", async () => {
    signIn(USERS.alice);
    fakeApi({});
    renderAt(<Layout />);
    await userEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(localStorage.getItem("pflow.token")).toBeNull();
  });
});
