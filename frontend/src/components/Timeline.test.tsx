import { act, render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import i18n from "../i18n";
import type { HistoryEntry } from "../api/types";
import { Timeline } from "./Timeline";

const at = "2026-03-01T09:30:00Z";
const entries: HistoryEntry[] = [
  { at, actor: "alice", action: "updated", from_status: "draft", to_status: "draft", comment: null, details: { changed: ["amount", "title"] } },
  { at, actor: "system", action: "provisioning_failed", from_status: "approved", to_status: "provisioning_failed", comment: null, details: { error: "quota exceeded" } },
  { at, actor: "carol", action: "provisioning_retried", from_status: "provisioning_failed", to_status: "approved", comment: "Quota raised.", details: {} },
  { at, actor: "system", action: "completed", from_status: "approved", to_status: "completed", comment: null, details: { reference: "PRV-1" } },
  // recorded before details were kept: the server's text stands as the comment
  { at, actor: "system", action: "completed", from_status: "approved", to_status: "completed", comment: "fulfilment reference PRV-0" },
];

describe("Timeline", () => {
  it("words the facts the system recorded in the reader's language, and keeps what people wrote", async () => {
    const { rerender } = render(<Timeline entries={entries} />);
    const timeline = screen.getByTestId("timeline");
    expect(within(timeline).getByText("Changed Amount and Title")).toBeInTheDocument();
    expect(within(timeline).getByText("Error: quota exceeded")).toBeInTheDocument();
    expect(within(timeline).getByText("Fulfilment reference PRV-1")).toBeInTheDocument();
    expect(within(timeline).getByText("Quota raised.")).toBeInTheDocument();
    expect(within(timeline).getByText("fulfilment reference PRV-0")).toBeInTheDocument();

    await act(() => i18n.changeLanguage("zh-CN"));
    rerender(<Timeline entries={entries} />);
    expect(within(timeline).getByText("修改了金额和标题")).toBeInTheDocument();
    expect(within(timeline).getByText("错误：quota exceeded")).toBeInTheDocument();
    expect(within(timeline).getByText("交付编号 PRV-1")).toBeInTheDocument();
    expect(within(timeline).getByText("Quota raised.")).toBeInTheDocument();
  });
});
