import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { App } from "../App";
import type { Role } from "../bindings/Role";
import { HttpLogCard } from "../components/HttpLogCard";
import { appStatus, httpLog, serverStatus, userDetail, userView } from "../test/fixtures";
import { callsOf, type Handlers, mockCommands } from "../test/ipc";
import { SessionProvider } from "../session";

const SUB = userView(1).sub;
const MASKED_CURL = {
  command:
    'curl -X POST \'https://oauth2.googleapis.com/token\' \\\n  --data-urlencode "refresh_token=${REFRESH_TOKEN}" \\\n  --data-urlencode "client_secret=${CLIENT_SECRET}"',
  variables: ["refresh_token", "client_secret"],
  revealed: [],
  notes: ["Set $REFRESH_TOKEN, $CLIENT_SECRET before running it."],
} as const;

function renderCard(extra: Handlers = {}, role: Role | null = null) {
  const calls = mockCommands({
    user_http: () => httpLog(),
    http_curl: () => ({ ...MASKED_CURL, variables: [...MASKED_CURL.variables], revealed: [], notes: [...MASKED_CURL.notes] }),
    copy_curl: ({ reveal }) =>
      reveal
        ? {
            revealed: ["refresh_token", "client_secret"],
            clears_after_secs: 30,
            notes: ["It carries secrets as stored now (not necessarily those sent then): treat it as a password."],
          }
        : { revealed: [], clears_after_secs: null, notes: [...MASKED_CURL.notes] },
    ...extra,
  });
  const onAudited = vi.fn();
  const server = role ? serverStatus(role) : null;
  render(
    <SessionProvider value={{ server, signInAgain: null, liveTick: 0, liveAbout: { subs: [], other: false } }}>
      <HttpLogCard sub={SUB} version={0} onAudited={onAudited} />
    </SessionProvider>,
  );
  return { calls, onAudited };
}

/** Opens the refresh operation (the second, older entry) and returns its one request. */
async function openRefresh() {
  const rows = await screen.findAllByTestId("http-entry");
  const refresh = rows.find((r) => r.getAttribute("data-action") === "refresh");
  if (!refresh) throw new Error("no refresh entry");
  const toggle = within(refresh).getByTestId("http-entry-toggle");
  expect(toggle.getAttribute("aria-expanded")).toBe("false");
  fireEvent.click(toggle);
  expect(toggle.getAttribute("aria-expanded")).toBe("true");
  const requests = screen.getAllByTestId("http-request");
  expect(requests).toHaveLength(1);
  return requests[0];
}

describe("the User page's HTTP card", () => {
  it("lists the operations newest first, each request masked once opened", async () => {
    renderCard();
    const rows = await screen.findAllByTestId("http-entry");
    expect(rows.map((r) => r.getAttribute("data-action"))).toEqual(["drive", "refresh"]);
    expect(within(rows[1]).getByTestId("http-entry-count").textContent).toBe("1");
    expect(rows[1].textContent).toContain("alice");
    expect(rows[1].textContent).toContain("prod");
    // Closed: no request shown yet.
    expect(screen.queryAllByTestId("http-request")).toHaveLength(0);
    const request = await openRefresh();
    expect(request.textContent).toContain("POST");
    expect(request.textContent).toContain("https://oauth2.googleapis.com/token");
    expect(request.textContent).toContain("refresh_token");
    // The masked values, exactly as the core sent them: nothing else stands in.
    expect(request.textContent).toContain("[redacted]");
    expect(request.textContent).toContain("3599");
    expect(screen.getByRole("group", { name: "Request 1 of 1" })).toBe(request);
    // Closing hides it again.
    fireEvent.click(within(rows[1]).getByTestId("http-entry-toggle"));
    expect(screen.queryAllByTestId("http-request")).toHaveLength(0);
  });

  it("renders a JSON body too large to keep as its size", async () => {
    renderCard();
    const rows = await screen.findAllByTestId("http-entry");
    fireEvent.click(within(rows[0]).getByTestId("http-entry-toggle"));
    expect(screen.getByTestId("raw-body-too-large").textContent).toBe("40000 bytes of JSON, too long to keep");
    // A downloaded file's content: its size, never the user's data.
    expect(screen.getByTestId("raw-body-file-content").textContent).toContain("42 bytes");
  });

  it("copies as curl with shell variables, and shows the masked command with what to set", async () => {
    const { calls, onAudited } = renderCard();
    const request = await openRefresh();
    fireEvent.click(within(request).getByTestId("http-copy-curl"));
    const shown = await within(request).findByTestId("http-curl-command");
    expect(shown.textContent).toContain('--data-urlencode "refresh_token=${REFRESH_TOKEN}"');
    expect(within(request).getByTestId("http-curl-notes").textContent).toContain("Set $REFRESH_TOKEN, $CLIENT_SECRET");
    expect((await within(request).findByTestId("http-copy-result")).textContent).toBe(
      "Copied as curl; its secrets are shell variables.",
    );
    expect(callsOf(calls, "http_curl")).toEqual([{ sub: SUB, entry: 11, index: 0 }]);
    expect(callsOf(calls, "copy_curl")).toEqual([{ sub: SUB, entry: 11, index: 0, reveal: false }]);
    expect(onAudited, "a masked copy reveals nothing: no audit entry to show").not.toHaveBeenCalled();
  });

  it("reveals and copies from the app, says what was written in and that the clipboard clears", async () => {
    const { calls, onAudited } = renderCard();
    const request = await openRefresh();
    fireEvent.click(within(request).getByTestId("http-reveal-curl"));
    const result = await within(request).findByTestId("http-copy-result");
    expect(result.textContent).toBe(
      "Copied with REFRESH_TOKEN, CLIENT_SECRET written in; the clipboard is cleared in 30 s.",
    );
    expect(within(request).getByTestId("http-copy-notes").textContent).toContain("treat it as a password");
    expect(callsOf(calls, "copy_curl")).toEqual([{ sub: SUB, entry: 11, index: 0, reveal: true }]);
    expect(callsOf(calls, "http_curl"), "a revealed command never comes to the webview").toEqual([]);
    expect(within(request).queryByTestId("http-curl-command")).toBeNull();
    await waitFor(() => expect(onAudited, "the page reloads its audit trail to show the reveal").toHaveBeenCalledTimes(1));
  });

  it("shows why a copy failed", async () => {
    renderCard({
      copy_curl: () => {
        throw { code: "clipboard_unavailable", message: "the system clipboard is not available", explanation: null, raw: [] };
      },
    });
    const request = await openRefresh();
    fireEvent.click(within(request).getByTestId("http-reveal-curl"));
    expect((await within(request).findByTestId("error-code")).textContent).toBe("clipboard_unavailable");
    expect(within(request).queryByTestId("http-copy-result")).toBeNull();
  });

  it("says that operations will appear when there is none yet", async () => {
    renderCard({ user_http: () => [] });
    expect((await screen.findByTestId("http-empty")).textContent).toContain("Operations on this user");
    expect(screen.queryByRole("table")).toBeNull();
  });

  it("gives a viewer on a team server the masked copy, and Reveal disabled with the reason", async () => {
    const { calls } = renderCard({}, "viewer");
    const request = await openRefresh();
    const reveal = within(request).getByTestId("http-reveal-curl") as HTMLButtonElement;
    expect(reveal.disabled).toBe(true);
    expect(within(request).getByTestId("http-role-note").textContent).toBe("your role is viewer: this needs admin, ask an admin");
    const copy = within(request).getByTestId("http-copy-curl") as HTMLButtonElement;
    expect(copy.disabled).toBe(false);
    fireEvent.click(copy);
    await within(request).findByTestId("http-copy-result");
    expect(callsOf(calls, "copy_curl")).toEqual([{ sub: SUB, entry: 11, index: 0, reveal: false }]);
  });

  it("offers Reveal to an admin on a team server", async () => {
    renderCard({}, "admin");
    const request = await openRefresh();
    expect((within(request).getByTestId("http-reveal-curl") as HTMLButtonElement).disabled).toBe(false);
    expect(within(request).queryByTestId("http-role-note")).toBeNull();
  });

  it("is read again on the User page after a refresh", async () => {
    let refreshed = false;
    const calls = mockCommands({
      app_status: () => appStatus(),
      users_page: () => ({ total: 1, offset: 0, users: [userView(1)], more_matches: false }),
      user_detail: () => userDetail(),
      user_audit: () => [],
      user_http: () => (refreshed ? httpLog() : []),
      refresh_user: () => {
        refreshed = true;
        return userView(1);
      },
    });
    render(<App />);
    fireEvent.click(await screen.findByTestId("user-row"));
    await screen.findByTestId("http-empty");
    fireEvent.click(screen.getByTestId("user-refresh"));
    await waitFor(() => expect(screen.getAllByTestId("http-entry")).toHaveLength(2));
    expect(callsOf(calls, "user_http")).toHaveLength(2);
  });
});
