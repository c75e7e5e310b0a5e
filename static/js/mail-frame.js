// Email previews (iframe.mail-frame) grow to the email's own height, so the whole message shows, footer included.
// The frames are sandboxed without scripts; allow-same-origin lets this page read their height.
(function () {
  function fit(frame) {
    try {
      var doc = frame.contentDocument;
      if (doc && doc.documentElement) {
        // Measured at height 0: a taller frame would report its own height for a short email.
        frame.style.height = "0px";
        frame.style.height = (doc.documentElement.scrollHeight + 4) + "px";
      }
    } catch (e) { /* not readable: keep the stylesheet's height */ }
  }
  function watch(root) {
    root.querySelectorAll("iframe.mail-frame").forEach(function (frame) {
      if (frame.dataset.fitted) { return; }
      frame.dataset.fitted = "1";
      frame.addEventListener("load", function () { fit(frame); });
      if (frame.contentDocument && frame.contentDocument.readyState === "complete") { fit(frame); }
    });
  }
  watch(document);
  // A preview swapped in by htmx (the campaign form's live preview) brings a new frame.
  document.addEventListener("htmx:load", function (event) { watch(event.target.parentNode || document); });
})();
