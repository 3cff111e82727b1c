import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { vi } from "vitest";
import { AuthProvider } from "../auth/AuthContext";
import type { Ticket, User } from "../api/types";

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
    return new Response(reply.body === undefined ? "" : JSON.stringify(reply.body), {
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
  alice: { username: "alice", display_name: "Alice", roles: ["requester"] },
  bob: { username: "bob", display_name: "Bob", roles: ["manager"] },
  carol: { username: "carol", display_name: "Carol", roles: ["admin"] },
};

export function signIn(user: User) {
  localStorage.setItem("pflow.token", `token-${user.username}`);
  localStorage.setItem("pflow.user", JSON.stringify(user));
}

export function ticket(overrides: Partial<Ticket> = {}): Ticket {
  return {
    id: "0f1e2d3c-0000-4000-8000-000000000001",
    title: "New laptop",
    description: "For the new designer.",
    amount: "1899.00",
    priority: "normal",
    status: "draft",
    requester: "alice",
    approver: null,
    fulfilment_reference: null,
    created_at: "2026-03-01T09:30:00Z",
    updated_at: "2026-03-01T09:30:00Z",
    version: 1,
    allowed_actions: [],
    ...overrides,
  };
}

function LocationProbe() {
  const location = useLocation();
  return <div data-testid="location">{location.pathname + location.search}</div>;
}

/** Render inside the app's providers at a route; `path` is the route pattern the element is mounted on. */
export function renderAt(element: ReactElement, { route = "/", path = "*" }: { route?: string; path?: string } = {}) {
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false, refetchInterval: false, gcTime: 0 }, mutations: { retry: false } },
  });
  const result = render(
    <QueryClientProvider client={queryClient}>
      <MemoryRouter initialEntries={[route]}>
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
