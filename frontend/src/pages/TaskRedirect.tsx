import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link, Navigate, useParams } from "react-router";
import { api, ApiError } from "../api/client";
import { ErrorBox, Loading } from "../components/States";

/** `/tasks/<id>` (e-mails link there): the ticket the step belongs to; a step already done says so. */
export function TaskRedirect() {
  const { t } = useTranslation();
  const { id = "" } = useParams();
  const query = useQuery({ queryKey: ["task", id], queryFn: () => api.task(id), retry: false });
  if (query.data) return <Navigate to={`/tickets/${query.data.ticket.id}`} replace />;
  if (query.isError) {
    const gone = query.error instanceof ApiError && (query.error.status === 404 || query.error.status === 403);
    return (
      <section className="narrow" data-testid="task-gone">
        {gone ? (
          <div className="state state-empty">
            <h1 className="state-title">{t("taskLink.goneTitle")}</h1>
            <p className="muted">{t("taskLink.gone")}</p>
            <Link to="/tasks" className="btn btn-primary btn-sm">
              {t("taskLink.toTasks")}
            </Link>
          </div>
        ) : (
          <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
        )}
      </section>
    );
  }
  return <Loading />;
}
