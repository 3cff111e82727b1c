import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { DefaultPreferences, MyPreferences } from "../api/notify";
import i18n from "../i18n";
import { apiError, fakeApi, renderAt, signIn, USERS } from "../test/utils";
import { PreferencesPage } from "./PreferencesPage";

const all = (on: boolean) => ({ new_task: on, decision: on, reminder: on, failure: on });

function mine(overrides: Partial<MyPreferences> = {}): MyPreferences {
  return {
    channels: { in_app: all(true), email: { ...all(true), reminder: false } },
    digest: false,
    own: { channels: { email: { reminder: false } }, digest: null },
    email: "bob@example.com",
    email_enabled: true,
    ...overrides,
  };
}

const DEFAULTS: DefaultPreferences = { channels: { in_app: all(true), email: all(true) }, digest: false };

describe("PreferencesPage: what reaches a user where", () => {
  it("shows the grid of kinds by channels as it applies, and the address e-mails go to", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "GET /api/me/preferences": { body: mine() } });
    renderAt(<PreferencesPage />, { route: "/preferences" });
    expect(screen.getByRole("heading", { level: 1, name: "Notification settings" })).toBeInTheDocument();
    expect(await screen.findByRole("switch", { name: "New task: By e-mail" })).toBeChecked();
    expect(screen.getByRole("switch", { name: "Reminders: By e-mail" })).not.toBeChecked();
    expect(screen.getByRole("switch", { name: "Failures: In the app" })).toBeChecked();
    expect(screen.getAllByRole("switch")).toHaveLength(8);
    expect(screen.getByRole("checkbox", { name: "A daily digest instead of single e-mails" })).not.toBeChecked();
    expect(screen.getByTestId("email-state")).toHaveTextContent("E-mails go to bob@example.com");
    // not an admin: no defaults, and they are not asked for
    expect(screen.queryByTestId("defaults")).not.toBeInTheDocument();
    expect(fake.callsTo("GET /api/admin/preferences")).toHaveLength(0);
  });

  it("says when no address is known, and when e-mail is off on the server", async () => {
    signIn(USERS.bob);
    fakeApi({ "GET /api/me/preferences": { body: mine({ email: null }) } });
    const { unmount } = renderAt(<PreferencesPage />);
    expect(await screen.findByTestId("email-state")).toHaveTextContent("No e-mail address is known for you");
    unmount();
    fakeApi({ "GET /api/me/preferences": { body: mine({ email_enabled: false }) } });
    renderAt(<PreferencesPage />);
    expect(await screen.findByTestId("email-state")).toHaveTextContent("E-mail is off on this server");
    expect(screen.getByTestId("email-state")).not.toHaveTextContent("bob@example.com");
  });

  it("saves what the user chose before and what they changed now, and shows what the server answered", async () => {
    signIn(USERS.bob);
    const saved = mine({
      channels: { in_app: { ...all(true), decision: false }, email: { ...all(true), reminder: false } },
      digest: true,
    });
    const fake = fakeApi({ "GET /api/me/preferences": { body: mine() }, "PUT /api/me/preferences": { body: saved } });
    renderAt(<PreferencesPage />);
    await userEvent.click(await screen.findByRole("switch", { name: "Decisions: In the app" }));
    await userEvent.click(screen.getByRole("checkbox", { name: "A daily digest instead of single e-mails" }));
    await userEvent.click(screen.getByRole("button", { name: "Save notifications" }));
    await waitFor(() => expect(fake.callsTo("PUT /api/me/preferences")).toHaveLength(1));
    expect(fake.callsTo("PUT /api/me/preferences")[0].body).toEqual({
      channels: { in_app: { decision: false }, email: { reminder: false } },
      digest: true,
    });
    expect(await screen.findByTestId("saved")).toHaveTextContent("Your notifications were saved.");
    expect(screen.getByRole("switch", { name: "Decisions: In the app" })).not.toBeChecked();
    expect(screen.getByRole("checkbox", { name: "A daily digest instead of single e-mails" })).toBeChecked();
  });

  it("leaves the digest to the default when the user never chose it", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "GET /api/me/preferences": { body: mine({ own: null }) }, "PUT /api/me/preferences": { body: mine() } });
    renderAt(<PreferencesPage />);
    await userEvent.click(await screen.findByRole("switch", { name: "New task: By e-mail" }));
    await userEvent.click(screen.getByRole("button", { name: "Save notifications" }));
    await waitFor(() => expect(fake.callsTo("PUT /api/me/preferences")).toHaveLength(1));
    expect(fake.callsTo("PUT /api/me/preferences")[0].body).toEqual({ channels: { email: { new_task: false } }, digest: null });
  });

  it("names the field the server refused", async () => {
    signIn(USERS.bob);
    fakeApi({
      "GET /api/me/preferences": { body: mine() },
      "PUT /api/me/preferences": apiError(422, "The preferences are not valid", { "channels.email.new_task": "must be true or false" }, "validation_error"),
    });
    renderAt(<PreferencesPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Save notifications" }));
    const error = await screen.findByTestId("save-error");
    expect(error).toHaveTextContent("The preferences are not valid");
    expect(within(error).getByText("By e-mail — New task: must be true or false")).toBeInTheDocument();
    expect(screen.getByRole("switch", { name: "New task: By e-mail" })).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("saved")).not.toBeInTheDocument();
  });

  it("lets an admin set everyone's defaults", async () => {
    signIn(USERS.carol);
    const fake = fakeApi({
      "GET /api/me/preferences": { body: mine({ email: "carol@example.com", own: null }) },
      "GET /api/admin/preferences": { body: DEFAULTS },
      "PUT /api/admin/preferences": ({ body }) => ({ body }),
    });
    renderAt(<PreferencesPage />);
    const defaults = await screen.findByTestId("defaults");
    expect(within(defaults).getByRole("heading", { name: "Defaults for everyone" })).toBeInTheDocument();
    await userEvent.click(await within(defaults).findByRole("switch", { name: "Reminders: By e-mail" }));
    await userEvent.click(within(defaults).getByRole("checkbox", { name: /by default/ }));
    await userEvent.click(within(defaults).getByRole("button", { name: "Save defaults" }));
    await waitFor(() => expect(fake.callsTo("PUT /api/admin/preferences")).toHaveLength(1));
    expect(fake.callsTo("PUT /api/admin/preferences")[0].body).toEqual({
      channels: { in_app: all(true), email: { ...all(true), reminder: false } },
      digest: true,
    });
    expect(await within(defaults).findByTestId("defaults-saved")).toHaveTextContent("The defaults were saved.");
    // the admin's own choices are untouched
    expect(fake.callsTo("PUT /api/me/preferences")).toHaveLength(0);
  });

  it("speaks Chinese", async () => {
    await act(() => i18n.changeLanguage("zh-CN"));
    signIn(USERS.bob);
    fakeApi({ "GET /api/me/preferences": { body: mine({ email_enabled: false }) } });
    renderAt(<PreferencesPage />);
    expect(screen.getByRole("heading", { level: 1, name: "通知设置" })).toBeInTheDocument();
    expect(await screen.findByRole("switch", { name: "新任务：邮件" })).toBeChecked();
    expect(screen.getByTestId("email-state")).toHaveTextContent("此服务器已关闭邮件");
    expect(screen.getByRole("button", { name: "保存通知设置" })).toBeInTheDocument();
  });
});
