import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { useTasks, useTicketTypes } from "../api/hooks";
import { useAuth } from "../auth/AuthContext";
import { Pagination } from "../components/Pagination";
import { Empty, ErrorBox, Loading } from "../components/States";
import { groupName, stepName } from "../components/StepCard";
import { useFormat } from "../i18n/format";
import { useLocalized } from "../i18n/localized";

export const TASKS_PAGE_SIZE = 20;

/** The caller's inbox: every step they may complete now, of any process, oldest first. */
export function TasksPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const loc = useLocalized();
  const { user } = useAuth();
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const type = params.get("type") ?? "";
  const group = params.get("group") ?? "";
  const types = useTicketTypes();
  const query = useTasks({
    page,
    page_size: TASKS_PAGE_SIZE,
    sort: "created",
    ...(type ? { type } : {}),
    ...(group ? { group } : {}),
  });
  const filtered = Boolean(type || group);

  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    if (!("page" in changes)) next.delete("page");
    setParams(next, { replace: true });
  };

  return (
    <section>
      <div className="page-head">
        <div>
          <h1>{t("tasks.title")}</h1>
          <p className="muted">{t("tasks.subtitle")}</p>
        </div>
      </div>

      <div className="toolbar card">
        <div className="field field-inline">
          <label htmlFor="task-type">{t("tasks.typeFilter")}</label>
          <select id="task-type" value={type} onChange={(e) => update({ type: e.target.value || null })}>
            <option value="">{t("tasks.allTypes")}</option>
            {(types.data ?? []).map((tp) => (
              <option key={tp.key} value={tp.key}>
                {loc.typeName(tp, tp.key)}
              </option>
            ))}
          </select>
        </div>
        {(user?.groups?.length ?? 0) > 0 && (
          <div className="field field-inline">
            <label htmlFor="task-group">{t("tasks.groupFilter")}</label>
            <select id="task-group" value={group} onChange={(e) => update({ group: e.target.value || null })}>
              <option value="">{t("tasks.allGroups")}</option>
              {user!.groups!.map((g) => (
                <option key={g} value={g}>
                  {groupName(t, g)}
                </option>
              ))}
            </select>
          </div>
        )}
      </div>

      {query.isPending ? (
        <Loading />
      ) : query.isError && !query.data ? (
        <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
      ) : query.data && query.data.items.length === 0 ? (
        <Empty title={filtered ? t("tasks.noMatch") : t("tasks.empty")}>
          <p className="muted small">{t("tasks.emptyHint")}</p>
        </Empty>
      ) : query.data ? (
        <>
          <div className="card table-card">
            <table className="table">
              <caption className="visually-hidden">{t("tasks.title")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("ticket.type")}</th>
                  <th scope="col">{t("tasks.step")}</th>
                  <th scope="col">{t("ticket.title")}</th>
                  <th scope="col">{t("ticket.requester")}</th>
                  <th scope="col">{t("tasks.waiting")}</th>
                </tr>
              </thead>
              <tbody>
                {query.data.items.map((task) => (
                  <tr key={task.id} data-testid="task-row" data-task-id={task.id} data-ticket-id={task.ticket.id} data-step={task.step}>
                    <td>{loc.typeName(types.data?.find((tp) => tp.key === task.ticket.type), task.ticket.type_name || task.ticket.type)}</td>
                    <td>{stepName(t, task)}</td>
                    <td className="cell-title">
                      <Link to={`/tickets/${task.ticket.id}`} className="row-link">
                        {task.ticket.title}
                      </Link>
                      <div className="muted small mono">#{task.ticket.id.slice(0, 8)}</div>
                    </td>
                    <td>{task.ticket.requester}</td>
                    <td title={fmt.dateTime(task.created_at ?? task.ticket.created_at)}>
                      {fmt.ago(task.created_at ?? task.ticket.created_at)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pagination
            page={query.data.page}
            pageSize={query.data.page_size}
            total={query.data.total}
            onChange={(p) => update({ page: String(p) })}
          />
        </>
      ) : null}
    </section>
  );
}
