import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api, session, setUnauthorizedListener } from "../api/client";
import type { Me, User } from "../api/types";

const USER_KEY = "pflow.user";

export type LogoutReason = "expired" | "signed_out";

interface AuthState {
  user: Me | null;
  /** A session cookie is there but who it belongs to is not known yet (just back from single sign-on). */
  checking: boolean;
  login: (username: string, password: string) => Promise<Me>;
  logout: (reason?: LogoutReason) => void;
  /** Why the last session ended, for the login screen to say so (cleared on the next login). */
  logoutReason: LogoutReason | null;
}

const AuthContext = createContext<AuthState | null>(null);

function storedUser(): Me | null {
  if (!session.present()) return null;
  try {
    const raw = localStorage.getItem(USER_KEY);
    return raw ? (JSON.parse(raw) as Me) : null;
  } catch {
    return null;
  }
}

/** Where the browser goes to end the identity provider's session too. */
export const SSO_LOGOUT_URL = "/api/auth/oidc/logout";

/** Leave the page for another address (a seam for tests). */
export const navigation = {
  assign(url: string) {
    window.location.assign(url);
  },
};

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [user, setUser] = useState<Me | null>(storedUser);
  const [checking, setChecking] = useState<boolean>(() => session.present() && storedUser() === null);
  const [logoutReason, setLogoutReason] = useState<LogoutReason | null>(null);

  const logout = useCallback(
    (reason: LogoutReason = "signed_out") => {
      // Signing out revokes the session on the server (the request carries the CSRF token before it is
      // forgotten here); someone who signed in through the identity provider then signs out there too.
      const sso = !!user?.sso;
      if (reason === "signed_out" && session.present()) {
        const revoked = api.logout().catch(() => undefined);
        if (sso) void revoked.then(() => navigation.assign(SSO_LOGOUT_URL));
      }
      session.forget();
      localStorage.removeItem(USER_KEY);
      setLogoutReason(reason);
      setUser(null);
      setChecking(false);
      queryClient.clear();
    },
    [queryClient, user?.sso],
  );

  const login = useCallback(
    async (username: string, password: string) => {
      const result = await api.login(username, password);
      const me: Me = { ...result.user, sso: false };
      localStorage.setItem(USER_KEY, JSON.stringify(me));
      queryClient.clear();
      setLogoutReason(null);
      setUser(me);
      return me;
    },
    [queryClient],
  );

  // Any 401 from an authenticated call means the token is gone or expired: back to the login screen.
  useEffect(() => {
    setUnauthorizedListener(() => {
      if (session.present() || localStorage.getItem(USER_KEY)) logout("expired");
    });
    return () => setUnauthorizedListener(null);
  }, [logout]);

  // Back from single sign-on: the cookie is there, find out whose it is.
  useEffect(() => {
    if (!checking) return;
    let cancelled = false;
    api
      .me()
      .then((me) => {
        if (cancelled) return;
        localStorage.setItem(USER_KEY, JSON.stringify(me));
        setLogoutReason(null);
        setUser(me);
      })
      .catch(() => undefined)
      .finally(() => {
        if (!cancelled) setChecking(false);
      });
    return () => {
      cancelled = true;
    };
  }, [checking]);

  // Refresh the stored user (roles may have changed) once per session start.
  useEffect(() => {
    if (!user) return;
    let cancelled = false;
    api
      .me()
      .then((fresh) => {
        if (cancelled) return;
        localStorage.setItem(USER_KEY, JSON.stringify(fresh));
        setUser((current) => (JSON.stringify(current) === JSON.stringify(fresh) ? current : fresh));
      })
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [user?.username]);

  const value = useMemo(
    () => ({ user, checking, login, logout, logoutReason }),
    [user, checking, login, logout, logoutReason],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside <AuthProvider>");
  return ctx;
}

export function hasRole(user: User | null, role: string) {
  return !!user?.roles.includes(role);
}
