import { useTranslation } from "react-i18next";
import { useFormat } from "../i18n/format";

/** When a step is due, and an "Overdue" badge once that has passed (the server says which: `overdue`). */
export function DueTime({ due, overdue }: { due?: string | null; overdue?: boolean }) {
  const { t } = useTranslation();
  const fmt = useFormat();
  if (!due) return null;
  return (
    <span className="due-time small" data-testid="due-time">
      {overdue ? (
        <span className="badge badge-overdue" data-testid="overdue" title={t("step.overdueSince", { when: fmt.dateTime(due) })}>
          {t("step.overdue")}
        </span>
      ) : null}{" "}
      <span className={overdue ? "overdue-text" : "muted"}>{t("step.due", { when: fmt.dateTime(due) })}</span>
    </span>
  );
}
