import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, request, setUnauthorizedListener } from "./client";
import { apiError, fakeApi } from "../test/utils";

describe("request", () => {
  afterEach(() => setUnauthorizedListener(null));

  it("relies on the session cookie (no token in script reach), and drops empty query values", async () => {
    document.cookie = "pflow_csrf=abc; path=/";
    const fake = fakeApi({ "GET /api/tickets": { body: { items: [], total: 0, page: 1, page_size: 20 } } });
    await api.listTickets({ type: "", q: "laptop", page: 2 });
    const [call] = fake.calls;
    expect(call.headers.Authorization).toBeUndefined();
    expect(call.headers["X-CSRF-Token"]).toBeUndefined(); // a read needs no CSRF token
    expect(call.query.get("q")).toBe("laptop");
    expect(call.query.get("page")).toBe("2");
    expect(call.query.has("type")).toBe(false);
  });

  it("sends the CSRF token from its cookie with every change", async () => {
    document.cookie = "pflow_csrf=the%20token; path=/";
    const fake = fakeApi({ "POST /api/tickets/t1/submit": { body: {} }, "DELETE /api/tickets/t2": { status: 204 } });
    await api.submit("t1");
    await api.deleteTicket("t2");
    expect(fake.calls.map((c) => c.headers["X-CSRF-Token"])).toEqual(["the token", "the token"]);
  });

  it("turns PFlow's error body into an ApiError with the API's message and field errors", async () => {
    fakeApi({
      "POST /api/tickets": apiError(422, "The ticket has invalid fields.", { title: ["Must not be empty."], amount: "Too big." }),
    });
    const error = await api.createTicket({ title: "" }).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.message).toBe("The ticket has invalid fields.");
    expect(error.fieldErrors).toEqual({ title: ["Must not be empty."], amount: ["Too big."] });
  });

  it("reports a 401 on an authenticated call to the listener (the UI logs out)", async () => {
    document.cookie = "pflow_csrf=stale; path=/";
    const listener = vi.fn();
    setUnauthorizedListener(listener);
    fakeApi({ "GET /api/me": apiError(401, "Your session has expired; log in again.") });
    await expect(api.me()).rejects.toMatchObject({ status: 401 });
    expect(listener).toHaveBeenCalledOnce();
  });

  it("does not treat a failed login as an expired session", async () => {
    const listener = vi.fn();
    setUnauthorizedListener(listener);
    fakeApi({ "POST /api/auth/login": apiError(401, "Wrong username or password.") });
    await expect(api.login("alice", "nope")).rejects.toMatchObject({ message: "Wrong username or password." });
    expect(listener).not.toHaveBeenCalled();
  });

  it("reports an unreachable server as status 0", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))));
    await expect(request("/me")).rejects.toMatchObject({ status: 0, code: "network_error" });
  });
});
