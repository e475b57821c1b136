// Where the window works and what the person may do there. On the embedded store (or the
// sandbox) everything is allowed; on a team server, what the signed-in role allows. Pages ask
// `useAllowed(role)` and show a refused action disabled, with the reason, never hidden.
import { createContext, type ReactNode, useContext, useRef } from "react";
import type { Role } from "./bindings/Role";
import type { ServerStatus } from "./bindings/ServerStatus";

export type Session = {
  /** The team server in view, or null on an embedded store. */
  server: ServerStatus | null;
  /** Signs in again to the server in view, keeping the page (null off a server). */
  signInAgain: (() => Promise<void>) | null;
  /** Bumped by every new entry of the server's audit log (a colleague acted, a sign-in came). */
  liveTick: number;
  /** What the entries behind the latest tick were about: the users' subs, and whether one of
   * them named no user (a client added or removed: anything may have changed). */
  liveAbout: LiveAbout;
};

export type LiveAbout = { subs: readonly string[]; other: boolean };

const SessionContext = createContext<Session>({
  server: null,
  signInAgain: null,
  liveTick: 0,
  liveAbout: { subs: [], other: false },
});

export function SessionProvider({ value, children }: { value: Session; children: ReactNode }) {
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  return useContext(SessionContext);
}

/** A tick of the live feed for one user's page: bumped only by entries about that user (or
 * about no user), so a busy team's work on others does not reload it. */
export function useLiveTickFor(sub: string): number {
  const { liveTick, liveAbout } = useSession();
  const seen = useRef({ tick: liveTick, sub, count: 0 });
  if (seen.current.sub !== sub) seen.current = { tick: liveTick, sub, count: 0 };
  if (seen.current.tick !== liveTick) {
    if (liveAbout.other || liveAbout.subs.includes(sub)) seen.current.count += 1;
    seen.current.tick = liveTick;
  }
  return seen.current.count;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Why the person may not do what needs `needed`, or null when they may. */
export function refusal(server: ServerStatus | null, needed: Role): string | null {
  if (!server) return null;
  const role = server.role;
  if (!role) return "not signed in to the team server: sign in on the Team server page";
  if (RANK[role] >= RANK[needed]) return null;
  return `your role is ${role}: this needs ${needed}, ask an admin`;
}

/** `refusal` for the server in view. */
export function useAllowed(needed: Role): string | null {
  return refusal(useSession().server, needed);
}

/** The reason an action beside it is disabled (nothing when it is allowed). */
export function RoleNote({ reason, testId = "role-note" }: { reason: string | null; testId?: string }) {
  if (!reason) return null;
  return (
    <span className="muted small role-note" data-testid={testId} role="note">
      {reason}
    </span>
  );
}
