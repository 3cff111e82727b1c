import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeAll, describe, expect, it } from "vitest";
import i18n from ".";
import { ApiError, api } from "../api/client";
import { StepCard } from "../components/StepCard";
import { Timeline } from "../components/Timeline";
import { LoginPage } from "../pages/LoginPage";
import { TicketDetailPage } from "../pages/TicketDetailPage";
import { NewTicketPage } from "../pages/TicketFormPage";
import { fakeApi, renderAt, signIn, step, ticket, TYPES, USERS } from "../test/utils";
import { fieldErrorTexts, serverErrorText, stepFailureText } from "./serverError";

// Sample texts of this test's own: the real `serverError` section belongs to the locale files.
beforeAll(() => {
  i18n.addResourceBundle("en", "translation", {
    serverError: {
      auth: { bad_credentials: "That username and password do not match." },
      ticket: { not_editable: "This ticket is {{status}} now and can no longer be changed." },
      task: { already_completed: "{{by}} decided this step first." },
      field: { too_small: "Must be more than {{minimum}}.", required: "Please fill this in." },
      step: { provisioning_failed: "The provisioning service was not available." },
    },
  }, true, true);
  i18n.addResourceBundle("zh-CN", "translation", {
    serverError: {
      auth: { bad_credentials: "用户名和密码不匹配。" },
      ticket: { not_editable: "{{status}}的工单不能再修改。" },
      field: { too_small: "必须大于 {{minimum}}。" },
      step: { provisioning_failed: "开通服务不可用。" },
    },
  }, true, true);
});

const keyed = (status: number, message: string, extra: Record<string, unknown>, code = "error", details = {}) => ({
  status,
  body: { error: { code, message, details, ...extra } },
});

describe("server texts in the reader's language", () => {
  it("reads key, params and fields from the error body", async () => {
    fakeApi({
      "POST /api/tickets": keyed(422, "Invalid.", {
        key: "ticket.invalid",
        params: { count: 1 },
        fields: { "fields.amount": [{ key: "field.too_small", params: { minimum: 0 } }], title: [{ key: "field.required" }] },
      }, "validation_error", { fields: { amount: ["Must be greater than 0."] } }),
    });
    const error = (await api.createTicket({ title: "" }).catch((e) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.key).toBe("ticket.invalid");
    expect(error.params).toEqual({ count: 1 });
    expect(error.fields).toEqual({
      "fields.amount": [{ key: "field.too_small", params: { minimum: 0 } }],
      title: [{ key: "field.required", params: {} }],
    });
    // placed by form field name, worded by key; the English of `details` is the fallback
    expect(fieldErrorTexts(i18n.t, error)).toEqual({ amount: ["Must be more than 0."], title: ["Please fill this in."] });
  });

  it("words a key with its params, the status param with its label, and falls back to the English message", async () => {
    const conflict = new ApiError(409, "conflict", "Only drafts can be edited.", {}, { key: "ticket.not_editable", params: { status: "in_progress" } });
    expect(serverErrorText(i18n.t, conflict)).toBe("This ticket is In progress now and can no longer be changed.");
    await act(() => i18n.changeLanguage("zh-CN"));
    expect(serverErrorText(i18n.t, conflict)).toBe("处理中的工单不能再修改。");
    const unknown = new ApiError(409, "conflict", "Something new.", {}, { key: "ticket.some_new_reason" });
    expect(serverErrorText(i18n.t, unknown)).toBe("Something new.");
    expect(serverErrorText(i18n.t, new ApiError(400, "bad", "Plain English."))).toBe("Plain English.");
  });

  it("words a failed sign-in in Chinese", async () => {
    await i18n.changeLanguage("zh-CN");
    fakeApi({ "POST /api/auth/login": keyed(401, "Wrong username or password.", { key: "auth.bad_credentials" }, "unauthorized") });
    renderAt(<LoginPage />, { route: "/login", path: "/login" });
    await userEvent.type(screen.getByLabelText("用户名"), "alice");
    await userEvent.type(screen.getByLabelText("密码"), "wrong{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("用户名和密码不匹配。");
  });

  it("words the field errors of a generated form from error.fields, and keeps English for a field only details names", async () => {
    signIn(USERS.alice);
    fakeApi({
      "GET /api/ticket-types": { body: TYPES },
      "POST /api/tickets": keyed(422, "The ticket has invalid fields.", {
        fields: { "fields.amount": [{ key: "field.too_small", params: { minimum: 0 } }] },
      }, "validation_error", { fields: { amount: ["0 is less than or equal to the minimum of 0."], supplier: ["This field is required."] } }),
    });
    renderAt(<NewTicketPage />, { route: "/tickets/new?type=purchase_request", path: "/tickets/new" });
    await userEvent.type(await screen.findByLabelText(/^Title/), "Chairs");
    await userEvent.type(screen.getByLabelText(/^Amount/), "0");
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));
    expect(await screen.findByTestId("error-amount")).toHaveTextContent("Must be more than 0.");
    expect(screen.getByTestId("error-supplier")).toHaveTextContent("This field is required.");
  });

  it("words a step's conflict (someone decided first) from its key", async () => {
    signIn(USERS.bob);
    const tk = ticket({ status: "in_progress" });
    fakeApi({
      "POST /api/tasks/task-1/complete": keyed(409, "dave completed this step first.", { key: "task.already_completed", params: { by: "dave" } }, "conflict"),
      [`GET /api/tickets/${tk.id}`]: { body: tk },
    });
    renderAt(<ul><StepCard ticket={tk} step={step()} /></ul>);
    await userEvent.click(screen.getByRole("button", { name: "Approve" }));
    await userEvent.click(screen.getByRole("button", { name: "Confirm approval" }));
    expect(await screen.findByTestId("action-error")).toHaveTextContent("dave decided this step first.");
  });
});

describe("a failed automated step", () => {
  const failed = ticket({ status: "needs_attention", attention: "ConnectionError: HTTPSConnectionPool(host='prov.internal', port=443)", current_steps: ["Provision Service"] });
  const base = `/api/tickets/${failed.id}`;
  const routes = (tk: typeof failed) => ({
    "GET /api/ticket-types": { body: TYPES },
    [`GET ${base}`]: { body: tk },
    [`GET ${base}/history`]: { body: [] },
    [`GET ${base}/process`]: { status: 503, body: { error: { code: "unavailable", message: "Engine down.", details: {} } } },
  });

  it("is worded for the requester, never the exception's text", async () => {
    signIn(USERS.alice);
    fakeApi(routes(failed));
    renderAt(<TicketDetailPage />, { route: `/tickets/${failed.id}`, path: "/tickets/:id" });
    const box = await screen.findByTestId("attention");
    expect(box).toHaveTextContent("An automated step failed. An administrator has been told and can retry it.");
    expect(box).not.toHaveTextContent("ConnectionError");
  });

  it("shows the admin the error text", async () => {
    signIn(USERS.carol);
    fakeApi(routes(failed));
    renderAt(<TicketDetailPage />, { route: `/tickets/${failed.id}`, path: "/tickets/:id" });
    expect(await screen.findByTestId("attention")).toHaveTextContent("An automated step failed: ConnectionError");
  });

  it("shows the wording of the key the server sends", async () => {
    signIn(USERS.alice);
    fakeApi(routes({ ...failed, attention_key: "step.provisioning_failed" } as typeof failed));
    renderAt(<TicketDetailPage />, { route: `/tickets/${failed.id}`, path: "/tickets/:id" });
    expect(await screen.findByTestId("attention")).toHaveTextContent("The provisioning service was not available.");
    await act(() => i18n.changeLanguage("zh-CN"));
    await waitFor(() => expect(screen.getByTestId("attention")).toHaveTextContent("开通服务不可用。"));
  });

  it("keeps the error text out of the requester's timeline", () => {
    signIn(USERS.alice);
    renderAt(
      <Timeline
        entries={[{ at: "2026-03-01T09:30:00Z", actor: "system", action: "needs_attention", from_status: "in_progress", to_status: "needs_attention", comment: null, details: { error: "Traceback: boom" } }]}
      />,
    );
    const timeline = screen.getByTestId("timeline");
    expect(within(timeline).getByText("An automated step failed")).toBeInTheDocument();
    expect(timeline).not.toHaveTextContent("boom");
  });

  it("accepts an error that is itself a key", () => {
    expect(stepFailureText(i18n.t, { error: "step.provisioning_failed" }, false)).toBe("The provisioning service was not available.");
    expect(stepFailureText(i18n.t, { error: "step.unknown_thing" }, true)).toBe("An automated step failed. An administrator has been told and can retry it.");
    expect(stepFailureText(i18n.t, { error: "HTTP 503 from prov", key: "step.provisioning_failed" }, true)).toBe("The provisioning service was not available. — HTTP 503 from prov");
    expect(stepFailureText(i18n.t, { error: "HTTP 503 from prov", key: "step.provisioning_failed" }, false)).toBe("The provisioning service was not available.");
  });
});
