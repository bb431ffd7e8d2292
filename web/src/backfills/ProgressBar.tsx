/** A progress bar a screen reader (and the browser test) can read: role, value, label. */
export function ProgressBar({ percent, label, status }: { percent: number; label: string; status: string }) {
  const value = Math.max(0, Math.min(100, percent));
  const shown = Math.floor(value * 10) / 10;
  return (
    <div
      className={`progress progress-${status}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={shown}
    >
      <div className="progress-fill" style={{ width: `${value}%` }} />
      <span className="progress-text">{shown} %</span>
    </div>
  );
}
