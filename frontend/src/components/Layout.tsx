import { Link, NavLink, Outlet } from "react-router";
import { useTranslation } from "react-i18next";
import { useAuth } from "../auth/AuthContext";
import { LanguageSwitch } from "./LanguageSwitch";
import { NotificationBell } from "./NotificationBell";
import { useTaskCount } from "../api/hooks";
import { isAdmin, maySeeDashboard, useIncidentCount } from "../api/admin";
import { membershipLabel } from "../i18n/localized";

function Brand() {
  return (
    <Link to="/" className="brand" aria-label="PFlow">
      <img src="/favicon.svg" alt="" width="26" height="26" />
      <span>PFlow</span>
    </Link>
  );
}

/** How many steps wait for the caller, whoever they are: every group has an inbox. */
function InboxCount() {
  const { t } = useTranslation();
  const { data: total } = useTaskCount();
  if (!total) return null;
  return (
    <span className="nav-count" data-testid="tasks-count" aria-label={t("nav.tasksCount", { count: total })}>
      {total > 99 ? "99+" : total}
    </span>
  );
}

/** How many failed steps wait for an admin. */
function IncidentCount() {
  const { t } = useTranslation();
  const total = useIncidentCount(true);
  if (!total) return null;
  return (
    <span className="nav-count nav-count-alert" data-testid="incidents-count" aria-label={t("nav.incidentsCount", { count: total })}>
      {total > 99 ? "99+" : total}
    </span>
  );
}

export function Layout() {
  const { t } = useTranslation();
  const { user, logout } = useAuth();
  return (
    <div className="app">
      <a href="#main" className="skip-link">
        {t("nav.skip")}
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <Brand />
          <nav className="nav" aria-label={t("nav.label")}>
            <NavLink to="/tickets" end>
              {t("nav.tickets")}
            </NavLink>
            <NavLink to="/tasks">
              {t("nav.tasks")}
              <InboxCount />
            </NavLink>
            <NavLink to="/tickets/new">{t("nav.newTicket")}</NavLink>
            {maySeeDashboard(user) && <NavLink to="/dashboard">{t("nav.dashboard")}</NavLink>}
            {isAdmin(user) && (
              <>
                <NavLink to="/admin/incidents">
                  {t("nav.incidents")}
                  <IncidentCount />
                </NavLink>
                <NavLink to="/admin/users">{t("nav.users")}</NavLink>
                <NavLink to="/admin/webhooks">{t("nav.webhooks")}</NavLink>
              </>
            )}
          </nav>
          <div className="topbar-right">
            <NotificationBell />
            <LanguageSwitch />
            {user && (
              <div className="user-chip" title={user.username}>
                <span className="avatar" aria-hidden="true">
                  {(user.display_name || user.username).slice(0, 1).toUpperCase()}
                </span>
                <span className="user-name">
                  <span data-testid="current-user">{user.display_name || user.username}</span>
                  <span className="user-roles">{membershipLabel(t, user)}</span>
                </span>
              </div>
            )}
            <Link to="/preferences" className="btn btn-ghost btn-sm" data-testid="preferences-link">
              {t("nav.preferences")}
            </Link>
            <Link to="/me/substitute" className="btn btn-ghost btn-sm" data-testid="substitute-link">
              {t("nav.substitute")}
            </Link>
            <button type="button" className="btn btn-ghost btn-sm" onClick={() => logout("signed_out")}>
              {t("nav.logout")}
            </button>
          </div>
        </div>
      </header>
      <main id="main" className="content" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
