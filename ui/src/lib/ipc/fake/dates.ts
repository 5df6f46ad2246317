// Local calendar dates as YYYY-MM-DD strings (what the contract's DueDto carries).

export function toYmd(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export function fromYmd(ymd: string): Date {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, d ?? 1);
}

export function addDays(ymd: string, n: number): string {
  const d = fromYmd(ymd);
  d.setDate(d.getDate() + n);
  return toYmd(d);
}

/** The contract's `at`: an RFC 3339 instant (local offset) for sorting. */
export function dueAt(date: string, time: string | null): string {
  const [h, m] = (time ?? '00:00').split(':').map(Number);
  const d = fromYmd(date);
  d.setHours(h ?? 0, m ?? 0, 0, 0);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return `${date}T${time ?? '00:00'}:00${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}
