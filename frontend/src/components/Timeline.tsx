import { useTranslation } from "react-i18next";
import type { TFunction } from "i18next";
import type { HistoryEntry } from "../api/types";
import { useFormat } from "../i18n/format";
import { StatusBadge } from "./StatusBadge";

const TONE: Record<string, string> = {
  created: "neutral",
  updated: "neutral",
  submitted: "info",
  approved: "success",
  completed: "success",
  rejected: "danger",
  provisioning_failed: "danger",
  provisioning_retried: "warning",
};

/** The facts the system recorded with an entry, in the reader's language. */
function detailLines(t: TFunction, locale: string, details: HistoryEntry["details"]): string[] {
  const lines: string[] = [];
  if (details?.changed?.length) {
    const names = details.changed.map((f) => t(`ticket.${f}`, { defaultValue: f }));
    lines.push(t("history.changed", { fields: new Intl.ListFormat(locale, { type: "conjunction" }).format(names) }));
  }
  if (details?.reference) lines.push(t("history.reference", { reference: details.reference }));
  if (details?.error) lines.push(t("history.error", { error: details.error }));
  if (details?.reason) lines.push(t("history.refusedReason", { reason: details.reason }));
  if (details?.recorded_from === "engine") lines.push(t("history.recordedFromEngine"));
  return lines;
}

/** The audit trail, oldest first: who did what, when, and why. */
export function Timeline({ entries }: { entries: HistoryEntry[] }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  return (
    <ol className="timeline" data-testid="timeline">
      {entries.map((entry, i) => (
        <li key={`${entry.at}-${i}`} className={`timeline-item tone-${TONE[entry.action] ?? "neutral"}`} data-action={entry.action}>
          <span className="timeline-dot" aria-hidden="true" />
          <div className="timeline-body">
            <p className="timeline-line">
              {t(`history.${entry.action}`, {
                actor: entry.actor === "system" ? t("history.system") : entry.actor,
                defaultValue: `${entry.actor}: ${entry.action}`,
              })}
            </p>
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
            {detailLines(t, fmt.locale, entry.details).map((line) => (
              <p key={line} className="timeline-detail small">{line}</p>
            ))}
            {entry.comment && <blockquote className="timeline-comment">{entry.comment}</blockquote>}
          </div>
        </li>
      ))}
    </ol>
  );
}
