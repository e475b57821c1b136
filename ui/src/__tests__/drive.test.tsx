import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { DriveCard } from "../components/DriveCard";
import { SettingsPage } from "../pages/SettingsPage";
import { UsersPage } from "../pages/UsersPage";
import { settingsView, userView } from "../test/fixtures";
import { callsOf, mockCommands } from "../test/ipc";

const file = { id: "1abc", name: "save.json", mimeType: "application/json", size: 42, modifiedTime: null, createdTime: null };
const folder = { id: "0AF", name: "Application Data", mimeType: "application/vnd.google-apps.folder", size: null, modifiedTime: null, createdTime: null };

function driveMocks() {
  return mockCommands({
    drive_files: () => ({ user: userView(1), folder, files: [file] }),
    drive_pick_upload: () => ({ path: "/tmp/new.json", name: "new.json", bytes: 7, mime_type: "application/json" }),
    drive_upload: () => ({ user: userView(1), file: { ...file, id: "2new", name: "new.json" } }),
    drive_delete: () => ({ user: userView(1), file }),
    drive_download: () => ({ path: "/home/me/save.json", bytes: 42 }),
  });
}

async function loaded() {
  render(<DriveCard sub="1001" hasScope onAudited={() => {}} />);
  fireEvent.click(screen.getByTestId("drive-load"));
  await screen.findAllByTestId("drive-file");
}

describe("Drive files", () => {
  it("uploads only after the confirmation, and not when cancelled", async () => {
    const calls = driveMocks();
    await loaded();
    fireEvent.click(screen.getByTestId("drive-upload"));
    expect((await screen.findByTestId("drive-confirm-text")).textContent).toContain("new.json");
    fireEvent.click(screen.getByTestId("drive-cancel"));
    expect(callsOf(calls, "drive_upload")).toEqual([]);

    fireEvent.click(screen.getByTestId("drive-upload"));
    fireEvent.click(await screen.findByTestId("drive-confirm"));
    expect((await screen.findByTestId("drive-done")).textContent).toContain("Uploaded new.json");
    expect(callsOf(calls, "drive_upload")).toEqual([{ sub: "1001", name: "new.json", mimeType: "application/json" }]);
    // Nothing typed: the app's open dialog chooses.
    expect(callsOf(calls, "drive_pick_upload")).toEqual([{ path: null }, { path: null }]);
  });

  it("uploads a typed path (no dialog), and clears it once uploaded", async () => {
    const calls = driveMocks();
    await loaded();
    fireEvent.change(screen.getByTestId("drive-upload-path"), { target: { value: " /tmp/new.json " } });
    fireEvent.click(screen.getByTestId("drive-upload"));
    fireEvent.click(await screen.findByTestId("drive-confirm"));
    await screen.findByTestId("drive-done");
    expect(callsOf(calls, "drive_pick_upload")).toEqual([{ path: "/tmp/new.json" }]);
    expect((screen.getByTestId("drive-upload-path") as HTMLInputElement).value).toBe("");
  });

  it("deletes only after the confirmation that says it is for good", async () => {
    const calls = driveMocks();
    await loaded();
    fireEvent.click(screen.getByTestId("drive-delete"));
    expect((await screen.findByTestId("drive-confirm-text")).textContent).toContain("for good");
    expect(callsOf(calls, "drive_delete")).toEqual([]);
    fireEvent.click(screen.getByTestId("drive-confirm"));
    await screen.findByTestId("drive-done");
    expect(callsOf(calls, "drive_delete")).toEqual([{ sub: "1001", fileId: "1abc" }]);
  });

  it("downloads through the app's save dialog, suggesting the file's name", async () => {
    const calls = driveMocks();
    await loaded();
    fireEvent.click(screen.getByRole("button", { name: "Download save.json" }));
    expect((await screen.findByTestId("drive-done")).textContent).toContain("/home/me/save.json");
    expect(callsOf(calls, "drive_download")).toEqual([{ sub: "1001", fileId: "1abc", name: "save.json" }]);
  });
});

describe("Users export and network settings", () => {
  it("exports every user as CSV or JSON from the Users page", async () => {
    const calls = mockCommands({
      users_page: () => ({ total: 1, offset: 0, users: [userView(1)], more_matches: false }),
      users_export: () => ({ path: "/home/me/tokendesk-users.csv", bytes: 100 }),
    });
    render(<UsersPage navigate={() => {}} />);
    fireEvent.click(await screen.findByTestId("users-export-csv"));
    expect((await screen.findByTestId("users-exported")).textContent).toContain("tokendesk-users.csv");
    fireEvent.click(screen.getByTestId("users-export-json"));
    await waitFor(() => expect(callsOf(calls, "users_export")).toEqual([{ format: "csv" }, { format: "json" }]));
  });

  it("saves a proxy of its own and a CA bundle, and shows the environment's", async () => {
    const calls = mockCommands({
      settings_get: () => settingsView(["HTTPS_PROXY=http://corp:3128/"]),
      settings_save: (args) => ({ settings: args.settings, environment: { variables: [] }, path: "/data/settings.json" }),
    });
    render(<SettingsPage />);
    expect((await screen.findByTestId("proxy-environment")).textContent).toContain("HTTPS_PROXY=http://corp:3128/");
    expect((screen.getByTestId("proxy-url") as HTMLInputElement).disabled).toBe(true);
    fireEvent.click(screen.getByTestId("proxy-manual"));
    fireEvent.change(screen.getByTestId("proxy-url"), { target: { value: " http://proxy:3128 " } });
    fireEvent.change(screen.getByTestId("proxy-no-proxy"), { target: { value: "127.0.0.1,localhost" } });
    fireEvent.change(screen.getByTestId("ca-bundle"), { target: { value: "/etc/corp.pem" } });
    fireEvent.change(screen.getByTestId("save-folder"), { target: { value: " /home/me/Downloads " } });
    fireEvent.click(screen.getByTestId("settings-save"));
    await screen.findByTestId("settings-saved");
    expect(callsOf(calls, "settings_save")).toEqual([
      {
        settings: {
          proxy: { mode: "manual", url: "http://proxy:3128", no_proxy: "127.0.0.1,localhost" },
          ca_bundle: "/etc/corp.pem",
          save_folder: "/home/me/Downloads",
          health_sweep_minutes: null,
        },
      },
    ]);
  });
});
