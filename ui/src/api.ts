// Typed access to the Tauri commands and events. Nothing here stores or logs a token.
import { invoke, type InvokeArgs } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { useEffect, useRef } from "react";
import type { Commands } from "./bindings/commands";
import type { CommandError } from "./bindings/CommandError";
import type { HealthSwept } from "./bindings/HealthSwept";
import type { LiveEvent } from "./bindings/LiveEvent";
import type { LabEvent } from "./bindings/LabEvent";
import type { ReceiverEvent } from "./bindings/ReceiverEvent";
import type { RefreshProgress } from "./bindings/RefreshProgress";

export type CommandName = keyof Commands;
export type Args<K extends CommandName> = Commands[K]["args"];
export type Result<K extends CommandName> = Commands[K]["result"];

/** Calls a Tauri command with its typed arguments; rejects with whatever Rust answered. */
export function call<K extends CommandName>(cmd: K, args: Args<K>): Promise<Result<K>> {
  return invoke<Result<K>>(cmd, args as InvokeArgs);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** Turns any rejection (a CommandError from Rust, a string, an Error) into a CommandError. */
export function toCommandError(e: unknown): CommandError {
  if (isRecord(e) && typeof e.message === "string") {
    return {
      code: typeof e.code === "string" ? e.code : "error",
      message: e.message,
      explanation: typeof e.explanation === "string" ? e.explanation : null,
      raw: Array.isArray(e.raw) ? (e.raw as CommandError["raw"]) : [],
    };
  }
  if (typeof e === "string") {
    return { code: "error", message: e, explanation: null, raw: [] };
  }
  return { code: "error", message: String(e), explanation: null, raw: [] };
}

/** The events the Rust side emits, with their payloads. */
export type Events = {
  "receiver-event": ReceiverEvent;
  "refresh-progress": RefreshProgress;
  live: LiveEvent;
  "lab-step": LabEvent;
  "health-swept": HealthSwept;
};

/** Listens to a Tauri event while the component is mounted. */
export function useTauriEvent<E extends keyof Events>(
  name: E,
  handler: (payload: Events[E]) => void,
): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    let unlisten: UnlistenFn | undefined;
    let gone = false;
    listen<Events[E]>(name, (event) => {
      if (!gone) ref.current(event.payload);
    })
      .then((f) => {
        if (gone) f();
        else unlisten = f;
      })
      .catch(() => {
        /* no event bridge (tests without event mocks) */
      });
    return () => {
      gone = true;
      if (unlisten) {
        try {
          unlisten();
        } catch {
          /* the bridge is already gone */
        }
      }
    };
  }, [name]);
}
