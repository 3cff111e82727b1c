import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { LoginPage } from "./LoginPage";
import { apiError, csrfCookie, fakeApi, renderAt, USERS } from "../test/utils";

const demoUsers = { body: Object.values(USERS) };

describe("LoginPage", () => {
  it("lists the demo users when the server has them, and signs in with one click", async () => {
    const fake = fakeApi({
      "GET /api/auth/demo-users": demoUsers,
      "POST /api/auth/login": { body: { token: "t-bob", expires_in: 3600, user: USERS.bob } },
    });
    renderAt(<LoginPage />, { route: "/login", path: "/login" });
    await userEvent.click(await screen.findByRole("button", { name: /bob/ }));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/tickets"));
    expect(fake.callsTo("POST /api/auth/login")[0].body).toEqual({ username: "bob", password: "bob" });
    // the session is the server's httpOnly cookie: the token in the answer is not kept where scripts can read it
    expect(JSON.stringify({ ...localStorage })).not.toContain("t-bob");
    expect(fake.calls.every((c) => !c.headers.Authorization)).toBe(true);
  });

  it("is the page's main landmark, holding the form and the language switch", async () => {
    fakeApi({ "GET /api/auth/demo-users": demoUsers });
    renderAt(<LoginPage />, { route: "/login", path: "/login" });
    const main = screen.getByRole("main");
    expect(main).toContainElement(screen.getByRole("form", { name: "Sign in" }));
    expect(main).toContainElement(screen.getByLabelText("Language"));
  });

  it("shows no demo users when the endpoint answers 404", async () => {
    const fake = fakeApi({ "GET /api/auth/demo-users": apiError(404, "Demo users are not enabled.") });
    renderAt(<LoginPage />, { route: "/login", path: "/login" });
    await waitFor(() => expect(fake.callsTo("GET /api/auth/demo-users")).toHaveLength(1));
    expect(screen.queryByText("Demo accounts")).not.toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("shows the API's message for wrong credentials and stays on the form", async () => {
    fakeApi({ "POST /api/auth/login": apiError(401, "Wrong username or password.") });
    renderAt(<LoginPage />, { route: "/login", path: "/login" });
    await userEvent.type(screen.getByLabelText("Username"), "alice");
    await userEvent.type(screen.getByLabelText("Password"), "wrong{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong username or password.");
    expect(screen.getByTestId("location")).toHaveTextContent("/login");
    expect(csrfCookie()).toBeNull();
  });

  it("asks for both fields before calling the API", async () => {
    const fake = fakeApi({});
    renderAt(<LoginPage />, { route: "/login", path: "/login" });
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Enter your username and password.");
    expect(fake.callsTo("POST /api/auth/login")).toHaveLength(0);
  });

  it("offers single sign-on when the server has it, coming back to the page the sign-in started from", async () => {
    fakeApi({
      "GET /api/auth/providers": { body: { password: true, sso: { name: "Keycloak", login_url: "/api/auth/oidc/login" } } },
    });
    renderAt(<LoginPage />, { route: "/login", path: "/login" });
    const link = await screen.findByRole("link", { name: "Sign in with Keycloak" });
    expect(link).toHaveAttribute("href", "/api/auth/oidc/login?next=%2Ftickets");
    expect(screen.getByRole("form", { name: "Sign in" })).toBeInTheDocument(); // local users stay
  });

  it("offers no single sign-on when the server has none", async () => {
    const fake = fakeApi({ "GET /api/auth/providers": { body: { password: true, sso: null } } });
    renderAt(<LoginPage />, { route: "/login", path: "/login" });
    await waitFor(() => expect(fake.callsTo("GET /api/auth/providers")).toHaveLength(1));
    expect(screen.queryByRole("link", { name: /Sign in with/ })).not.toBeInTheDocument();
  });

  it("says why a single sign-on came back without signing in, in the reader's words", async () => {
    fakeApi({});
    renderAt(<LoginPage />, { route: "/login?sso_error=sso.state_mismatch", path: "/login" });
    expect(await screen.findByRole("alert")).toHaveTextContent("That sign-in link has expired or was not started here.");
  });

  it("words an unknown single sign-on error generally", async () => {
    fakeApi({});
    renderAt(<LoginPage />, { route: "/login?sso_error=sso.<script>", path: "/login" });
    expect(await screen.findByRole("alert")).toHaveTextContent("Single sign-on did not work.");
  });
});
