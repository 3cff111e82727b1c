import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { useApprovals } from "../api/hooks";
import { Pagination } from "../components/Pagination";
import { Empty, ErrorBox, Loading } from "../components/States";
import { TicketTable } from "../components/TicketTable";

const PAGE_SIZE = 20;

/** The manager's inbox: tickets waiting for their decision, oldest first. */
export function ApprovalsPage() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const query = useApprovals(page, PAGE_SIZE);
  return (
    <section>
      <div className="page-head">
        <div>
          <h1>{t("approvals.title")}</h1>
          <p className="muted">{t("approvals.subtitle")}</p>
        </div>
      </div>
      {query.isPending ? (
        <Loading />
      ) : query.isError && !query.data ? (
        <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
      ) : query.data && query.data.items.length === 0 ? (
        <Empty title={t("approvals.empty")}>
          <p className="muted small">{t("approvals.emptyHint")}</p>
        </Empty>
      ) : query.data ? (
        <>
          <TicketTable tickets={query.data.items} caption={t("approvals.title")} waiting />
          <Pagination
            page={query.data.page}
            pageSize={query.data.page_size}
            total={query.data.total}
            onChange={(p) => setParams({ page: String(p) }, { replace: true })}
          />
        </>
      ) : null}
    </section>
  );
}
