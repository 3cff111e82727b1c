import { useTranslation } from "react-i18next";
import type { SchemaProperty, TicketType, User } from "../api/types";

/** Pick the reader's language from a `{lang: text}` map the server sends, else the English default. */
export function pick(map: Record<string, string> | undefined, lang: string, fallback: string): string {
  if (!map) return fallback;
  return map[lang] ?? map[lang.split("-")[0]] ?? fallback;
}

/** Names, descriptions and field titles of ticket types in the reader's language. */
export function useLocalized() {
  const { i18n } = useTranslation();
  const lang = i18n.language;
  return {
    lang,
    typeName: (type: TicketType | undefined, fallback: string) =>
      type ? pick(type.names, lang, type.name || fallback) : fallback,
    typeDescription: (type: TicketType) => pick(type.descriptions, lang, type.description),
    /** The field's title from the type's form (x-title for other languages), else its name. */
    fieldTitle: (type: TicketType | undefined, name: string) => {
      const prop: SchemaProperty | undefined = type?.form.properties[name];
      return prop ? pick(prop["x-title"], lang, prop.title ?? name) : name;
    },
  };
}

/** What a user is, in words: admin (a permission) first, then their groups (or, from an older server, roles). */
export function membershipLabel(t: (k: string, o?: Record<string, unknown>) => string, user: User): string {
  const names = [...user.roles.filter((r) => r === "admin"), ...(user.groups ?? user.roles)];
  return names
    .filter((g, i) => names.indexOf(g) === i)
    .map((g) => t(`group.${g}`, { defaultValue: t(`role.${g}`, { defaultValue: g }) }))
    .join(", ");
}
