import { useEffect, useMemo, useRef, useState } from "react";

export type PaletteEntry = { id: string; label: string; hint?: string; run: () => void };

/**
 * A modal list of everything reachable from here, filtered as you type (every word must
 * appear), moved through with the arrows, run with Enter or a click, closed with Esc.
 */
export function CommandPalette({ entries, onClose }: { entries: PaletteEntry[]; onClose: () => void }) {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const shown = useMemo(() => {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    return entries.filter((e) => {
      const text = `${e.label} ${e.hint ?? ""}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
  }, [entries, query]);
  useEffect(() => input.current?.focus(), []);
  useEffect(() => setActive(0), [query]);

  const run = (entry: PaletteEntry | undefined) => {
    if (!entry) return;
    onClose();
    entry.run();
  };

  return (
    <div className="overlay" data-testid="palette-overlay" onMouseDown={onClose}>
      <div
        className="palette"
        role="dialog"
        aria-modal="true"
        aria-label="Command palette"
        data-testid="palette"
        onMouseDown={(e) => e.stopPropagation()}
      >
        <input
          ref={input}
          type="text"
          role="combobox"
          aria-expanded="true"
          aria-controls="palette-list"
          aria-autocomplete="list"
          aria-activedescendant={shown[active] ? `palette-${shown[active].id}` : undefined}
          aria-label="Type a page or an action"
          placeholder="Go to a page or run an action…"
          value={query}
          data-testid="palette-input"
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "ArrowDown") {
              e.preventDefault();
              setActive((i) => Math.min(i + 1, shown.length - 1));
            } else if (e.key === "ArrowUp") {
              e.preventDefault();
              setActive((i) => Math.max(i - 1, 0));
            } else if (e.key === "Enter") {
              e.preventDefault();
              run(shown[active]);
            } else if (e.key === "Escape") {
              e.preventDefault();
              onClose();
            }
          }}
        />
        <ul id="palette-list" role="listbox" aria-label="Pages and actions" className="palette-list">
          {shown.map((entry, i) => (
            <li
              key={entry.id}
              id={`palette-${entry.id}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? "palette-item active" : "palette-item"}
              data-testid="palette-item"
              onMouseEnter={() => setActive(i)}
              onClick={() => run(entry)}
            >
              <span>{entry.label}</span>
              {entry.hint && <span className="muted small"> {entry.hint}</span>}
            </li>
          ))}
          {shown.length === 0 && (
            <li className="palette-empty muted" role="option" aria-selected="false" aria-disabled="true">
              Nothing matches.
            </li>
          )}
        </ul>
      </div>
    </div>
  );
}
