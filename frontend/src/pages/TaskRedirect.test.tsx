import { screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { AppRoutes } from "../App";
import { apiError, fakeApi, renderAt, signIn, task, ticket, USERS } from "../test/utils";

const noTasks = { "GET /api/tasks": { body: { items: [], total: 0, page: 1, page_size: 1 } } };

describe("The addresses e-mails link to", () => {
  it("/tasks/<id> opens the ticket the step belongs to", async () => {
    signIn(USERS.bob);
    const tk = ticket({ status: "in_progress" });
    fakeApi({ ...noTasks, "GET /api/tasks/task-1": { body: task({}, tk) } });
    renderAt(<AppRoutes />, { route: "/tasks/task-1" });
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent(`/tickets/${tk.id}`));
  });

  it("/tasks/<id> of a step no longer open says so and leads to the inbox", async () => {
    signIn(USERS.bob);
    fakeApi({ ...noTasks, "GET /api/tasks/gone": apiError(404, "No such task", {}, "not_found") });
    renderAt(<AppRoutes />, { route: "/tasks/gone" });
    expect(await screen.findByRole("heading", { name: "This step is no longer open." })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Go to my tasks" })).toHaveAttribute("href", "/tasks");
  });

  it("/preferences opens the notification settings, linked from every page's header", async () => {
    signIn(USERS.alice);
    fakeApi({
      ...noTasks,
      "GET /api/me/preferences": {
        body: {
          channels: { in_app: { new_task: true, decision: true, reminder: true, failure: true }, email: { new_task: true, decision: true, reminder: true, failure: true } },
          digest: false, own: null, email: "alice@example.com", email_enabled: true,
        },
      },
    });
    renderAt(<AppRoutes />, { route: "/preferences" });
    expect(await screen.findByRole("heading", { level: 1, name: "Notification settings" })).toBeInTheDocument();
    expect(screen.getByTestId("preferences-link")).toHaveAttribute("href", "/preferences");
    expect(await screen.findByText("alice@example.com")).toBeInTheDocument();
  });

  it("/admin/webhooks is in the admins' navigation", async () => {
    signIn(USERS.carol);
    fakeApi({ ...noTasks, "GET /api/incidents": { body: { items: [], total: 0 } }, "GET /api/webhooks": { body: { items: [] } } });
    renderAt(<AppRoutes />, { route: "/admin/webhooks" });
    expect(await screen.findByRole("heading", { level: 1, name: "Webhooks" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Webhooks" })).toHaveAttribute("href", "/admin/webhooks");
  });
});
