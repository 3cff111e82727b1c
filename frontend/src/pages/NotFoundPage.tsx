import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { Empty } from "../components/States";

export function NotFoundPage() {
  const { t } = useTranslation();
  return (
    <Empty title={t("notFound.title")}>
      <Link to="/tickets" className="btn btn-primary btn-sm">
        {t("notFound.back")}
      </Link>
    </Empty>
  );
}
