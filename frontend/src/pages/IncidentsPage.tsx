import { useId, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { isAdmin, isForbidden, useIncidents, useRetryIncident, type Incident } from "../api/admin";
import { useTicketTypes } from "../api/hooks";
import type { TicketType } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { NotAllowed } from "../components/NotAllowed";
import { Empty, ErrorBox, Loading, useErrorMessage } from "../components/States";
import { stepName } from "../components/StepCard";
import { useFormat } from "../i18n/format";
import { useLocalized } from "../i18n/localized";

/** Failed automated steps, for admins to run again once the cause is fixed. */
export function IncidentsPage() {
  const { t } = useTranslation();
  const { user } = useAuth();
  const admin = isAdmin(user);
  const query = useIncidents(admin);
  const types = useTicketTypes();
  const [retried, setRetried] = useState<string[]>([]);

  if (!admin || isForbidden(query.error)) return <NotAllowed section="incidents" />;

  return (
    <section>
      <div className="page-head">
        <div>
          <h1>{t("incidents.title")}</h1>
          <p className="muted">{t("incidents.subtitle")}</p>
        </div>
      </div>
      <div role="status" aria-live="polite" className="incident-notes">
        {retried.map((title, i) => (
          <p key={i} className="alert alert-success">
            {t("incidents.retried", { title })}
          </p>
        ))}
      </div>
      {query.isPending ? (
        <Loading />
      ) : query.isError && !query.data ? (
        <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
      ) : query.data.items.length === 0 ? (
        <Empty title={t("incidents.empty")}>
          <p className="muted small">{t("incidents.emptyHint")}</p>
        </Empty>
      ) : (
        <div className="card table-card">
          <table className="table incidents-table">
            <caption className="visually-hidden">{t("incidents.title")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("incidents.ticket")}</th>
                <th scope="col">{t("incidents.type")}</th>
                <th scope="col">{t("incidents.requester")}</th>
                <th scope="col">{t("incidents.step")}</th>
                <th scope="col">{t("incidents.error")}</th>
                <th scope="col" className="num">
                  {t("incidents.retriesLeft")}
                </th>
                <th scope="col">{t("incidents.failedAt")}</th>
                <th scope="col">{t("incidents.action")}</th>
              </tr>
            </thead>
            <tbody>
              {query.data.items.map((incident) => (
                <IncidentRow
                  key={`${incident.ticket_id}:${incident.step_id ?? incident.step}`}
                  incident={incident}
                  type={types.data?.find((tp) => tp.key === incident.type)}
                  onRetried={() => setRetried((list) => [...list, incident.title])}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function IncidentRow({ incident, type, onRetried }: { incident: Incident; type?: TicketType; onRetried: () => void }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const loc = useLocalized();
  const errorMessage = useErrorMessage();
  const retry = useRetryIncident(incident.ticket_id);
  const [comment, setComment] = useState("");
  const commentId = useId();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    retry.mutate(comment.trim() || undefined, { onSuccess: onRetried });
  };

  return (
    <tr data-testid="incident-row" data-ticket-id={incident.ticket_id}>
      <td className="cell-title" data-label={t("incidents.ticket")}>
        <Link to={`/tickets/${incident.ticket_id}`} className="row-link">
          {incident.title}
        </Link>
        <div className="muted small mono">#{incident.ticket_id.slice(0, 8)}</div>
      </td>
      <td data-label={t("incidents.type")}>{loc.typeName(type, incident.type)}</td>
      <td data-label={t("incidents.requester")}>{incident.requester}</td>
      <td data-label={t("incidents.step")}>{stepName(t, { step: incident.step_id ?? undefined, name: incident.step })}</td>
      <td className="cell-error" data-label={t("incidents.error")}>
        <pre className="incident-error" tabIndex={0} aria-label={t("incidents.error")}>
          {incident.error}
        </pre>
      </td>
      <td className="num" data-label={t("incidents.retriesLeft")}>
        {incident.retries_left ?? "—"}
      </td>
      <td data-label={t("incidents.failedAt")} title={fmt.ago(incident.failed_at)}>
        {fmt.dateTime(incident.failed_at)}
      </td>
      <td className="cell-action" data-label={t("incidents.action")}>
        <form className="incident-retry" onSubmit={submit}>
          <label htmlFor={commentId} className="visually-hidden">
            {t("incidents.commentFor", { title: incident.title })}
          </label>
          <input
            id={commentId}
            type="text"
            value={comment}
            maxLength={2000}
            placeholder={t("incidents.comment")}
            onChange={(e) => setComment(e.target.value)}
            disabled={retry.isPending || retry.isSuccess}
          />
          <button
            type="submit"
            className="btn btn-warning btn-sm"
            disabled={retry.isPending || retry.isSuccess}
            aria-label={t("incidents.retryFor", { title: incident.title })}
          >
            {retry.isPending || retry.isSuccess ? t("incidents.retrying") : t("incidents.retry")}
          </button>
        </form>
        {retry.isError && (
          <div className="alert alert-error incident-result" role="alert">
            <strong>{t("incidents.refused")}</strong>
            <p className="alert-message">{errorMessage(retry.error)}</p>
          </div>
        )}
      </td>
    </tr>
  );
}
