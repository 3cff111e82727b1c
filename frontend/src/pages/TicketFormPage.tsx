import { useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError, api, type FieldErrors } from "../api/client";
import { useCreateTicket, useTicket, useUpdateTicket } from "../api/hooks";
import { PRIORITIES, type Priority, type Ticket, type TicketInput } from "../api/types";
import { ErrorBox, Loading, useErrorMessage } from "../components/States";
import { useQueryClient } from "@tanstack/react-query";

interface FormValues {
  title: string;
  description: string;
  amount: string;
  priority: Priority;
}

const EMPTY: FormValues = { title: "", description: "", amount: "", priority: "normal" };
const FIELDS = ["title", "description", "amount", "priority"] as const;

function valuesOf(ticket: Ticket): FormValues {
  return {
    title: ticket.title,
    description: ticket.description ?? "",
    amount: ticket.amount ?? "",
    priority: ticket.priority,
  };
}

function toInput(values: FormValues): TicketInput {
  return {
    title: values.title,
    description: values.description,
    amount: values.amount.trim() === "" ? null : values.amount.trim(),
    priority: values.priority,
  };
}

export function NewTicketPage() {
  return <TicketForm />;
}

export function EditTicketPage() {
  const { id = "" } = useParams();
  const { t } = useTranslation();
  const ticket = useTicket(id);
  if (ticket.isPending) return <Loading />;
  if (ticket.isError) return <ErrorBox error={ticket.error} onRetry={() => void ticket.refetch()} />;
  if (!ticket.data.allowed_actions.includes("edit")) {
    return (
      <div className="alert alert-info" role="status">
        {t("form.notEditable")} <Link to={`/tickets/${id}`}>{t("form.backToTicket")}</Link>
      </div>
    );
  }
  return <TicketForm ticket={ticket.data} />;
}

function TicketForm({ ticket }: { ticket?: Ticket }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const errorMessage = useErrorMessage();
  const create = useCreateTicket();
  const update = useUpdateTicket(ticket?.id ?? "");
  const [values, setValues] = useState<FormValues>(ticket ? valuesOf(ticket) : EMPTY);
  const [version, setVersion] = useState(ticket?.version);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<unknown>(null);
  const [conflict, setConflict] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // Move focus to the first field the API complained about, for keyboard and screen-reader users.
    const first = FIELDS.find((f) => fieldErrors[f]);
    if (first) document.getElementById(`ticket-${first}`)?.focus();
  }, [fieldErrors]);

  const set = (field: keyof FormValues) => (e: { target: { value: string } }) => {
    setValues((v) => ({ ...v, [field]: e.target.value }));
    if (fieldErrors[field]) setFieldErrors(({ [field]: _drop, ...rest }) => rest);
  };

  const save = async (andSubmit: boolean) => {
    setBusy(true);
    setFormError(null);
    setFieldErrors({});
    setConflict(false);
    try {
      const saved = ticket
        ? await update.mutateAsync({ ...toInput(values), version })
        : await create.mutateAsync(toInput(values));
      if (andSubmit) {
        try {
          const submitted = await api.submit(saved.id);
          queryClient.setQueryData(["ticket", saved.id], submitted);
        } catch (err) {
          // The draft is saved; show the refusal on its page.
          navigate(`/tickets/${saved.id}`, { state: { flashError: errorMessage(err) } });
          return;
        }
      }
      void queryClient.invalidateQueries({ queryKey: ["tickets"] });
      navigate(`/tickets/${saved.id}`, { state: { flash: andSubmit ? "submitted" : ticket ? "saved" : "created" } });
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) {
        const errors = err.fieldErrors;
        setFieldErrors(errors);
        const unplaced = Object.keys(errors).filter((f) => !(FIELDS as readonly string[]).includes(f));
        if (unplaced.length || Object.keys(errors).length === 0) setFormError(err);
      } else {
        if (err instanceof ApiError && err.status === 409) setConflict(true);
        setFormError(err);
      }
      setBusy(false);
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void save(false);
  };

  const reload = async () => {
    if (!ticket) return;
    const fresh = await queryClient.fetchQuery({ queryKey: ["ticket", ticket.id], queryFn: () => api.getTicket(ticket.id) });
    setValues(valuesOf(fresh));
    setVersion(fresh.version);
    setConflict(false);
    setFormError(null);
  };

  const fieldProps = (field: (typeof FIELDS)[number]) => ({
    id: `ticket-${field}`,
    name: field,
    "aria-invalid": fieldErrors[field] ? true : undefined,
    "aria-describedby": fieldErrors[field] ? `ticket-${field}-error` : `ticket-${field}-hint`,
  });

  const errorFor = (field: (typeof FIELDS)[number]) =>
    fieldErrors[field] ? (
      <p className="field-error" id={`ticket-${field}-error`} data-testid={`error-${field}`}>
        {fieldErrors[field].join(" ")}
      </p>
    ) : null;

  return (
    <section className="narrow">
      <nav className="breadcrumbs" aria-label={t("nav.breadcrumbs")}>
        <Link to="/tickets">{t("nav.tickets")}</Link>
        <span aria-hidden="true">/</span>
        {ticket ? <Link to={`/tickets/${ticket.id}`}>{ticket.title}</Link> : <span>{t("form.newTitle")}</span>}
      </nav>
      <h1>{ticket ? t("form.editTitle") : t("form.newTitle")}</h1>
      <p className="muted">{ticket ? t("form.editIntro") : t("form.newIntro")}</p>

      <form className="card form" onSubmit={onSubmit} noValidate aria-label={ticket ? t("form.editTitle") : t("form.newTitle")}>
        {formError != null && (
          <div className="alert alert-error" role="alert" data-testid="form-error">
            <div>
              <p className="alert-message">{errorMessage(formError)}</p>
              {formError instanceof ApiError &&
                Object.entries(formError.fieldErrors)
                  .filter(([f]) => !(FIELDS as readonly string[]).includes(f))
                  .map(([f, msgs]) => (
                    <p key={f} className="small">
                      {f}: {msgs.join(" ")}
                    </p>
                  ))}
            </div>
            {conflict && (
              <button type="button" className="btn btn-secondary btn-sm" onClick={() => void reload()}>
                {t("form.reloadLatest")}
              </button>
            )}
          </div>
        )}

        <div className={`field ${fieldErrors.title ? "has-error" : ""}`}>
          <label htmlFor="ticket-title">
            {t("ticket.title")} <span className="required" aria-hidden="true">*</span>
          </label>
          <input {...fieldProps("title")} value={values.title} onChange={set("title")} maxLength={250} aria-required="true" />
          {errorFor("title") ?? (
            <p className="hint" id="ticket-title-hint">
              {t("form.titleHint")}
            </p>
          )}
        </div>

        <div className={`field ${fieldErrors.description ? "has-error" : ""}`}>
          <label htmlFor="ticket-description">{t("ticket.description")}</label>
          <textarea {...fieldProps("description")} rows={5} value={values.description} onChange={set("description")} />
          {errorFor("description") ?? (
            <p className="hint" id="ticket-description-hint">
              {t("form.descriptionHint")}
            </p>
          )}
        </div>

        <div className="field-row">
          <div className={`field ${fieldErrors.amount ? "has-error" : ""}`}>
            <label htmlFor="ticket-amount">{t("ticket.amount")}</label>
            <input {...fieldProps("amount")} inputMode="decimal" value={values.amount} onChange={set("amount")} placeholder="0.00" />
            {errorFor("amount") ?? (
              <p className="hint" id="ticket-amount-hint">
                {t("form.amountHint")}
              </p>
            )}
          </div>
          <div className={`field ${fieldErrors.priority ? "has-error" : ""}`}>
            <label htmlFor="ticket-priority">{t("ticket.priority")}</label>
            <select {...fieldProps("priority")} value={values.priority} onChange={set("priority")}>
              {PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {t(`priority.${p}`)}
                </option>
              ))}
            </select>
            {errorFor("priority") ?? (
              <p className="hint" id="ticket-priority-hint">
                {t("form.priorityHint")}
              </p>
            )}
          </div>
        </div>

        <div className="form-actions">
          <Link to={ticket ? `/tickets/${ticket.id}` : "/tickets"} className="btn btn-ghost">
            {t("common.cancel")}
          </Link>
          <button type="submit" className="btn btn-secondary" disabled={busy}>
            {ticket ? t("form.save") : t("form.saveDraft")}
          </button>
          <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void save(true)}>
            {t("form.saveAndSubmit")}
          </button>
        </div>
      </form>
    </section>
  );
}
