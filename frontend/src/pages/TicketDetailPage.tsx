import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import type { TFunction } from "i18next";
import { Link, useLocation, useParams } from "react-router";
import { useHistory, useProcess, useTicket, useTicketTypes } from "../api/hooks";
import { useFormat } from "../i18n/format";
import { useLocalized } from "../i18n/localized";
import { currentStepNames, StepCard, stepName } from "../components/StepCard";
import { TicketFields } from "../components/TicketFields";
import { TicketResults } from "../components/TicketResults";
import { ProcessPanel } from "../components/ProcessPanel";
import { StatusBadge } from "../components/StatusBadge";
import { Empty, ErrorBox, Loading } from "../components/States";
import { TicketActions } from "../components/TicketActions";
import { Timeline } from "../components/Timeline";
import type { Ticket } from "../api/types";
import { hasRole, useAuth } from "../auth/AuthContext";
import { stepFailureText } from "../i18n/serverError";
import { useFocusOn } from "../components/focus";

export function TicketDetailPage() {
  const { id = "" } = useParams();
  const { t } = useTranslation();
  const fmt = useFormat();
  const location = useLocation();
  const ticket = useTicket(id);
  const status = ticket.data?.status;
  const version = ticket.data?.version;
  const history = useHistory(id, status, version);
  const process = useProcess(id, status, !!ticket.data, version);
  const types = useTicketTypes();
  const loc = useLocalized();
  const { user } = useAuth();
  const flashState = location.state as { flash?: string; flashError?: string } | null;
  const [flash, setFlash] = useState(flashState);
  const [flashStatus, setFlashStatus] = useState<string | undefined>(undefined);
  // A step completed here: said above the steps, focused (its card is gone), until the ticket moves on.
  const [stepDone, setStepDone] = useState<{ message: string; status: string; version: number } | null>(null);
  const stepDoneRef = useFocusOn<HTMLDivElement>(stepDone);
  const flashRef = useFocusOn<HTMLDivElement>(flash?.flash || flash?.flashError ? flash : null, !!ticket.data);

  useEffect(() => {
    setFlash(flashState);
    setFlashStatus(undefined);
    // Forget the flash so a reload does not show it again.
    if (flashState) window.history.replaceState({ ...window.history.state, usr: null }, "");
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [location.key]);

  // The flash speaks about the status the page opened with; once the ticket moves on it is stale.
  useEffect(() => {
    if (!flash || !status) return;
    if (flashStatus === undefined) setFlashStatus(status);
    else if (flashStatus !== status) setFlash(null);
  }, [flash, flashStatus, status]);

  useEffect(() => {
    if (stepDone && version !== undefined && version > stepDone.version && status !== stepDone.status) setStepDone(null);
  }, [stepDone, status, version]);

  if (ticket.isPending) return <Loading />;
  if (ticket.isError && !ticket.data) {
    return (
      <section>
        <nav className="breadcrumbs" aria-label={t("nav.breadcrumbs")}>
          <Link to="/tickets">{t("nav.tickets")}</Link>
        </nav>
        <ErrorBox error={ticket.error} onRetry={() => void ticket.refetch()} />
      </section>
    );
  }
  const tk = ticket.data;
  const type = types.data?.find((tp) => tp.key === tk.type);

  return (
    <section data-testid="ticket-detail" data-ticket-id={tk.id} className="has-action-bar">
      <nav className="breadcrumbs" aria-label={t("nav.breadcrumbs")}>
        <Link to="/tickets">{t("nav.tickets")}</Link>
        <span aria-hidden="true">/</span>
        <span className="mono">#{tk.id.slice(0, 8)}</span>
      </nav>

      <div className="page-head">
        <div>
          <h1 className="ticket-title wrap-anywhere" tabIndex={-1}>{tk.title}</h1>
          <p className="muted small">
            <span className="type-tag" data-testid="ticket-type" data-type={tk.type}>
              {loc.typeName(type, tk.type_name || tk.type)}
            </span>{" "}
            {t("ticket.requestedBy", { requester: tk.requester, when: fmt.dateTime(tk.created_at) })}
          </p>
        </div>
        <div data-testid="ticket-status" data-status={tk.status}>
          <StatusBadge status={tk.status} />
        </div>
      </div>

      {flash?.flash && (
        <div className="alert alert-success" role="status" tabIndex={-1} ref={flashRef} data-testid="flash">
          {t(`flash.${flash.flash}`)}
        </div>
      )}
      {flash?.flashError && (
        <div className="alert alert-error" role="alert" tabIndex={-1} ref={flash.flash ? undefined : flashRef}>
          {flash.flashError}
        </div>
      )}
      {stepDone && (
        <div className="alert alert-success" role="status" tabIndex={-1} ref={stepDoneRef} data-testid="step-done">
          {stepDone.message}
        </div>
      )}
      {ticket.isError && <ErrorBox error={ticket.error} title={t("errors.refresh")} />}

      <div className="detail-grid">
        <div className="detail-main">
          {tk.status === "needs_attention" && (
            <div className="alert alert-error" role="status" data-testid="attention">
              <div>
                <strong>{t("attention.title")}</strong>
                <p className="alert-message">{attentionText(t, tk, hasRole(user, "admin"))}</p>
              </div>
            </div>
          )}

          {tk.steps.length > 0 && (
            <div className="card" data-testid="steps-card">
              <h2 className="card-title">{t("step.openSteps", { count: tk.steps.length })}</h2>
              <ul className="step-cards">
                {tk.steps.map((step) => (
                  <StepCard
                    key={step.id}
                    ticket={tk}
                    step={step}
                    onCompleted={(updated, choice) =>
                      setStepDone({ message: t(`actions.done.${choice}`), status: updated.status, version: updated.version })
                    }
                  />
                ))}
              </ul>
            </div>
          )}

          <div className="card">
            <h2 className="card-title">{t("ticket.details")}</h2>
            <TicketFields type={type} fields={tk.fields} />
            <dl className="facts">
              <div>
                <dt>{t("ticket.status")}</dt>
                <dd>
                  <StatusBadge status={tk.status} />
                </dd>
              </div>
              <div>
                <dt>{t("ticket.currentSteps")}</dt>
                <dd data-testid="current-steps">
                  {tk.current_steps.length ? currentStepNames(t, tk).join(", ") : "—"}
                </dd>
              </div>
              <TicketResults results={tk.results ?? {}} />
              <div>
                <dt>{t("ticket.requester")}</dt>
                <dd className="wrap-anywhere">{tk.requester}</dd>
              </div>
              <div>
                <dt>{t("ticket.created")}</dt>
                <dd>{fmt.dateTime(tk.created_at)}</dd>
              </div>
              <div>
                <dt>{t("ticket.updated")}</dt>
                <dd>{fmt.dateTime(tk.updated_at)}</dd>
              </div>
            </dl>
          </div>

          <div className="card" data-testid="process-card">
            <h2 className="card-title">{t("process.title")}</h2>
            {process.isPending ? (
              <Loading />
            ) : process.isError && !process.data ? (
              <ErrorBox error={process.error} onRetry={() => void process.refetch()} />
            ) : process.data ? (
              <ProcessPanel view={process.data} />
            ) : null}
          </div>
        </div>

        <aside className="detail-side">
          <div className="card">
            <h2 className="card-title">{t("actions.title")}</h2>
            <TicketActions key={tk.id} ticket={tk} />
          </div>
          <div className="card">
            <h2 className="card-title">{t("history.title")}</h2>
            {history.isPending ? (
              <Loading />
            ) : history.isError && !history.data ? (
              <ErrorBox error={history.error} onRetry={() => void history.refetch()} />
            ) : history.data && history.data.length === 0 ? (
              <Empty title={t("history.empty")} />
            ) : history.data ? (
              <Timeline entries={history.data} />
            ) : null}
          </div>
        </aside>
      </div>
      <ActionBar ticket={tk} />
    </section>
  );
}

/** The own actions in the order the bar offers them: the one that moves the ticket on first. */
const BAR_ACTIONS = ["submit", "resubmit", "retry", "edit", "withdraw"] as const;

/**
 * On a phone the steps and actions may be a long scroll away: a bar at the bottom of the screen names the next
 * thing the reader can do and takes them to it (the control itself, focused). Shown under the narrow breakpoint
 * only (styles.css).
 */
function ActionBar({ ticket }: { ticket: Ticket }) {
  const { t } = useTranslation();
  const step = ticket.steps.find((s) => s.can_complete);
  const action = BAR_ACTIONS.find((a) => ticket.allowed_actions.includes(a));
  if (!step && !action) return null;
  const name = step ? stepName(t, step) : "";
  const target = step ? name : t(`actions.${action}`);
  const go = () => {
    const selector = step ? `[data-testid="step"][data-task-id="${step.id}"] button` : `[data-action="${action}"]`;
    const el = document.querySelector<HTMLElement>(selector);
    el?.scrollIntoView?.({ block: "center", behavior: "smooth" });
    el?.focus();
  };
  return (
    <div className="action-bar" role="region" aria-label={t("actions.bar.label")} data-testid="action-bar">
      <span className="action-bar-text">{step ? t("actions.bar.step", { step: name }) : t("actions.title")}</span>
      <button type="button" className="btn btn-primary btn-sm" onClick={go}>
        {t("actions.bar.goTo", { target })}
      </button>
    </div>
  );
}

/** Why the ticket needs attention, in words: a failed step's raw error only for admins (see stepFailureText). */
function attentionText(t: TFunction, tk: Ticket, admin: boolean) {
  const attention = tk.attention;
  if (attention === "process_stopped" || attention === "process_missing") return t(`attention.${attention}`);
  // The server words the failure with a key next to the error text (which only admins get).
  if (!attention && !tk.attention_key) return t("attention.unknown");
  return stepFailureText(t, { error: attention, key: tk.attention_key }, admin);
}
