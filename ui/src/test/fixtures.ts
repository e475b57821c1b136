import type { Role } from "../bindings/Role";
import type { ServerStatus } from "../bindings/ServerStatus";
import type { AppStatus } from "../bindings/AppStatus";
import type { HttpLogEntry } from "../bindings/HttpLogEntry";
import type { SettingsView } from "../bindings/SettingsView";
import type { UserDetail } from "../bindings/UserDetail";
import type { UserView } from "../bindings/UserView";

export function userView(i: number, over: Partial<UserView> = {}): UserView {
  return {
    client: "prod",
    sub: `1000${String(i).padStart(6, "0")}`,
    issuer: "https://accounts.google.com",
    email: `user${i}@example.com`,
    email_verified: true,
    name: `User ${i}`,
    given_name: "User",
    family_name: String(i),
    picture: null,
    locale: "en",
    hd: null,
    scopes: ["openid", "email", "profile", "https://www.googleapis.com/auth/drive.appdata"],
    access_token_expires_at: new Date(Date.now() + 52 * 60_000 + 30_000).toISOString(),
    access_token_state: "issued",
    refresh_token: "present",
    refresh_token_invalid_reason: null,
    has_drive_appdata: true,
    updated_at: "2026-01-01T00:00:00Z",
    ...over,
  };
}

export function userDetail(over: Partial<UserDetail> = {}): UserDetail {
  const base = userView(1);
  return {
    ...base,
    claims: {
      iss: "https://accounts.google.com",
      sub: base.sub,
      aud: "web.apps.googleusercontent.com",
      azp: "ios.apps.googleusercontent.com",
      email: base.email,
      email_verified: true,
      exp: 1767229200,
      iat: 1767225600,
    },
    id_token: {
      header: { alg: "RS256", kid: "0123abcd", typ: "JWT" },
      checks: [
        { name: "signature", ok: true, detail: "RS256 signature by key 0123abcd" },
        { name: "aud", ok: true, detail: "web.apps.googleusercontent.com" },
      ],
      valid: true,
      verified_at: "2026-01-01T00:00:00Z",
    },
    ...over,
  };
}

export function appStatus(over: Partial<AppStatus> = {}): AppStatus {
  return {
    mode: "live",
    data_dir: "/home/me/.tokendesk",
    live_error: null,
    emulator_url: null,
    clients: [],
    receiver: null,
    server: null,
    ...over,
  };
}

/** The window on a team server as `role` (connected, live feed up). */
export function serverStatus(role: Role, over: Partial<ServerStatus> = {}): ServerStatus {
  return {
    url: "https://desk.example:8443/",
    name: `${role}@example.com`,
    role,
    kind: "session",
    expires_at: null,
    from_env: false,
    link: { state: "online" },
    error: null,
    ...over,
  };
}

export function settingsView(variables: string[] = [], over: Partial<SettingsView["settings"]> = {}): SettingsView {
  return {
    settings: { proxy: { mode: "system" }, ca_bundle: null, save_folder: null, health_sweep_minutes: null, ...over },
    environment: { variables },
    path: "/data/settings.json",
  };
}

/** A user's HTTP log as the core keeps it (secrets masked): a refresh, then a Drive listing whose
 * body was too large to keep and a file's content (its size only). Newest first. */
export function httpLog(): HttpLogEntry[] {
  return [
    {
      id: 12,
      at: "2026-01-01T12:00:00Z",
      actor: "alice",
      client: "prod",
      action: "drive",
      outcome: "ok",
      exchanges: [
        {
          method: "GET",
          url: "https://www.googleapis.com/drive/v3/files?spaces=appDataFolder",
          requestHeaders: [{ name: "authorization", value: "Bearer [redacted]" }],
          form: [],
          response: { status: 200, headers: [{ name: "content-type", value: "application/json" }], body: { kind: "tooLarge", bytes: 40000 } },
          error: null,
          elapsedMs: 31,
        },
        {
          method: "GET",
          url: "https://www.googleapis.com/drive/v3/files/f1?alt=media",
          requestHeaders: [{ name: "authorization", value: "Bearer [redacted]" }],
          form: [],
          response: { status: 200, headers: [], body: { kind: "fileContent", bytes: 42 } },
          error: null,
          elapsedMs: 12,
        },
      ],
    },
    {
      id: 11,
      at: "2026-01-01T11:00:00Z",
      actor: "alice",
      client: "prod",
      action: "refresh",
      outcome: "ok",
      exchanges: [
        {
          method: "POST",
          url: "https://oauth2.googleapis.com/token",
          requestHeaders: [{ name: "content-type", value: "application/x-www-form-urlencoded" }],
          form: [
            { name: "grant_type", value: "refresh_token" },
            { name: "client_id", value: "web.apps.googleusercontent.com" },
            { name: "client_secret", value: "[redacted]" },
            { name: "refresh_token", value: "[redacted]" },
          ],
          response: {
            status: 200,
            headers: [{ name: "content-type", value: "application/json" }],
            body: { kind: "json", value: { access_token: "[redacted]", expires_in: 3599, token_type: "Bearer" } },
          },
          error: null,
          elapsedMs: 42,
        },
      ],
    },
  ];
}
