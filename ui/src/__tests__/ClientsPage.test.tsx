import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { ClientView } from "../bindings/ClientView";
import { ClientsPage } from "../pages/ClientsPage";
import { callsOf, mockCommands } from "../test/ipc";

const emu: ClientView = {
  name: "emu",
  client_id: "emu-web",
  issuer: "http://127.0.0.1:8300",
  ios_client_ids: ["emu-ios"],
  foreign_endpoints: true,
  token_endpoint: "http://127.0.0.1:8300/token",
  authorization_endpoint: null,
  drive_api_base: "http://127.0.0.1:8300",
  created_at: "2026-01-01T00:00:00Z",
};

describe("Clients page", () => {
  it("imports with the picked file and comma-separated iOS ids, then refreshes list and status", async () => {
    let list: ClientView[] = [];
    const calls = mockCommands({
      clients_list: () => list,
      client_pick_file: () => "/tmp/client_secret_emu.json",
      client_import: ({ request }) => {
        list = [{ ...emu, name: request.name }];
        return list[0];
      },
    });
    const onStatusChanged = vi.fn();
    render(<ClientsPage onStatusChanged={onStatusChanged} />);
    fireEvent.click(screen.getByTestId("client-browse"));
    await waitFor(() => expect((screen.getByTestId("client-path") as HTMLInputElement).value).toBe("/tmp/client_secret_emu.json"));
    fireEvent.change(screen.getByTestId("client-name"), { target: { value: "emu" } });
    fireEvent.change(screen.getByTestId("client-issuer"), { target: { value: "http://127.0.0.1:8300" } });
    fireEvent.change(screen.getByTestId("client-api-base"), { target: { value: "http://127.0.0.1:8300" } });
    fireEvent.change(screen.getByTestId("client-ios-ids"), { target: { value: "a-ios, b-ios ,," } });
    fireEvent.click(screen.getByTestId("client-import"));

    expect((await screen.findByTestId("client-import-ok")).textContent).toContain("emu");
    expect(callsOf(calls, "client_import")).toEqual([
      {
        request: {
          name: "emu",
          // The dialog's choice stays with the app: the webview sends no path for it.
          path: null,
          issuer: "http://127.0.0.1:8300",
          api_base: "http://127.0.0.1:8300",
          ios_client_ids: ["a-ios", "b-ios"],
        },
      },
    ]);
    await waitFor(() => expect(screen.getAllByTestId("client-row")).toHaveLength(1));
    expect(screen.getByTestId("client-foreign").textContent).toBe("not Google");
    expect(onStatusChanged).toHaveBeenCalled();
  });

  it("sends a path only when the person typed one", async () => {
    const calls = mockCommands({
      clients_list: () => [],
      client_pick_file: () => "/tmp/picked.json",
      client_import: () => emu,
    });
    render(<ClientsPage onStatusChanged={vi.fn()} />);
    fireEvent.click(screen.getByTestId("client-browse"));
    await waitFor(() => expect((screen.getByTestId("client-path") as HTMLInputElement).value).toBe("/tmp/picked.json"));
    fireEvent.change(screen.getByTestId("client-path"), { target: { value: "/tmp/typed.json" } });
    fireEvent.change(screen.getByTestId("client-name"), { target: { value: "emu" } });
    fireEvent.click(screen.getByTestId("client-import"));
    await screen.findByTestId("client-import-ok");
    expect((callsOf(calls, "client_import")[0] as { request: { path: string | null } }).request.path).toBe("/tmp/typed.json");
  });

  it("removes a client only after confirming", async () => {
    let list: ClientView[] = [emu];
    const calls = mockCommands({
      clients_list: () => list,
      client_remove: () => {
        list = [];
        return null;
      },
    });
    render(<ClientsPage onStatusChanged={vi.fn()} />);
    fireEvent.click(await screen.findByTestId("client-remove"));
    expect(callsOf(calls, "client_remove")).toHaveLength(0);
    fireEvent.click(screen.getByTestId("client-remove-confirm"));
    await waitFor(() => expect(screen.queryAllByTestId("client-row")).toHaveLength(0));
    expect(callsOf(calls, "client_remove")).toEqual([{ name: "emu" }]);
  });
});
