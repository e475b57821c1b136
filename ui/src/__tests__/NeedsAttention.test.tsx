import { emit } from "@tauri-apps/api/event";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { AttentionItem } from "../bindings/AttentionItem";
import type { HealthReport } from "../bindings/HealthReport";
import type { NeedsAttention as AttentionList } from "../bindings/NeedsAttention";
import { ATTENTION_SHOWN, NeedsAttention } from "../components/NeedsAttention";
import { SettingsPage } from "../pages/SettingsPage";
import { settingsView, userView } from "../test/fixtures";
import { callsOf, mockCommands } from "../test/ipc";

function item(i: number, reasons: AttentionItem["reasons"], over: Parameters<typeof userView>[1] = {}): AttentionItem {
  return { user: userView(i, over), reasons };
}

function list(items: AttentionItem[], total = items.length): AttentionList {
  return { total, users: items, expiring_within_secs: 600, as_of: "2026-12-01T00:00:00Z" };
}

function report(attention: AttentionList, over: Partial<HealthReport> = {}): HealthReport {
  return {
    total: 4,
    healthy: 2,
    refreshed: 1,
    marked: 1,
    unknown: 0,
    failed: 0,
    skipped: 0,
    tokeninfo_calls: 3,
    refresh_calls: 2,
    problems: [],
    stopped: null,
    started_at: "2026-12-01T00:00:00Z",
    finished_at: "2026-12-01T00:00:01Z",
    attention,
    ...over,
  };
}

const HOPPER = item(1, ["invalid"], {
  email: "hopper@example.com",
  refresh_token: "invalid",
  refresh_token_invalid_reason: "Token has been expired or revoked.",
});
const NODRIVE = item(2, ["missing_drive_appdata"], { email: "nodrive@example.com", has_drive_appdata: false });

describe("Needs attention", () => {
  it("lists each user with why, and opens the user", async () => {
    mockCommands({
      health_attention: () => list([HOPPER, NODRIVE]),
      health_status: () => ({ schedule_minutes: null, running: false, last: null }),
    });
    const navigate = vi.fn();
    render(<NeedsAttention navigate={navigate} />);
    const rows = await screen.findAllByTestId("needs-attention-item");
    expect(rows).toHaveLength(2);
    expect(screen.getByTestId("needs-attention-count").textContent).toBe("2");
    expect(rows[0].textContent).toContain("hopper@example.com");
    const refused = within(rows[0]).getByText("refused by Google");
    expect(refused.getAttribute("title"), "Google's own reason on hover").toBe("Token has been expired or revoked.");
    expect(within(rows[1]).getByText("no drive.appdata")).toBeTruthy();
    expect(screen.getByTestId("needs-attention-schedule").textContent).toBe("Scheduled sweeps are off (Settings).");
    fireEvent.click(within(rows[0]).getByRole("button", { name: "hopper@example.com" }));
    expect(navigate).toHaveBeenCalledWith({ name: "user", sub: HOPPER.user.sub });
  });

  it("says when nobody needs attention, and the schedule when one is set", async () => {
    mockCommands({
      health_attention: () => list([]),
      health_status: () => ({ schedule_minutes: 30, running: false, last: null }),
    });
    render(<NeedsAttention navigate={vi.fn()} />);
    await screen.findByTestId("needs-attention-empty");
    expect(screen.getByTestId("needs-attention-count").textContent).toBe("0");
    await waitFor(() =>
      expect(screen.getByTestId("needs-attention-schedule").textContent).toBe(
        "Swept every 30 min while this window runs.",
      ),
    );
    expect(screen.queryAllByTestId("needs-attention-item")).toHaveLength(0);
  });

  it("sweeps by hand and shows what the sweep did", async () => {
    const calls = mockCommands({
      health_attention: () => list([]),
      health_status: () => ({ schedule_minutes: null, running: false, last: null }),
      health_sweep_now: () => report(list([HOPPER])),
    });
    const onSwept = vi.fn();
    render(<NeedsAttention navigate={vi.fn()} onSwept={onSwept} />);
    await screen.findByTestId("needs-attention-empty");
    fireEvent.click(screen.getByTestId("health-sweep-now"));
    await screen.findByTestId("needs-attention-item");
    expect(callsOf(calls, "health_sweep_now")).toHaveLength(1);
    expect(screen.getByTestId("health-last-sweep").textContent).toBe(
      "Last sweep: 4 grants checked: 2 healthy, 1 refreshed, 1 marked invalid.",
    );
    expect(onSwept, "the Users list reloads after a sweep").toHaveBeenCalledTimes(1);
  });

  it("a background sweep's new users raise a notice in the window", async () => {
    mockCommands(
      {
        health_attention: () => list([NODRIVE]),
        health_status: () => ({ schedule_minutes: 15, running: false, last: null }),
      },
      { events: true },
    );
    render(<NeedsAttention navigate={vi.fn()} />);
    await screen.findByTestId("needs-attention-item");
    expect(screen.queryByTestId("needs-attention-notice")).toBeNull();
    await act(async () => {
      await emit("health-swept", {
        report: report(list([HOPPER, NODRIVE]), { unknown: 1 }),
        new: [HOPPER],
        notified: false,
      });
    });
    const notice = await screen.findByTestId("needs-attention-notice");
    expect(notice.getAttribute("role")).toBe("status");
    expect(notice.textContent).toContain("hopper@example.com now needs attention.");
    expect(screen.getAllByTestId("needs-attention-item")).toHaveLength(2);
    expect(screen.getByTestId("health-last-sweep").textContent).toContain("1 unknown (Google did not answer)");
    fireEvent.click(within(notice).getByRole("button", { name: "Dismiss" }));
    expect(screen.queryByTestId("needs-attention-notice")).toBeNull();
  });

  it("folds a long list and says how many the server did not send", async () => {
    const many = Array.from({ length: ATTENTION_SHOWN + 4 }, (_, i) => item(i + 10, ["expiring"]));
    mockCommands({
      health_attention: () => list(many, 600),
      health_status: () => ({ schedule_minutes: null, running: false, last: null }),
    });
    render(<NeedsAttention navigate={vi.fn()} />);
    await waitFor(() => expect(screen.getAllByTestId("needs-attention-item")).toHaveLength(ATTENTION_SHOWN));
    expect(screen.getByTestId("needs-attention-count").textContent).toBe("600");
    fireEvent.click(screen.getByRole("button", { name: `Show all ${many.length}` }));
    expect(screen.getAllByTestId("needs-attention-item")).toHaveLength(many.length);
    expect(screen.getByText(/588 more are not listed/)).toBeTruthy();
  });

  it("shows a failed sweep's error", async () => {
    mockCommands({
      health_attention: () => list([]),
      health_status: () => ({ schedule_minutes: null, running: false, last: null }),
      health_sweep_now: () => {
        throw { code: "forbidden", message: "needs the operator role", explanation: null, raw: [] };
      },
    });
    render(<NeedsAttention navigate={vi.fn()} />);
    await screen.findByTestId("needs-attention-empty");
    fireEvent.click(screen.getByTestId("health-sweep-now"));
    await screen.findByText(/needs the operator role/);
  });
});

describe("the sweep's schedule in Settings", () => {
  it("is off by default and saved as minutes", async () => {
    const calls = mockCommands({
      settings_get: () => settingsView(),
      settings_save: ({ settings }) => ({ ...settingsView(), settings }),
    });
    render(<SettingsPage />);
    const minutes = (await screen.findByTestId("health-sweep-minutes")) as HTMLInputElement;
    await waitFor(() => expect(callsOf(calls, "settings_get")).toHaveLength(1));
    expect(minutes.value, "off by default").toBe("");
    fireEvent.change(minutes, { target: { value: "30" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    await screen.findByTestId("settings-saved");
    expect(callsOf(calls, "settings_save")[0]).toMatchObject({ settings: { health_sweep_minutes: 30 } });
    fireEvent.change(minutes, { target: { value: "0" } });
    fireEvent.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(callsOf(calls, "settings_save")).toHaveLength(2));
    expect(callsOf(calls, "settings_save")[1]).toMatchObject({ settings: { health_sweep_minutes: null } });
  });
});
