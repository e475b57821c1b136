import { mockIPC } from "@tauri-apps/api/mocks";
import type { Commands } from "../bindings/commands";

export type Handlers = {
  [K in keyof Commands]?: (args: Commands[K]["args"]) => Commands[K]["result"] | Promise<Commands[K]["result"]>;
};

export type Call = { cmd: string; args: unknown };

/** Mocks the Tauri IPC with typed handlers; records every command call. Unknown commands reject. */
export function mockCommands(handlers: Handlers, opts: { events?: boolean } = {}): Call[] {
  const calls: Call[] = [];
  mockIPC(
    (cmd, payload) => {
      if (cmd.startsWith("plugin:event|")) return null;
      calls.push({ cmd, args: payload });
      const h = (handlers as Record<string, ((a: unknown) => unknown) | undefined>)[cmd];
      if (!h) throw { code: "not_mocked", message: `no mock for ${cmd}`, explanation: null, raw: [] };
      return h(payload);
    },
    { shouldMockEvents: opts.events ?? false },
  );
  return calls;
}

export function callsOf(calls: Call[], cmd: keyof Commands): unknown[] {
  return calls.filter((c) => c.cmd === cmd).map((c) => c.args);
}
