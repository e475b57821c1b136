import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { UserDetail } from "../bindings/UserDetail";
import { UserPage } from "../pages/UserPage";
import { userDetail } from "../test/fixtures";
import { callsOf, type Handlers, mockCommands } from "../test/ipc";

const XSS = "<img src=x onerror=alert(1)>";

function renderUser(detail: UserDetail, extra: Handlers = {}) {
  const calls = mockCommands({
    user_detail: () => detail,
    user_audit: () => [
      { id: 1, at: "2026-01-01T10:00:00Z", os_user: "alice", action: "exchange", user_id: 1, outcome: "ok", detail: "code exchanged", user_email: "user1@example.com", user_sub: "1000000001" },
      { id: 2, at: "2026-01-01T11:00:00Z", os_user: "bob", action: "reveal", user_id: 1, outcome: "ok", detail: "access", user_email: "user1@example.com", user_sub: "1000000001" },
    ],
    user_http: () => [],
    ...extra,
  });
  const navigate = vi.fn();
  render(<UserPage sub={detail.sub} navigate={navigate} />);
  return { calls, navigate };
}

describe("User page", () => {
  it("renders the profile, token state, claims and audit trail", async () => {
    const d = userDetail({
      name: "Ada Lovelace",
      given_name: "Ada",
      family_name: "Lovelace",
      email: "ada@example.com",
      email_verified: true,
      locale: "en-GB",
      hd: "example.com",
      refresh_token: "invalid",
      refresh_token_invalid_reason: "invalid_grant: Token has been expired or revoked.",
    });
    renderUser(d);
    expect((await screen.findByTestId("profile-name")).textContent).toBe("Ada Lovelace");
    expect(screen.getByTestId("profile-given-name").textContent).toBe("Ada");
    expect(screen.getByTestId("profile-family-name").textContent).toBe("Lovelace");
    expect(screen.getByTestId("profile-email").textContent).toBe("ada@example.com");
    expect(screen.getByTestId("profile-verified").textContent).toBe("verified");
    expect(screen.getByTestId("profile-locale").textContent).toBe("en-GB");
    expect(screen.getByTestId("profile-sub").textContent).toBe(d.sub);
    expect(screen.getByTestId("profile-hd").textContent).toBe("example.com");
    expect(screen.getByTestId("token-refresh-state").textContent).toBe("invalid");
    expect(screen.getByTestId("token-invalid-reason").textContent).toContain("invalid_grant");
    expect(screen.getByTestId("token-expiry").textContent).toMatch(/^expires in 5[12]:\d\d$/);
    expect(screen.getByTestId("token-scopes").textContent).toContain("https://www.googleapis.com/auth/drive.appdata");
    const claims = screen.getByTestId("idtoken-claims");
    expect(claims.querySelector('[data-claim="azp"]')?.textContent).toContain("ios.apps.googleusercontent.com");
    // exp is shown as a readable local time too.
    expect(claims.querySelector('[data-claim="exp"] .readable-time')?.textContent).toContain(
      new Date(1767229200 * 1000).toLocaleString(),
    );
    await waitFor(() => expect(screen.getAllByTestId("user-audit-row")).toHaveLength(2));
    // How the ID token was verified: its header and every check with its result.
    expect(screen.getByTestId("idtoken-header").textContent).toContain("0123abcd");
    const checks = screen.getAllByTestId("idtoken-check");
    expect(checks.map((c) => c.getAttribute("data-name"))).toEqual(["signature", "aud"]);
    expect(checks.every((c) => c.getAttribute("data-ok") === "true")).toBe(true);
  });

  it("shows no verification section for a user stored before it was recorded", async () => {
    renderUser(userDetail({ id_token: { header: null, checks: [], valid: false, verified_at: null } }));
    await screen.findByTestId("idtoken-claims");
    expect(screen.queryByTestId("idtoken-header")).toBeNull();
    expect(screen.queryAllByTestId("idtoken-check")).toHaveLength(0);
  });

  it("shows the unverified state without a verified badge", async () => {
    renderUser(userDetail({ email_verified: false }));
    await screen.findByTestId("profile-name");
    expect(screen.queryByTestId("profile-verified")).toBeNull();
  });

  it("renders a hostile name as literal text, creating no element from it", async () => {
    renderUser(userDetail({ name: XSS, given_name: XSS, picture: null }));
    const name = await screen.findByTestId("profile-name");
    expect(name.textContent).toBe(XSS);
    expect(name.children).toHaveLength(0);
    expect(screen.getByTestId("profile-given-name").textContent).toBe(XSS);
    expect(document.querySelectorAll("img")).toHaveLength(0);
    expect(document.querySelector('[src="x"]')).toBeNull();
    expect(document.querySelector("[onerror]")).toBeNull();
    // The fallback shows the first character as text.
    expect(screen.getByTestId("profile-picture-fallback").textContent).toBe("<");
  });

  it.each([
    "http://lh3.googleusercontent.com/a/pic.png",
    "javascript:alert(1)",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "https://evil.example.com/pic.png",
    "https://googleusercontent.com.evil.example/pic.png",
    "file:///etc/passwd",
  ])("does not load the picture %s (fallback instead)", async (picture) => {
    renderUser(userDetail({ picture, name: "Mallory" }));
    await screen.findByTestId("profile-name");
    expect(screen.queryByTestId("profile-picture")).toBeNull();
    expect(document.querySelectorAll("img")).toHaveLength(0);
    expect(screen.getByTestId("profile-picture-fallback").textContent).toBe("M");
  });

  it("loads an https://lh3.googleusercontent.com picture, and falls back if it fails", async () => {
    const picture = "https://lh3.googleusercontent.com/a/ACg8ocK=s96-c";
    renderUser(userDetail({ picture, name: "Grace" }));
    const img = (await screen.findByTestId("profile-picture")) as HTMLImageElement;
    expect(img.tagName).toBe("IMG");
    expect(img.getAttribute("src")).toBe(picture);
    expect(img.getAttribute("referrerpolicy")).toBe("no-referrer");
    expect(screen.queryByTestId("profile-picture-fallback")).toBeNull();
    fireEvent.error(img);
    expect(screen.queryByTestId("profile-picture")).toBeNull();
    expect(screen.getByTestId("profile-picture-fallback").textContent).toBe("G");
  });

  it("shows a revoked grant's access token as revoked, with no countdown", async () => {
    renderUser(userDetail({ refresh_token: "revoked", access_token_state: "revoked", access_token_expires_at: null }));
    const expiry = await screen.findByTestId("token-expiry");
    expect(expiry.textContent).toBe("revoked with the grant");
    expect(expiry.className).toContain("text-bad");
    expect(expiry.parentElement?.textContent).not.toMatch(/expires|no access token/);
  });

  it("asks before revoking, says the whole grant dies, and revokes only after Confirm", async () => {
    const d = userDetail();
    const { calls } = renderUser(d, {
      revoke_user: () => ({
        user: { ...d, refresh_token: "revoked" },
        outcome: "revoked",
        message: "Revoked at Google: the grant is gone; the user must sign in again.",
      }),
    });
    fireEvent.click(await screen.findByTestId("user-revoke"));
    const text = screen.getByTestId("revoke-confirm-text").textContent ?? "";
    expect(text).toContain("WHOLE grant");
    expect(text).toMatch(/every token/i);
    expect(text).toMatch(/refresh token/i);
    expect(text).toMatch(/sign in again/i);
    expect(callsOf(calls, "revoke_user")).toHaveLength(0);

    fireEvent.click(screen.getByTestId("revoke-cancel"));
    expect(screen.queryByTestId("revoke-confirm-text")).toBeNull();
    expect(callsOf(calls, "revoke_user")).toHaveLength(0);

    fireEvent.click(screen.getByTestId("user-revoke"));
    fireEvent.click(screen.getByTestId("revoke-confirm"));
    expect((await screen.findByTestId("revoke-result")).textContent).toBe(
      "Revoked at Google: the grant is gone; the user must sign in again.",
    );
    expect(callsOf(calls, "revoke_user")).toEqual([{ sub: d.sub }]);
  });

  it("shows a refresh failure next to the Refresh button with its explanation", async () => {
    renderUser(userDetail(), {
      refresh_user: () => {
        throw { code: "invalid_grant", message: "the refresh token is dead", explanation: "line one\nline two", raw: [] };
      },
    });
    fireEvent.click(await screen.findByTestId("user-refresh"));
    expect((await screen.findByTestId("error")).textContent).toBe("the refresh token is dead");
    const expl = screen.getByTestId("error-explanation");
    expect(expl.textContent).toBe("line one\nline two");
    expect(expl.className).toContain("error-explanation");
  });

  it("lists Drive appDataFolder files", async () => {
    const d = userDetail();
    renderUser(d, {
      drive_files: () => ({
        user: d,
        folder: { id: "appDataFolderId123", name: "Application Data", mimeType: "application/vnd.google-apps.folder", size: null, modifiedTime: null, createdTime: null },
        files: [
          { id: "f1", name: "config.json", mimeType: "application/json", size: 120, modifiedTime: "2026-01-01T00:00:00Z", createdTime: null },
          { id: "f2", name: "state.bin", mimeType: "application/octet-stream", size: 4096, modifiedTime: null, createdTime: null },
        ],
      }),
    });
    fireEvent.click(await screen.findByTestId("drive-load"));
    await waitFor(() => expect(screen.getAllByTestId("drive-file")).toHaveLength(2));
    expect(screen.getByTestId("drive-folder").textContent).toBe("appDataFolderId123");
    expect(screen.getAllByTestId("drive-file")[0].textContent).toContain("config.json");
  });

  it("reveals a token in component state only, hides it after 30 s, and copies natively", async () => {
    vi.useFakeTimers({
      shouldAdvanceTime: true,
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
    });
    try {
      const d = userDetail();
      const { calls } = renderUser(d, {
        reveal_token: () => "ya29.secret-access",
        copy_token: () => ({ clears_after_secs: 30 }),
      });
      fireEvent.click(await screen.findByTestId("reveal-access"));
      const box = (await screen.findByTestId("revealed-token")) as HTMLTextAreaElement;
      expect(box.value).toBe("ya29.secret-access");
      expect(box.readOnly).toBe(true);
      expect(callsOf(calls, "reveal_token")).toEqual([{ sub: d.sub }]);
      expect(localStorage.length).toBe(0);
      expect(sessionStorage.length).toBe(0);

      await act(async () => {
        await vi.advanceTimersByTimeAsync(29_000);
      });
      expect(screen.getByTestId("revealed-token")).toBeTruthy();
      await act(async () => {
        await vi.advanceTimersByTimeAsync(1_500);
      });
      expect(screen.queryByTestId("revealed-token")).toBeNull();
      expect(document.body.textContent).not.toContain("ya29.secret-access");

      expect(
        screen.queryByTestId("reveal-refresh"),
        "a refresh token is never revealed into the webview, only copied from Rust",
      ).toBeNull();
      fireEvent.click(screen.getByTestId("reveal-access"));
      expect(((await screen.findByTestId("revealed-token")) as HTMLTextAreaElement).value).toBe("ya29.secret-access");
      fireEvent.click(screen.getByTestId("revealed-hide"));
      expect(screen.queryByTestId("revealed-token")).toBeNull();

      fireEvent.click(screen.getByTestId("copy-refresh"));
      expect((await screen.findByTestId("copy-result")).textContent).toContain("the clipboard is cleared in 30 s");
      expect(callsOf(calls, "copy_token")).toEqual([{ sub: d.sub, which: "refresh_token" }]);
      expect(screen.getByTestId("token-audit-note").textContent).toMatch(/audit/i);
    } finally {
      vi.useRealTimers();
    }
  });
});
