import type { ReactNode } from "react";

export type Tone = "ok" | "warn" | "bad" | "info" | "muted";

export function Badge({ tone, children, testId, title }: { tone: Tone; children: ReactNode; testId?: string; title?: string }) {
  return (
    <span className={`badge badge-${tone}`} data-testid={testId} title={title}>
      {children}
    </span>
  );
}

const RT_TONES: Record<string, Tone> = {
  present: "ok",
  absent: "warn",
  revoked: "bad",
  invalid: "bad",
  pending_revocation: "warn",
  none: "muted",
};

/** The refresh-token state as a badge: present / absent / revoked / invalid / pending_revocation / none. */
export function RefreshStateBadge({ state, testId, title }: { state: string; testId?: string; title?: string }) {
  return (
    <Badge tone={RT_TONES[state] ?? "muted"} testId={testId} title={title}>
      {state === "pending_revocation" ? "pending revocation" : state}
    </Badge>
  );
}
