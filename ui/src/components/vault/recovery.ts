/** A recovery key as the groups a person reads and types back. */
export function keyGroups(key: string): string[] {
  return key.split(/[-\s]+/).filter(Boolean);
}

/** Two distinct 1-based group numbers to ask back, in increasing order. */
export function pickGroups(count: number, random: () => number = Math.random): [number, number] {
  if (count < 2) return [1, 1];
  const a = 1 + Math.floor(random() * count);
  let b = 1 + Math.floor(random() * (count - 1));
  if (b >= a) b += 1;
  return a < b ? [a, b] : [b, a];
}
