import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { LoginPage } from "./LoginPage";
import { apiError, fakeApi, renderAt, USERS } from "../test/utils";

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
    expect(localStorage.getItem("pflow.token")).toBe("t-bob");
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
    expect(localStorage.getItem("pflow.token")).toBeNull();
  });

  it("asks for both fields before calling the API", async () => {
    const fake = fakeApi({});
    renderAt(<LoginPage />, { route: "/login", path: "/login" });
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Enter your username and password.");
    expect(fake.callsTo("POST /api/auth/login")).toHaveLength(0);
  });
});
