import { Link, NavLink, Outlet } from "react-router";
import { useTranslation } from "react-i18next";
import { hasRole, useAuth } from "../auth/AuthContext";
import { LanguageSwitch } from "./LanguageSwitch";
import { NotificationBell } from "./NotificationBell";
import { useApprovals } from "../api/hooks";

function Brand() {
  return (
    <Link to="/" className="brand" aria-label="PFlow">
      <img src="/favicon.svg" alt="" width="26" height="26" />
      <span>PFlow</span>
    </Link>
  );
}

function InboxCount() {
  const { data } = useApprovals(1, 1);
  if (!data || data.total === 0) return null;
  return (
    <span className="nav-count" data-testid="approvals-count">
      {data.total}
    </span>
  );
}

export function Layout() {
  const { t } = useTranslation();
  const { user, logout } = useAuth();
  const isManager = hasRole(user, "manager");
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
            {isManager && (
              <NavLink to="/approvals">
                {t("nav.approvals")}
                <InboxCount />
              </NavLink>
            )}
            <NavLink to="/tickets/new">{t("nav.newTicket")}</NavLink>
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
                  <span className="user-roles">{user.roles.map((r) => t(`role.${r}`, { defaultValue: r })).join(", ")}</span>
                </span>
              </div>
            )}
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
