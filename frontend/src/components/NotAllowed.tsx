import { useTranslation } from "react-i18next";
import { Link } from "react-router";

/** What a page says to a reader it is not for (a role they lack, or a 403 from the server). */
export function NotAllowed({ section }: { section: "dashboard" | "incidents" | "users" | "webhooks" }) {
  const { t } = useTranslation();
  return (
    <div className="state state-empty" data-testid="not-allowed">
      <svg viewBox="0 0 24 24" width="32" height="32" aria-hidden="true">
        <path d="M12 3l8 3v6c0 4.5-3.4 8.2-8 9-4.6-.8-8-4.5-8-9V6z M9 12h6" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinejoin="round" />
      </svg>
      <h1 className="state-title">{t(`${section}.notAllowedTitle`)}</h1>
      <p className="muted">{t(`${section}.notAllowed`)}</p>
      <Link to="/tickets" className="btn btn-primary btn-sm">
        {t("notFound.back")}
      </Link>
    </div>
  );
}
