/**
 * sweep-recipe-random: sweep-recipe's search space, budget, pruner and seed with random search instead of TPE: the
 * baseline that tells whether TPE's model of the search space helped on this budget.
 *
 * Question: on the same 68-minute budget (2 cores), does TPE + ASHA (sweeps/sweep-recipe.ts) find a better
 * PublicTest accuracy for `deep` on FER+ majority than random search + ASHA?
 *
 * Command:  npm run ferlab -- sweep sweep-recipe-random      (quick: npm run ferlab -- sweep sweep-recipe-random --quick)
 * Runtime:  as sweep-recipe: no new trial after 68 min; 74.7 min measured on the 2-core machine (2 workers).
 * Expected: measured 2026-11-26 (runs/sweep-recipe-random-20261126-162643, docs/sweep-recipe-random-results.md): 19
 *           trials, 4 complete, 15 pruned. The best by PublicTest is trial 3 (PublicTest 82.96%, PrivateTest 81.67%),
 *           the same trial sweep-recipe selected: both samplers draw the same trials 0-5 (TPE's random start-up phase
 *           lasts until 5 trials have finished, and 2 workers propose ahead), and no later trial of either beat it.
 *           Best trial of each sampler's own: random's trial 8 82.84% (PrivateTest 80.97%) vs TPE's trial 7 82.90%
 *           (81.35%): no measurable difference (standard error of the difference ~0.9 points). The TPE sweep ran on a
 *           machine shared with development work (its trials ~1.8x slower), so it fitted 11 trials to random's 19.
 */
import recipe, { quick } from './sweep-recipe';
import { defineSweep } from '../src/sweep/spec';

export default defineSweep({ ...recipe, name: 'sweep-recipe-random', sampler: { name: 'random' } });

export { quick };
