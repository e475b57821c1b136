import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { InspectorPage } from "../pages/InspectorPage";
import { callsOf, mockCommands } from "../test/ipc";

describe("Inspector page", () => {
  it("renders the header, claims and every check of a JWT", async () => {
    const calls = mockCommands({
      clients_list: () => [],
      inspect_token: () => ({
        kind: "jwt",
        header: { alg: "RS256", kid: "k1", typ: "JWT" },
        claims: { iss: "https://accounts.google.com", sub: "42", exp: 1767229200, iat: 1767225600, name: "<b>x</b>" },
        checks: [
          { name: "alg", ok: true, detail: "RS256" },
          { name: "signature", ok: true, detail: "verified with kid k1" },
          { name: "aud", ok: false, detail: "aud evil.apps.googleusercontent.com is not this client" },
        ],
        valid: false,
        error: { code: "invalid_aud", message: "the token is for another client" },
      }),
    });
    render(<InspectorPage />);
    fireEvent.change(screen.getByTestId("inspect-input"), { target: { value: " eyJ.a.b\n" } });
    fireEvent.click(screen.getByTestId("inspect-run"));
    const result = await screen.findByTestId("inspect-result");
    expect(result.getAttribute("data-kind")).toBe("jwt");

    const checks = screen.getAllByTestId("inspect-check");
    expect(checks.map((c) => [c.getAttribute("data-name"), c.getAttribute("data-ok")])).toEqual([
      ["alg", "true"],
      ["signature", "true"],
      ["aud", "false"],
    ]);
    expect(checks[0].textContent).toContain("✓");
    expect(checks[2].textContent).toContain("✗");
    expect(checks[2].textContent).toContain("is not this client");

    const valid = screen.getByTestId("inspect-valid");
    expect(valid.getAttribute("data-valid")).toBe("false");
    expect(valid.textContent).toBe("invalid");
    expect(screen.getByTestId("inspect-error").textContent).toContain("the token is for another client");
    expect(screen.getByTestId("inspect-header").textContent).toContain('"alg": "RS256"');
    expect(screen.getByTestId("inspect-claims-table").textContent).toContain(new Date(1767229200 * 1000).toLocaleString());
    expect(document.querySelector("b")).toBeNull();
    expect(callsOf(calls, "inspect_token")).toEqual([{ token: "eyJ.a.b", client: null }]);
  });

  it("renders tokeninfo for an access token", async () => {
    mockCommands({
      clients_list: () => [],
      inspect_token: () => ({
        kind: "access_token",
        aud: "web.apps.googleusercontent.com",
        azp: "ios.apps.googleusercontent.com",
        sub: "42",
        email: "a@example.com",
        emailVerified: true,
        scopes: ["openid", "https://www.googleapis.com/auth/drive.appdata"],
        exp: 1767229200,
        expiresIn: 3599,
        accessType: "offline",
      }),
    });
    render(<InspectorPage />);
    fireEvent.change(screen.getByTestId("inspect-input"), { target: { value: "ya29.x" } });
    fireEvent.click(screen.getByTestId("inspect-run"));
    const info = await screen.findByTestId("inspect-tokeninfo");
    expect(info.textContent).toContain("ios.apps.googleusercontent.com");
    expect(info.textContent).toContain("drive.appdata");
    expect(info.textContent).toContain("3599 s");
    expect(screen.queryByTestId("inspect-check")).toBeNull();
  });
});
