import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useTicketTypes } from "../api/hooks";
import type { Ticket } from "../api/types";
import { useFormat } from "../i18n/format";
import { useLocalized } from "../i18n/localized";
import { StatusBadge } from "./StatusBadge";
import { currentStepNames } from "./StepCard";
import { useFieldValue } from "./TicketFields";

interface Props {
  tickets: Ticket[];
  caption: string;
}

export function TicketTable({ tickets, caption }: Props) {
  const { t } = useTranslation();
  const fmt = useFormat();
  const loc = useLocalized();
  const show = useFieldValue();
  const types = useTicketTypes();
  return (
    <div className="card table-card">
      <table className="table table-cards">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t("ticket.title")}</th>
            <th scope="col">{t("ticket.type")}</th>
            <th scope="col">{t("ticket.status")}</th>
            <th scope="col">{t("ticket.currentSteps")}</th>
            <th scope="col">{t("ticket.requester")}</th>
            <th scope="col">{t("ticket.updated")}</th>
          </tr>
        </thead>
        <tbody>
          {tickets.map((ticket) => {
            const type = types.data?.find((tp) => tp.key === ticket.type);
            const summary = (type?.summary_fields ?? [])
              .filter((f) => ticket.fields?.[f] !== undefined && ticket.fields[f] !== null && ticket.fields[f] !== "")
              .map((f) => `${loc.fieldTitle(type, f)}: ${show(f, type?.form.properties[f], ticket.fields[f])}`);
            return (
              <tr key={ticket.id} data-testid="ticket-row" data-ticket-id={ticket.id} data-type={ticket.type}>
                <td className="cell-title wrap-anywhere" data-label={t("ticket.title")}>
                  <Link to={`/tickets/${ticket.id}`} className="row-link">
                    {ticket.title}
                  </Link>
                  <div className="muted small">
                    <span className="mono">#{ticket.id.slice(0, 8)}</span>
                    {summary.length > 0 && <span className="row-summary"> · {summary.join(" · ")}</span>}
                  </div>
                </td>
                <td data-label={t("ticket.type")}>{loc.typeName(type, ticket.type_name || ticket.type)}</td>
                <td data-label={t("ticket.status")}>
                  <StatusBadge status={ticket.status} />
                </td>
                <td className="cell-steps" data-testid="row-current-steps" data-label={t("ticket.currentSteps")}>
                  {ticket.current_steps?.length ? currentStepNames(t, ticket).join(", ") : "—"}
                </td>
                <td data-label={t("ticket.requester")}>{ticket.requester}</td>
                <td data-label={t("ticket.updated")} title={fmt.dateTime(ticket.updated_at)}>
                  {fmt.ago(ticket.updated_at)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
