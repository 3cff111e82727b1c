import { Fragment } from "react";
import { useTranslation } from "react-i18next";
import type { TFunction } from "i18next";
import { Link } from "react-router";
import type { FieldValue, HistoryEntry } from "../api/types";
import { useFormat } from "../i18n/format";
import { StatusBadge } from "./StatusBadge";
import { stepName } from "./StepCard";
import { hasRole, useAuth } from "../auth/AuthContext";
import { stepFailureText } from "../i18n/serverError";
import { resultNames, useResultWords } from "./TicketResults";

const TONE: Record<string, string> = {
  created: "neutral",
  updated: "neutral",
  submitted: "info",
  step_completed: "info",
  approved: "success",
  completed: "success",
  rejected: "danger",
  withdrawn: "neutral",
  needs_attention: "danger",
  provisioning_failed: "danger",
  resumed: "info",
  retried: "warning",
  provisioning_retried: "warning",
  engine_step_refused: "warning",
  step_results: "info",
  engine_decision_refused: "warning",
  step_claimed: "neutral",
  step_unclaimed: "neutral",
  step_reassigned: "warning",
  resubmitted_from: "neutral",
  resubmitted_as: "neutral",
};

const APPROVE = new Set<FieldValue>([true, "approve"]);
const REJECT = new Set<FieldValue>([false, "reject"]);

/** What a completed step decided: approve or reject when one of its values is a decision. */
function decisionOf(values: Record<string, FieldValue> | undefined): "approve" | "reject" | null {
  const all = Object.values(values ?? {});
  if (all.some((v) => REJECT.has(v))) return "reject";
  if (all.some((v) => APPROVE.has(v))) return "approve";
  return null;
}

function valueLine(t: TFunction, id: string, value: FieldValue): string {
  if (APPROVE.has(value)) return t("history.value.approve");
  if (REJECT.has(value)) return t("history.value.reject");
  return `${t(`stepField.${id}`, { defaultValue: id })}: ${value === null ? "—" : String(value)}`;
}

/** The headline of an entry in the reader's language. */
function headline(t: TFunction, entry: HistoryEntry): string {
  const d = entry.details ?? {};
  const who = entry.actor === "system" ? t("history.system") : entry.actor;
  // a substitute's act: "erin on behalf of bob"
  const actor = d.on_behalf_of ? t("history.onBehalfOf", { actor: who, user: d.on_behalf_of }) : who;
  const step = d.step_name || d.step ? stepName(t, { step: d.step, name: d.step_name || d.step || "" }) : "";
  if (entry.action === "step_completed") {
    const decision = decisionOf(d.values);
    const key = decision === "approve" ? "history.stepApproved" : decision === "reject" ? "history.stepRejected" : "history.step_completed";
    const line = t(key, { actor, step });
    // decided from the links of an e-mail
    return d.via === "email" ? t("history.viaEmail", { line }) : line;
  }
  if (entry.action === "step_reassigned") {
    return d.assignee ? t("history.step_reassigned", { actor, step, assignee: d.assignee }) : t("history.step_reassigned_to_candidates", { actor, step });
  }
  if (entry.action === "step_results") return step ? t("results.entry", { step }) : t("results.entryNoStep");
  if (entry.action === "engine_step_refused") {
    return t("history.engine_step_refused", {
      step,
      by: d.by ?? "?",
      reason: t(`history.refusal.${d.reason ?? "unknown"}`, { defaultValue: d.reason ?? "" }),
    });
  }
  return t(`history.${entry.action}`, { actor, step, defaultValue: `${entry.actor}: ${entry.action}` });
}

type ResultWords = ReturnType<typeof useResultWords>;

/** The facts the system recorded with an entry, in the reader's language. */
function detailLines(t: TFunction, locale: string, entry: HistoryEntry, admin: boolean, words: ResultWords): string[] {
  const details = entry.details;
  const lines: string[] = [];
  if (details?.changed?.length) {
    const names = details.changed.map((f) => t(`ticket.${f}`, { defaultValue: f }));
    lines.push(t("history.changed", { fields: new Intl.ListFormat(locale, { type: "conjunction" }).format(names) }));
  }
  if (entry.action === "step_completed" && details?.values) {
    for (const [id, value] of Object.entries(details.values)) lines.push(valueLine(t, id, value));
  }
  if (details?.reference) lines.push(t("history.reference", { reference: details.reference }));
  if (entry.action === "step_results" && details?.results) {
    // the reference has its own line above; the step's other results by their name
    for (const name of resultNames(details.results)) {
      if (name === "fulfilment_reference" && details.reference) continue;
      lines.push(t("results.value", { name: words.label(name), value: words.value(details.results[name]) }));
    }
  }
  if (details?.error || details?.error_key) {
    // An exception's text is for admins (the server sends it to them only); everyone else reads the failure
    // worded from the key the server sends in its place.
    if (details.error_key) lines.push(stepFailureText(t, { error: details.error, key: details.error_key, params: details.error_params }, admin));
    else if (admin) lines.push(t("history.error", { error: details.error }));
  }
  if (details?.reason && entry.action !== "engine_step_refused") lines.push(t("history.refusedReason", { reason: details.reason }));
  if (details?.recorded_from === "engine") lines.push(t("history.recordedFromEngine"));
  return lines;
}

/** The audit trail, oldest first: who did what, when, and why. */
export function Timeline({ entries }: { entries: HistoryEntry[] }) {
  const { t } = useTranslation();
  const { user } = useAuth();
  const admin = hasRole(user, "admin");
  const fmt = useFormat();
  const words = useResultWords();
  return (
    <ol className="timeline" data-testid="timeline">
      {entries.map((entry, i) => {
        const linked = entry.details?.ticket_id;
        return (
          <li
            key={`${entry.at}-${i}`}
            className={`timeline-item tone-${TONE[entry.action] ?? "neutral"}`}
            data-action={entry.action}
            data-step={entry.details?.step}
          >
            <span className="timeline-dot" aria-hidden="true" />
            <div className="timeline-body">
              <p className="timeline-line">{headline(t, entry)}</p>
              {linked && (entry.action === "resubmitted_from" || entry.action === "resubmitted_as") && (
                <p className="timeline-detail small">
                  <Link to={`/tickets/${linked}`} data-testid={`link-${entry.action}`}>
                    {t(`history.link.${entry.action}`, { id: linked.slice(0, 8) })}
                  </Link>
                </p>
              )}
              <p className="timeline-meta muted small">
                <time dateTime={entry.at}>{fmt.dateTime(entry.at)}</time>
                {entry.from_status && entry.from_status !== entry.to_status && (
                  <span className="timeline-change">
                    <StatusBadge status={entry.from_status} />
                    <span aria-label={t("history.to")}>→</span>
                    <StatusBadge status={entry.to_status} />
                  </span>
                )}
              </p>
              {detailLines(t, fmt.locale, entry, admin, words).map((line, j) => (
                <Fragment key={`${j}-${line}`}>
                  <p className="timeline-detail small">{line}</p>
                </Fragment>
              ))}
              {entry.comment && <blockquote className="timeline-comment">{entry.comment}</blockquote>}
            </div>
          </li>
        );
      })}
    </ol>
  );
}
