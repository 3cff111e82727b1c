import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { useMarkAllNotificationsRead, useMarkNotificationRead, useNotifications } from "../api/hooks";
import { useFormat } from "../i18n/format";
import { hasRole, useAuth } from "../auth/AuthContext";
import { notificationMessage, notificationTitle } from "../components/NotificationBell";
import { Pagination } from "../components/Pagination";
import { Empty, ErrorBox, Loading } from "../components/States";

const PAGE_SIZE = 20;

export function NotificationsPage() {
  const { t } = useTranslation();
  const fmt = useFormat();
  const admin = hasRole(useAuth().user, "admin");
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const unreadOnly = params.get("unread") === "1";
  const query = useNotifications(true, { page, pageSize: PAGE_SIZE, unreadOnly });
  const markRead = useMarkNotificationRead();
  const markAll = useMarkAllNotificationsRead();

  return (
    <section className="narrow">
      <div className="page-head">
        <div>
          <h1>{t("notifications.title")}</h1>
          {query.data && <p className="muted">{t("notifications.unreadCount", { count: query.data.unread })}</p>}
        </div>
        {query.data && (
          <button
            type="button"
            className="btn btn-secondary"
            disabled={query.data.unread === 0 || markAll.isPending}
            onClick={() => markAll.mutate()}
          >
            {t("notifications.markAll")}
          </button>
        )}
      </div>
      {!query.unavailable && (
        <div className="toolbar card">
          <label className="checkbox">
            <input
              type="checkbox"
              checked={unreadOnly}
              onChange={(e) => setParams(e.target.checked ? { unread: "1" } : {}, { replace: true })}
            />
            {t("notifications.unreadOnly")}
          </label>
        </div>
      )}
      {query.unavailable ? (
        <Empty title={t("notifications.unavailable")} />
      ) : query.isPending ? (
        <Loading />
      ) : query.isError && !query.data ? (
        <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
      ) : query.data && query.data.items.length === 0 ? (
        <Empty title={t("notifications.empty")} />
      ) : query.data ? (
        <>
          <ul className="card notif-page-list">
            {query.data.items.map((n) => (
              <li key={n.id} className={n.read_at ? "" : "notif-unread"}>
                <div className="notif-main">
                  <span className="notif-title">{notificationTitle(t, n)}</span>
                  <span className="notif-message">{notificationMessage(t, fmt, n, { admin })}</span>
                  <span className="muted small">
                    <time dateTime={n.created_at}>{fmt.dateTime(n.created_at)}</time>
                  </span>
                </div>
                <div className="notif-actions">
                  {n.ticket_id && (
                    <Link
                      to={`/tickets/${n.ticket_id}`}
                      className="btn btn-secondary btn-sm"
                      onClick={() => !n.read_at && markRead.mutate(n.id)}
                    >
                      {t("notifications.open")}
                    </Link>
                  )}
                  {!n.read_at && (
                    <button type="button" className="btn btn-ghost btn-sm" onClick={() => markRead.mutate(n.id)}>
                      {t("notifications.markRead")}
                    </button>
                  )}
                </div>
              </li>
            ))}
          </ul>
          <Pagination
            page={query.data.page}
            pageSize={query.data.page_size}
            total={query.data.total}
            onChange={(p) => setParams({ ...(unreadOnly ? { unread: "1" } : {}), page: String(p) }, { replace: true })}
          />
        </>
      ) : null}
    </section>
  );
}
