import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { ApiError } from "./api/client";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import { DocumentTitle } from "./components/DocumentTitle";
import { Layout } from "./components/Layout";
import { DashboardPage } from "./pages/DashboardPage";
import { IncidentsPage } from "./pages/IncidentsPage";
import { LoginPage } from "./pages/LoginPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { NotificationsPage } from "./pages/NotificationsPage";
import { PreferencesPage } from "./pages/PreferencesPage";
import { TaskRedirect } from "./pages/TaskRedirect";
import { WebhooksPage } from "./pages/WebhooksPage";
import { SubstitutePage } from "./pages/SubstitutePage";
import { TasksPage } from "./pages/TasksPage";
import { TicketDetailPage } from "./pages/TicketDetailPage";
import { EditTicketPage, NewTicketPage } from "./pages/TicketFormPage";
import { TicketListPage } from "./pages/TicketListPage";
import { UsersPage } from "./pages/UsersPage";

export function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Retry only what may pass on a second try: the network, or a dependency that is briefly down.
        retry: (count, error) =>
          count < 2 && error instanceof ApiError && (error.status === 0 || error.status >= 500),
        refetchOnWindowFocus: true,
        staleTime: 1000,
      },
      mutations: { retry: false },
    },
  });
}

function RequireAuth({ children }: { children: ReactNode }) {
  const { user, checking } = useAuth();
  const location = useLocation();
  if (checking) return <p className="muted page-loading" role="status">…</p>;
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <Layout />
          </RequireAuth>
        }
      >
        <Route index element={<Navigate to="/tickets" replace />} />
        <Route path="/tickets" element={<TicketListPage />} />
        <Route path="/tickets/new" element={<NewTicketPage />} />
        <Route path="/tickets/:id" element={<TicketDetailPage />} />
        <Route path="/tickets/:id/edit" element={<EditTicketPage />} />
        <Route path="/tasks" element={<TasksPage />} />
        {/* A step's address (e-mails link to it) opens the ticket the step belongs to. */}
        <Route path="/tasks/:id" element={<TaskRedirect />} />
        {/* The managers' approvals page became everyone's task inbox; old links and bookmarks land there. */}
        <Route path="/approvals" element={<Navigate to="/tasks" replace />} />
        <Route path="/notifications" element={<NotificationsPage />} />
        <Route path="/me/substitute" element={<SubstitutePage />} />
        <Route path="/preferences" element={<PreferencesPage />} />
        <Route path="/dashboard" element={<DashboardPage />} />
        <Route path="/admin/incidents" element={<IncidentsPage />} />
        <Route path="/admin/users" element={<UsersPage />} />
        <Route path="/admin/webhooks" element={<WebhooksPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

export function App({ queryClient }: { queryClient: QueryClient }) {
  return (
    <QueryClientProvider client={queryClient}>
      <AuthProvider>
        <DocumentTitle />
        <AppRoutes />
      </AuthProvider>
    </QueryClientProvider>
  );
}
