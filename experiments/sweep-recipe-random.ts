/**
 * sweep-recipe-random: sweep-recipe's search space, budget, pruner and seed with random search instead of TPE: the
 * baseline that tells whether TPE's model of the search space helped on this budget.
 *
 * Question: on the same 68-minute budget (2 cores), does TPE + ASHA (experiments/sweep-recipe.ts) find a better
 * PublicTest accuracy for `deep` on FER+ majority than random search + ASHA?
 *
 * Command:  npm run ferlab -- sweep sweep-recipe-random      (quick: npm run ferlab -- sweep sweep-recipe-random --quick)
 * Runtime:  as sweep-recipe: no new trial after 68 min, about 85-90 min in all on the 2-core machine (not run yet).
 * Expected: not run yet. Note: TPE's first 5 trials are random draws too (its start-up phase), so the two sweeps
 *           differ only in the trials after those; with about 10 trials in the budget the difference is expected to
 *           be small, and smaller than the ~0.7-point standard error of one PublicTest accuracy is not a finding.
 */
import recipe, { quick } from './sweep-recipe';
import { defineSweep } from '../src/sweep/spec';

export default defineSweep({ ...recipe, name: 'sweep-recipe-random', sampler: { name: 'random' } });

export { quick };
