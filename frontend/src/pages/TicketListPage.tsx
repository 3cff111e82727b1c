import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useLocation, useSearchParams } from "react-router";
import { useTickets, useTicketTypes } from "../api/hooks";
import { asTicketStatus, TICKET_STATUSES, type TicketSort } from "../api/types";
import { hasRole, useAuth } from "../auth/AuthContext";
import { Pagination } from "../components/Pagination";
import { Empty, ErrorBox, Loading } from "../components/States";
import { TicketTable } from "../components/TicketTable";
import { useLocalized } from "../i18n/localized";
import { useFocusOn } from "../components/focus";
import { SearchBox } from "../components/SearchBox";

export const PAGE_SIZE = 20;

/** The list's orders, as the API's `sort` takes them (TICKET_SORTS); none sent is newest first. */
export const TICKET_SORTS: readonly TicketSort[] = ["-created", "created", "-updated", "updated", "title", "-title"];
const DEFAULT_SORT: TicketSort = "-created";

export function TicketListPage() {
  const { t } = useTranslation();
  const { user } = useAuth();
  const [params, setParams] = useSearchParams();
  // a status the server does not know (an old bookmark) lists every ticket rather than a refusal
  const status = asTicketStatus(params.get("status")) ?? "";
  const type = params.get("type") ?? "";
  const types = useTicketTypes();
  const loc = useLocalized();
  const q = params.get("q") ?? "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const sortParam = params.get("sort") ?? "";
  const sort = TICKET_SORTS.find((s) => s === sortParam) ?? DEFAULT_SORT;
  const seesAll = hasRole(user, "manager") || hasRole(user, "admin");
  const mine = seesAll && params.get("mine") === "1";
  const [search, setSearch] = useState(q);
  const flash = (useLocation().state as { flash?: string } | null)?.flash;
  const flashRef = useFocusOn<HTMLDivElement>(flash);

  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    if (!("page" in changes)) next.delete("page");
    setParams(next, { replace: true });
  };

  // Search as you type, once typing pauses.
  useEffect(() => {
    if (search === q) return;
    const timer = setTimeout(() => update({ q: search.trim() || null }), 300);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [search]);

  const query = useTickets({
    status: status || undefined,
    type: type || undefined,
    q: q || undefined,
    sort: sort === DEFAULT_SORT ? undefined : sort,
    page,
    page_size: PAGE_SIZE,
    ...(mine && user ? { requester: user.username } : {}),
  });

  const filtered = Boolean(status || type || q || mine);

  return (
    <section>
      <div className="page-head">
        <div>
          <h1>{t("tickets.title")}</h1>
          <p className="muted">{seesAll ? t("tickets.subtitleAll") : t("tickets.subtitleMine")}</p>
        </div>
        <Link to="/tickets/new" className="btn btn-primary">
          + {t("tickets.new")}
        </Link>
      </div>

      {flash && (
        <div className="alert alert-success" role="status" data-testid="flash" tabIndex={-1} ref={flashRef}>
          {t(`flash.${flash}`)}
        </div>
      )}

      <div className="toolbar card" role="search">
        <SearchBox
          id="ticket-search"
          label={t("tickets.search")}
          placeholder={t("tickets.searchPlaceholder")}
          hint={t("tickets.searchHint")}
          value={search}
          onChange={setSearch}
        />
        <div className="field field-inline">
          <label htmlFor="status-filter">{t("tickets.statusFilter")}</label>
          <select id="status-filter" value={status} onChange={(e) => update({ status: e.target.value || null })}>
            <option value="">{t("tickets.allStatuses")}</option>
            {TICKET_STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}`)}
              </option>
            ))}
          </select>
        </div>
        {(types.data?.length ?? 0) > 1 && (
          <div className="field field-inline">
            <label htmlFor="type-filter">{t("tickets.typeFilter")}</label>
            <select id="type-filter" value={type} onChange={(e) => update({ type: e.target.value || null })}>
              <option value="">{t("tickets.allTypes")}</option>
              {types.data!.map((tp) => (
                <option key={tp.key} value={tp.key}>
                  {loc.typeName(tp, tp.key)}
                </option>
              ))}
            </select>
          </div>
        )}
        <div className="field field-inline">
          <label htmlFor="ticket-sort">{t("tickets.sortLabel")}</label>
          <select id="ticket-sort" value={sort} onChange={(e) => update({ sort: e.target.value === DEFAULT_SORT ? null : e.target.value })}>
            {TICKET_SORTS.map((s) => (
              <option key={s} value={s}>
                {t(`tickets.sort.${s}`)}
              </option>
            ))}
          </select>
        </div>
        {seesAll && (
          <label className="checkbox">
            <input type="checkbox" checked={mine} onChange={(e) => update({ mine: e.target.checked ? "1" : null })} />
            {t("tickets.mineOnly")}
          </label>
        )}
        <span className="refresh-note muted small" title={t("tickets.autoRefresh")}>
          <span className={`live-dot ${query.isFetching ? "live-dot-busy" : ""}`} aria-hidden="true" />
          {t("tickets.autoRefresh")}
        </span>
      </div>

      {query.isPending ? (
        <Loading />
      ) : query.isError && !query.data ? (
        <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
      ) : query.data && query.data.items.length === 0 ? (
        <Empty title={filtered ? t("tickets.noMatch") : t("tickets.empty")}>
          {filtered ? (
            <button
              type="button"
              className="btn btn-secondary btn-sm"
              onClick={() => {
                setSearch("");
                setParams(new URLSearchParams(), { replace: true });
              }}
            >
              {t("tickets.clearFilters")}
            </button>
          ) : (
            <Link to="/tickets/new" className="btn btn-primary btn-sm">
              {t("tickets.createFirst")}
            </Link>
          )}
        </Empty>
      ) : query.data ? (
        <>
          {query.isError && <ErrorBox error={query.error} onRetry={() => void query.refetch()} />}
          <TicketTable tickets={query.data.items} caption={t("tickets.title")} />
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
