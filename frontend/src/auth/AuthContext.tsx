import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api, setUnauthorizedListener, tokenStore } from "../api/client";
import type { User } from "../api/types";

const USER_KEY = "pflow.user";

export type LogoutReason = "expired" | "signed_out";

interface AuthState {
  user: User | null;
  login: (username: string, password: string) => Promise<User>;
  logout: (reason?: LogoutReason) => void;
  /** Why the last session ended, for the login screen to say so (cleared on the next login). */
  logoutReason: LogoutReason | null;
}

const AuthContext = createContext<AuthState | null>(null);

function storedUser(): User | null {
  if (!tokenStore.get()) return null;
  try {
    const raw = localStorage.getItem(USER_KEY);
    return raw ? (JSON.parse(raw) as User) : null;
  } catch {
    return null;
  }
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [user, setUser] = useState<User | null>(storedUser);
  const [logoutReason, setLogoutReason] = useState<LogoutReason | null>(null);

  const logout = useCallback(
    (reason: LogoutReason = "signed_out") => {
      // Signing out revokes the session's tokens on the server too (sent before the token is forgotten);
      // the screen does not wait for it, and a failure (server down, token already gone) changes nothing here.
      if (reason === "signed_out" && tokenStore.get()) api.logout().catch(() => undefined);
      tokenStore.clear();
      localStorage.removeItem(USER_KEY);
      setLogoutReason(reason);
      setUser(null);
      queryClient.clear();
    },
    [queryClient],
  );

  const login = useCallback(
    async (username: string, password: string) => {
      const result = await api.login(username, password);
      tokenStore.set(result.token);
      localStorage.setItem(USER_KEY, JSON.stringify(result.user));
      queryClient.clear();
      setLogoutReason(null);
      setUser(result.user);
      return result.user;
    },
    [queryClient],
  );

  // Any 401 from an authenticated call means the token is gone or expired: back to the login screen.
  useEffect(() => {
    setUnauthorizedListener(() => {
      if (tokenStore.get()) logout("expired");
    });
    return () => setUnauthorizedListener(null);
  }, [logout]);

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

  const value = useMemo(() => ({ user, login, logout, logoutReason }), [user, login, logout, logoutReason]);
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
