import { formatDate, formatTime, ymd, type DateOptions } from '../format/dates';
import type { UpdateOfferDto } from './types';

/** Bytes in decimal units, as download managers show them: "850 B", "350 kB", "2.1 MB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let unit = '';
  for (const u of units) {
    v /= 1000;
    unit = u;
    if (v < 1000) break;
  }
  // One decimal below 10 and for MB and up, where it still says something.
  const digits = v < 10 || unit !== 'kB' ? 1 : 0;
  return `${v.toFixed(digits).replace(/\.0$/, '')} ${unit}`;
}

export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** What the download really costs: the patch's size when `delta`, said so. */
export function offerSize(offer: UpdateOfferDto): string {
  const size = formatBytes(offer.downloadSize);
  return offer.delta ? `${size} (update patch)` : size;
}

/** "just now", "2 minutes ago", "3 hours ago", "2 days ago" — for `iso` before `now`. */
export function ago(iso: string, now: Date): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return '';
  const minutes = Math.floor((now.getTime() - then) / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return minutes === 1 ? '1 minute ago' : `${minutes} minutes ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return hours === 1 ? '1 hour ago' : `${hours} hours ago`;
  const days = Math.floor(hours / 24);
  return days === 1 ? 'yesterday' : `${days} days ago`;
}

/**
 * When a later moment is, for "Will retry …": "at 14:05" today (the
 * person's time format), "tomorrow at 1:05", else "12 Dec at 9:00".
 */
export function whenWords(iso: string, now: Date, opts: DateOptions): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '';
  const hhmm = `${at.getHours()}:${String(at.getMinutes()).padStart(2, '0')}`;
  const time = formatTime(hhmm, opts.timeFormat);
  const day = ymd(at);
  if (day === ymd(now)) return `at ${time}`;
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  if (day === ymd(tomorrow)) return `tomorrow at ${time}`;
  return `${formatDate(day, opts, at.getFullYear() !== now.getFullYear())} at ${time}`;
}
