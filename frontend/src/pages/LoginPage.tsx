import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, useLocation, useNavigate } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { useAuthProviders, useDemoUsers } from "../api/hooks";
import { LanguageSwitch } from "../components/LanguageSwitch";
import { useErrorMessage } from "../components/States";
import { membershipLabel } from "../i18n/localized";
import { useFocusOn } from "../components/focus";

export function LoginPage() {
  const { t } = useTranslation();
  const { user, login, logoutReason } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const errorMessage = useErrorMessage();
  const demo = useDemoUsers();
  const providers = useAuthProviders();
  const sso = providers.data?.sso ?? null;
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const errorRef = useFocusOn<HTMLDivElement>(error);
  const from = (location.state as { from?: string } | null)?.from ?? "/tickets";

  if (user) return <Navigate to={from} replace />;
  const ssoError = new URLSearchParams(location.search).get("sso_error");

  const doLogin = async (name: string, pass: string) => {
    setBusy(true);
    setError(null);
    try {
      await login(name, pass);
      navigate(from, { replace: true });
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (!username.trim() || !password) {
      setError(t("login.missing"));
      return;
    }
    void doLogin(username.trim(), password);
  };

  return (
    <main className="login-page">
      <div className="login-lang">
        <LanguageSwitch />
      </div>
      <div className="login-card card">
        <div className="login-brand">
          <img src="/favicon.svg" alt="" width="40" height="40" />
          <div>
            <h1>PFlow</h1>
            <p className="muted">{t("login.tagline")}</p>
          </div>
        </div>
        {ssoError && (
          <div className="alert alert-error" role="alert">
            {t(`login.ssoError.${ssoError.replace(/^sso\./, "")}`, { defaultValue: t("login.ssoError.failed") })}
          </div>
        )}
        {sso && (
          <div className="sso">
            <a className="btn btn-primary btn-block" href={`${sso.login_url}?next=${encodeURIComponent(from)}`}>
              {t("login.sso", { name: sso.name })}
            </a>
            <p className="sso-or muted small">{t("login.orPassword")}</p>
          </div>
        )}
        {logoutReason === "expired" && (
          <div className="alert alert-info" role="status">
            {t("login.expired")}
          </div>
        )}
        <form onSubmit={onSubmit} noValidate aria-label={t("login.title")}>
          <h2 className="login-title">{t("login.title")}</h2>
          <div className="field">
            <label htmlFor="login-username">{t("login.username")}</label>
            <input
              id="login-username"
              name="username"
              autoComplete="username"
              autoFocus
              value={username}
              onChange={(e) => setUsername(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="login-password">{t("login.password")}</label>
            <input
              id="login-password"
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
          {error && (
            <div className="alert alert-error" role="alert" tabIndex={-1} ref={errorRef}>
              {error}
            </div>
          )}
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? t("login.signingIn") : t("login.submit")}
          </button>
        </form>
        {demo.data && demo.data.length > 0 && (
          <section className="demo-users" aria-labelledby="demo-users-title">
            <h3 id="demo-users-title">{t("login.demoTitle")}</h3>
            <p className="muted small">{t("login.demoHint")}</p>
            <ul>
              {demo.data.map((u) => (
                <li key={u.username}>
                  <button
                    type="button"
                    className="demo-user"
                    disabled={busy}
                    data-testid={`demo-user-${u.username}`}
                    onClick={() => void doLogin(u.username, u.username)}
                  >
                    <span className="avatar" aria-hidden="true">
                      {(u.display_name || u.username).slice(0, 1).toUpperCase()}
                    </span>
                    <span>
                      <strong>{u.username}</strong>
                      <span className="muted small"> · {membershipLabel(t, u)}</span>
                    </span>
                    <span className="demo-user-go" aria-hidden="true">→</span>
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>
    </main>
  );
}
