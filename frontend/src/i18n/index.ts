import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import en from "./locales/en.json";
import zhCN from "./locales/zh-CN.json";

export const LANGUAGES = [
  { code: "en", label: "English" },
  { code: "zh-CN", label: "简体中文" },
] as const;
export type Language = (typeof LANGUAGES)[number]["code"];

export const LANGUAGE_KEY = "pflow.lang";

/** The remembered choice, else the browser's preference (any Chinese -> zh-CN), else English. */
export function initialLanguage(): Language {
  const saved = typeof localStorage !== "undefined" ? localStorage.getItem(LANGUAGE_KEY) : null;
  if (saved && LANGUAGES.some((l) => l.code === saved)) return saved as Language;
  const preferred = typeof navigator !== "undefined" ? navigator.languages ?? [navigator.language] : [];
  return preferred.some((l) => l?.toLowerCase().startsWith("zh")) ? "zh-CN" : "en";
}

function applyToDocument(lng: string) {
  if (typeof document !== "undefined") document.documentElement.lang = lng;
}

i18n.on("languageChanged", (lng) => {
  applyToDocument(lng);
  try {
    localStorage.setItem(LANGUAGE_KEY, lng);
  } catch {
    /* private mode: the choice just isn't remembered */
  }
});

void i18n.use(initReactI18next).init({
  resources: { en: { translation: en }, "zh-CN": { translation: zhCN } },
  lng: initialLanguage(),
  fallbackLng: "en",
  supportedLngs: LANGUAGES.map((l) => l.code),
  interpolation: { escapeValue: false },
  returnNull: false,
});
applyToDocument(i18n.language);

export default i18n;
