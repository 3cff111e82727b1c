import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import i18n from "../i18n";
import { EditTicketPage, NewTicketPage } from "./TicketFormPage";
import { apiError, fakeApi, renderAt, signIn, ticket, TYPES, USERS } from "../test/utils";
import spec from "../../openapi.json";

const types = { "GET /api/ticket-types": { body: TYPES } };
const renderNew = (route = "/tickets/new") => renderAt(<NewTicketPage />, { route, path: "/tickets/new" });

describe("new ticket form, generated from the type's form", () => {
  it("offers every type in the reader's language and starts on the default type", async () => {
    signIn(USERS.alice);
    fakeApi(types);
    renderNew();
    const picker = await screen.findByRole("group", { name: "What do you need?" });
    expect(within(picker).getAllByRole("radio")).toHaveLength(3);
    expect(within(picker).getByRole("radio", { name: "IT request" })).toBeChecked();
    expect(within(picker).getByRole("radio", { name: "Purchase request" })).toHaveAccessibleDescription(
      "Buy goods or services. A manager approves; purchases above 1 000 also need finance.",
    );
    // The default type keeps today's fields.
    expect(screen.getByLabelText("Description").tagName).toBe("TEXTAREA");
    expect(screen.getByLabelText("Amount")).toBeInTheDocument();
    expect(screen.getByLabelText("Priority")).toHaveValue("normal");

    await userEvent.type(screen.getByLabelText(/^Title/), "Payroll access");
    const access = within(picker).getByRole("radio", { name: "Access request" });
    await userEvent.click(access);
    expect(await screen.findByLabelText(/^System/)).toBeInTheDocument();
    // the same radio, now checked and focused (the picker is not rebuilt); the title is kept
    expect(access).toBeChecked();
    expect(access).toHaveFocus();
    expect(screen.getByLabelText(/^Title/)).toHaveValue("Payroll access");
    expect(screen.getByTestId("location")).toHaveTextContent("/tickets/new?type=access_request");
    expect(screen.queryByLabelText("Priority")).not.toBeInTheDocument();
  });

  it("limits the title to what the server's document accepts, and says so in both languages", async () => {
    const limit = spec.components.schemas.TicketInput.properties.title.maxLength;
    expect(spec.components.schemas.TicketUpdate.properties.title.maxLength).toBe(limit);
    signIn(USERS.alice);
    fakeApi(types);
    renderNew();
    const title = await screen.findByLabelText(/^Title/);
    expect(title).toHaveAttribute("maxLength", String(limit));
    expect(title).toHaveAccessibleDescription(`A short summary, up to ${limit} characters.`);
    await act(() => i18n.changeLanguage("zh-CN"));
    expect(screen.getByLabelText(/^标题/)).toHaveAccessibleDescription(`简短概要，最多 ${limit} 个字符。`);
    await act(() => i18n.changeLanguage("en"));
  });

  it("renders each field kind of the subset: text, textarea, number with bounds, enum, boolean, date, required, maxLength", async () => {
    signIn(USERS.alice);
    fakeApi(types);
    renderNew("/tickets/new?type=purchase_request");
    const amount = await screen.findByLabelText(/^Amount/);
    expect(amount).toHaveAttribute("inputmode", "decimal");
    expect(amount).toHaveAttribute("aria-required", "true");
    expect(amount).toHaveAccessibleDescription("Between 0 and 1000000.");
    const supplier = screen.getByLabelText(/^Supplier/);
    expect(supplier).toHaveAttribute("type", "text");
    expect(supplier).toHaveAttribute("maxlength", "200");
    expect(supplier).toHaveAttribute("aria-required", "true");
    expect(screen.getByLabelText("Cost centre")).not.toHaveAttribute("aria-required");
    expect(screen.getByLabelText("Needed by")).toHaveAttribute("type", "date");
    expect(screen.getByLabelText("Justification").tagName).toBe("TEXTAREA");
    expect(screen.getByLabelText("Justification")).toHaveAccessibleDescription("Up to 4000 characters.");

    await userEvent.click(screen.getByRole("radio", { name: "Access request" }));
    const level = await screen.findByLabelText(/^Access level/);
    expect(within(level).getAllByRole("option").map((o) => o.textContent)).toEqual(["— choose —", "Read", "Write", "Admin"]);
    const temporary = screen.getByRole("checkbox", { name: "Temporary access" });
    expect(temporary).not.toBeChecked();
  });

  it("orders the fields itself: the server's JSON may sort the keys (x-order, else required, short, long)", async () => {
    signIn(USERS.alice);
    const sorted = TYPES.map((tp) => ({
      ...tp,
      form: { ...tp.form, properties: Object.fromEntries(Object.entries(tp.form.properties).sort(([a], [b]) => a.localeCompare(b))) },
    }));
    const labels = () =>
      [...document.querySelectorAll("form [data-field]")].map((el) => el.getAttribute("data-field"));
    fakeApi({ "GET /api/ticket-types": { body: sorted } });
    const first = renderNew("/tickets/new?type=purchase_request");
    await screen.findByLabelText(/^Supplier/);
    expect(labels()).toEqual(["amount", "supplier", "cost_centre", "needed_by", "justification"]);
    await userEvent.click(screen.getByRole("radio", { name: "Access request" }));
    await screen.findByLabelText(/^System/);
    expect(labels()).toEqual(["system", "access_level", "temporary", "until", "reason"]);

    first.unmount();
    const ordered = sorted.map((tp) => (tp.key === "it_request" ? { ...tp, form: { ...tp.form, "x-order": ["description", "priority", "amount"] } } : tp));
    fakeApi({ "GET /api/ticket-types": { body: ordered } });
    renderNew();
    await waitFor(() => expect(labels()).toEqual(["description", "priority", "amount"]));
  });

  it("sends the type and typed values (numbers as numbers, booleans, empty fields as null) and opens the draft", async () => {
    signIn(USERS.alice);
    const fake = fakeApi({ ...types, "POST /api/tickets": { status: 201, body: ticket({ id: "new-id" }) } });
    renderNew("/tickets/new?type=access_request");
    await userEvent.type(await screen.findByLabelText(/^Title/), "  VPN for the auditor ");
    await userEvent.type(screen.getByLabelText(/^System/), "VPN");
    await userEvent.selectOptions(screen.getByLabelText(/^Access level/), "write");
    await userEvent.click(screen.getByRole("checkbox", { name: "Temporary access" }));
    await userEvent.type(screen.getByLabelText("Until"), "2026-04-30");
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));
    await waitFor(() => expect(screen.getByTestId("location")).toHaveTextContent("/tickets/new-id"));
    expect(fake.callsTo("POST /api/tickets")[0].body).toEqual({
      type: "access_request",
      title: "  VPN for the auditor ",
      fields: { system: "VPN", access_level: "write", temporary: true, until: "2026-04-30", reason: null },
    });
  });

  it("sends a number typed into a number field as a number, and text that is not one as typed", async () => {
    signIn(USERS.alice);
    const fake = fakeApi({
      ...types,
      "POST /api/tickets": apiError(422, "The ticket has invalid fields.", { amount: ["'12,5' is not of type 'number'."] }),
    });
    renderNew("/tickets/new?type=purchase_request");
    await userEvent.type(await screen.findByLabelText(/^Amount/), "12,5");
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));
    expect(await screen.findByTestId("error-amount")).toHaveTextContent("'12,5' is not of type 'number'.");
    expect((fake.callsTo("POST /api/tickets")[0].body as { fields: Record<string, unknown> }).fields.amount).toBe("12,5");
    await userEvent.clear(screen.getByLabelText(/^Amount/));
    await userEvent.type(screen.getByLabelText(/^Amount/), "5000");
    // the error goes once the field changes
    expect(screen.queryByTestId("error-amount")).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));
    await waitFor(() => expect(fake.callsTo("POST /api/tickets")).toHaveLength(2));
    expect((fake.callsTo("POST /api/tickets")[1].body as { fields: Record<string, unknown> }).fields.amount).toBe(5000);
  });

  it("shows each 422 field error on its field, marks it invalid and focuses the first", async () => {
    signIn(USERS.alice);
    fakeApi({
      ...types,
      "POST /api/tickets": apiError(422, "The ticket has invalid fields.", {
        title: ["Must not be empty."],
        amount: ["0 is less than or equal to the minimum of 0."],
        supplier: ["This field is required."],
      }),
    });
    renderNew("/tickets/new?type=purchase_request");
    await userEvent.type(await screen.findByLabelText(/^Amount/), "0");
    await userEvent.click(screen.getByRole("button", { name: "Save draft" }));

    const title = screen.getByLabelText(/^Title/);
    expect(await screen.findByTestId("error-title")).toHaveTextContent("Must not be empty.");
    expect(title).toHaveAttribute("aria-invalid", "true");
    expect(title).toHaveFocus();
    expect(screen.getByLabelText(/^Amount/)).toHaveAccessibleDescription("0 is less than or equal to the minimum of 0.");
    expect(screen.getByLabelText(/^Supplier/)).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByTestId("error-supplier")).toHaveTextContent("This field is required.");
    expect(screen.queryByTestId("form-error")).not.toBeInTheDocument();
  });

  it("shows errors for fields the form does not have in the summary", async () => {
    signIn(USERS.alice);
    fakeApi({ ...types, "POST /api/tickets": apiError(422, "The ticket has invalid fields.", { colour: ["Unknown field."] }) });
    renderNew();
    await userEvent.click(await screen.findByRole("button", { name: "Save draft" }));
    const summary = await screen.findByTestId("form-error");
    expect(summary).toHaveTextContent("The ticket has invalid fields.");
    expect(summary).toHaveTextContent("colour: Unknown field.");
  });

  it("titles fields and types from x-title and names in Chinese", async () => {
    await act(() => i18n.changeLanguage("zh-CN"));
    signIn(USERS.alice);
    fakeApi(types);
    renderNew("/tickets/new?type=purchase_request");
    expect(await screen.findByRole("radio", { name: "采购申请" })).toBeChecked();
    expect(screen.getByLabelText(/^供应商/)).toBeInTheDocument();
    expect(screen.getByLabelText("需要日期")).toHaveAttribute("type", "date");
    expect(screen.getByLabelText(/^金额/)).toHaveAccessibleDescription("介于 0 和 1000000 之间。");
  });

  it("shows the API's message when the types cannot be read", async () => {
    signIn(USERS.alice);
    fakeApi({ "GET /api/ticket-types": apiError(503, "The catalog is unavailable.") });
    renderNew();
    expect(await screen.findByRole("alert")).toHaveTextContent("The catalog is unavailable.");
  });
});

describe("edit draft form", () => {
  const draft = ticket({
    type: "purchase_request",
    type_name: "Purchase request",
    fields: { amount: 5000, supplier: "ACME", needed_by: "2026-04-01" },
    allowed_actions: ["edit", "submit"],
    version: 3,
  });

  it("fills the type's form from the ticket and sends the version it edited; offers to reload on a 409", async () => {
    signIn(USERS.alice);
    const fake = fakeApi({
      ...types,
      [`GET /api/tickets/${draft.id}`]: { body: draft },
      [`PATCH /api/tickets/${draft.id}`]: apiError(409, "The ticket was changed by someone else (version 4, you edited 3)."),
    });
    renderAt(<EditTicketPage />, { route: `/tickets/${draft.id}/edit`, path: "/tickets/:id/edit" });
    const title = await screen.findByLabelText(/^Title/);
    expect(title).toHaveValue("New laptop");
    expect(screen.getByLabelText(/^Amount/)).toHaveValue("5000");
    expect(screen.getByLabelText(/^Supplier/)).toHaveValue("ACME");
    expect(screen.getByLabelText("Needed by")).toHaveValue("2026-04-01");
    expect(screen.getByTestId("form-type")).toHaveTextContent("Purchase request");
    expect(screen.queryByRole("radio")).not.toBeInTheDocument();
    await userEvent.type(screen.getByLabelText("Cost centre"), "CC-42");
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await screen.findByTestId("form-error")).toHaveTextContent("changed by someone else");
    expect(fake.callsTo(`PATCH /api/tickets/${draft.id}`)[0].body).toEqual({
      title: "New laptop",
      fields: { amount: 5000, supplier: "ACME", cost_centre: "CC-42", needed_by: "2026-04-01", justification: null },
      version: 3,
    });
    expect(screen.getByRole("button", { name: "Load the latest version" })).toBeInTheDocument();
  });

  it("says so when the ticket is no longer a draft", async () => {
    signIn(USERS.alice);
    fakeApi({ ...types, [`GET /api/tickets/${draft.id}`]: { body: { ...draft, status: "in_progress", allowed_actions: [] } } });
    renderAt(<EditTicketPage />, { route: `/tickets/${draft.id}/edit`, path: "/tickets/:id/edit" });
    expect(await screen.findByText("This ticket can no longer be edited.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Save changes" })).not.toBeInTheDocument();
  });

  it("shows the API's message when the ticket cannot be loaded", async () => {
    signIn(USERS.alice);
    fakeApi({ ...types, [`GET /api/tickets/${draft.id}`]: apiError(404, "Ticket not found.") });
    renderAt(<EditTicketPage />, { route: `/tickets/${draft.id}/edit`, path: "/tickets/:id/edit" });
    expect(await screen.findByRole("alert")).toHaveTextContent("Ticket not found.");
  });
});
