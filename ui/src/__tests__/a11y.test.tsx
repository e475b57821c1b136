import { act, fireEvent, render, screen } from "@testing-library/react";
import axe from "axe-core";
import { describe, expect, it } from "vitest";
import { App } from "../App";
import { appStatus, httpLog, settingsView, userDetail, userView } from "../test/fixtures";
import { mockCommands } from "../test/ipc";

const driveReport = {
  user: userView(1),
  folder: { id: "0AFolder", name: "Application Data", mimeType: "application/vnd.google-apps.folder", size: null, modifiedTime: null, createdTime: null },
  files: [
    { id: "1abc", name: "save.json", mimeType: "application/json", size: 42, modifiedTime: "2026-01-01T00:00:00Z", createdTime: "2026-01-01T00:00:00Z" },
  ],
};

function everyCommand() {
  return mockCommands({
    app_status: () => appStatus({ clients: [] }),
    users_page: () => ({ total: 3, offset: 0, users: [userView(1), userView(2), userView(3)], more_matches: false }),
    user_detail: () => userDetail(),
    user_audit: () => [],
    // The User page's HTTP card: a Drive listing (its body too large to keep) and a refresh.
    user_http: () => httpLog(),
    http_curl: () => ({
      command: 'curl -X POST https://oauth2.googleapis.com/token --data-urlencode "refresh_token=${REFRESH_TOKEN}"',
      variables: ["refresh_token"],
      revealed: [],
      notes: ["Set $REFRESH_TOKEN before running it."],
    }),
    copy_curl: () => ({ revealed: [], clears_after_secs: null, notes: ["Set $REFRESH_TOKEN before running it."] }),
    clients_list: () => [
      {
        name: "prod",
        client_id: "web.apps.googleusercontent.com",
        issuer: "https://accounts.google.com",
        ios_client_ids: ["ios.apps.googleusercontent.com"],
        foreign_endpoints: false,
        token_endpoint: "https://oauth2.googleapis.com/token",
        authorization_endpoint: null,
        drive_api_base: "https://www.googleapis.com/drive/v3/",
        created_at: "2026-01-01T00:00:00Z",
      },
    ],
    audit_log: () => [],
    receiver_status: () => ({ status: null, events: [] }),
    sandbox_users: () => [],
    drive_files: () => driveReport,
    drive_pick_upload: () => ({ path: "/tmp/save.json", name: "save.json", bytes: 42, mime_type: "application/json" }),
    settings_get: () => settingsView(["HTTPS_PROXY=http://proxy.example:3128/"]),
    // The Users page's "Needs attention" list, with a reason of each kind.
    health_attention: () => ({
      total: 2,
      users: [
        { user: userView(1, { refresh_token: "invalid", refresh_token_invalid_reason: "Token has been expired or revoked." }), reasons: ["invalid"] },
        { user: userView(2, { has_drive_appdata: false }), reasons: ["missing_drive_appdata", "expiring", "revoked", "pending_revocation"] },
      ],
      expiring_within_secs: 600,
      as_of: "2026-12-01T00:00:00Z",
    }),
    health_status: () => ({ schedule_minutes: 30, running: false, last: null }),
  });
}

/**
 * axe-core on what is rendered. jsdom computes no layout or colours, so the colour-contrast
 * rule cannot run here (it would report every node as "incomplete"): it is off, and contrast
 * is checked from the stylesheet's own colours in contrast.test.ts.
 */
async function violations(): Promise<string[]> {
  const results = await axe.run(document.body, {
    rules: { "color-contrast": { enabled: false } },
  });
  return results.violations.map(
    (v) => `${v.id}: ${v.help}\n  ${v.nodes.map((n) => n.html).join("\n  ")}`,
  );
}

async function settle() {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 20));
  });
}

describe("accessibility (axe-core)", () => {
  it("finds a violation when there is one, so a clean page means something", async () => {
    render(
      <div>
        <input type="text" />
        <button type="button" />
      </div>,
    );
    const found = await violations();
    expect(found.some((v) => v.startsWith("label:"))).toBe(true);
    expect(found.some((v) => v.startsWith("button-name:"))).toBe(true);
  });

  it("every page, the palette and the shortcuts have no violation", async () => {
    everyCommand();
    render(<App />);
    await screen.findByTestId("users-search");
    await screen.findAllByTestId("user-row");
    await screen.findAllByTestId("needs-attention-item");
    const pages: [string, string][] = [
      ["nav-users", "users-search"],
      ["nav-exchange", "exchange-code"],
      ["nav-lab", "lab-run"],
      ["nav-inspector", "inspect-input"],
      ["nav-receiver", "receiver-start"],
      ["nav-clients", "client-import"],
      ["nav-sandbox", "sandbox-switch"],
      ["nav-audit", "audit-action"],
      ["nav-settings", "settings-save"],
    ];
    for (const [nav, marker] of pages) {
      fireEvent.click(screen.getByTestId(nav));
      await screen.findByTestId(marker);
      await settle();
      expect(await violations(), `${nav}`).toEqual([]);
    }

    fireEvent.click(screen.getByTestId("nav-users"));
    fireEvent.click((await screen.findAllByTestId("user-row"))[0]);
    await screen.findByTestId("profile-name");
    fireEvent.click(screen.getByTestId("drive-load"));
    await screen.findAllByTestId("drive-file");
    fireEvent.click(screen.getByTestId("drive-delete"));
    await screen.findByTestId("drive-confirm");
    await settle();
    expect(await violations(), "the user page with its Drive files and a confirmation").toEqual([]);

    // The HTTP card: every operation open, a request copied as curl (its command and notes shown).
    for (const toggle of screen.getAllByTestId("http-entry-toggle")) fireEvent.click(toggle);
    await screen.findByTestId("raw-body-too-large");
    fireEvent.click(screen.getAllByTestId("http-copy-curl")[1]);
    await screen.findByTestId("http-curl-command");
    await screen.findByTestId("http-copy-result");
    expect(await violations(), "the user page's HTTP card, open, with a command copied").toEqual([]);

    fireEvent.keyDown(window, { key: "k", ctrlKey: true });
    await screen.findByTestId("palette");
    expect(await violations(), "the command palette").toEqual([]);
    fireEvent.keyDown(screen.getByTestId("palette-input"), { key: "Escape" });

    fireEvent.keyDown(document.body, { key: "?" });
    await screen.findByTestId("shortcuts");
    expect(await violations(), "the shortcuts").toEqual([]);
  }, 60_000);

  it("the sandbox page in sandbox mode has no violation", async () => {
    mockCommands({
      app_status: () => appStatus({ mode: "sandbox", emulator_url: "http://127.0.0.1:9999" }),
      sandbox_users: () => [
        {
          sub: "1001",
          email: "ada@example.com",
          email_verified: true,
          name: "Ada Lovelace",
          given_name: "Ada",
          family_name: "Lovelace",
          picture: "https://lh3.googleusercontent.com/a/ada",
          locale: "en",
          hd: null,
        },
      ],
    });
    render(<App />);
    await screen.findByTestId("sandbox-add");
    await screen.findAllByTestId("sandbox-user");
    await settle();
    expect(await violations()).toEqual([]);
  }, 30_000);
});
