/**
 * A path typed by the person, with the button beside it that acts on it (or, empty, lets the
 * app's dialog choose): the file fields of the client import, the Drive upload, the clients
 * file and the CA bundle.
 */
export function PathInput({
  value,
  onChange,
  testId,
  placeholder,
  label,
  button,
}: {
  value: string;
  onChange: (value: string) => void;
  testId: string;
  placeholder: string;
  /** The accessible name, when no <label> wraps the field. */
  label?: string;
  button: { text: string; testId: string; onClick: () => void; disabled?: boolean };
}) {
  return (
    <span className="input-with-button">
      <input
        type="text"
        className="mono"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-label={label}
        placeholder={placeholder}
        data-testid={testId}
        spellCheck={false}
      />
      <button type="button" data-testid={button.testId} disabled={button.disabled} onClick={button.onClick}>
        {button.text}
      </button>
    </span>
  );
}
