import { emit } from "@tauri-apps/api/event";
import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { ClientView } from "../bindings/ClientView";
import type { LabEvent } from "../bindings/LabEvent";
import type { LabReport } from "../bindings/LabReport";
import { LabPage } from "../pages/LabPage";
import { userView } from "../test/fixtures";
import { callsOf, mockCommands } from "../test/ipc";

const client: ClientView = {
  name: "prod",
  client_id: "web.apps.googleusercontent.com",
  issuer: "https://accounts.google.com",
  ios_client_ids: [],
  foreign_endpoints: false,
  token_endpoint: "https://oauth2.googleapis.com/token",
  authorization_endpoint: "https://accounts.google.com/o/oauth2/v2/auth",
  drive_api_base: null,
  created_at: "2026-01-01T00:00:00Z",
};

const authorizationUrl: LabEvent = {
  step: "authorization_url",
  url: "https://accounts.google.com/o/oauth2/v2/auth?client_id=web.apps.googleusercontent.com&code_challenge_method=S256",
  client: "prod",
  client_id: "web.apps.googleusercontent.com",
  redirect_uri: "http://127.0.0.1:8765/",
};

const redirected: LabEvent = { step: "redirected", code: "[redacted]", state_ok: true, scope: "openid email" };

const exchanged: LabEvent = {
  step: "exchanged",
  raw: [
    {
      method: "POST",
      url: "https://oauth2.googleapis.com/token",
      requestHeaders: [],
      form: [
        { name: "code", value: "[redacted]" },
        { name: "code_verifier", value: "[redacted]" },
      ],
      response: { status: 200, headers: [], body: { kind: "json", value: { access_token: "[redacted]" } } },
      error: null,
      elapsedMs: 40,
    },
  ],
  refresh_token: false,
  scopes: ["openid", "email"],
  notes: ["no refresh token: run again with --prompt consent to get a new one"],
};

const verified: LabEvent = {
  step: "verified",
  checks: [
    { name: "signature", ok: true, detail: "RS256, key abc" },
    { name: "hd", ok: false, detail: "no hd claim (not a Workspace account); asked for example.com" },
  ],
  valid: false,
};

const failed: LabEvent = {
  step: "failed",
  at: "verified",
  code: "hd_mismatch",
  kind: "unverified",
  message: "the account ada@gmail.com is not a Workspace account, not of example.com",
  advice: "Sign in with an account of example.com to pass",
};

describe("Sign-in lab page", () => {
  it("sends every choice, shows each step as its event arrives, and the failure with what to change", async () => {
    let finish: (r: LabReport) => void = () => {};
    const calls = mockCommands(
      {
        clients_list: () => [client],
        lab_run: () => new Promise<LabReport>((resolve) => (finish = resolve)),
        lab_cancel: () => true,
      },
      { events: true },
    );
    render(<LabPage navigate={vi.fn()} />);
    await waitFor(() => expect((screen.getByTestId("lab-client") as HTMLSelectElement).value).toBe("prod"));
    fireEvent.change(screen.getByTestId("lab-scopes"), { target: { value: "openid email drive.appdata" } });
    fireEvent.click(screen.getByTestId("lab-prompt-consent"));
    fireEvent.click(screen.getByTestId("lab-include-granted"));
    fireEvent.change(screen.getByTestId("lab-login-hint"), { target: { value: "ada@example.com" } });
    fireEvent.change(screen.getByTestId("lab-hd"), { target: { value: "example.com" } });
    fireEvent.change(screen.getByTestId("lab-port"), { target: { value: "8765" } });
    fireEvent.click(screen.getByTestId("lab-run"));

    await waitFor(() =>
      expect(callsOf(calls, "lab_run")).toEqual([
        {
          request: {
            client: "prod",
            scopes: ["openid", "email", "drive.appdata"],
            access_type: "offline",
            prompt: ["consent"],
            include_granted_scopes: true,
            login_hint: "ada@example.com",
            hd: "example.com",
            port: 8765,
          },
        },
      ]),
    );
    expect(screen.getByTestId("lab-run").textContent).toContain("Waiting for the browser");

    // Steps appear one by one while the browser is away.
    await act(async () => {
      await emit("lab-step", authorizationUrl);
    });
    expect(screen.getAllByTestId("lab-step")).toHaveLength(1);
    expect(screen.getByTestId("lab-url").textContent).toContain("code_challenge_method=S256");
    await act(async () => {
      await emit("lab-step", redirected);
      await emit("lab-step", exchanged);
      await emit("lab-step", verified);
    });
    expect(screen.getAllByTestId("lab-step").map((s) => s.dataset.step)).toEqual([
      "authorization_url",
      "redirected",
      "exchanged",
      "verified",
    ]);
    expect(screen.getByTestId("lab-refresh-token").textContent).toBe("Refresh token: no");
    expect(screen.getByTestId("lab-notes").textContent).toContain("--prompt consent");
    expect(screen.getByTestId("lab-steps").textContent).toContain("code_verifier");
    const checks = screen.getAllByTestId("lab-check");
    expect(checks.map((c) => c.dataset.ok)).toEqual(["true", "false"]);

    await act(async () => {
      finish({
        request: {
          client: "prod",
          scopes: [],
          access_type: "offline",
          prompt: [],
          include_granted_scopes: false,
          login_hint: null,
          hd: "example.com",
          port: 8765,
        },
        steps: [authorizationUrl, redirected, exchanged, verified, failed],
        user: null,
        ok: false,
      });
    });
    expect((await screen.findByTestId("lab-failed-message")).textContent).toContain("not of example.com");
    expect(screen.getByTestId("lab-advice").textContent).toBe(
      "What to change: Sign in with an account of example.com to pass",
    );
    expect(screen.getByTestId("lab-run").textContent).toBe("Sign in in the browser");
  });

  it("links the stored user, and cancels a run that waits for the browser", async () => {
    let finish: (r: LabReport) => void = () => {};
    const navigate = vi.fn();
    const user = userView(7, { name: "Ada Lovelace" });
    const calls = mockCommands(
      {
        clients_list: () => [client],
        lab_run: () => new Promise<LabReport>((resolve) => (finish = resolve)),
        lab_cancel: () => true,
      },
      { events: true },
    );
    render(<LabPage navigate={navigate} />);
    await waitFor(() => expect((screen.getByTestId("lab-client") as HTMLSelectElement).value).toBe("prod"));
    fireEvent.click(screen.getByTestId("lab-run"));
    fireEvent.click(await screen.findByTestId("lab-cancel"));
    await waitFor(() => expect(callsOf(calls, "lab_cancel")).toHaveLength(1));
    await act(async () => {
      finish({
        request: {
          client: "prod",
          scopes: [],
          access_type: "offline",
          prompt: [],
          include_granted_scopes: false,
          login_hint: null,
          hd: null,
          port: null,
        },
        steps: [authorizationUrl, redirected, { ...exchanged, refresh_token: true, notes: [] }, { step: "stored", user }],
        user,
        ok: true,
      });
    });
    fireEvent.click(await screen.findByTestId("lab-open-user"));
    expect(navigate).toHaveBeenCalledWith({ name: "user", sub: user.sub });
    expect(screen.queryByTestId("lab-failed")).toBeNull();
  });
});
