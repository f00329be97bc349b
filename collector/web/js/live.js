/* The websocket client of WS /api/v1/live, and the header's live/offline indicator.
 *
 * One connection per page visit. After a drop it reconnects with backoff and sends the last cursor
 * it was given, so the server resumes where the stream left off and nothing is missed.
 */

import { API } from "./api.js";

const liveState = document.getElementById("live-state");
const CLOSE_AUTH_NEEDED = 4401; // the server's close code for "sign in first"

export class Live {
  /** subscription: what the server should send ({} for everything, {runs: [id]} for one run);
   * onFrame(frame) for each data frame; onAuthNeeded() when the server closes with 4401. */
  constructor(subscription, onFrame, onAuthNeeded) {
    this.subscription = subscription;
    this.onFrame = onFrame;
    this.onAuthNeeded = onAuthNeeded;
    this.cursor = null;
    this.closed = false;
    this.backoff = 250;
    this.frames = 0;
    this.connect();
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = (this.ws = new WebSocket(`${proto}//${location.host}${API}/live`));
    ws.onopen = () => {
      this.backoff = 250;
      const message = { ...this.subscription };
      if (this.cursor) message.cursor = this.cursor;
      ws.send(JSON.stringify(message));
      setLiveState(true);
    };
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.cursor) this.cursor = frame.cursor;
      if (frame.type !== "frame") return;
      this.frames += 1;
      document.body.dataset.frames = String(this.frames);
      this.onFrame(frame);
    };
    ws.onclose = (event) => {
      setLiveState(false);
      if (this.closed) return;
      if (event.code === CLOSE_AUTH_NEEDED) { this.onAuthNeeded(); return; }
      setTimeout(() => !this.closed && this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 10000);
    };
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }
}

function setLiveState(on) {
  liveState.textContent = on ? "live" : "offline";
  liveState.className = `live-state ${on ? "on" : "off"}`;
}
