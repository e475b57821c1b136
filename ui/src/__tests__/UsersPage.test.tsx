import { emit } from "@tauri-apps/api/event";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { RefreshAllReport } from "../bindings/RefreshAllReport";
import type { UserView } from "../bindings/UserView";
import { USER_ROW_HEIGHT, UsersPage } from "../pages/UsersPage";
import { userView } from "../test/fixtures";
import { callsOf, mockCommands } from "../test/ipc";

const TOTAL = 100_000;

function special(i: number): UserView {
  if (i === 1)
    return userView(i, {
      refresh_token: "revoked",
      has_drive_appdata: false,
      // As the core's view gives a revoked grant: its access token died with it.
      access_token_state: "revoked",
      access_token_expires_at: null,
    });
  if (i === 2) return userView(i, { refresh_token: "pending_revocation" });
  if (i === 3) return userView(i, { access_token_expires_at: new Date(Date.now() - 60_000).toISOString() });
  return userView(i);
}

function pageOf(offset: number, limit: number): UserView[] {
  const users: UserView[] = [];
  for (let i = offset; i < Math.min(offset + limit, TOTAL); i++) users.push(special(i));
  return users;
}

describe("Users page", () => {
  it("renders rows with token-health badges from users_page", async () => {
    const calls = mockCommands({
      users_page: ({ offset, limit }) => ({ total: TOTAL, offset, users: pageOf(offset, limit), more_matches: false }),
    });
    const navigate = vi.fn();
    render(<UsersPage navigate={navigate} />);

    await waitFor(() => expect(screen.getAllByTestId("user-row").length).toBeGreaterThan(5));
    expect(screen.getByTestId("users-count").textContent).toBe("100,000 users");
    expect(callsOf(calls, "users_page")[0]).toEqual({ search: "", offset: 0, limit: 200 });

    // Only the visible window is rendered, not 100,000 rows.
    expect(screen.getAllByTestId("user-row").length).toBeLessThan(60);

    const row0 = document.querySelector('[data-testid="user-row"][data-sub="1000000000"]') as HTMLElement;
    expect(within(row0).getByTestId("user-row-name").textContent).toBe("User 0");
    expect(within(row0).getByTestId("user-row-email").textContent).toBe("user0@example.com");
    expect(within(row0).getByTestId("user-row-expiry").textContent).toBe("expires in 52 min");
    expect(within(row0).getByTestId("user-row-refresh").textContent).toBe("present");
    expect(within(row0).queryByTestId("user-row-no-drive")).toBeNull();

    const row1 = document.querySelector('[data-sub="1000000001"]') as HTMLElement;
    expect(within(row1).getByTestId("user-row-expiry").textContent).toBe("revoked");
    expect(within(row1).getByTestId("user-row-expiry").className).toContain("text-bad");
    expect(within(row1).getByTestId("user-row-refresh").textContent).toBe("revoked");
    expect(within(row1).getByTestId("user-row-no-drive").textContent).toBe("no drive.appdata");

    const row2 = document.querySelector('[data-sub="1000000002"]') as HTMLElement;
    expect(within(row2).getByTestId("user-row-refresh").textContent).toBe("pending revocation");
    expect(
      within(row2).getByTestId("user-row-expiry").textContent,
      "an unconfirmed revocation may have left the access token alive",
    ).toBe("expires in 52 min");

    const row3 = document.querySelector('[data-sub="1000000003"]') as HTMLElement;
    expect(within(row3).getByTestId("user-row-expiry").textContent).toBe("expired");

    fireEvent.click(row1);
    expect(navigate).toHaveBeenCalledWith({ name: "user", sub: "1000000001" });
  });

  it("fetches the page of 200 that scrolled rows fall in, lazily", async () => {
    const calls = mockCommands({
      users_page: ({ offset, limit }) => ({ total: TOTAL, offset, users: pageOf(offset, limit), more_matches: false }),
    });
    render(<UsersPage navigate={vi.fn()} />);
    await waitFor(() => expect(screen.getAllByTestId("user-row").length).toBeGreaterThan(5));
    expect(callsOf(calls, "users_page")).toHaveLength(1);

    const list = screen.getByTestId("users-list");
    await act(async () => {
      list.scrollTop = 50_000 * USER_ROW_HEIGHT;
      fireEvent.scroll(list);
    });
    await waitFor(() => expect(document.querySelector('[data-sub="1000050000"]')).not.toBeNull());
    expect(callsOf(calls, "users_page")).toContainEqual({ search: "", offset: 50_000, limit: 200 });
    // It did not fetch everything in between.
    expect(callsOf(calls, "users_page").length).toBeLessThan(5);
  });

  it("searches (debounced) and says when there are more matches", async () => {
    const calls = mockCommands({
      users_page: ({ search, offset }) =>
        search
          ? { total: 2, offset, users: [userView(7, { name: "Ada" }), userView(8, { name: "Ada B" })], more_matches: true }
          : { total: TOTAL, offset, users: pageOf(offset, 200), more_matches: false },
    });
    render(<UsersPage navigate={vi.fn()} />);
    await waitFor(() => expect(screen.getAllByTestId("user-row").length).toBeGreaterThan(5));

    fireEvent.change(screen.getByTestId("users-search"), { target: { value: "a" } });
    fireEvent.change(screen.getByTestId("users-search"), { target: { value: "ada" } });
    await waitFor(() => expect(screen.getAllByTestId("user-row")).toHaveLength(2));
    const searches = callsOf(calls, "users_page").filter((a) => (a as { search: string }).search !== "");
    expect(searches).toEqual([{ search: "ada", offset: 0, limit: 200 }]);
    expect(screen.getByTestId("users-count").textContent).toBe("2 matches");
    expect(screen.getByTestId("users-more-matches").textContent).toContain("refine");
  });

  it("refreshes all with progress from refresh-progress events, then shows the report", async () => {
    let finish: (r: RefreshAllReport) => void = () => {};
    const calls = mockCommands(
      {
        users_page: ({ offset }) => ({ total: 3, offset, users: pageOf(0, 3), more_matches: false }),
        refresh_all: () => new Promise<RefreshAllReport>((resolve) => (finish = resolve)),
        refresh_all_cancel: () => true,
      },
      { events: true },
    );
    render(<UsersPage navigate={vi.fn()} />);
    await waitFor(() => expect(screen.getAllByTestId("user-row")).toHaveLength(3));

    fireEvent.click(screen.getByTestId("refresh-all"));
    await waitFor(() => expect(callsOf(calls, "refresh_all")).toEqual([{ concurrency: 8 }]));
    await act(async () => {
      await emit("refresh-progress", { done: 2, total: 3, outcome: { sub: "x", email: null, ok: true, error: null } });
    });
    const bar = screen.getByTestId("refresh-progress") as HTMLProgressElement;
    expect(bar.value).toBe(2);
    expect(bar.max).toBe(3);

    fireEvent.click(screen.getByTestId("refresh-all-cancel"));
    await waitFor(() => expect(callsOf(calls, "refresh_all_cancel")).toHaveLength(1));

    await act(async () => {
      finish({
        total: 3,
        refreshed: 1,
        failed: 1,
        skipped: 1,
        outcomes: [{ sub: "1000000001", email: "user1@example.com", ok: false, error: "invalid_grant" }],
      });
    });
    const report = await screen.findByTestId("refresh-all-report");
    expect(report.textContent).toContain("Refreshed 1 of 3");
    expect(report.textContent).toContain("failed 1");
    expect(report.textContent).toContain("skipped 1");
    expect(screen.queryByTestId("refresh-progress")).toBeNull();
  });
});
