import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { SandboxUser } from "../bindings/SandboxUser";
import { ADA, SandboxPage } from "../pages/SandboxPage";
import { appStatus } from "../test/fixtures";
import { callsOf, type Handlers, mockCommands } from "../test/ipc";

const sandbox = appStatus({ mode: "sandbox", emulator_url: "http://127.0.0.1:8300" });

function sandboxUser(email: string, name: string, sub: string): SandboxUser {
  return { sub, email, email_verified: true, name, given_name: "", family_name: "", picture: "", locale: "en", hd: null };
}

function renderSandbox(users: SandboxUser[], extra: Handlers = {}) {
  const calls = mockCommands({
    sandbox_users: () => [...users],
    sandbox_add_user: ({ user }) => {
      const u = sandboxUser(user.email, user.name ?? "", "110248495921238986420");
      users.push(u);
      return u;
    },
    sandbox_sign_in: ({ email }) => ({
      receiver_url: "http://127.0.0.1:8400/auth/code",
      status: 200,
      body: { sub: "110248495921238986420", email, name: "Ada Lovelace" },
    }),
    ...extra,
  });
  const navigate = vi.fn();
  render(<SandboxPage status={sandbox} navigate={navigate} switchToSandbox={vi.fn()} switching={false} />);
  return { calls, navigate };
}

describe("Sandbox quick start", () => {
  it("says what the sandbox is for and, in one click, adds Ada and simulates her sign-in", async () => {
    const { calls, navigate } = renderSandbox([]);
    expect(screen.getByTestId("sandbox-purpose").textContent).toMatch(/nothing here reaches Google/);
    const start = await screen.findByTestId("sandbox-quick-start-button");
    await waitFor(() => expect((start as HTMLButtonElement).disabled).toBe(false));
    expect(start.textContent).toBe("Add Ada Lovelace and simulate her iOS sign-in");

    fireEvent.click(start);
    const result = await screen.findByTestId("sandbox-result");
    expect(callsOf(calls, "sandbox_add_user")).toEqual([{ user: ADA }]);
    expect(callsOf(calls, "sandbox_sign_in")).toEqual([{ email: "ada@example.com" }]);
    expect(result.textContent).toContain("HTTP 200");
    await waitFor(() => expect(screen.getAllByTestId("sandbox-user")).toHaveLength(1));

    // The first sign-in leads on to the user's page; the quick start has done its job.
    expect(screen.queryByTestId("sandbox-quick-start")).toBeNull();
    const open = screen.getByTestId("sandbox-open-user");
    expect(open.textContent).toBe("Open Ada Lovelace's page →");
    fireEvent.click(open);
    expect(navigate).toHaveBeenCalledWith({ name: "user", sub: "110248495921238986420" });
  });

  it("does not add Ada twice when she is already a test user", async () => {
    const { calls } = renderSandbox([sandboxUser("ada@example.com", "Ada Lovelace", "1")]);
    const start = await screen.findByTestId("sandbox-quick-start-button");
    await waitFor(() => expect(start.textContent).toBe("Simulate Ada Lovelace's iOS sign-in"));
    fireEvent.click(start);
    await screen.findByTestId("sandbox-result");
    expect(callsOf(calls, "sandbox_add_user")).toEqual([]);
    expect(callsOf(calls, "sandbox_sign_in")).toEqual([{ email: "ada@example.com" }]);
  });

  it("shows a failed sign-in in the quick start, with no link to a user", async () => {
    renderSandbox([], {
      sandbox_sign_in: () => {
        throw { code: "receiver", message: "the receiver did not answer: connection refused", explanation: null, raw: [] };
      },
    });
    const start = await screen.findByTestId("sandbox-quick-start-button");
    await waitFor(() => expect((start as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(start);
    const card = screen.getByTestId("sandbox-quick-start");
    await waitFor(() => expect(card.textContent).toContain("the receiver did not answer"));
    expect(screen.queryByTestId("sandbox-open-user")).toBeNull();
    expect(screen.getByTestId("sandbox-quick-start-button").textContent).toBe("Simulate Ada Lovelace's iOS sign-in");
  });

  it("shows a refused sign-in's answer, and keeps the quick start", async () => {
    renderSandbox([], {
      sandbox_sign_in: () => ({
        receiver_url: "http://127.0.0.1:8400/auth/code",
        status: 409,
        body: { error: "already_exchanged" },
      }),
    });
    const start = await screen.findByTestId("sandbox-quick-start-button");
    await waitFor(() => expect((start as HTMLButtonElement).disabled).toBe(false));
    fireEvent.click(start);
    expect((await screen.findByTestId("sandbox-result")).textContent).toContain("HTTP 409");
    expect(screen.queryByTestId("sandbox-open-user")).toBeNull();
    expect(screen.getByTestId("sandbox-quick-start")).toBeTruthy();
  });
});
