import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../bindings/AuditEntry";
import type { AuditFilter } from "../bindings/AuditFilter";
import { AUDIT_LIMIT, AuditPage } from "../pages/AuditPage";
import { callsOf, mockCommands } from "../test/ipc";

const entries: AuditEntry[] = [
  {
    id: 1,
    at: "2026-01-01T10:00:00Z",
    os_user: "alice",
    action: "revoke",
    user_id: 7,
    outcome: "denied",
    detail: "keyring locked",
    user_email: "ada@example.com",
    user_sub: "1001",
  },
  { id: 2, at: "2026-01-01T11:00:00Z", os_user: "bob", action: "reveal", user_id: 8, outcome: "ok", detail: null, user_email: null, user_sub: "2002" },
  { id: 3, at: "2026-01-01T12:00:00Z", os_user: "bob", action: "client_add", user_id: null, outcome: "ok", detail: "web", user_email: null, user_sub: null },
];

describe("Audit page", () => {
  it("passes the action, outcome and text filter to audit_log and audit_export", async () => {
    let exportAnswer: string | null = "/home/me/audit.csv";
    const calls = mockCommands({
      audit_log: ({ filter }) => entries.filter((e) => !filter.action || e.action === filter.action),
      audit_export: () => exportAnswer,
    });
    render(<AuditPage />);
    await waitFor(() => expect(screen.getAllByTestId("audit-row")).toHaveLength(3));
    // People, not row numbers: the email, else the sub; nobody for a client change.
    expect(screen.getAllByTestId("audit-user").map((c) => c.textContent)).toEqual(["ada@example.com", "2002", ""]);
    expect(screen.getAllByTestId("audit-user")[0].title).toBe("user id 7");
    expect(callsOf(calls, "audit_log")[0]).toEqual({
      filter: { action: null, outcome: null, since: null, text: null, limit: AUDIT_LIMIT },
    });

    fireEvent.change(screen.getByTestId("audit-action"), { target: { value: "revoke" } });
    fireEvent.change(screen.getByTestId("audit-outcome"), { target: { value: "denied" } });
    fireEvent.change(screen.getByTestId("audit-text"), { target: { value: " alice " } });
    await waitFor(() =>
      expect(callsOf(calls, "audit_log").at(-1)).toEqual({
        filter: { action: "revoke", outcome: "denied", since: null, text: "alice", limit: AUDIT_LIMIT },
      }),
    );
    await waitFor(() => expect(screen.getAllByTestId("audit-row")).toHaveLength(1));
    const row = screen.getAllByTestId("audit-row")[0];
    expect(row.textContent).toContain("alice");
    expect(row.textContent).toContain("keyring locked");

    fireEvent.click(screen.getByTestId("audit-export"));
    expect((await screen.findByTestId("audit-export-path")).textContent).toContain("/home/me/audit.csv");
    const exported = callsOf(calls, "audit_export")[0] as { filter: AuditFilter };
    expect(exported.filter).toMatchObject({ action: "revoke", outcome: "denied", text: "alice" });

    // A cancelled save dialog: nothing shown.
    exportAnswer = null;
    fireEvent.click(screen.getByTestId("audit-export"));
    await waitFor(() => expect(callsOf(calls, "audit_export")).toHaveLength(2));
    await waitFor(() => expect(screen.queryByTestId("audit-export-path")).toBeNull());
  });
});
