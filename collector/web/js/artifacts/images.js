/* Logged images on the run page: one card per image key (run.log_image(key, image, step)), showing the image of the
 * selected step, with a slider over the steps logged and the step number beside it.
 *
 * Each call of log_image is one version of the artifact `key` (type "image", metadata {"step": step}), so a key's
 * frames are its versions in step order. A card loads nothing until it scrolls into view (one IntersectionObserver
 * for all of them); then, and at each move of the slider, it asks the server whether that frame's bytes are served
 * inline as an image (preview.js) and only then points an <img> at it. The newest step is selected at first, and
 * a card following the newest keeps following it when frames arrive live (setFrames).
 */

import { h } from "../dom.js";
import { downloadPath, downloadUrl } from "./model.js";
import { inlineImage, servedAsImage } from "./preview.js";

const MARGIN = "200px 0px";
const SETTLE_MS = 60; // dragging over a thousand steps asks for the last one only

class ImageCard {
  constructor(runId, key, frames) {
    this.runId = runId;
    this.key = key;
    this.frames = frames;
    this.index = frames.length - 1;
    this.seen = false;
    this.shown = null; // the frame on screen (or being loaded)
    this.inline = new Map(); // version → served inline as an image?
    this.slider = h("input", { type: "range", min: "0", step: "1", class: "step-slider", "aria-label": `step of ${key}` });
    this.slider.addEventListener("input", () => this.select(Number(this.slider.value)));
    this.settle = 0; // while the slider is dragged, a frame loads once it rests for SETTLE_MS
    this.stepLabel = h("output", { class: "image-step num" });
    this.position = h("span", { class: "muted" });
    this.download = h("a", { text: "download", download: "" });
    this.frame = h("div", { class: "image-frame" }, h("span", { class: "muted", text: "loads when in view" }));
    this.box = h("div", { class: "image-key", dataset: { key } },
      h("h3", { text: key }),
      h("div", { class: "row" }, this.slider, "step ", this.stepLabel, this.position, this.download),
      this.frame);
    this.update();
  }

  /** New frames (a reload after live artifact events); a card on its newest step moves to the new newest. */
  setFrames(frames) {
    const following = this.index === this.frames.length - 1;
    const current = this.frames[this.index];
    this.frames = frames;
    const kept = current ? frames.findIndex((f) => f.version === current.version) : -1;
    this.index = following || kept < 0 ? frames.length - 1 : kept;
    this.update();
  }

  /** Show the frame at this index of the step order (its number at once, its picture once the slider rests). */
  select(index) {
    this.index = Math.max(0, Math.min(this.frames.length - 1, index));
    clearTimeout(this.settle);
    this.update(false);
    this.settle = setTimeout(() => this.update(), SETTLE_MS);
  }

  /** The card scrolled into view: from now on it loads what is selected. */
  appear() {
    this.seen = true;
    this.update();
  }

  /** Write the selected frame's step, position and link; load its picture too unless load is false. */
  update(load = true) {
    const frame = this.frames[this.index];
    this.slider.max = String(this.frames.length - 1);
    this.slider.value = String(this.index);
    this.slider.hidden = this.frames.length < 2;
    this.stepLabel.textContent = frame.step === null ? "–" : String(frame.step);
    this.position.textContent = `${this.index + 1} of ${this.frames.length} · v${frame.version}`;
    this.download.setAttribute("href", downloadUrl(this.runId, frame.file.path, frame.version));
    this.box.dataset.step = frame.step === null ? "" : String(frame.step);
    if (load && this.seen && this.shown !== frame) this.load(frame);
  }

  async load(frame) {
    this.shown = frame;
    const url = downloadUrl(this.runId, frame.file.path, frame.version);
    let inline = this.inline.get(frame.version);
    try {
      if (inline === undefined) {
        inline = await servedAsImage(downloadPath(this.runId, frame.file.path, frame.version));
        this.inline.set(frame.version, inline);
      }
    } catch (err) {
      if (this.shown === frame) this.frame.replaceChildren(h("span", { class: "error", text: err.message }));
      return;
    }
    if (this.shown !== frame) return; // the slider moved on meanwhile
    const step = frame.step === null ? "" : String(frame.step);
    const img = inline
      ? inlineImage(url, `${this.key} at step ${step || "–"}`)
      : h("span", { class: "muted", text: "Not an image the server shows inline (its bytes are not PNG, JPEG, GIF or WebP): download it." });
    img.dataset.step = step;
    img.dataset.version = String(frame.version);
    this.frame.replaceChildren(img);
  }
}

/** The "Images" panel of a run: hidden while the run logged no image. */
export class ImagesSection {
  constructor(visit, runId) {
    this.runId = runId;
    this.cards = new Map();
    this.count = h("span", { class: "muted" });
    this.grid = h("div", { class: "images", id: "image-keys" });
    this.element = h("div", { class: "panel", id: "images", hidden: true }, h("div", { class: "row" }, h("h2", { text: "Images" }), this.count), this.grid);
    this.observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const card = this.cards.get(entry.target.dataset.key);
        if (card) { card.appear(); this.observer.unobserve(entry.target); }
      }
    }, { rootMargin: MARGIN });
    visit.own({ destroy: () => this.observer.disconnect() });
  }

  /** Show these series (model.imageSeries), keeping the cards of keys already shown. */
  set(series) {
    for (const { key, frames } of series) {
      const card = this.cards.get(key);
      if (card) { card.setFrames(frames); continue; }
      const created = new ImageCard(this.runId, key, frames);
      this.cards.set(key, created);
      this.grid.append(created.box);
      this.observer.observe(created.box);
    }
    this.element.hidden = this.cards.size === 0;
    this.count.textContent = `${this.cards.size} key${this.cards.size === 1 ? "" : "s"}`;
  }
}
