import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { ClientView } from "../bindings/ClientView";
import type { ImportableClient } from "../bindings/ImportableClient";
import { ClientsPage } from "../pages/ClientsPage";
import { callsOf, mockCommands } from "../test/ipc";

const fromFile: ImportableClient[] = [
  { name: "prod", client_id: "prod-web", issuer: "https://accounts.google.com", api_base: null, ios_client_ids: ["prod-ios"], on_desk: "no" },
  { name: "emu", client_id: "emu-web", issuer: "http://127.0.0.1:8300", api_base: "http://127.0.0.1:8300", ios_client_ids: [], on_desk: "no" },
  { name: "old", client_id: "old-web", issuer: "https://accounts.google.com", api_base: null, ios_client_ids: [], on_desk: "other" },
];

function view(c: ImportableClient): ClientView {
  return {
    name: c.name,
    client_id: c.client_id,
    issuer: c.issuer,
    ios_client_ids: c.ios_client_ids,
    foreign_endpoints: c.api_base !== null,
    token_endpoint: null,
    authorization_endpoint: null,
    drive_api_base: c.api_base,
    created_at: "2026-01-01T00:00:00Z",
  };
}

describe("Clients between desks", () => {
  it("exports every client without a secret, and says where", async () => {
    const calls = mockCommands({
      clients_list: () => [],
      clients_export: () => ({ path: "/home/me/tokendesk-clients.json", bytes: 300 }),
    });
    render(<ClientsPage onStatusChanged={() => {}} />);
    fireEvent.click(screen.getByTestId("clients-export"));
    expect((await screen.findByTestId("clients-exported")).textContent).toContain("/home/me/tokendesk-clients.json");
    expect(callsOf(calls, "clients_export")).toEqual([{}]);
  });

  it("opens a clients file, fills the import form from it, and checks the secret is that client's", async () => {
    let list: ClientView[] = [];
    const calls = mockCommands({
      clients_list: () => list,
      clients_file_open: ({ path }) => ({
        path: path ?? "/picked/clients.json",
        clients: fromFile.map((c) => (list.some((l) => l.name === c.name) ? { ...c, on_desk: "same" as const } : c)),
      }),
      client_import: ({ request }) => {
        const added = view(fromFile.find((c) => c.name === request.name) ?? fromFile[0]);
        list = [...list, added];
        return added;
      },
    });
    render(<ClientsPage onStatusChanged={() => {}} />);
    // No path typed: the app's dialog chooses (path null).
    fireEvent.click(screen.getByTestId("clients-file-open"));
    const rows = await screen.findAllByTestId("clients-file-row");
    expect(rows.map((r) => r.getAttribute("data-on-desk"))).toEqual(["no", "no", "other"]);
    expect(callsOf(calls, "clients_file_open")).toEqual([{ path: null }]);
    expect(within(rows[2]).queryByTestId("clients-file-fill")).toBeNull();

    // The foreign one: its issuer and API base go into the form, its secret is asked for.
    fireEvent.click(within(rows[1]).getByTestId("clients-file-fill"));
    expect((screen.getByTestId("client-name") as HTMLInputElement).value).toBe("emu");
    expect((screen.getByTestId("client-issuer") as HTMLInputElement).value).toBe("http://127.0.0.1:8300");
    expect((screen.getByTestId("client-api-base") as HTMLInputElement).value).toBe("http://127.0.0.1:8300");
    expect(screen.getByTestId("client-from-file").textContent).toContain("emu-web");
    // Google's: no issuer in the form (Google is the default), its iOS ids are.
    fireEvent.click(within(rows[0]).getByTestId("clients-file-fill"));
    expect((screen.getByTestId("client-issuer") as HTMLInputElement).value).toBe("");
    expect((screen.getByTestId("client-api-base") as HTMLInputElement).value).toBe("");
    expect((screen.getByTestId("client-ios-ids") as HTMLInputElement).value).toBe("prod-ios");
    fireEvent.change(screen.getByTestId("client-path"), { target: { value: "/secrets/prod.json" } });
    fireEvent.click(screen.getByTestId("client-import"));
    await screen.findByTestId("client-import-ok");
    expect(callsOf(calls, "client_import")).toEqual([
      {
        request: {
          name: "prod",
          path: "/secrets/prod.json",
          issuer: null,
          api_base: null,
          ios_client_ids: ["prod-ios"],
          client_id: "prod-web",
        },
      },
    ]);
    // The file's list is read again: prod is here now.
    await waitFor(() =>
      expect(screen.getAllByTestId("clients-file-row").map((r) => r.getAttribute("data-on-desk"))).toEqual(["same", "no", "other"]),
    );
    expect(callsOf(calls, "clients_file_open").at(-1)).toEqual({ path: "/picked/clients.json" });
    expect(screen.queryByTestId("client-from-file")).toBeNull();
  });

  it("an import typed by hand asks for no particular client", async () => {
    const calls = mockCommands({
      clients_list: () => [],
      client_import: ({ request }) => view({ ...fromFile[0], name: request.name }),
    });
    render(<ClientsPage onStatusChanged={() => {}} />);
    fireEvent.change(screen.getByTestId("client-name"), { target: { value: "web" } });
    fireEvent.change(screen.getByTestId("client-path"), { target: { value: "/secrets/web.json" } });
    fireEvent.click(screen.getByTestId("client-import"));
    await screen.findByTestId("client-import-ok");
    const [request] = callsOf(calls, "client_import") as { request: { client_id?: string } }[];
    expect(request.request.client_id).toBeUndefined();
  });
});
