import { useEffect, useId, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import type { TFunction } from "i18next";
import { isAdmin, isForbidden } from "../api/admin";
import {
  PREFERENCE_CHANNELS,
  PREFERENCE_KINDS,
  useDefaultPreferences,
  useMyPreferences,
  useSaveDefaults,
  useSaveMyPreferences,
  type Channels,
  type MyPreferences,
  type PreferenceChannel,
  type PreferenceKind,
  type PreferencesInput,
} from "../api/notify";
import { useAuth } from "../auth/AuthContext";
import { ErrorBox, Loading, useErrorMessage } from "../components/States";
import { fieldErrorTexts } from "../i18n/serverError";

type Cell = `${PreferenceChannel}.${PreferenceKind}`;
const cell = (channel: PreferenceChannel, kind: PreferenceKind): Cell => `${channel}.${kind}`;

function copyChannels(c: Channels): Channels {
  return { in_app: { ...c.in_app }, email: { ...c.email } };
}

/** A field the server named in a 422 (`channels.email.new_task`, `digest`), in words. */
export function preferenceFieldName(t: TFunction, path: string): string {
  const [head, channel, kind] = path.split(".");
  if (head === "digest") return t("preferences.digest");
  if (head === "channels" && channel && kind)
    return `${t(`preferences.channel.${channel}`, { defaultValue: channel })} — ${t(`preferences.kind.${kind}`, { defaultValue: kind })}`;
  if (head === "channels" && channel) return t(`preferences.channel.${channel}`, { defaultValue: channel });
  return path === "_" ? t("preferences.title") : path;
}

/** What a save failed on: each field the server named, with its reason; else the server's message. */
function SaveError({ error }: { error: unknown }) {
  const { t } = useTranslation();
  const message = useErrorMessage();
  const fields = fieldErrorTexts(t, error);
  const named = Object.entries(fields);
  return (
    <div className="alert alert-error" role="alert" data-testid="save-error">
      <div>
        <p className="alert-message">{message(error)}</p>
        {named.length > 0 && (
          <ul>
            {named.map(([path, reasons]) => (
              <li key={path} data-field={path}>
                {t("preferences.fieldError", { field: preferenceFieldName(t, path), reason: reasons.join(" ") })}
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

/** The kinds (rows) by channels (columns), a switch in each cell. */
function Grid({
  caption,
  channels,
  invalid,
  onChange,
  testId,
}: {
  caption: string;
  channels: Channels;
  invalid: Set<string>;
  onChange: (channel: PreferenceChannel, kind: PreferenceKind, on: boolean) => void;
  testId: string;
}) {
  const { t } = useTranslation();
  return (
    <table className="table preferences-grid" data-testid={testId}>
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{t("preferences.kindHeading")}</th>
          {PREFERENCE_CHANNELS.map((channel) => (
            <th scope="col" key={channel}>
              {t(`preferences.channel.${channel}`)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {PREFERENCE_KINDS.map((kind) => (
          <tr key={kind}>
            <th scope="row">
              {t(`preferences.kind.${kind}`)}
              <span className="muted small preferences-hint">{t(`preferences.kindHint.${kind}`)}</span>
            </th>
            {PREFERENCE_CHANNELS.map((channel) => (
              <td key={channel} data-label={t(`preferences.channel.${channel}`)}>
                <input
                  type="checkbox"
                  role="switch"
                  checked={channels[channel][kind]}
                  aria-invalid={invalid.has(`channels.${cell(channel, kind)}`) || undefined}
                  aria-label={t("preferences.cellLabel", {
                    kind: t(`preferences.kind.${kind}`),
                    channel: t(`preferences.channel.${channel}`),
                  })}
                  onChange={(e) => onChange(channel, kind, e.target.checked)}
                />
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** What the user asks for: what they chose before, and every cell they changed now (the rest follows the defaults). */
export function preferencesBody(
  loaded: MyPreferences,
  channels: Channels,
  digest: boolean,
): PreferencesInput {
  const own = loaded.own?.channels ?? {};
  const out: PreferencesInput["channels"] = {};
  for (const channel of PREFERENCE_CHANNELS) {
    for (const kind of PREFERENCE_KINDS) {
      const chosen = own[channel]?.[kind];
      const changed = channels[channel][kind] !== loaded.channels[channel][kind];
      if (changed || (chosen !== undefined && chosen !== null)) (out[channel] ??= {})[kind] = channels[channel][kind];
    }
  }
  const ownDigest = loaded.own?.digest;
  const digestChosen = digest !== loaded.digest || (ownDigest !== undefined && ownDigest !== null);
  return { channels: out, digest: digestChosen ? digest : null };
}

function MyPreferencesForm({ loaded }: { loaded: MyPreferences }) {
  const { t } = useTranslation();
  const save = useSaveMyPreferences();
  const [channels, setChannels] = useState<Channels>(() => copyChannels(loaded.channels));
  const [digest, setDigest] = useState(loaded.digest);
  const [saved, setSaved] = useState(false);
  const digestId = useId();
  const invalid = new Set(Object.keys(fieldErrorTexts(t, save.error)));

  const onChange = (channel: PreferenceChannel, kind: PreferenceKind, on: boolean) => {
    setSaved(false);
    setChannels((c) => ({ ...c, [channel]: { ...c[channel], [kind]: on } }));
  };
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    save.mutate(preferencesBody(loaded, channels, digest), {
      onSuccess: (prefs) => {
        setChannels(copyChannels(prefs.channels));
        setDigest(prefs.digest);
        setSaved(true);
      },
    });
  };

  return (
    <form className="card form" onSubmit={onSubmit} noValidate aria-label={t("preferences.formLabel")}>
      <div className="preferences-email" data-testid="email-state">
        {!loaded.email_enabled ? (
          <p className="muted">{t("preferences.emailOff")}</p>
        ) : loaded.email ? (
          <p>
            {t("preferences.emailTo")} <strong className="mono">{loaded.email}</strong>
          </p>
        ) : (
          <p className="muted">{t("preferences.noEmail")}</p>
        )}
      </div>
      <Grid caption={t("preferences.formLabel")} channels={channels} invalid={invalid} onChange={onChange} testId="my-grid" />
      <div className="field checkbox-field">
        <label htmlFor={digestId}>
          <input
            id={digestId}
            type="checkbox"
            checked={digest}
            aria-invalid={invalid.has("digest") || undefined}
            onChange={(e) => {
              setSaved(false);
              setDigest(e.target.checked);
            }}
          />{" "}
          {t("preferences.digest")}
        </label>
        <p className="muted small">{t("preferences.digestHint")}</p>
      </div>
      <p className="muted small">{t("preferences.followsDefaults")}</p>
      {save.isError && <SaveError error={save.error} />}
      {saved && (
        <p className="alert alert-success" role="status" data-testid="saved">
          {t("preferences.saved")}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={save.isPending}>
          {save.isPending ? t("actions.working") : t("preferences.save")}
        </button>
      </div>
    </form>
  );
}

/** The admins' defaults: what applies to everyone who has not chosen. */
function DefaultsSection() {
  const { t } = useTranslation();
  const query = useDefaultPreferences(true);
  const save = useSaveDefaults();
  const [channels, setChannels] = useState<Channels | null>(null);
  const [digest, setDigest] = useState(false);
  const [saved, setSaved] = useState(false);
  const digestId = useId();
  const invalid = new Set(Object.keys(fieldErrorTexts(t, save.error)));

  useEffect(() => {
    if (query.data && channels === null) {
      setChannels(copyChannels(query.data.channels));
      setDigest(query.data.digest);
    }
  }, [query.data, channels]);

  if (isForbidden(query.error)) return null;
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (!channels) return;
    setSaved(false);
    save.mutate({ channels, digest }, { onSuccess: () => setSaved(true) });
  };

  return (
    <section className="card" aria-labelledby="defaults-heading" data-testid="defaults">
      <h2 id="defaults-heading" className="h3">
        {t("preferences.defaultsTitle")}
      </h2>
      <p className="muted small">{t("preferences.defaultsSubtitle")}</p>
      {query.isPending || (!channels && !query.isError) ? (
        <Loading />
      ) : query.isError || !channels ? (
        <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
      ) : (
        <form className="form" onSubmit={onSubmit} noValidate aria-label={t("preferences.defaultsTitle")}>
          <Grid
            caption={t("preferences.defaultsTitle")}
            channels={channels}
            invalid={invalid}
            testId="defaults-grid"
            onChange={(channel, kind, on) => {
              setSaved(false);
              setChannels((c) => c && { ...c, [channel]: { ...c[channel], [kind]: on } });
            }}
          />
          <div className="field checkbox-field">
            <label htmlFor={digestId}>
              <input
                id={digestId}
                type="checkbox"
                checked={digest}
                onChange={(e) => {
                  setSaved(false);
                  setDigest(e.target.checked);
                }}
              />{" "}
              {t("preferences.defaultDigest")}
            </label>
          </div>
          {save.isError && <SaveError error={save.error} />}
          {saved && (
            <p className="alert alert-success" role="status" data-testid="defaults-saved">
              {t("preferences.defaultsSaved")}
            </p>
          )}
          <div className="form-actions">
            <button type="submit" className="btn btn-secondary" disabled={save.isPending}>
              {save.isPending ? t("actions.working") : t("preferences.saveDefaults")}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}

/** "Notifications": what reaches the user in the app and by e-mail; for admins also everyone's defaults. */
export function PreferencesPage() {
  const { t } = useTranslation();
  const { user } = useAuth();
  const query = useMyPreferences();
  return (
    <section className="narrow">
      <div className="page-head">
        <div>
          <h1>{t("preferences.title")}</h1>
          <p className="muted">{t("preferences.subtitle")}</p>
        </div>
      </div>
      {query.isPending ? (
        <Loading />
      ) : query.isError && !query.data ? (
        <ErrorBox error={query.error} onRetry={() => void query.refetch()} />
      ) : (
        <MyPreferencesForm loaded={query.data} />
      )}
      {isAdmin(user) && <DefaultsSection />}
    </section>
  );
}
