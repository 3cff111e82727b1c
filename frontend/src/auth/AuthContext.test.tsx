import { screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { useAuth } from "./AuthContext";
import { apiError, fakeApi, renderAt, USERS } from "../test/utils";

function Who() {
  const { user, checking } = useAuth();
  if (checking) return <p>checking</p>;
  return <p data-testid="who">{user ? `${user.username}${user.sso ? " (sso)" : ""}` : "nobody"}</p>;
}

describe("AuthProvider", () => {
  it("back from single sign-on, asks the server whose the session cookie is", async () => {
    document.cookie = "pflow_csrf=csrf-bob; path=/";
    const fake = fakeApi({ "GET /api/me": { body: { ...USERS.bob, sso: true } } });
    renderAt(<Who />);
    expect(screen.getByText("checking")).toBeInTheDocument();
    expect(await screen.findByTestId("who")).toHaveTextContent("bob (sso)");
    expect(fake.callsTo("GET /api/me").length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(localStorage.getItem("pflow.user") ?? "{}").username).toBe("bob");
  });

  it("without a session cookie, nobody is signed in and the server is not asked", async () => {
    localStorage.setItem("pflow.user", JSON.stringify(USERS.bob)); // left over from a session that ended
    const fake = fakeApi({});
    renderAt(<Who />);
    expect(screen.getByTestId("who")).toHaveTextContent("nobody");
    expect(fake.callsTo("GET /api/me")).toHaveLength(0);
  });

  it("a session cookie the server no longer accepts ends in nobody signed in", async () => {
    document.cookie = "pflow_csrf=stale; path=/";
    fakeApi({ "GET /api/me": apiError(401, "This session was signed out; log in again.") });
    renderAt(<Who />);
    await waitFor(() => expect(screen.getByTestId("who")).toHaveTextContent("nobody"));
  });
});
