// Notifications: each user's choice of what reaches them where (GET/PUT /api/me/preferences), the
// defaults an admin sets (/api/admin/preferences), and the webhook endpoints events are posted to
// (/api/webhooks). These shapes are written here by hand, as the server's API documents them.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { request } from "./client";

/** What a notification is about (the kinds a user chooses per channel). */
export type PreferenceKind = "new_task" | "decision" | "reminder" | "failure";
export const PREFERENCE_KINDS: PreferenceKind[] = ["new_task", "decision", "reminder", "failure"];

/** Where a notification reaches a user: the bell in the app, or an e-mail. */
export type PreferenceChannel = "in_app" | "email";
export const PREFERENCE_CHANNELS: PreferenceChannel[] = ["in_app", "email"];

export type KindSwitches = Record<PreferenceKind, boolean>;
export type Channels = Record<PreferenceChannel, KindSwitches>;

/** What the user chose themselves: missing or null where they follow the defaults. */
export type OwnChannels = Partial<Record<PreferenceChannel, Partial<Record<PreferenceKind, boolean | null>> | null>>;

/** GET /api/me/preferences: what applies (defaults merged with the user's choice), and what they chose. */
export interface MyPreferences {
  channels: Channels;
  digest: boolean;
  own: { channels?: OwnChannels | null; digest?: boolean | null } | null;
  /** the address e-mails go to (null: none is known) */
  email: string | null;
  /** whether this server sends e-mail at all (SMTP configured) */
  email_enabled: boolean;
}

/** PUT /api/me/preferences: a partial choice; `digest` null follows the default again. */
export interface PreferencesInput {
  channels: Partial<Record<PreferenceChannel, Partial<KindSwitches>>>;
  digest: boolean | null;
}

/** GET/PUT /api/admin/preferences: what applies to everyone who has not chosen. */
export interface DefaultPreferences {
  channels: Channels;
  digest: boolean;
}

export type WebhookFormat = "json" | "slack" | "teams";
export const WEBHOOK_FORMATS: WebhookFormat[] = ["json", "slack", "teams"];
/** Event type patterns offered when adding an endpoint. */
export const EVENT_TYPE_SUGGESTIONS = ["ticket.*", "task.*", "*"];

export interface WebhookEndpoint {
  id: string;
  url: string;
  event_types: string[];
  format: WebhookFormat;
  description: string | null;
  active: boolean;
  consecutive_failures: number;
  disabled_reason: string | null;
  created_at: string;
  created_by: string | null;
}

/** POST /api/webhooks answers the endpoint with its secret: the only time the secret is shown. */
export type CreatedWebhook = WebhookEndpoint & { secret: string };

export interface WebhookInput {
  url: string;
  event_types: string[];
  format?: WebhookFormat;
  description?: string;
  secret?: string;
}

export interface WebhookUpdate {
  url?: string;
  event_types?: string[];
  format?: WebhookFormat;
  description?: string;
  /** true re-enables a disabled endpoint and resets its failure count */
  active?: boolean;
}

export interface WebhookDelivery {
  id: string;
  event_id: string;
  event_type: string;
  status: string;
  attempts: number;
  response_code: number | null;
  latency_ms: number | null;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
  next_attempt_at: string | null;
}

/** POST /api/webhooks/<id>/test: a `ping` sent at once. */
export interface WebhookTestResult {
  status: "sent" | "failed";
  response_code: number | null;
  latency_ms: number | null;
  error: string | null;
}

const enc = encodeURIComponent;

export const notifyApi = {
  myPreferences: () => request<MyPreferences>("/me/preferences"),
  saveMyPreferences: (input: PreferencesInput) =>
    request<MyPreferences>("/me/preferences", { method: "PUT", body: input }),
  defaults: () => request<DefaultPreferences>("/admin/preferences"),
  saveDefaults: (input: DefaultPreferences) =>
    request<DefaultPreferences>("/admin/preferences", { method: "PUT", body: input }),

  webhooks: () => request<{ items: WebhookEndpoint[] }>("/webhooks"),
  createWebhook: (input: WebhookInput) => request<CreatedWebhook>("/webhooks", { method: "POST", body: input }),
  updateWebhook: (id: string, input: WebhookUpdate) =>
    request<WebhookEndpoint>(`/webhooks/${enc(id)}`, { method: "PATCH", body: input }),
  deleteWebhook: (id: string) => request<null>(`/webhooks/${enc(id)}`, { method: "DELETE" }),
  deliveries: (id: string, limit = 50) =>
    request<{ items: WebhookDelivery[] }>(`/webhooks/${enc(id)}/deliveries`, { query: { limit } }),
  testWebhook: (id: string) => request<WebhookTestResult>(`/webhooks/${enc(id)}/test`, { method: "POST" }),
};

export const notifyKeys = {
  mine: ["preferences", "me"] as const,
  defaults: ["preferences", "defaults"] as const,
  webhooks: ["webhooks"] as const,
  deliveries: (id: string) => ["webhooks", id, "deliveries"] as const,
};

export function useMyPreferences() {
  return useQuery({ queryKey: notifyKeys.mine, queryFn: notifyApi.myPreferences });
}

export function useSaveMyPreferences() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: notifyApi.saveMyPreferences,
    onSuccess: (prefs) => qc.setQueryData(notifyKeys.mine, prefs),
  });
}

export function useDefaultPreferences(enabled: boolean) {
  return useQuery({ queryKey: notifyKeys.defaults, queryFn: notifyApi.defaults, enabled });
}

export function useSaveDefaults() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: notifyApi.saveDefaults,
    onSuccess: (prefs) => {
      qc.setQueryData(notifyKeys.defaults, prefs);
      // what applies to the admin themselves may follow the defaults
      void qc.invalidateQueries({ queryKey: notifyKeys.mine });
    },
  });
}

export function useWebhooks(enabled: boolean) {
  return useQuery({ queryKey: notifyKeys.webhooks, queryFn: notifyApi.webhooks, enabled });
}

export function useDeliveries(id: string, enabled: boolean) {
  return useQuery({ queryKey: notifyKeys.deliveries(id), queryFn: () => notifyApi.deliveries(id), enabled });
}

function useWebhookMutation<I, O>(fn: (input: I) => Promise<O>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: fn,
    onSettled: () => void qc.invalidateQueries({ queryKey: notifyKeys.webhooks }),
  });
}

export const useCreateWebhook = () => useWebhookMutation(notifyApi.createWebhook);
export const useUpdateWebhook = () =>
  useWebhookMutation(({ id, input }: { id: string; input: WebhookUpdate }) => notifyApi.updateWebhook(id, input));
export const useDeleteWebhook = () => useWebhookMutation((id: string) => notifyApi.deleteWebhook(id));
export const useTestWebhook = () => useWebhookMutation((id: string) => notifyApi.testWebhook(id));
