import { useId, useState, type FormEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { isAdmin, isForbidden } from "../api/admin";
import type { FieldErrors } from "../api/client";
import {
  EVENT_TYPE_SUGGESTIONS,
  WEBHOOK_FORMATS,
  useCreateWebhook,
  useDeleteWebhook,
  useDeliveries,
  useTestWebhook,
  useUpdateWebhook,
  useWebhooks,
  type CreatedWebhook,
  type WebhookEndpoint,
  type WebhookFormat,
  type WebhookTestResult,
} from "../api/notify";
import { useAuth } from "../auth/AuthContext";
import { NotAllowed } from "../components/NotAllowed";
import { Empty, ErrorBox, Loading, useErrorMessage } from "../components/States";
import { useFormat } from "../i18n/format";
import { fieldErrorTexts } from "../i18n/serverError";

/** "ticket.*, task.*" -> ["ticket.*", "task.*"] */
export function parseEventTypes(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean))];
}

interface Draft {
  url: string;
  eventTypes: string;
  format: WebhookFormat;
  description: string;
}

const EMPTY: Draft = { url: "", eventTypes: "", format: "json", description: "" };

function draftOf(e: WebhookEndpoint): Draft {
  return { url: e.url, eventTypes: e.event_types.join(", "), format: e.format, description: e.description ?? "" };
}

/** The form to add an endpoint or change one; field errors of a 422 under their fields. */
function EndpointForm({
  initial,
  label,
  submitLabel,
  pending,
  error,
  onSubmit,
  onCancel,
}: {
  initial: Draft;
  label: string;
  submitLabel: string;
  pending: boolean;
  error: unknown;
  onSubmit: (draft: Draft) => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation();
  const message = useErrorMessage();
  const uid = useId();
  const [draft, setDraft] = useState<Draft>(initial);
  const errors: FieldErrors = fieldErrorTexts(t, error);
  const placed = new Set(["url", "event_types", "format", "description"]);
  const unplaced = Object.entries(errors).filter(([f]) => !placed.has(f));
  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));
  const addSuggestion = (pattern: string) => {
    const now = parseEventTypes(draft.eventTypes);
    if (!now.includes(pattern)) set({ eventTypes: [...now, pattern].join(", ") });
  };
  const described = (name: string) =>
    errors[name] ? { "aria-invalid": true as const, "aria-describedby": `${uid}-${name}-error` } : {};
  const field = (name: string, text: string, input: ReactNode, hint?: ReactNode) => (
    <div className={`field ${errors[name] ? "has-error" : ""}`} data-field={name}>
      <label htmlFor={`${uid}-${name}`}>{text}</label>
      {input}
      {hint}
      {errors[name] && (
        <p className="field-error" id={`${uid}-${name}-error`} data-testid={`error-${name}`}>
          {errors[name].join(" ")}
        </p>
      )}
    </div>
  );

  return (
    <form
      className="card form"
      aria-label={label}
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        onSubmit(draft);
      }}
    >
      {!!error && (unplaced.length > 0 || Object.keys(errors).length === 0) && (
        <div className="alert alert-error" role="alert" data-testid="form-error">
          <p className="alert-message">{message(error)}</p>
          {unplaced.map(([f, reasons]) => (
            <p key={f} className="small">
              {f}: {reasons.join(" ")}
            </p>
          ))}
        </div>
      )}
      {field(
        "url",
        t("webhooks.url"),
        <input id={`${uid}-url`} type="url" value={draft.url} required placeholder="https://" autoComplete="off"
          {...described("url")} onChange={(e) => set({ url: e.target.value })} />,
      )}
      {field(
        "event_types",
        t("webhooks.eventTypes"),
        <input id={`${uid}-event_types`} value={draft.eventTypes} required autoComplete="off" placeholder="ticket.*, task.*"
          {...described("event_types")} onChange={(e) => set({ eventTypes: e.target.value })} />,
        <p className="muted small">
          {t("webhooks.eventTypesHint")}{" "}
          {EVENT_TYPE_SUGGESTIONS.map((s) => (
            <button key={s} type="button" className="btn btn-ghost btn-sm mono" onClick={() => addSuggestion(s)}
              aria-label={t("webhooks.addPattern", { pattern: s })}>
              {s}
            </button>
          ))}
        </p>,
      )}
      {field(
        "format",
        t("webhooks.format"),
        <select id={`${uid}-format`} value={draft.format} {...described("format")}
          onChange={(e) => set({ format: e.target.value as WebhookFormat })}>
          {WEBHOOK_FORMATS.map((f) => (
            <option key={f} value={f}>
              {t(`webhooks.formats.${f}`)}
            </option>
          ))}
        </select>,
      )}
      {field(
        "description",
        t("webhooks.description"),
        <input id={`${uid}-description`} value={draft.description} autoComplete="off"
          {...described("description")} onChange={(e) => set({ description: e.target.value })} />,
      )}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={pending}>
          {pending ? t("actions.working") : submitLabel}
        </button>
        <button type="button" className="btn btn-ghost" onClick={onCancel}>
          {t("common.cancel")}
        </button>
      </div>
    </form>
  );
}

/** The secret of a new endpoint: shown this once, to copy into the receiver. */
function SecretOnce({ created, onDone }: { created: CreatedWebhook; onDone: () => void }) {
  const { t } = useTranslation();
  const [copied, setCopied] = useState(false);
  const uid = useId();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.secret);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <div className="alert alert-success" role="status" data-testid="secret-once">
      <div>
        <strong>{t("webhooks.created", { url: created.url })}</strong>
        <p className="small">{t("webhooks.secretOnce")}</p>
        <label htmlFor={uid} className="small">
          {t("webhooks.secret")}
        </label>
        <input id={uid} className="mono" readOnly value={created.secret} onFocus={(e) => e.target.select()} />
        <div className="form-actions">
          <button type="button" className="btn btn-secondary btn-sm" onClick={() => void copy()}>
            {copied ? t("webhooks.copied") : t("webhooks.copy")}
          </button>
          <button type="button" className="btn btn-ghost btn-sm" onClick={onDone}>
            {t("webhooks.secretDone")}
          </button>
        </div>
      </div>
    </div>
  );
}

function TestOutcome({ result }: { result: WebhookTestResult }) {
  const { t } = useTranslation();
  const code = result.response_code ?? "—";
  const ms = result.latency_ms ?? "—";
  return result.status === "sent" ? (
    <p className="alert alert-success small" role="status" data-testid="test-outcome">
      {t("webhooks.testSent", { code, ms })}
    </p>
  ) : (
    <p className="alert alert-error small" role="alert" data-testid="test-outcome">
      {t("webhooks.testFailed", { code, ms, error: result.error || t("errors.unknown") })}
    </p>
  );
}

function DeliveryLog({ id }: { id: string }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const query = useDeliveries(id, true);
  if (query.isPending) return <Loading />;
  if (query.isError) return <ErrorBox error={query.error} onRetry={() => void query.refetch()} />;
  if (query.data.items.length === 0) return <p className="muted small">{t("webhooks.noDeliveries")}</p>;
  return (
    <div className="table-scroll">
      <table className="table deliveries-table" data-testid="deliveries">
        <caption className="visually-hidden">{t("webhooks.deliveries")}</caption>
        <thead>
          <tr>
            <th scope="col">{t("webhooks.col.event")}</th>
            <th scope="col">{t("webhooks.col.status")}</th>
            <th scope="col">{t("webhooks.col.attempts")}</th>
            <th scope="col">{t("webhooks.col.code")}</th>
            <th scope="col">{t("webhooks.col.latency")}</th>
            <th scope="col">{t("webhooks.col.error")}</th>
            <th scope="col">{t("webhooks.col.created")}</th>
            <th scope="col">{t("webhooks.col.sent")}</th>
            <th scope="col">{t("webhooks.col.next")}</th>
          </tr>
        </thead>
        <tbody>
          {query.data.items.map((d) => (
            <tr key={d.id} data-testid="delivery-row" data-status={d.status}>
              <td className="mono" data-label={t("webhooks.col.event")}>{d.event_type}</td>
              <td data-label={t("webhooks.col.status")}>{t(`webhooks.deliveryStatus.${d.status}`, { defaultValue: d.status })}</td>
              <td data-label={t("webhooks.col.attempts")}>{d.attempts}</td>
              <td data-label={t("webhooks.col.code")}>{d.response_code ?? "—"}</td>
              <td data-label={t("webhooks.col.latency")}>{d.latency_ms == null ? "—" : t("webhooks.ms", { ms: d.latency_ms })}</td>
              <td className="small" data-label={t("webhooks.col.error")}>{d.last_error || "—"}</td>
              <td data-label={t("webhooks.col.created")}>{fmt.dateTime(d.created_at)}</td>
              <td data-label={t("webhooks.col.sent")}>{fmt.dateTime(d.sent_at)}</td>
              <td data-label={t("webhooks.col.next")}>{fmt.dateTime(d.next_attempt_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function EndpointCard({ endpoint }: { endpoint: WebhookEndpoint }) {
  const { t } = useTranslation();
  const message = useErrorMessage();
  const fmt = useFormat();
  const update = useUpdateWebhook();
  const remove = useDeleteWebhook();
  const test = useTestWebhook();
  const [editing, setEditing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [showLog, setShowLog] = useState(false);
  const actionError = (!editing && update.error) || remove.error || test.error;

  return (
    <li className="card webhook" data-testid="webhook" data-id={endpoint.id}>
      <div className="webhook-head">
        <h2 className="h3 mono webhook-url">{endpoint.url}</h2>
        <span className={`badge ${endpoint.active ? "badge-completed" : "badge-rejected"}`} data-testid="webhook-state">
          {endpoint.active ? t("webhooks.active") : t("webhooks.disabled")}
        </span>
      </div>
      {endpoint.description && <p>{endpoint.description}</p>}
      <dl className="webhook-facts small">
        <dt>{t("webhooks.eventTypes")}</dt>
        <dd className="mono">{endpoint.event_types.join(", ")}</dd>
        <dt>{t("webhooks.format")}</dt>
        <dd>{t(`webhooks.formats.${endpoint.format}`, { defaultValue: endpoint.format })}</dd>
        <dt>{t("webhooks.failures")}</dt>
        <dd data-testid="webhook-failures">{endpoint.consecutive_failures}</dd>
        <dt>{t("webhooks.createdAt")}</dt>
        <dd>
          {endpoint.created_by
            ? t("webhooks.createdBy", { when: fmt.dateTime(endpoint.created_at), who: endpoint.created_by })
            : fmt.dateTime(endpoint.created_at)}
        </dd>
      </dl>
      {!endpoint.active && endpoint.disabled_reason && (
        <p className="muted small" data-testid="disabled-reason">
          {t("webhooks.disabledReason", { reason: endpoint.disabled_reason })}
        </p>
      )}

      {editing ? (
        <EndpointForm
          initial={draftOf(endpoint)}
          label={t("webhooks.editLabel", { url: endpoint.url })}
          submitLabel={t("webhooks.saveChanges")}
          pending={update.isPending}
          error={update.error}
          onCancel={() => {
            update.reset();
            setEditing(false);
          }}
          onSubmit={(d) =>
            update.mutate(
              { id: endpoint.id, input: { url: d.url.trim(), event_types: parseEventTypes(d.eventTypes), format: d.format, description: d.description.trim() } },
              { onSuccess: () => setEditing(false) },
            )
          }
        />
      ) : (
        <div className="form-actions webhook-actions">
          <button type="button" className="btn btn-secondary btn-sm" disabled={test.isPending}
            onClick={() => test.mutate(endpoint.id)}>
            {test.isPending ? t("actions.working") : t("webhooks.test")}
          </button>
          <button type="button" className="btn btn-ghost btn-sm" onClick={() => { update.reset(); setEditing(true); }}>
            {t("webhooks.edit")}
          </button>
          <button type="button" className="btn btn-ghost btn-sm" disabled={update.isPending}
            onClick={() => update.mutate({ id: endpoint.id, input: { active: !endpoint.active } })}>
            {endpoint.active ? t("webhooks.disable") : t("webhooks.enable")}
          </button>
          <button type="button" className="btn btn-ghost btn-sm" aria-expanded={showLog} onClick={() => setShowLog((s) => !s)}>
            {showLog ? t("webhooks.hideLog") : t("webhooks.showLog")}
          </button>
          <button type="button" className="btn btn-ghost btn-danger-text btn-sm" onClick={() => setConfirmDelete(true)}>
            {t("webhooks.delete")}
          </button>
        </div>
      )}
      {confirmDelete && (
        <div className="confirm" role="group" aria-label={t("webhooks.delete")}>
          <p className="small">{t("webhooks.confirmDelete", { url: endpoint.url })}</p>
          <div className="form-actions">
            <button type="button" className="btn btn-danger btn-sm" disabled={remove.isPending}
              onClick={() => remove.mutate(endpoint.id, { onSuccess: () => setConfirmDelete(false) })}>
              {remove.isPending ? t("actions.working") : t("webhooks.confirmDeleteButton")}
            </button>
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => setConfirmDelete(false)}>
              {t("common.cancel")}
            </button>
          </div>
        </div>
      )}
      {test.data && <TestOutcome result={test.data} />}
      {actionError && (
        <p className="field-error" role="alert">
          {message(actionError)}
        </p>
      )}
      {showLog && (
        <section aria-label={t("webhooks.deliveries")}>
          <h3 className="h4">{t("webhooks.deliveries")}</h3>
          <DeliveryLog id={endpoint.id} />
        </section>
      )}
    </li>
  );
}

/** The endpoints PFlow posts its events to, their state and deliveries (admins only). */
export function WebhooksPage() {
  const { t } = useTranslation();
  const { user } = useAuth();
  const admin = isAdmin(user);
  const query = useWebhooks(admin);
  const create = useCreateWebhook();
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<CreatedWebhook | null>(null);

  if (!admin || isForbidden(query.error)) return <NotAllowed section="webhooks" />;

  return (
    <section>
      <div className="page-head">
        <div>
          <h1>{t("webhooks.title")}</h1>
          <p className="muted">{t("webhooks.subtitle")}</p>
        </div>
        {!adding && (
          <button type="button" className="btn btn-primary" onClick={() => { create.reset(); setCreated(null); setAdding(true); }}>
            {t("webhooks.add")}
          </button>
        )}
      </div>
      {created && <SecretOnce created={created} onDone={() => setCreated(null)} />}
      {adding && (
        <EndpointForm
          initial={EMPTY}
          label={t("webhooks.addLabel")}
          submitLabel={t("webhooks.create")}
          pending={create.isPending}
          error={create.error}
          onCancel={() => setAdding(false)}
          onSubmit={(d) =>
            create.mutate(
              {
                url: d.url.trim(),
                event_types: parseEventTypes(d.eventTypes),
                format: d.format,
                ...(d.description.trim() ? { description: d.description.trim() } : {}),
              },
              {
                onSuccess: (endpoint) => {
                  setCreated(endpoint);
                  setAdding(false);
                },
              },
            )
          }
        />
      )}
      {query.isPending ? (
        <Loading />
      ) : query.isError && !query.data ? (
        <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
      ) : query.data.items.length === 0 ? (
        <Empty title={t("webhooks.none")} />
      ) : (
        <ul className="webhook-list">
          {query.data.items.map((e) => (
            <EndpointCard key={e.id} endpoint={e} />
          ))}
        </ul>
      )}
    </section>
  );
}
