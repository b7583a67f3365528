// The button router's platform half: which clicks are the bot's to hand to the core. The core
// (Assistant.buttonClick) reads the id and decides; a button of ours it no longer knows is
// answered as stale there.

/** Every button id the bot gives out starts with one of these (src/core/button-ids.ts). */
export const OUR_BUTTON = /^(ft|forget|rate):/;

/** Whether a click is on one of the bot's buttons (and is then the core's to answer). */
export function isOurButton(id: string): boolean {
  return OUR_BUTTON.test(id);
}
