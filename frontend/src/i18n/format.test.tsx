import { act, renderHook } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import i18n from ".";
import { useFormat } from "./format";

describe("useFormat", () => {
  it("formats dates and amounts per language", async () => {
    const { result, rerender } = renderHook(() => useFormat());
    const at = "2026-03-01T09:30:00Z";
    expect(result.current.dateTime(at)).toMatch(/2026/);
    expect(result.current.dateTime(at)).toMatch(/Mar/);
    expect(result.current.amount("1899.5")).toBe("1,899.50");
    expect(result.current.amount(null)).toBe("—");
    await act(() => i18n.changeLanguage("zh-CN"));
    rerender();
    expect(result.current.dateTime(at)).toMatch(/2026年3月1日/);
    expect(result.current.ago(new Date(Date.now() - 5 * 60000).toISOString())).toBe("5分钟前");
  });
});
