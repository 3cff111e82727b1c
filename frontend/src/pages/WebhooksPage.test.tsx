import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { WebhookDelivery, WebhookEndpoint } from "../api/notify";
import i18n from "../i18n";
import { apiError, fakeApi, renderAt, signIn, USERS } from "../test/utils";
import { parseEventTypes, WebhooksPage } from "./WebhooksPage";

function endpoint(overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    id: "wh-1",
    url: "https://hooks.example.com/pflow",
    event_types: ["ticket.*"],
    format: "json",
    description: "Audit bridge",
    active: true,
    consecutive_failures: 0,
    disabled_reason: null,
    created_at: "2026-12-01T08:00:00Z",
    created_by: "carol",
    ...overrides,
  };
}

const SLACK = endpoint({
  id: "wh-2",
  url: "https://hooks.slack.com/services/T/B/X",
  event_types: ["task.*", "ticket.completed"],
  format: "slack",
  description: null,
  active: false,
  consecutive_failures: 12,
  disabled_reason: "12 failures in a row (HTTP 410)",
});

const DELIVERY: WebhookDelivery = {
  id: "d-1",
  event_id: "e-1",
  event_type: "ticket.submitted",
  status: "failed",
  attempts: 3,
  response_code: 500,
  latency_ms: 812,
  last_error: "HTTP 500: upstream down",
  created_at: "2026-12-02T09:00:00Z",
  sent_at: null,
  next_attempt_at: null,
};

const listed = (items: WebhookEndpoint[]) => ({ body: { items } });

describe("WebhooksPage", () => {
  it("lists endpoints with their events, format, state, reason and failures", async () => {
    signIn(USERS.carol);
    fakeApi({ "GET /api/webhooks": listed([endpoint(), SLACK]) });
    renderAt(<WebhooksPage />, { route: "/admin/webhooks" });
    expect(screen.getByRole("heading", { level: 1, name: "Webhooks" })).toBeInTheDocument();
    const [first, second] = await screen.findAllByTestId("webhook");
    expect(within(first).getByRole("heading", { name: "https://hooks.example.com/pflow" })).toBeInTheDocument();
    expect(first).toHaveTextContent("ticket.*");
    expect(first).toHaveTextContent("JSON");
    expect(first).toHaveTextContent("Audit bridge");
    expect(within(first).getByTestId("webhook-state")).toHaveTextContent("Active");
    expect(within(second).getByTestId("webhook-state")).toHaveTextContent("Disabled");
    expect(within(second).getByTestId("disabled-reason")).toHaveTextContent("Disabled: 12 failures in a row (HTTP 410)");
    expect(within(second).getByTestId("webhook-failures")).toHaveTextContent("12");
    expect(second).toHaveTextContent("task.*, ticket.completed");
    expect(second).toHaveTextContent("Slack");
    expect(within(second).getByRole("button", { name: "Enable" })).toBeInTheDocument();
    expect(within(first).getByRole("button", { name: "Disable" })).toBeInTheDocument();
  });

  it("adds an endpoint and shows its secret once, with a hint to copy it", async () => {
    signIn(USERS.carol);
    let items: WebhookEndpoint[] = [];
    const created = endpoint({ id: "wh-9", url: "https://example.org/in", event_types: ["ticket.*", "*"], format: "teams", description: "Ops" });
    const fake = fakeApi({
      "GET /api/webhooks": () => listed(items),
      "POST /api/webhooks": () => {
        items = [created];
        return { status: 201, body: { ...created, secret: "s3cr3t-only-once" } };
      },
    });
    renderAt(<WebhooksPage />);
    expect(await screen.findByText("No endpoints yet.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Add endpoint" }));
    const form = screen.getByRole("form", { name: "New endpoint" });
    await userEvent.type(within(form).getByLabelText("URL (http or https)"), "https://example.org/in");
    await userEvent.click(within(form).getByRole("button", { name: "Add ticket.*" }));
    await userEvent.click(within(form).getByRole("button", { name: "Add *" }));
    expect(within(form).getByLabelText("Event types")).toHaveValue("ticket.*, *");
    await userEvent.selectOptions(within(form).getByLabelText("Format"), "teams");
    await userEvent.type(within(form).getByLabelText("Description (optional)"), "Ops");
    await userEvent.click(within(form).getByRole("button", { name: "Add endpoint" }));

    await waitFor(() => expect(fake.callsTo("POST /api/webhooks")).toHaveLength(1));
    expect(fake.callsTo("POST /api/webhooks")[0].body).toEqual({
      url: "https://example.org/in",
      event_types: ["ticket.*", "*"],
      format: "teams",
      description: "Ops",
    });
    const secret = await screen.findByTestId("secret-once");
    expect(within(secret).getByLabelText("Signing secret")).toHaveValue("s3cr3t-only-once");
    expect(secret).toHaveTextContent("it is shown only this once");
    expect(within(secret).getByRole("button", { name: "Copy" })).toBeInTheDocument();
    expect(await screen.findByTestId("webhook")).toHaveTextContent("https://example.org/in");
    // the list never carries the secret, and once dismissed it is gone
    expect(screen.getByTestId("webhook")).not.toHaveTextContent("s3cr3t");
    await userEvent.click(within(secret).getByRole("button", { name: "I have copied it" }));
    expect(screen.queryByTestId("secret-once")).not.toBeInTheDocument();
    expect(screen.queryByDisplayValue("s3cr3t-only-once")).not.toBeInTheDocument();
  });

  it("places the server's refusal on the field it names", async () => {
    signIn(USERS.carol);
    fakeApi({
      "GET /api/webhooks": listed([]),
      "POST /api/webhooks": apiError(422, "The endpoint is not valid", { url: ["must be an http(s) URL"] }, "validation_error"),
    });
    renderAt(<WebhooksPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Add endpoint" }));
    const form = screen.getByRole("form", { name: "New endpoint" });
    await userEvent.type(within(form).getByLabelText("URL (http or https)"), "ftp://x");
    await userEvent.type(within(form).getByLabelText("Event types"), "ticket.*");
    await userEvent.click(within(form).getByRole("button", { name: "Add endpoint" }));
    expect(await screen.findByTestId("error-url")).toHaveTextContent("must be an http(s) URL");
    expect(within(form).getByLabelText("URL (http or https)")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("secret-once")).not.toBeInTheDocument();
  });

  it("sends a test event and shows the outcome, delivered or failed", async () => {
    signIn(USERS.carol);
    let answer = { status: "sent", response_code: 200, latency_ms: 42, error: null } as Record<string, unknown>;
    const fake = fakeApi({ "GET /api/webhooks": listed([endpoint()]), "POST /api/webhooks/wh-1/test": () => ({ body: answer }) });
    renderAt(<WebhooksPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Send test event" }));
    expect(await screen.findByTestId("test-outcome")).toHaveTextContent("Test event delivered: HTTP 200 in 42 ms.");
    answer = { status: "failed", response_code: 503, latency_ms: 120, error: "HTTP 503: unavailable" };
    await userEvent.click(screen.getByRole("button", { name: "Send test event" }));
    await waitFor(() =>
      expect(screen.getByTestId("test-outcome")).toHaveTextContent("Test event failed: HTTP 503: unavailable (HTTP 503, 120 ms)."),
    );
    expect(screen.getByTestId("test-outcome")).toHaveAttribute("role", "alert");
    expect(fake.callsTo("POST /api/webhooks/wh-1/test")).toHaveLength(2);
  });

  it("shows an endpoint's delivery log", async () => {
    signIn(USERS.carol);
    const fake = fakeApi({
      "GET /api/webhooks": listed([endpoint()]),
      "GET /api/webhooks/wh-1/deliveries": { body: { items: [DELIVERY, { ...DELIVERY, id: "d-2", status: "sent", attempts: 1, response_code: 204, latency_ms: 35, last_error: null, sent_at: "2026-12-02T09:00:01Z" }] } },
    });
    renderAt(<WebhooksPage />);
    await userEvent.click(await screen.findByRole("button", { name: "Delivery log" }));
    const rows = await screen.findAllByTestId("delivery-row");
    expect(rows).toHaveLength(2);
    const cells = (r: HTMLElement) => Array.from(r.querySelectorAll("td")).map((c) => c.textContent);
    expect(cells(rows[0]).slice(0, 6)).toEqual(["ticket.submitted", "Failed", "3", "500", "812 ms", "HTTP 500: upstream down"]);
    expect(cells(rows[1]).slice(0, 6)).toEqual(["ticket.submitted", "Sent", "1", "204", "35 ms", "—"]);
    expect(fake.callsTo("GET /api/webhooks/wh-1/deliveries")[0].query.get("limit")).toBe("50");
  });

  it("edits, disables, re-enables and deletes after a confirmation", async () => {
    signIn(USERS.carol);
    const fake = fakeApi({
      "GET /api/webhooks": listed([endpoint(), SLACK]),
      "PATCH /api/webhooks/wh-1": ({ body }) => ({ body: { ...endpoint(), ...(body as object) } }),
      "PATCH /api/webhooks/wh-2": ({ body }) => ({ body: { ...SLACK, ...(body as object) } }),
      "DELETE /api/webhooks/wh-1": { status: 204 },
    });
    renderAt(<WebhooksPage />);
    const [first, second] = await screen.findAllByTestId("webhook");

    await userEvent.click(within(first).getByRole("button", { name: "Edit" }));
    const form = within(first).getByRole("form", { name: "Change https://hooks.example.com/pflow" });
    const types = within(form).getByLabelText("Event types");
    await userEvent.clear(types);
    await userEvent.type(types, "ticket.*, task.*");
    await userEvent.click(within(form).getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(fake.callsTo("PATCH /api/webhooks/wh-1")).toHaveLength(1));
    expect(fake.callsTo("PATCH /api/webhooks/wh-1")[0].body).toEqual({
      url: "https://hooks.example.com/pflow",
      event_types: ["ticket.*", "task.*"],
      format: "json",
      description: "Audit bridge",
    });
    await waitFor(() => expect(within(first).queryByRole("form")).not.toBeInTheDocument());

    await userEvent.click(within(first).getByRole("button", { name: "Disable" }));
    await userEvent.click(within(second).getByRole("button", { name: "Enable" }));
    await waitFor(() => expect(fake.callsTo("PATCH /api/webhooks/wh-2")).toHaveLength(1));
    expect(fake.callsTo("PATCH /api/webhooks/wh-1")[1].body).toEqual({ active: false });
    expect(fake.callsTo("PATCH /api/webhooks/wh-2")[0].body).toEqual({ active: true });

    await userEvent.click(within(first).getByRole("button", { name: "Delete" }));
    expect(within(first).getByText(/Delete https:\/\/hooks.example.com\/pflow\?/)).toBeInTheDocument();
    expect(fake.callsTo("DELETE /api/webhooks/wh-1")).toHaveLength(0);
    await userEvent.click(within(first).getByRole("button", { name: "Cancel" }));
    expect(fake.callsTo("DELETE /api/webhooks/wh-1")).toHaveLength(0);
    await userEvent.click(within(first).getByRole("button", { name: "Delete" }));
    await userEvent.click(within(first).getByRole("button", { name: "Delete for good" }));
    await waitFor(() => expect(fake.callsTo("DELETE /api/webhooks/wh-1")).toHaveLength(1));
  });

  it("is for admins only, on the screen and from the server", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "GET /api/webhooks": listed([]) });
    const { unmount } = renderAt(<WebhooksPage />);
    expect(screen.getByRole("heading", { name: "You may not open the webhooks." })).toBeInTheDocument();
    expect(fake.callsTo("GET /api/webhooks")).toHaveLength(0);
    unmount();
    signIn(USERS.carol);
    fakeApi({ "GET /api/webhooks": apiError(403, "Administrators only.", {}, "forbidden") });
    renderAt(<WebhooksPage />);
    expect(await screen.findByRole("heading", { name: "You may not open the webhooks." })).toBeInTheDocument();
  });

  it("speaks Chinese", async () => {
    await act(() => i18n.changeLanguage("zh-CN"));
    signIn(USERS.carol);
    fakeApi({ "GET /api/webhooks": listed([SLACK]) });
    renderAt(<WebhooksPage />);
    const card = await screen.findByTestId("webhook");
    expect(within(card).getByTestId("webhook-state")).toHaveTextContent("已停用");
    expect(within(card).getByRole("button", { name: "发送测试事件" })).toBeInTheDocument();
    expect(within(card).getByTestId("disabled-reason")).toHaveTextContent("已停用：12 failures in a row (HTTP 410)");
  });
});

describe("parseEventTypes", () => {
  it("splits on commas and spaces and drops repeats", () => {
    expect(parseEventTypes(" ticket.*, task.*  ticket.*,,*")).toEqual(["ticket.*", "task.*", "*"]);
  });
});
