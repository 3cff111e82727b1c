import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, parsePath, Route, Routes, useLocation } from "react-router";
import { vi } from "vitest";
import { AuthProvider } from "../auth/AuthContext";
import type { Step, Task, Ticket, TicketType, User } from "../api/types";

export interface Call {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: Record<string, string>;
}

type Reply = { status?: number; body?: unknown } | ((call: Call) => { status?: number; body?: unknown });

/**
 * A fake PFlow API behind `fetch`: routes are "METHOD /api/path" (no query string).
 * Unrouted calls answer 404 with PFlow's error body, like the real server.
 */
export function fakeApi(routes: Record<string, Reply>) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(String(input), "http://pflow.test");
    const method = (init.method ?? "GET").toUpperCase();
    const call: Call = {
      method,
      path: url.pathname,
      query: url.searchParams,
      body: init.body ? JSON.parse(String(init.body)) : undefined,
      headers: (init.headers ?? {}) as Record<string, string>,
    };
    calls.push(call);
    const route = routes[`${method} ${url.pathname}`];
    const reply =
      typeof route === "function"
        ? route(call)
        : route ?? { status: 404, body: { error: { code: "not_found", message: "Not Found", details: {} } } };
    const status = reply.status ?? 200;
    // A 204 may not carry a body at all (the Response constructor refuses even an empty one).
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status,
      headers: { "Content-Type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  return { calls, fetchMock, callsTo: (key: string) => calls.filter((c) => `${c.method} ${c.path}` === key) };
}

export function apiError(status: number, message: string, details: Record<string, unknown> = {}, code = "error") {
  return { status, body: { error: { code, message, details } } };
}

export const USERS: Record<string, User> = {
  alice: { username: "alice", display_name: "Alice", roles: ["requester"], groups: [] },
  bob: { username: "bob", display_name: "Bob", roles: ["manager"], groups: ["managers"] },
  fiona: { username: "fiona", display_name: "Fiona", roles: [], groups: ["finance"] },
  sam: { username: "sam", display_name: "Sam", roles: [], groups: ["security"] },
  carol: { username: "carol", display_name: "Carol", roles: ["admin"], groups: [] },
};

/** A browser with a session: the readable CSRF cookie the server sets next to the httpOnly session cookie. */
export function signIn(user: User & { sso?: boolean }) {
  document.cookie = `pflow_csrf=csrf-${user.username}; path=/`;
  localStorage.setItem("pflow.user", JSON.stringify(user));
}

export function csrfCookie(): string | null {
  const found = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("pflow_csrf="));
  return found ? found.slice("pflow_csrf=".length) || null : null;
}

/** The three shipped ticket types, as GET /api/ticket-types answers (deploy/workflows/*.type.yaml). */
export const TYPES: TicketType[] = [
  {
    key: "it_request",
    name: "IT request",
    names: { en: "IT request", "zh-CN": "IT 申请" },
    description: "Hardware, software or access that IT provides once a manager approves.",
    descriptions: { en: "Hardware, software or access that IT provides once a manager approves.", "zh-CN": "经理批准后由 IT 提供的硬件、软件或权限。" },
    process_key: "ticket_approval",
    default: true,
    summary_fields: ["priority", "amount"],
    form: {
      type: "object",
      properties: {
        description: { type: "string", title: "Description", "x-title": { "zh-CN": "描述" }, "x-widget": "textarea", maxLength: 4000 },
        amount: { type: "number", title: "Amount", "x-title": { "zh-CN": "金额" }, minimum: 0, maximum: 999999999999.99 },
        priority: { type: "string", title: "Priority", "x-title": { "zh-CN": "优先级" }, enum: ["low", "normal", "high"], default: "normal" },
      },
      additionalProperties: false,
    },
  },
  {
    key: "purchase_request",
    name: "Purchase request",
    names: { en: "Purchase request", "zh-CN": "采购申请" },
    description: "Buy goods or services. A manager approves; purchases above 1 000 also need finance.",
    descriptions: { "zh-CN": "采购商品或服务。由经理审批；超过 1000 的采购还需财务审批。" },
    process_key: "purchase_request",
    default: false,
    summary_fields: ["amount", "supplier"],
    form: {
      type: "object",
      required: ["amount", "supplier"],
      properties: {
        amount: { type: "number", title: "Amount", "x-title": { "zh-CN": "金额" }, exclusiveMinimum: 0, maximum: 1000000 },
        supplier: { type: "string", title: "Supplier", "x-title": { "zh-CN": "供应商" }, minLength: 1, maxLength: 200 },
        cost_centre: { type: "string", title: "Cost centre", "x-title": { "zh-CN": "成本中心" }, maxLength: 40 },
        needed_by: { type: "string", format: "date", title: "Needed by", "x-title": { "zh-CN": "需要日期" } },
        justification: { type: "string", title: "Justification", "x-title": { "zh-CN": "理由" }, "x-widget": "textarea", maxLength: 4000 },
      },
      additionalProperties: false,
    },
  },
  {
    key: "access_request",
    name: "Access request",
    names: { en: "Access request", "zh-CN": "权限申请" },
    description: "Access to a system or data. Your manager and the security team both review it.",
    descriptions: { "zh-CN": "申请系统或数据的访问权限。由您的经理和安全团队共同审核。" },
    process_key: "access_request",
    default: false,
    summary_fields: ["system", "access_level"],
    form: {
      type: "object",
      required: ["system", "access_level"],
      properties: {
        system: { type: "string", title: "System", "x-title": { "zh-CN": "系统" }, minLength: 1, maxLength: 120 },
        access_level: { type: "string", title: "Access level", "x-title": { "zh-CN": "权限级别" }, enum: ["read", "write", "admin"] },
        temporary: { type: "boolean", title: "Temporary access", "x-title": { "zh-CN": "临时权限" }, default: false },
        until: { type: "string", format: "date", title: "Until", "x-title": { "zh-CN": "截止日期" } },
        reason: { type: "string", title: "Reason", "x-title": { "zh-CN": "原因" }, "x-widget": "textarea", maxLength: 2000 },
      },
      additionalProperties: false,
    },
  },
];

export function ticket(overrides: Partial<Ticket> = {}): Ticket {
  return {
    id: "0f1e2d3c-0000-4000-8000-000000000001",
    type: "it_request",
    attention_key: null,
    type_name: "IT request",
    title: "New laptop",
    fields: { description: "For the new designer.", amount: 1899, priority: "normal" },
    requester: "alice",
    status: "draft",
    results: {},
    current_steps: [],
    attention: null,
    created_at: "2026-03-01T09:30:00Z",
    updated_at: "2026-03-01T09:30:00Z",
    version: 1,
    steps: [],
    allowed_actions: [],
    ...overrides,
  };
}

/** An open step: a manager's approve/reject decision unless told otherwise. */
export function step(overrides: Partial<Step> = {}): Step {
  return {
    id: "task-1",
    step: "ManagerApproval",
    name: "Manager Approval",
    candidate_groups: ["managers"],
    candidate_users: [],
    assignee: null,
    due: null,
    overdue: false,
    created_at: "2026-03-01T09:31:00Z",
    form: [
      {
        id: "manager_decision",
        label: "Decision",
        type: "enum",
        required: true,
        default: null,
        values: [
          { id: "approve", name: "Approve" },
          { id: "reject", name: "Reject" },
        ],
        decision: true,
      },
    ],
    can_complete: true,
    refusal: null,
    on_behalf_of: null,
    can_claim: false,
    can_unclaim: false,
    ...overrides,
  };
}

export function task(overrides: Partial<Task> = {}, tk: Ticket = ticket({ status: "in_progress" })): Task {
  return {
    ...step(),
    ticket: {
      id: tk.id,
      type: tk.type,
      type_name: tk.type_name,
      title: tk.title,
      requester: tk.requester,
      status: tk.status,
      fields: tk.fields,
      created_at: tk.created_at,
    },
    ...overrides,
  };
}

function LocationProbe() {
  const location = useLocation();
  return <div data-testid="location">{location.pathname + location.search}</div>;
}

/** Render inside the app's providers at a route; `path` is the route pattern the element is mounted on, `state`
 * the history state the page is opened with (e.g. a flash). */
export function renderAt(
  element: ReactElement,
  { route = "/", path = "*", state }: { route?: string; path?: string; state?: unknown } = {},
) {
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false, refetchInterval: false, gcTime: 0 }, mutations: { retry: false } },
  });
  const result = render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter initialEntries={[state === undefined ? route : { ...parsePath(route), state }]}>
        <AuthProvider>
          <Routes>
            <Route path={path} element={element} />
            {path !== "*" && <Route path="*" element={<div data-testid="elsewhere" />} />}
          </Routes>
          <LocationProbe />
        </AuthProvider>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return { ...result, queryClient };
}
