import { act, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Directory } from "../api/admin";
import i18n from "../i18n";
import { apiError, fakeApi, renderAt, signIn, USERS } from "../test/utils";
import { UsersPage } from "./UsersPage";

const DIRECTORY: Directory = {
  users: [
    { username: "alice", name: "Alice Adams", roles: ["requester"], groups: [] },
    { username: "bob", name: "Bob Brown", roles: ["manager"], groups: ["managers"] },
    { username: "carol", name: "Carol Chen", roles: ["admin"], groups: ["managers", "finance"] },
  ],
  groups: [
    { name: "managers", members: ["bob", "carol"] },
    { name: "finance", members: ["carol", "ghost"] },
    { name: "security", members: [] },
  ],
};

function rows(name: string) {
  return within(screen.getByRole("table", { name }))
    .getAllByRole("row")
    .slice(1)
    .map((r) => Array.from(r.querySelectorAll("th, td")).map((c) => c.textContent));
}

describe("UsersPage", () => {
  it("lists users with roles and groups, and groups with their members, worded", async () => {
    signIn(USERS.carol);
    fakeApi({ "GET /api/users": { body: DIRECTORY } });
    renderAt(<UsersPage />, { route: "/admin/users" });
    expect(await screen.findByRole("heading", { level: 2, name: "Users" })).toBeInTheDocument();
    expect(screen.getByRole("heading", { level: 1, name: "Users and groups" })).toBeInTheDocument();
    expect(rows("Users")).toEqual([
      ["Alice Adams", "alice", "Requester", "—"],
      ["Bob Brown", "bob", "Manager", "Managers"],
      ["Carol Chen", "carol", "Administrator", "Managers, Finance"],
    ]);
    expect(rows("Groups")).toEqual([
      ["Managers", "Bob Brown (bob), Carol Chen (carol)"],
      ["Finance", "Carol Chen (carol), ghost"],
      ["Security", "No members"],
    ]);
    // read-only: nothing to press or type into
    expect(screen.queryByRole("button")).not.toBeInTheDocument();
    expect(screen.queryByRole("textbox")).not.toBeInTheDocument();
  });

  it("speaks Chinese", async () => {
    await act(() => i18n.changeLanguage("zh-CN"));
    signIn(USERS.carol);
    fakeApi({ "GET /api/users": { body: DIRECTORY } });
    renderAt(<UsersPage />, { route: "/admin/users" });
    expect(screen.getByRole("heading", { level: 1, name: "用户和组" })).toBeInTheDocument();
    await screen.findByRole("table", { name: "组" });
    expect(rows("组")[0]).toEqual(["经理", "Bob Brown (bob)、Carol Chen (carol)"]);
    expect(rows("用户")[2]).toEqual(["Carol Chen", "carol", "管理员", "经理、财务"]);
  });

  it("is for admins only, on the screen and from the server", async () => {
    signIn(USERS.fiona);
    const fake = fakeApi({ "GET /api/users": { body: DIRECTORY } });
    const { unmount } = renderAt(<UsersPage />, { route: "/admin/users" });
    expect(screen.getByRole("heading", { name: "You may not open the users." })).toBeInTheDocument();
    expect(fake.callsTo("GET /api/users")).toHaveLength(0);
    unmount();

    signIn(USERS.carol);
    fakeApi({ "GET /api/users": apiError(403, "Administrators only.", {}, "forbidden") });
    renderAt(<UsersPage />, { route: "/admin/users" });
    expect(await screen.findByRole("heading", { name: "You may not open the users." })).toBeInTheDocument();
  });
});
