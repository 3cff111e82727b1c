import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import type { Ticket } from "../api/types";
import { useFormat } from "../i18n/format";
import { StatusBadge } from "./StatusBadge";

interface Props {
  tickets: Ticket[];
  caption: string;
  /** The approvals inbox shows how long each ticket has waited instead of when it last changed. */
  waiting?: boolean;
}

export function TicketTable({ tickets, caption, waiting = false }: Props) {
  const { t } = useTranslation();
  const fmt = useFormat();
  return (
    <div className="card table-card">
      <table className="table">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t("ticket.title")}</th>
            <th scope="col">{t("ticket.status")}</th>
            <th scope="col">{t("ticket.priority")}</th>
            <th scope="col" className="num">
              {t("ticket.amount")}
            </th>
            <th scope="col">{t("ticket.requester")}</th>
            <th scope="col">{waiting ? t("approvals.waiting") : t("ticket.updated")}</th>
          </tr>
        </thead>
        <tbody>
          {tickets.map((ticket) => (
            <tr key={ticket.id} data-testid="ticket-row" data-ticket-id={ticket.id}>
              <td>
                <Link to={`/tickets/${ticket.id}`} className="row-link">
                  {ticket.title}
                </Link>
                <div className="muted small mono">#{ticket.id.slice(0, 8)}</div>
              </td>
              <td>
                <StatusBadge status={ticket.status} />
              </td>
              <td>
                <span className={`priority priority-${ticket.priority}`}>{t(`priority.${ticket.priority}`)}</span>
              </td>
              <td className="num">{fmt.amount(ticket.amount)}</td>
              <td>{ticket.requester}</td>
              <td title={fmt.dateTime(ticket.updated_at)}>{fmt.ago(ticket.updated_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
