import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { SubstitutePage } from "./SubstitutePage";
import { apiError, fakeApi, renderAt, signIn, USERS } from "../test/utils";

const none = { body: { substitute: null, standing_in_for: [] } };
const named = {
  body: {
    substitute: { user: "bob", substitute: "dave", starts: "2026-12-20T08:00:00Z", ends: "2027-01-04T08:00:00Z", created: "2026-12-02T10:00:00Z", active: false },
    standing_in_for: [],
  },
};

describe("SubstitutePage: a substitute while away", () => {
  it("names a substitute for a period, sending the times with their offset", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({ "GET /api/me/substitute": none, "PUT /api/me/substitute": named });
    renderAt(<SubstitutePage />);
    expect(await screen.findByText("You have no substitute.")).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText("Substitute (username)"), "dave");
    await userEvent.type(screen.getByLabelText("Until"), "2027-01-04T09:00");
    await userEvent.click(screen.getByRole("button", { name: "Save substitute" }));
    await waitFor(() => expect(fake.callsTo("PUT /api/me/substitute")).toHaveLength(1));
    const body = fake.callsTo("PUT /api/me/substitute")[0].body as { substitute: string; starts: null; ends: string };
    expect(body.substitute).toBe("dave");
    expect(body.starts).toBeNull();
    expect(body.ends).toBe(new Date("2027-01-04T09:00").toISOString());
    expect(await screen.findByText(/dave is your substitute/)).toBeInTheDocument();
  });

  it("places the server's refusal on the field it names", async () => {
    signIn(USERS.bob);
    fakeApi({
      "GET /api/me/substitute": none,
      "PUT /api/me/substitute": apiError(422, "The substitute cannot be named", { substitute: ["You cannot be your own substitute."], }),
    });
    renderAt(<SubstitutePage />);
    await userEvent.type(await screen.findByLabelText("Substitute (username)"), "bob");
    await userEvent.type(screen.getByLabelText("Until"), "2027-01-04T09:00");
    await userEvent.click(screen.getByRole("button", { name: "Save substitute" }));
    expect(await screen.findByTestId("error-substitute")).toHaveTextContent("You cannot be your own substitute.");
    expect(screen.getByLabelText("Substitute (username)")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("action-error")).not.toBeInTheDocument();
  });

  it("shows whom the caller stands in for, and ends their own substitution", async () => {
    signIn(USERS.bob);
    const fake = fakeApi({
      "GET /api/me/substitute": {
        body: { ...named.body, standing_in_for: [{ ...named.body.substitute!, user: "erin", substitute: "bob", active: true }] },
      },
      "DELETE /api/me/substitute": { status: 204, body: null },
    });
    renderAt(<SubstitutePage />);
    expect(await screen.findByTestId("standing-in-for")).toHaveTextContent("erin");
    await userEvent.click(screen.getByRole("button", { name: "End the substitution" }));
    await waitFor(() => expect(fake.callsTo("DELETE /api/me/substitute")).toHaveLength(1));
  });
});
