import { useTranslation } from "react-i18next";
import { isAdmin, isForbidden, useDirectory } from "../api/admin";
import { useAuth } from "../auth/AuthContext";
import { NotAllowed } from "../components/NotAllowed";
import { ErrorBox, Loading } from "../components/States";
import { groupName } from "../components/StepCard";

/** Who may sign in, with their roles and groups, and who is in each group (read-only). */
export function UsersPage() {
  const { t, i18n } = useTranslation();
  const { user } = useAuth();
  const admin = isAdmin(user);
  const query = useDirectory(admin);

  if (!admin || isForbidden(query.error)) return <NotAllowed section="users" />;

  const roleName = (role: string) => t(`role.${role}`, { defaultValue: role });
  const joined = new Intl.ListFormat(i18n.language, { type: "conjunction", style: "narrow" });
  const list = (items: string[]) => (items.length ? joined.format(items) : t("users.none"));
  const nameOf = (username: string) => {
    const found = query.data?.users.find((u) => u.username === username);
    return found && found.name && found.name !== username ? `${found.name} (${username})` : username;
  };

  return (
    <section>
      <div className="page-head">
        <div>
          <h1>{t("users.title")}</h1>
          <p className="muted">{t("users.subtitle")}</p>
        </div>
      </div>
      {query.isPending ? (
        <Loading />
      ) : query.isError && !query.data ? (
        <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
      ) : (
        <div className="users-grid">
          <section className="card table-card" aria-labelledby="users-heading">
            <h2 id="users-heading" className="card-title users-heading">
              {t("users.usersHeading")}
            </h2>
            {query.data.users.length === 0 ? (
              <p className="dash-empty">{t("users.noUsers")}</p>
            ) : (
              <table className="table directory-table">
                <caption className="visually-hidden">{t("users.usersHeading")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("users.name")}</th>
                    <th scope="col">{t("users.username")}</th>
                    <th scope="col">{t("users.roles")}</th>
                    <th scope="col">{t("users.groups")}</th>
                  </tr>
                </thead>
                <tbody>
                  {query.data.users.map((u) => (
                    <tr key={u.username} data-testid="user-row">
                      <th scope="row" data-label={t("users.name")}>
                        {u.name || u.username}
                      </th>
                      <td className="mono" data-label={t("users.username")}>
                        {u.username}
                      </td>
                      <td data-label={t("users.roles")}>{list(u.roles.map(roleName))}</td>
                      <td data-label={t("users.groups")}>{list(u.groups.map((g) => groupName(t, g)))}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>

          <section className="card table-card" aria-labelledby="groups-heading">
            <h2 id="groups-heading" className="card-title users-heading">
              {t("users.groupsHeading")}
            </h2>
            {query.data.groups.length === 0 ? (
              <p className="dash-empty">{t("users.noGroups")}</p>
            ) : (
              <table className="table directory-table">
                <caption className="visually-hidden">{t("users.groupsHeading")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("users.group")}</th>
                    <th scope="col">{t("users.members")}</th>
                  </tr>
                </thead>
                <tbody>
                  {query.data.groups.map((g) => (
                    <tr key={g.name} data-testid="group-row">
                      <th scope="row" data-label={t("users.group")}>
                        {groupName(t, g.name)}
                      </th>
                      <td data-label={t("users.members")}>
                        {g.members.length ? joined.format(g.members.map(nameOf)) : t("users.noMembers")}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </div>
      )}
    </section>
  );
}
