/** Splits `text` into runs, marking case-insensitive matches of `needle` (search results). */
export function highlightRuns(text: string, needle: string): { text: string; hit: boolean }[] {
  const n = needle.trim().toLowerCase();
  if (!n) return [{ text, hit: false }];
  const lower = text.toLowerCase();
  const runs: { text: string; hit: boolean }[] = [];
  let from = 0;
  for (;;) {
    const at = lower.indexOf(n, from);
    if (at < 0) break;
    if (at > from) runs.push({ text: text.slice(from, at), hit: false });
    runs.push({ text: text.slice(at, at + n.length), hit: true });
    from = at + n.length;
  }
  if (from < text.length) runs.push({ text: text.slice(from), hit: false });
  return runs;
}
