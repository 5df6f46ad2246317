import { fakeOffer } from './updates';
import type { FakeSeed } from './vault';

/** Realistic demo data for `--mode fake` and screenshots. */
export function demoSeed(): FakeSeed {
  return {
    vault: 'unlocked',
    passphrase: 'correct horse',
    lists: [
      { name: 'Work', colour: '#3b82f6' },
      { name: 'Home', colour: '#16a34a' },
      { name: 'Errands', colour: '#d97706' },
    ],
    tasks: [
      'Pay rent yesterday #Home @bills !1',
      'Standup every weekday at 9:30 #Work',
      'Review pull request today 11am #Work @code !2',
      'Write quarterly report friday #Work !3 | Outline:\n\n- **Numbers** from the dashboard\n- Risks and [the plan](https://example.com/plan)',
      'Draft slides | | parent=Write quarterly report',
      'Buy milk tomorrow #Errands @shopping',
      'Call mom on friday at 5pm',
      'Water plants every 3 days',
      'Book dentist appointment',
      'Read "Deep Work"  @reading',
      'Renew passport in 5 days #Errands !2',
      'Plan the weekend trip next week @travel',
      'Send invoice | | done',
      'Old idea | | trash',
    ],
    // "Check for updates" (palette or Settings) finds a patch release.
    updates: {
      offers: { stable: fakeOffer('0.2.0', { delta: true, downloadSize: 2_100_000 }) },
    },
  };
}
