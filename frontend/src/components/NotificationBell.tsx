import { useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { wordKey } from "../i18n/serverError";
import { hasRole, useAuth } from "../auth/AuthContext";
import type { TFunction } from "i18next";
import { Link, useNavigate } from "react-router";
import { useMarkAllNotificationsRead, useMarkNotificationRead, useNotifications } from "../api/hooks";
import type { Notification } from "../api/types";
import { useFormat } from "../i18n/format";

export function notificationTitle(t: TFunction, n: Notification): string {
  return t(`notificationKind.${n.kind.replace(/\./g, "_")}`, { defaultValue: n.kind });
}

type Format = ReturnType<typeof useFormat>;

/** The kinds this UI words itself, with the optional part whose presence picks the key's variant. */
const VARIANT: Record<string, string | null> = {
  // process-driven tickets
  task_created: null,
  task_reminder: null,
  task_overdue: null,
  task_completed: null,
  ticket_completed: "reference",
  ticket_rejected: "actor",
  ticket_withdrawn: "actor",
  ticket_needs_attention: "error",
  ticket_decision_refused: null,
  // notifications kept from before (a single manager approval)
  ticket_submitted: "amount",
  ticket_approved: null,
  ticket_provisioning_failed: "error",
};

/** The notification's text in the reader's language, from its kind and params; the server's English
 * message for a kind this UI does not know, or a notification from before params were kept. */
export function notificationMessage(t: TFunction, fmt: Format, n: Notification, { admin = false }: { admin?: boolean } = {}): string {
  const kind = n.kind.replace(/\./g, "_");
  const raw = n.params ?? {};
  // A failed step's error text is for admins; a requester reads the failure worded (its key's text when sent).
  const { error, error_key: errorKey, ...rest } = raw as Record<string, string>;
  const failure = errorKey ? wordKey(t, errorKey, {}, "") : "";
  const params: Record<string, string> = failure ? { ...rest, error: failure } : admin && error ? { ...rest, error } : rest;
  if (!params.title || !(kind in VARIANT)) return n.message;
  const variant = VARIANT[kind];
  const key = variant && params[variant] ? `${kind}_${variant}` : kind;
  const values = {
    ...params,
    amount: params.amount ? fmt.amount(params.amount) : "",
    due: params.due ? fmt.dateTime(params.due) : "",
    reason: params.reason ? t(`history.refusal.${params.reason}`, { defaultValue: params.reason }) : "",
  };
  const text = t(`notificationText.${key}`, values);
  return params.comment ? `${text} ${t("notificationText.comment", { comment: params.comment })}` : text;
}

/** The header's bell: unread count and the latest notifications. Hidden when the server has no notifications. */
export function NotificationBell() {
  const { t } = useTranslation();
  const admin = hasRole(useAuth().user, "admin");
  const fmt = useFormat();
  const navigate = useNavigate();
  const { data, unavailable } = useNotifications(true, { pageSize: 8 });
  const markRead = useMarkNotificationRead();
  const markAll = useMarkAllNotificationsRead();
  const [open, setOpen] = useState(false);
  const panelId = useId();
  const rootRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const onDocClick = (e: MouseEvent) => {
      if (rootRef.current && !rootRef.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") setOpen(false);
    };
    document.addEventListener("mousedown", onDocClick);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDocClick);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  // Nothing until the server has answered: a server without notifications (404) never shows a bell.
  if (unavailable || !data) return null;
  const unread = data.unread;

  const openItem = (n: Notification) => {
    if (!n.read_at) markRead.mutate(n.id);
    setOpen(false);
    if (n.ticket_id) navigate(`/tickets/${n.ticket_id}`);
  };

  return (
    <div className="bell" ref={rootRef}>
      <button
        type="button"
        className="icon-btn"
        aria-haspopup="true"
        aria-expanded={open}
        aria-controls={panelId}
        aria-label={t("notifications.bell", { count: unread })}
        data-testid="notification-bell"
        onClick={() => setOpen((o) => !o)}
      >
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
          <path
            d="M6 16V11a6 6 0 1 1 12 0v5l1.5 2h-15L6 16Zm4 3.5a2 2 0 0 0 4 0"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.6"
            strokeLinejoin="round"
          />
        </svg>
        {unread > 0 && (
          <span className="bell-count" data-testid="notification-count">
            {unread > 99 ? "99+" : unread}
          </span>
        )}
      </button>
      {open && (
        <div className="popover" id={panelId} role="region" aria-label={t("notifications.title")}>
          <div className="popover-head">
            <strong>{t("notifications.title")}</strong>
            <button
              type="button"
              className="link-btn"
              disabled={unread === 0 || markAll.isPending}
              onClick={() => markAll.mutate()}
            >
              {t("notifications.markAll")}
            </button>
          </div>
          {data.items.length === 0 ? (
            <p className="popover-empty muted">{t("notifications.empty")}</p>
          ) : (
            <ul className="notif-list">
              {data.items.map((n) => (
                <li key={n.id}>
                  <button type="button" className={`notif ${n.read_at ? "" : "notif-unread"}`} onClick={() => openItem(n)}>
                    <span className="notif-title">{notificationTitle(t, n)}</span>
                    <span className="notif-message">{notificationMessage(t, fmt, n, { admin })}</span>
                    <span className="notif-time muted">{fmt.ago(n.created_at)}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
          <div className="popover-foot">
            <Link to="/notifications" onClick={() => setOpen(false)}>
              {t("notifications.seeAll")}
            </Link>
          </div>
        </div>
      )}
    </div>
  );
}
