// Collects items as they arrive and hands them over once per animation frame, so a burst of
// WebSocket messages costs one redraw, not one each.

export class FrameQueue {
  /** `apply(items)` is called at most once per animation frame with everything queued. */
  constructor(apply) {
    this.apply = apply;
    this.items = [];
    this.scheduled = false;
  }

  push(item) {
    this.items.push(item);
    this.schedule();
  }

  pushAll(items) {
    if (!items.length) return;
    for (const item of items) this.items.push(item);
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.flush());
  }

  /** Apply what is queued now (also used to drain before a page-level reset). */
  flush() {
    this.scheduled = false;
    if (!this.items.length) return;
    const items = this.items;
    this.items = [];
    this.apply(items);
  }
}
