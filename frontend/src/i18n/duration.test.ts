import { describe, expect, it } from "vitest";
import { formatDuration } from "./duration";

describe("formatDuration", () => {
  it("words minutes, hours and days in English", () => {
    expect(formatDuration(30, "en", "under a minute")).toBe("under a minute");
    expect(formatDuration(5 * 60, "en", "-")).toBe("5 minutes");
    expect(formatDuration(5400, "en", "-")).toBe("1.5 hours");
    expect(formatDuration(36 * 3600, "en", "-")).toBe("36 hours");
    expect(formatDuration(3 * 86400, "en", "-")).toBe("3 days");
    expect(formatDuration(2.25 * 86400, "en", "-")).toBe("2.3 days");
    expect(formatDuration(12 * 86400, "en", "-")).toBe("12 days");
  });

  it("words them in Chinese", () => {
    expect(formatDuration(5400, "zh-CN", "不到一分钟")).toBe("1.5小时");
    expect(formatDuration(3 * 86400, "zh-CN", "-")).toBe("3天");
    expect(formatDuration(10, "zh-CN", "不到一分钟")).toBe("不到一分钟");
  });
});
