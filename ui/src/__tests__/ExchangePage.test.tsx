import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { ClientView } from "../bindings/ClientView";
import type { RawExchange } from "../bindings/RawExchange";
import { ExchangePage } from "../pages/ExchangePage";
import { userView } from "../test/fixtures";
import { callsOf, mockCommands } from "../test/ipc";

const clients: ClientView[] = [
  {
    name: "prod",
    client_id: "web.apps.googleusercontent.com",
    issuer: "https://accounts.google.com",
    ios_client_ids: ["ios.apps.googleusercontent.com"],
    foreign_endpoints: false,
    token_endpoint: "https://oauth2.googleapis.com/token",
    authorization_endpoint: null,
    drive_api_base: null,
    created_at: "2026-01-01T00:00:00Z",
  },
  { ...{} as ClientView, name: "staging", client_id: "stg", issuer: "https://accounts.google.com", ios_client_ids: [], foreign_endpoints: false, token_endpoint: null, authorization_endpoint: null, drive_api_base: null, created_at: "2026-01-01T00:00:00Z" },
];

const raw: RawExchange = {
  method: "POST",
  url: "https://oauth2.googleapis.com/token",
  requestHeaders: [{ name: "content-type", value: "application/x-www-form-urlencoded" }],
  form: [
    { name: "grant_type", value: "authorization_code" },
    { name: "code", value: "[redacted]" },
    { name: "client_secret", value: "[redacted]" },
  ],
  response: {
    status: 400,
    headers: [{ name: "content-type", value: "application/json" }],
    body: { kind: "json", value: { error: "invalid_grant", error_description: "Bad Request" } },
  },
  error: null,
  elapsedMs: 87,
};

describe("Exchange page", () => {
  it("shows code, message, multi-line explanation and the raw exchange on failure", async () => {
    const calls = mockCommands({
      clients_list: () => clients,
      exchange_code: () => {
        throw {
          code: "invalid_grant",
          message: "Google refused the code: invalid_grant",
          explanation: "The code was already used, or it expired.\nCodes are single-use and live a few minutes.",
          raw: [raw],
        };
      },
    });
    render(<ExchangePage navigate={vi.fn()} />);
    await waitFor(() => expect((screen.getByTestId("exchange-client") as HTMLSelectElement).value).toBe("prod"));
    fireEvent.change(screen.getByTestId("exchange-code"), { target: { value: "  4/0Aabc  " } });
    fireEvent.click(screen.getByTestId("exchange-run"));

    expect((await screen.findByTestId("error")).textContent).toBe("Google refused the code: invalid_grant");
    expect(screen.getByTestId("error-code").textContent).toBe("invalid_grant");
    expect(screen.getByTestId("error-explanation").textContent).toBe(
      "The code was already used, or it expired.\nCodes are single-use and live a few minutes.",
    );
    const rawBox = screen.getByTestId("exchange-raw");
    expect(rawBox.textContent).toContain("https://oauth2.googleapis.com/token");
    expect(rawBox.textContent).toContain("client_secret");
    expect(rawBox.textContent).toContain("[redacted]");
    expect(within(rawBox).getByTestId("raw-status").textContent).toBe("400");
    expect(rawBox.textContent).toContain('"error": "invalid_grant"');
    expect(screen.queryByTestId("exchange-result")).toBeNull();
    expect(callsOf(calls, "exchange_code")).toEqual([{ code: "4/0Aabc", client: "prod", redirect: "" }]);
  });

  it("runs with the chosen client and redirect_uri and links to the stored user", async () => {
    const user = userView(5, { name: "Linus" });
    const calls = mockCommands({
      clients_list: () => clients,
      exchange_code: () => ({
        user,
        raw: [{ ...raw, response: { ...raw.response!, status: 200, body: { kind: "json", value: { access_token: "[masked]" } } } }],
        notes: ["Google returned no refresh token: the user had already granted offline access."],
        id_token: { header: null, checks: [], valid: true, verified_at: null },
      }),
    });
    const navigate = vi.fn();
    render(<ExchangePage navigate={navigate} />);
    await waitFor(() => expect(screen.getAllByRole("option")).toHaveLength(2));
    fireEvent.change(screen.getByTestId("exchange-client"), { target: { value: "staging" } });
    fireEvent.change(screen.getByTestId("exchange-redirect"), { target: { value: "postmessage" } });
    fireEvent.change(screen.getByTestId("exchange-code"), { target: { value: "4/0Axyz" } });
    fireEvent.click(screen.getByTestId("exchange-run"));
    const result = await screen.findByTestId("exchange-result");
    expect(result.textContent).toContain("no refresh token");
    expect(within(result).getByTestId("exchange-raw").textContent).toContain("200");
    expect(callsOf(calls, "exchange_code")).toEqual([{ code: "4/0Axyz", client: "staging", redirect: "postmessage" }]);
    fireEvent.click(screen.getByTestId("exchange-open-user"));
    expect(navigate).toHaveBeenCalledWith({ name: "user", sub: user.sub });
    // The code is single-use: it is cleared once spent.
    expect((screen.getByTestId("exchange-code") as HTMLTextAreaElement).value).toBe("");
  });
});
