import { emit } from "@tauri-apps/api/event";
import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { ReceiverEvent } from "../bindings/ReceiverEvent";
import { ReceiverPage, stopMessage } from "../pages/ReceiverPage";
import { SandboxPage } from "../pages/SandboxPage";
import { appStatus } from "../test/fixtures";
import { callsOf, mockCommands } from "../test/ipc";

const ev = (at: number, status: number, outcome: string, email: string | null): ReceiverEvent => ({
  at_unix: at,
  peer: "127.0.0.1:5555",
  status,
  outcome,
  sub: email ? "42" : null,
  email,
});

describe("Receiver page", () => {
  it("starts on the chosen port, shows the URL and live events newest first", async () => {
    const calls = mockCommands(
      {
        clients_list: () => [],
        receiver_status: () => ({ status: null, events: [ev(100, 403, "missing_x_requested_with", null), ev(200, 200, "ok", "old@example.com")] }),
        receiver_start: ({ port }) => ({ url: `http://127.0.0.1:${port}/auth/code`, mode: "live", client: null }),
        receiver_stop: () => ({ was_running: true, waited_for: 1, left_running: 0 }),
      },
      { events: true },
    );
    render(<ReceiverPage />);
    await waitFor(() => expect(screen.getAllByTestId("receiver-event")).toHaveLength(2));
    expect(screen.getAllByTestId("receiver-event")[0].textContent).toContain("old@example.com");
    expect((screen.getByTestId("receiver-port") as HTMLInputElement).value).toBe("8400");
    fireEvent.change(screen.getByTestId("receiver-port"), { target: { value: "8411" } });
    fireEvent.click(screen.getByTestId("receiver-start"));
    expect((await screen.findByTestId("receiver-url")).textContent).toBe("http://127.0.0.1:8411/auth/code");
    expect(callsOf(calls, "receiver_start")).toEqual([{ port: 8411, client: null }]);

    await act(async () => {
      await emit("receiver-event", ev(300, 409, "already_exchanged", "new@example.com"));
    });
    const rows = screen.getAllByTestId("receiver-event");
    expect(rows).toHaveLength(3);
    expect(rows[0].textContent).toContain("new@example.com");
    expect(rows[0].textContent).toContain("409");

    fireEvent.click(screen.getByTestId("receiver-stop"));
    await waitFor(() => expect(screen.queryByTestId("receiver-url")).toBeNull());
    expect(screen.getByTestId("receiver-stop-note").textContent).toContain(
      "after the 1 exchange(s) in flight finished",
    );
  });

  it("says when stopping left exchanges running, and what becomes of them", () => {
    expect(stopMessage(0, 0)).toBeNull();
    expect(stopMessage(3, 2)).toContain("2 exchange(s) still running were left");
    expect(stopMessage(3, 2)).toContain("next start finishes them");
  });
});

describe("Sandbox page", () => {
  it("offers to switch when not in the sandbox", async () => {
    const switchToSandbox = vi.fn(async () => null);
    render(<SandboxPage status={appStatus()} navigate={vi.fn()} switchToSandbox={switchToSandbox} switching={false} />);
    fireEvent.click(screen.getByTestId("sandbox-switch"));
    expect(switchToSandbox).toHaveBeenCalled();
  });

  it("adds a test user and simulates an iOS sign-in, linking to the user", async () => {
    const users = [
      { sub: "111", email: "ada@example.com", email_verified: true, name: "Ada", given_name: "Ada", family_name: "", picture: "", locale: "en", hd: null },
    ];
    const calls = mockCommands({
      sandbox_users: () => users,
      sandbox_add_user: ({ user }) => {
        const u = { ...users[0], sub: "222", email: user.email, name: user.name ?? "" };
        users.push(u);
        return u;
      },
      sandbox_sign_in: ({ email }) => ({
        receiver_url: "http://127.0.0.1:8400/auth/code",
        status: 200,
        body: { sub: "222", email, name: "Bob" },
      }),
    });
    const navigate = vi.fn();
    render(
      <SandboxPage
        status={appStatus({ mode: "sandbox", emulator_url: "http://127.0.0.1:8300" })}
        navigate={navigate}
        switchToSandbox={vi.fn()}
        switching={false}
      />,
    );
    await waitFor(() => expect(screen.getAllByTestId("sandbox-user")).toHaveLength(1));
    fireEvent.change(screen.getByTestId("sandbox-email"), { target: { value: "bob@example.com" } });
    fireEvent.change(screen.getByTestId("sandbox-name"), { target: { value: "Bob" } });
    fireEvent.click(screen.getByTestId("sandbox-add"));
    await waitFor(() => expect(screen.getAllByTestId("sandbox-user")).toHaveLength(2));
    expect(callsOf(calls, "sandbox_add_user")).toEqual([
      { user: { email: "bob@example.com", name: "Bob", given_name: null, family_name: null, locale: null } },
    ]);

    const bob = document.querySelector('[data-testid="sandbox-user"][data-email="bob@example.com"]') as HTMLElement;
    fireEvent.click(bob.querySelector('[data-testid="sandbox-sign-in"]') as HTMLElement);
    const result = await screen.findByTestId("sandbox-result");
    expect(result.textContent).toContain("HTTP 200");
    expect(result.textContent).toContain("http://127.0.0.1:8400/auth/code");
    expect(result.textContent).toContain("X-Requested-With");
    expect(result.textContent).toContain("keyring");
    expect(callsOf(calls, "sandbox_sign_in")).toEqual([{ email: "bob@example.com" }]);
    fireEvent.click(screen.getByTestId("sandbox-open-user"));
    expect(navigate).toHaveBeenCalledWith({ name: "user", sub: "222" });
  });
});
