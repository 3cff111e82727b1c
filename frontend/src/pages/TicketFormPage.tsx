import { useEffect, useMemo, useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError, api, type FieldErrors } from "../api/client";
import { keys, useCreateTicket, useTicket, useTicketTypes, useUpdateTicket } from "../api/hooks";
import type { Ticket, TicketType } from "../api/types";
import { fieldId, initialState, SchemaFields, toFields, type FormState } from "../components/SchemaForm";
import { ErrorBox, Loading, useErrorMessage } from "../components/States";
import { useLocalized } from "../i18n/localized";
import { TITLE_MAX } from "../api/limits";
import { useServerError } from "../i18n/serverError";
import { useFocusOn } from "../components/focus";


export function NewTicketPage() {
  const types = useTicketTypes();
  const [params, setParams] = useSearchParams();
  // The choice is held here as well as in the address: the router applies a new address in a transition,
  // and a controlled radio would spring back until it lands.
  const inAddress = params.get("type");
  const [wanted, setWanted] = useState(inAddress);
  useEffect(() => setWanted(inAddress), [inAddress]);
  if (types.isPending) return <Loading />;
  if (types.isError) return <ErrorBox error={types.error} onRetry={() => void types.refetch()} />;
  const chosen = types.data.find((t) => t.key === wanted) ?? types.data.find((t) => t.default) ?? types.data[0];
  return (
    <TicketForm
      types={types.data}
      type={chosen}
      picker={
        <TypePicker
          types={types.data}
          chosen={chosen}
          onType={(key) => {
            setWanted(key);
            setParams({ type: key }, { replace: true });
          }}
        />
      }
    />
  );
}

/** The ticket types to choose from, each with its description, in the reader's language. */
function TypePicker({ types, chosen, onType }: { types: TicketType[]; chosen?: TicketType; onType: (key: string) => void }) {
  const { t } = useTranslation();
  const loc = useLocalized();
  if (types.length < 2 || !chosen) return null;
  return (
    <fieldset className="card type-picker" data-testid="type-picker">
      <legend>{t("form.typeLegend")}</legend>
      {types.map((tp) => (
        <label key={tp.key} className={`type-option ${tp.key === chosen.key ? "type-option-selected" : ""}`}>
          <input
            type="radio"
            name="ticket-type"
            value={tp.key}
            checked={tp.key === chosen.key}
            onChange={() => onType(tp.key)}
            aria-labelledby={`type-${tp.key}-name`}
            aria-describedby={`type-${tp.key}-description`}
          />
          <span className="type-option-text">
            <span className="type-option-name" id={`type-${tp.key}-name`}>
              {loc.typeName(tp, tp.key)}
            </span>
            <span className="muted small" id={`type-${tp.key}-description`}>
              {loc.typeDescription(tp)}
            </span>
          </span>
        </label>
      ))}
    </fieldset>
  );
}

export function EditTicketPage() {
  const { id = "" } = useParams();
  const { t } = useTranslation();
  const ticket = useTicket(id);
  const types = useTicketTypes();
  if (ticket.isPending || types.isPending) return <Loading />;
  if (ticket.isError) return <ErrorBox error={ticket.error} onRetry={() => void ticket.refetch()} />;
  if (types.isError) return <ErrorBox error={types.error} onRetry={() => void types.refetch()} />;
  if (!ticket.data.allowed_actions.includes("edit")) {
    return (
      <div className="alert alert-info" role="status">
        {t("form.notEditable")} <Link to={`/tickets/${id}`}>{t("form.backToTicket")}</Link>
      </div>
    );
  }
  const type = types.data.find((tp) => tp.key === ticket.data.type);
  if (!type) return <ErrorBox error={new Error(t("form.unknownType", { type: ticket.data.type }))} />;
  return <TicketForm types={types.data} type={type} ticket={ticket.data} />;
}

interface FormProps {
  types: TicketType[];
  type: TicketType | undefined;
  ticket?: Ticket;
  /** the type picker of a new ticket (choosing another type starts its form afresh; the title stays) */
  picker?: ReactNode;
}

/** New ticket and edit draft: the title every type has, then the type's own fields. */
function TicketForm({ types, type, ticket, picker }: FormProps) {
  const { t } = useTranslation();
  const loc = useLocalized();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const errorMessage = useErrorMessage();
  const serverError = useServerError();
  const create = useCreateTicket();
  const update = useUpdateTicket(ticket?.id ?? "");
  const [title, setTitle] = useState(ticket?.title ?? "");
  const [values, setValues] = useState<FormState>(() => (type ? initialState(type.form, ticket?.fields) : {}));
  const [version, setVersion] = useState(ticket?.version);
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<unknown>(null);
  const [conflict, setConflict] = useState(false);
  const [busy, setBusy] = useState(false);
  const formErrorRef = useFocusOn<HTMLDivElement>(formError);
  // Another type chosen: its own fields, from their defaults (adjusted while rendering, as React advises
  // for state that follows a prop; the picker's nodes stay in place for keyboard and assistive tech).
  const [formType, setFormType] = useState(type?.key);
  if (type && type.key !== formType) {
    setFormType(type.key);
    setValues(initialState(type.form));
    setFieldErrors({});
    setFormError(null);
  }
  const placed = useMemo(() => new Set(["title", ...Object.keys(type?.form.properties ?? {})]), [type]);

  useEffect(() => {
    // Move focus to the first field the API complained about, for keyboard and screen-reader users.
    const first = [...placed].find((f) => fieldErrors[f]);
    if (first) document.getElementById(first === "title" ? "ticket-title" : fieldId(first))?.focus();
  }, [fieldErrors, placed]);

  if (!type) return <ErrorBox error={new Error(t("form.noTypes"))} />;

  const clearError = (name: string) => {
    if (fieldErrors[name]) setFieldErrors(({ [name]: _drop, ...rest }) => rest);
  };

  const save = async (andSubmit: boolean) => {
    setBusy(true);
    setFormError(null);
    setFieldErrors({});
    setConflict(false);
    const fields = toFields(type.form, values);
    try {
      const saved = ticket
        ? await update.mutateAsync({ title, fields, version })
        : await create.mutateAsync({ type: type.key, title, fields });
      if (andSubmit) {
        try {
          const submitted = await api.submit(saved.id);
          queryClient.setQueryData(keys.ticket(saved.id), submitted);
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
        const errors = serverError.fields(err);
        setFieldErrors(errors);
        const unplaced = Object.keys(errors).filter((f) => !placed.has(f));
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
    const fresh = await queryClient.fetchQuery({ queryKey: keys.ticket(ticket.id), queryFn: () => api.getTicket(ticket.id) });
    setTitle(fresh.title);
    setValues(initialState(type.form, fresh.fields));
    setVersion(fresh.version);
    setConflict(false);
    setFormError(null);
  };

  const titleError = fieldErrors.title;
  const heading = ticket ? t("form.editTitle") : t("form.newTitle");

  return (
    <section className="narrow">
      <nav className="breadcrumbs" aria-label={t("nav.breadcrumbs")}>
        <Link to="/tickets">{t("nav.tickets")}</Link>
        <span aria-hidden="true">/</span>
        {ticket ? <Link to={`/tickets/${ticket.id}`} className="wrap-anywhere">{ticket.title}</Link> : <span>{t("form.newTitle")}</span>}
      </nav>
      <h1>{heading}</h1>
      <p className="muted">{ticket ? t("form.editIntro") : t("form.newIntro")}</p>

      {picker}

      <form className="card form" onSubmit={onSubmit} noValidate aria-label={heading} data-type={type.key}>
        {(ticket || types.length === 1) && (
          <p className="muted small" data-testid="form-type">
            {t("ticket.type")}: <strong>{loc.typeName(type, type.key)}</strong>
          </p>
        )}
        {formError != null && (
          <div className="alert alert-error" role="alert" data-testid="form-error" tabIndex={-1} ref={formErrorRef}>
            <div>
              <p className="alert-message">{errorMessage(formError)}</p>
              {formError instanceof ApiError &&
                Object.entries(serverError.fields(formError))
                  .filter(([f]) => !placed.has(f))
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

        <div className={`field ${titleError ? "has-error" : ""}`}>
          <label htmlFor="ticket-title">
            {t("ticket.title")} <span className="required" aria-hidden="true">*</span>
          </label>
          <input
            id="ticket-title"
            name="title"
            value={title}
            maxLength={TITLE_MAX}
            aria-required="true"
            aria-invalid={titleError ? true : undefined}
            aria-describedby={titleError ? "ticket-title-error" : "ticket-title-hint"}
            onChange={(e) => {
              setTitle(e.target.value);
              clearError("title");
            }}
          />
          {titleError ? (
            <p className="field-error" id="ticket-title-error" data-testid="error-title">
              {titleError.join(" ")}
            </p>
          ) : (
            <p className="hint" id="ticket-title-hint">
              {t("form.titleHint", { max: TITLE_MAX })}
            </p>
          )}
        </div>

        <SchemaFields
          schema={type.form}
          state={values}
          errors={fieldErrors}
          onChange={(name, value) => {
            setValues((v) => ({ ...v, [name]: value }));
            clearError(name);
          }}
        />

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
