/* Test hooks: window.RUNWATCH_TEST, the one global the dashboard reads or leaves for its browser tests (tests/web).
 *
 * A test sets options before the page loads, e.g.
 *   page.add_init_script("window.RUNWATCH_TEST = { silencesRefreshMs: 200 }")
 * and this module keeps that object (or makes an empty one) as window.RUNWATCH_TEST. Options:
 *   silencesRefreshMs  a positive number: the alerts page reloads its silences list every that many
 *                      milliseconds instead of every 15 s (pages/silences.js).
 * Tests may also write marks of their own on it, e.g. `window.RUNWATCH_TEST.sameDocument = true`:
 * a reload builds a new object without them, so a mark that is still there proves the page changed
 * in place. Nothing else in the dashboard reads window globals (uPlot aside).
 */

const given = window.RUNWATCH_TEST;
export const testHooks = given !== null && typeof given === "object" ? given : {};
window.RUNWATCH_TEST = testHooks;

/** A positive number the test set for this option, else the production value. */
export function testOverride(name, production) {
  const value = Number(testHooks[name]);
  return value > 0 ? value : production;
}
