import { useTranslation } from "react-i18next";
import type { TicketStatus } from "../api/types";

/** A status in words and colour; statuses of entries recorded before process-driven tickets still read. */
export function StatusBadge({ status }: { status: TicketStatus | string }) {
  const { t } = useTranslation();
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      <span className="badge-dot" aria-hidden="true" />
      {t(`status.${status}`, { defaultValue: status })}
    </span>
  );
}
