import { useEffect } from "react";
import { useTranslation } from "react-i18next";
import type { TFunction } from "i18next";
import { matchPath, useLocation } from "react-router";

/** Each route's page name (under `title.*`), most specific pattern first. */
const ROUTES: { path: string; title: (t: TFunction, params: Record<string, string | undefined>) => string }[] = [
  { path: "/login", title: (t) => t("title.login") },
  { path: "/dashboard", title: (t) => t("title.dashboard") },
  { path: "/admin/incidents", title: (t) => t("title.incidents") },
  { path: "/admin/users", title: (t) => t("title.users") },
  { path: "/admin/webhooks", title: (t) => t("title.webhooks") },
  { path: "/tickets/new", title: (t) => t("title.newTicket") },
  { path: "/tickets/:id/edit", title: (t, p) => t("title.editTicket", { id: shortId(p.id) }) },
  { path: "/tickets/:id", title: (t, p) => t("title.ticket", { id: shortId(p.id) }) },
  { path: "/tickets", title: (t) => t("title.tickets") },
  { path: "/tasks", title: (t) => t("title.tasks") },
  { path: "/tasks/:id", title: (t) => t("title.tasks") }, // opens the step's ticket
  { path: "/approvals", title: (t) => t("title.tasks") }, // redirects to /tasks
  { path: "/notifications", title: (t) => t("title.notifications") },
  { path: "/me/substitute", title: (t) => t("title.substitute") },
  { path: "/preferences", title: (t) => t("title.preferences") },
  { path: "/", title: (t) => t("title.tickets") }, // redirects to /tickets
];

/** A ticket's number as the UI shows it everywhere (#0f1e2d3c). */
function shortId(id: string | undefined): string {
  return (id ?? "").slice(0, 8);
}

/** "<page> — PFlow" for a path, in the reader's language (an unknown path: the not-found page). */
export function documentTitle(pathname: string, t: TFunction): string {
  for (const route of ROUTES) {
    const match = matchPath({ path: route.path, end: true }, pathname);
    if (match) return t("title.page", { page: route.title(t, match.params) });
  }
  return t("title.page", { page: t("title.notFound") });
}

/** Keeps `document.title` naming the current page, so tabs, history and screen readers tell pages apart. */
export function DocumentTitle() {
  const { t, i18n } = useTranslation();
  const { pathname } = useLocation();
  useEffect(() => {
    document.title = documentTitle(pathname, t);
  }, [pathname, t, i18n.language]);
  return null;
}
