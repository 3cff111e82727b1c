import { act, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { AppRoutes } from "../App";
import i18n from "../i18n";
import { fakeApi, renderAt, signIn, USERS } from "../test/utils";
import { Layout } from "./Layout";

const noTasks = { "GET /api/tasks": { body: { items: [], total: 0, page: 1, page_size: 1 } } };
const incident = (id: string) => ({
  ticket_id: id,
  title: `Ticket ${id}`,
  type: "it_request",
  requester: "alice",
  step: "Provision Service",
  step_id: "ProvisionService",
  error: "boom",
  retries_left: 0,
  failed_at: "2026-03-02T10:15:00Z",
});

function mainNav() {
  return screen.getByRole("navigation", { name: "Main" });
}

describe("Navigation to the operator pages", () => {
  it("gives admins Dashboard, Incidents with the count of open incidents, and Users", async () => {
    signIn(USERS.carol);
    const fake = fakeApi({
      ...noTasks,
      "GET /api/incidents": { body: { items: [incident("a"), incident("b")], total: 2 } },
    });
    renderAt(<Layout />);
    const nav = mainNav();
    expect(within(nav).getByRole("link", { name: "Dashboard" })).toHaveAttribute("href", "/dashboard");
    expect(within(nav).getByRole("link", { name: "Users" })).toHaveAttribute("href", "/admin/users");
    const incidents = within(nav).getByRole("link", { name: /^Incidents/ });
    expect(incidents).toHaveAttribute("href", "/admin/incidents");
    expect(await within(incidents).findByTestId("incidents-count")).toHaveTextContent("2");
    expect(within(incidents).getByLabelText("2 open incidents")).toBeInTheDocument();
    expect(fake.callsTo("GET /api/incidents")).toHaveLength(1);
  });

  it("shows no incident count when none is open", async () => {
    signIn(USERS.carol);
    const fake = fakeApi({ ...noTasks, "GET /api/incidents": { body: { items: [], total: 0 } } });
    renderAt(<Layout />);
    await waitFor(() => expect(fake.callsTo("GET /api/incidents")).toHaveLength(1));
    expect(within(mainNav()).getByRole("link", { name: "Incidents" })).toBeInTheDocument();
    expect(screen.queryByTestId("incidents-count")).not.toBeInTheDocument();
  });

  it("gives members of a group the dashboard only, and asks nothing about incidents", async () => {
    signIn(USERS.fiona);
    const fake = fakeApi(noTasks);
    renderAt(<Layout />);
    const nav = mainNav();
    expect(within(nav).getByRole("link", { name: "Dashboard" })).toHaveAttribute("href", "/dashboard");
    expect(within(nav).queryByRole("link", { name: /Incidents/ })).not.toBeInTheDocument();
    expect(within(nav).queryByRole("link", { name: "Users" })).not.toBeInTheDocument();
    await waitFor(() => expect(fake.callsTo("GET /api/tasks")).toHaveLength(1));
    expect(fake.callsTo("GET /api/incidents")).toHaveLength(0);
  });

  it("gives a requester in no group none of them", () => {
    signIn(USERS.alice);
    fakeApi(noTasks);
    renderAt(<Layout />);
    const nav = mainNav();
    expect(within(nav).getAllByRole("link").map((l) => l.textContent)).toEqual(["Tickets", "My tasks", "New ticket"]);
  });

  it("names the entries in Chinese", async () => {
    await act(() => i18n.changeLanguage("zh-CN"));
    signIn(USERS.carol);
    fakeApi({ ...noTasks, "GET /api/incidents": { body: { items: [incident("a")], total: 1 } } });
    renderAt(<Layout />);
    const nav = screen.getByRole("navigation", { name: "主导航" });
    expect(within(nav).getByRole("link", { name: "仪表盘" })).toBeInTheDocument();
    expect(within(nav).getByRole("link", { name: "用户" })).toBeInTheDocument();
    expect(await within(nav).findByLabelText("1 个未处理故障")).toBeInTheDocument();
  });
});

describe("Operator routes", () => {
  it.each([
    ["/admin/incidents", "You may not open the incidents."],
    ["/admin/users", "You may not open the users."],
    ["/dashboard", "You may not open the dashboard."],
  ])("%s tells a requester they may not open it, inside the app's frame", async (route, heading) => {
    signIn(USERS.alice);
    fakeApi(noTasks);
    renderAt(<AppRoutes />, { route });
    expect(await screen.findByRole("heading", { name: heading })).toBeInTheDocument();
    expect(screen.getByRole("navigation", { name: "Main" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Go to tickets" })).toHaveAttribute("href", "/tickets");
  });

  it("opens the incidents page for an admin", async () => {
    signIn(USERS.carol);
    fakeApi({ ...noTasks, "GET /api/incidents": { body: { items: [], total: 0 } } });
    renderAt(<AppRoutes />, { route: "/admin/incidents" });
    expect(await screen.findByRole("heading", { level: 1, name: "Incidents" })).toBeInTheDocument();
    expect(await screen.findByText("No failed steps")).toBeInTheDocument();
  });
});
