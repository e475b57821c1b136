import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "../App";
import { appStatus } from "../test/fixtures";
import { callsOf, mockCommands } from "../test/ipc";

const emptyPage = { total: 0, offset: 0, users: [], more_matches: false };

describe("App shell", () => {
  it("opens Users in live mode, shows the live_error banner, and switches to the sandbox", async () => {
    const calls = mockCommands({
      app_status: () =>
        appStatus({
          live_error: {
            code: "keyring_locked",
            message: "The keyring is locked",
            explanation: "Unlock it:\n  gnome-keyring-daemon --unlock",
            raw: [],
          },
        }),
      users_page: () => emptyPage,
      use_sandbox: () => appStatus({ mode: "sandbox", emulator_url: "http://127.0.0.1:8300" }),
      sandbox_users: () => [],
    });
    render(<App />);
    expect((await screen.findByTestId("mode")).textContent).toBe("Live");
    expect(await screen.findByTestId("users-search")).toBeTruthy();
    expect(screen.getByTestId("live-error").textContent).toContain("The keyring is locked");
    expect(screen.getByTestId("error-explanation").textContent).toBe("Unlock it:\n  gnome-keyring-daemon --unlock");
    expect((screen.getByTestId("use-live") as HTMLButtonElement).disabled).toBe(true);

    fireEvent.click(screen.getByTestId("use-sandbox"));
    await waitFor(() => expect(screen.getByTestId("mode").textContent).toBe("Sandbox"));
    expect(callsOf(calls, "use_sandbox")).toHaveLength(1);
    expect((await screen.findByTestId("sandbox-emulator-url")).textContent).toBe("http://127.0.0.1:8300");
  });

  it("opens the Sandbox page when starting in sandbox mode; nav moves between pages", async () => {
    mockCommands({
      app_status: () => appStatus({ mode: "sandbox", emulator_url: "http://127.0.0.1:9999" }),
      sandbox_users: () => [],
      users_page: () => emptyPage,
      clients_list: () => [],
      audit_log: () => [],
    });
    render(<App />);
    expect((await screen.findByTestId("mode")).textContent).toBe("Sandbox");
    expect((await screen.findByTestId("sandbox-emulator-url")).textContent).toBe("http://127.0.0.1:9999");
    for (const [nav, marker] of [
      ["nav-users", "users-search"],
      ["nav-exchange", "exchange-code"],
      ["nav-inspector", "inspect-input"],
      ["nav-clients", "client-import"],
      ["nav-audit", "audit-action"],
      ["nav-sandbox", "sandbox-add"],
    ]) {
      fireEvent.click(screen.getByTestId(nav));
      expect(await screen.findByTestId(marker)).toBeTruthy();
    }
  });

  it("shows a failed mode switch next to the header buttons", async () => {
    mockCommands({
      app_status: () => appStatus({ mode: "sandbox", emulator_url: "http://127.0.0.1:9999" }),
      sandbox_users: () => [],
      use_live: () => {
        throw { code: "keyring", message: "No keyring", explanation: "Start the Secret Service.", raw: [] };
      },
    });
    render(<App />);
    fireEvent.click(await screen.findByTestId("use-live"));
    expect((await screen.findByTestId("error")).textContent).toBe("No keyring");
    expect(screen.getByTestId("mode").textContent).toBe("Sandbox");
  });

  it("after an import (which switches to Live) shows Live and keeps the success message", async () => {
    let mode: "live" | "sandbox" = "sandbox";
    mockCommands({
      app_status: () => appStatus({ mode, emulator_url: mode === "sandbox" ? "http://127.0.0.1:9999" : null }),
      sandbox_users: () => [],
      clients_list: () => [],
      client_import: ({ request }) => {
        mode = "live";
        return {
          name: request.name,
          client_id: "web",
          issuer: "https://accounts.google.com",
          ios_client_ids: [],
          foreign_endpoints: false,
          token_endpoint: null,
          authorization_endpoint: null,
          drive_api_base: null,
          created_at: "2026-01-01T00:00:00Z",
        };
      },
    });
    render(<App />);
    expect((await screen.findByTestId("mode")).textContent).toBe("Sandbox");
    fireEvent.click(screen.getByTestId("nav-clients"));
    fireEvent.change(await screen.findByTestId("client-name"), { target: { value: "prod" } });
    fireEvent.change(screen.getByTestId("client-path"), { target: { value: "/tmp/cs.json" } });
    fireEvent.click(screen.getByTestId("client-import"));
    await waitFor(() => expect(screen.getByTestId("mode").textContent).toBe("Live"));
    expect(screen.getByTestId("client-import-ok").textContent).toContain("prod");
  });
});
