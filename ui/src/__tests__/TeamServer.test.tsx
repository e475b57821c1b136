import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { emit } from "@tauri-apps/api/event";
import { describe, expect, it } from "vitest";
import { App } from "../App";
import type { AppStatus } from "../bindings/AppStatus";
import type { Role } from "../bindings/Role";
import { appStatus, serverStatus, userDetail, userView } from "../test/fixtures";
import { callsOf, mockCommands } from "../test/ipc";

const onServer = (role: Role): AppStatus => appStatus({ mode: "server", server: serverStatus(role) });
const page = { total: 1, offset: 0, users: [userView(1)], more_matches: false };

/** The app on a team server as `role`, on the page of user 1. */
async function userPageAs(role: Role, more: Parameters<typeof mockCommands>[0] = {}) {
  const calls = mockCommands(
    {
      app_status: () => onServer(role),
      users_page: () => page,
      user_detail: () => userDetail({ sub: userView(1).sub }),
      user_audit: () => [],
      user_http: () => [],
      ...more,
    },
    { events: true },
  );
  render(<App />);
  fireEvent.click(await screen.findByTestId("user-row"));
  await screen.findByTestId("user-refresh");
  return calls;
}

const disabled = (id: string) => (screen.getByTestId(id) as HTMLButtonElement).disabled;

describe("the window on a team server", () => {
  it("shows a viewer every action, disabled, with the reason", async () => {
    await userPageAs("viewer");
    expect(screen.getByTestId("mode").textContent).toBe("Team server");
    expect(screen.getByTestId("server-where").textContent).toContain("as viewer@example.com (viewer)");
    for (const id of ["user-refresh", "user-revoke", "drive-load", "reveal-access", "copy-access", "copy-refresh"]) {
      expect(disabled(id), id).toBe(true);
    }
    expect(screen.getByTestId("user-role-note").textContent).toBe("your role is viewer: this needs operator, ask an admin");
    expect(screen.getByTestId("tokens-role-note").textContent).toContain("this needs admin");
    fireEvent.click(screen.getByTestId("nav-users"));
    await screen.findByTestId("refresh-all");
    expect(disabled("refresh-all")).toBe(true);
    expect(screen.getByTestId("refresh-all-role-note").textContent).toContain("your role is viewer");
    expect(disabled("health-sweep-now"), "a sweep needs operator").toBe(true);
    expect(screen.getByTestId("health-sweep-role-note").textContent).toContain("this needs operator");
  });

  it("lets an operator refresh and revoke, but not reveal tokens", async () => {
    const calls = await userPageAs("operator", { refresh_user: () => userView(1) });
    expect(disabled("user-refresh")).toBe(false);
    expect(disabled("user-revoke")).toBe(false);
    expect(screen.queryByTestId("user-role-note")).toBeNull();
    expect(disabled("reveal-access")).toBe(true);
    expect(screen.getByTestId("tokens-role-note").textContent).toBe("your role is operator: this needs admin, ask an admin");
    fireEvent.click(screen.getByTestId("user-refresh"));
    await screen.findByTestId("user-refresh-ok");
    expect(callsOf(calls, "refresh_user")).toEqual([{ sub: userView(1).sub }]);
  });

  it("offers everything to an admin and on the embedded store", async () => {
    await userPageAs("admin");
    for (const id of ["user-refresh", "user-revoke", "drive-load", "reveal-access"]) expect(disabled(id), id).toBe(false);
  });

  it("signs in again in place when the server ended the session, keeping the page", async () => {
    let signedIn = false;
    const calls = await userPageAs("operator", {
      refresh_user: () => {
        if (!signedIn) throw { code: "signed_out", message: "your session on the team server has ended", explanation: null, raw: [] };
        return userView(1);
      },
      server_sign_in: () => {
        signedIn = true;
        return onServer("operator");
      },
    });
    fireEvent.click(screen.getByTestId("user-refresh"));
    fireEvent.click(await screen.findByTestId("sign-in-again"));
    await screen.findByTestId("signed-in-again");
    expect(callsOf(calls, "server_sign_in")).toEqual([{ url: "https://desk.example:8443/" }]);
    // Still on the same user's page: nothing was lost.
    expect(screen.getByTestId("user-refresh")).toBeTruthy();
    fireEvent.click(screen.getByTestId("user-refresh"));
    await screen.findByTestId("user-refresh-ok");
  });

  it("reloads the page in view when the live feed brings an entry, and says when it is offline", async () => {
    const calls = mockCommands({ app_status: () => onServer("viewer"), users_page: () => page }, { events: true });
    render(<App />);
    await screen.findByTestId("user-row");
    const before = callsOf(calls, "users_page").length;
    await act(async () => {
      await emit("live", {
        server: "https://desk.example:8443/",
        entry: {
          id: 7,
          at: "2026-12-04T00:00:00Z",
          os_user: "colleague@example.com",
          action: "revoke",
          user_id: 1,
          outcome: "ok",
          detail: null,
          user_email: "user1@example.com",
          user_sub: "1",
        },
        link: { state: "online" },
      });
    });
    await waitFor(() => expect(callsOf(calls, "users_page").length).toBe(before + 1));
    await act(async () => {
      await emit("live", {
        server: "https://desk.example:8443/",
        entry: null,
        link: { state: "offline", reason: "cannot reach the team server", retry_in_secs: 4 },
      });
    });
    expect(screen.getByTestId("header-link").textContent).toBe("offline: cannot reach the team server; retrying in 4 s");
    // A feed of another server (one no longer in view) changes nothing.
    await act(async () => {
      await emit("live", { server: "https://other.example/", entry: null, link: { state: "online" } });
    });
    expect(screen.getByTestId("header-link").dataset.state).toBe("offline");
  });
});

describe("a feed that comes online", () => {
  it("reloads the page once, for what was written before its stream opened", async () => {
    const status = appStatus({ mode: "server", server: serverStatus("viewer", { link: { state: "connecting" } }) });
    const calls = mockCommands({ app_status: () => status, users_page: () => page }, { events: true });
    render(<App />);
    await screen.findByTestId("user-row");
    const before = callsOf(calls, "users_page").length;
    const link = (server: string, state: "online" | "connecting") =>
      act(async () => {
        await emit("live", { server, entry: null, link: { state } });
      });
    // Another server's feed coming online is not this page's business.
    await link("https://other.example/", "online");
    await new Promise((r) => setTimeout(r, 400));
    expect(callsOf(calls, "users_page").length).toBe(before);
    // This server's: the page reloads once; staying online (a stream renewed) reloads nothing.
    await link("https://desk.example:8443/", "online");
    await waitFor(() => expect(callsOf(calls, "users_page").length).toBe(before + 1));
    await link("https://desk.example:8443/", "online");
    await new Promise((r) => setTimeout(r, 400));
    expect(callsOf(calls, "users_page").length).toBe(before + 1);
  });
});

describe("a user's page on the live feed", () => {
  const entry = (id: number, sub: string | null) => ({
    id,
    at: "2026-12-04T00:00:00Z",
    os_user: "colleague@example.com",
    action: sub === null ? "client_add" : "refresh",
    user_id: sub === null ? null : 9,
    outcome: "ok",
    detail: null,
    user_email: sub === null ? null : `${sub}@example.com`,
    user_sub: sub,
  });
  const live = (e: ReturnType<typeof entry>) =>
    act(async () => {
      await emit("live", { server: "https://desk.example:8443/", entry: e, link: { state: "online" } });
    });

  it("reloads for an entry about its user (or about no user), not for the team's work on others", async () => {
    const calls = await userPageAs("viewer");
    const sub = userView(1).sub;
    const loads = () => (["user_detail", "user_audit", "user_http"] as const).map((c) => callsOf(calls, c).length);
    const before = loads();

    // A burst about other users: the page stays as it is.
    for (let i = 0; i < 5; i++) await live(entry(10 + i, `someone-else-${i}`));
    await new Promise((r) => setTimeout(r, 400));
    expect(loads()).toEqual(before);

    // One about this user: the page, its audit trail and its HTTP card reload once.
    await live(entry(20, sub));
    await waitFor(() => expect(loads()).toEqual(before.map((n) => n + 1)));

    // One about no user (a client changed): anything may have, so it reloads too.
    await live(entry(21, null));
    await waitFor(() => expect(loads()).toEqual(before.map((n) => n + 2)));
  });
});

describe("the connection switcher", () => {
  it("signs in to a server, shows where and as whom, and signs out back to the own store", async () => {
    let status = appStatus();
    const calls = mockCommands(
      {
        app_status: () => status,
        users_page: () => page,
        servers_list: () => [],
        server_sign_in: () => {
          status = onServer("operator");
          return status;
        },
        server_sign_out: () => {
          status = appStatus();
          return status;
        },
      },
      { events: true },
    );
    render(<App />);
    expect((await screen.findByTestId("mode")).textContent).toBe("Live");
    fireEvent.click(screen.getByTestId("use-server"));
    fireEvent.change(await screen.findByTestId("server-url"), { target: { value: " https://desk.example:8443 " } });
    fireEvent.click(screen.getByTestId("server-sign-in"));
    await screen.findByTestId("users-search");
    expect(callsOf(calls, "server_sign_in")).toEqual([{ url: "https://desk.example:8443" }]);
    expect(screen.getByTestId("mode").textContent).toBe("Team server");
    expect(screen.getByTestId("server-where").textContent).toContain("https://desk.example:8443/ as operator@example.com (operator)");

    fireEvent.click(screen.getByTestId("nav-servers"));
    expect((await screen.findByTestId("server-who")).textContent).toBe("operator@example.com");
    fireEvent.click(screen.getByTestId("server-sign-out"));
    await waitFor(() => expect(screen.getByTestId("mode").textContent).toBe("Live"));
    expect(screen.queryByTestId("server-where")).toBeNull();
  });

  it("connects to a saved server with its kept session, and shows why one cannot connect", async () => {
    const calls = mockCommands(
      {
        app_status: () => appStatus(),
        users_page: () => page,
        servers_list: () => [
          { url: "https://a.example/", last_signed_in_as: "ann@example.com", last_role: "admin", signed_in: true },
          { url: "https://b.example/", last_signed_in_as: null, last_role: null, signed_in: false },
        ],
        server_use: () => {
          throw {
            code: "version_mismatch",
            message: "the team server at https://a.example/ speaks admin API v2, this TokenDesk v1: update this TokenDesk",
            explanation: null,
            raw: [],
          };
        },
      },
      { events: true },
    );
    render(<App />);
    fireEvent.click(await screen.findByTestId("nav-servers"));
    const rows = await screen.findAllByTestId("server-row");
    expect(rows.map((r) => r.textContent)).toEqual([
      expect.stringContaining("ann@example.com (admin)"),
      expect.stringContaining("signed out"),
    ]);
    expect(screen.getAllByTestId("server-connect")).toHaveLength(1);
    expect(screen.getAllByTestId("server-row-sign-in")).toHaveLength(1);
    fireEvent.click(screen.getByTestId("server-connect"));
    expect((await screen.findByTestId("error")).textContent).toContain("update this TokenDesk");
    expect(callsOf(calls, "server_use")).toEqual([{ url: "https://a.example/" }]);
  });
});
