// The window's keyboard shortcuts, in one place: the handlers read them, the help lists them.

/** What the help dialog lists. */
export const SHORTCUTS: { keys: string[]; what: string }[] = [
  { keys: ["Ctrl+K", "⌘K"], what: "Command palette: every page, and every action of the page you are on" },
  { keys: ["/"], what: "Search users (from any page)" },
  { keys: ["?"], what: "This list of shortcuts" },
  { keys: ["↑", "↓", "Enter"], what: "In the palette: move, then run the highlighted entry" },
  { keys: ["Esc"], what: "Close the palette or this list" },
  { keys: ["Enter", "Space"], what: "On a user in the list: open their page" },
];

/** True when a key press would type into a field (shortcuts must not steal it). */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}

/** Ctrl+K, or ⌘K on macOS. */
export function isPaletteKey(e: KeyboardEvent): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "k";
}
