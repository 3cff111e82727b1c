import { describe, expect, it } from "vitest";
import en from "./locales/en.json";
import zh from "./locales/zh-CN.json";
import { initialLanguage, LANGUAGE_KEY } from ".";
import { TICKET_STATUSES } from "../api/types";

type Tree = { [k: string]: string | Tree };

function keys(tree: Tree, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([k, v]) => (typeof v === "string" ? [prefix + k] : keys(v, `${prefix}${k}.`)));
}
// Plural forms differ by language (English has _one, Chinese only _other).
const base = (k: string) => k.replace(/_(one|other)$/, "");

describe("translations", () => {
  it("have the same keys in English and Simplified Chinese (bpmn names are Chinese-only overrides)", () => {
    const enKeys = new Set(keys(en as Tree).map(base));
    const zhKeys = new Set(keys(zh as Tree).map(base).filter((k) => !k.startsWith("bpmn.")));
    expect([...enKeys].filter((k) => !zhKeys.has(k))).toEqual([]);
    expect([...zhKeys].filter((k) => !enKeys.has(k))).toEqual([]);
  });

  it("name every ticket status in both languages", () => {
    for (const status of TICKET_STATUSES) {
      expect(en.status).toHaveProperty(status);
      expect(zh.status).toHaveProperty(status);
    }
  });

  it("start from the remembered language, else the browser's", () => {
    localStorage.setItem(LANGUAGE_KEY, "zh-CN");
    expect(initialLanguage()).toBe("zh-CN");
    localStorage.setItem(LANGUAGE_KEY, "klingon");
    expect(initialLanguage()).toBe(navigator.language.toLowerCase().startsWith("zh") ? "zh-CN" : "en");
  });
});
