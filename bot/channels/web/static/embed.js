/* The practice's pages load this with one tag:
 *   <script src="https://bot.your-practice.com/chat/embed.js" async></script>
 * It adds a button that opens the chat (the bot's /chat page, in a frame), bottom right.
 * Options, as attributes of the tag:
 *   data-label="Questions about your knee?"   the button's words
 *   data-title="Knee pain check"              the frame's accessible name
 *   data-target="#knee-chat"                  show the chat in that element instead, open
 * Styles are set from here (element.style), so a page's own CSP needs only
 *   script-src https://bot.your-practice.com; frame-src https://bot.your-practice.com
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.ptScreeningChat) return;
  window.ptScreeningChat = true;

  var origin = new URL(script.src, location.href).origin;
  var label = script.getAttribute("data-label") || "Chat with us";
  var title = script.getAttribute("data-title") || "Chat";
  var targetSelector = script.getAttribute("data-target");
  var ink = "#ffffff", brand = "#0b4f8a", focus = "#b35c00";

  function frame() {
    var element = document.createElement("iframe");
    element.src = origin + "/chat?embed=1";
    element.title = title;
    element.setAttribute("referrerpolicy", "no-referrer");
    element.style.border = "0";
    element.style.width = "100%";
    element.style.height = "100%";
    element.style.display = "block";
    return element;
  }

  function styleButton(button) {
    var s = button.style;
    s.font = "inherit";
    s.fontSize = "1rem";
    s.minHeight = "2.75rem";
    s.padding = "0.5rem 1rem";
    s.border = "2px solid " + ink;
    s.borderRadius = "999px";
    s.background = brand;
    s.color = ink;
    s.cursor = "pointer";
    s.maxWidth = "calc(100vw - 2rem)";
    button.addEventListener("focus", function () { s.outline = "3px solid " + focus; s.outlineOffset = "2px"; });
    button.addEventListener("blur", function () { s.outline = ""; });
  }

  function inline(target) {
    var box = document.createElement("div");
    box.style.height = "36rem";
    box.style.maxHeight = "80vh";
    box.style.border = "1px solid #c8cdd2";
    box.style.borderRadius = "0.75rem";
    box.style.overflow = "hidden";
    box.appendChild(frame());
    target.appendChild(box);
  }

  function floating() {
    var root = document.createElement("div");
    root.style.position = "fixed";
    root.style.right = "1rem";
    root.style.bottom = "1rem";
    root.style.zIndex = "2147483000";
    root.style.display = "flex";
    root.style.flexDirection = "column";
    root.style.alignItems = "flex-end";
    root.style.gap = "0.5rem";

    var panel = document.createElement("div");
    panel.id = "pt-screening-chat-panel";
    panel.hidden = true;
    panel.setAttribute("role", "region");
    panel.setAttribute("aria-label", title);
    panel.style.width = "min(26rem, calc(100vw - 2rem))";
    panel.style.height = "min(40rem, calc(100vh - 6rem))";
    panel.style.background = "#ffffff";
    panel.style.border = "1px solid #c8cdd2";
    panel.style.borderRadius = "0.75rem";
    panel.style.boxShadow = "0 0.5rem 2rem rgba(0, 0, 0, 0.25)";
    panel.style.overflow = "hidden";

    var button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", panel.id);
    styleButton(button);

    var loaded = null;
    function open() {
      if (!loaded) { loaded = frame(); panel.appendChild(loaded); }
      panel.hidden = false;
      button.setAttribute("aria-expanded", "true");
      loaded.focus();
      var ask = function () { loaded.contentWindow.postMessage({ type: "pt-chat-focus" }, origin); };
      if (loaded.dataset.ready) { ask(); } else {
        loaded.addEventListener("load", function () { loaded.dataset.ready = "1"; ask(); }, { once: true });
      }
    }
    function close() {
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
    button.addEventListener("click", function () { if (panel.hidden) { open(); } else { close(); } });
    root.addEventListener("keydown", function (event) { if (event.key === "Escape" && !panel.hidden) close(); });
    window.addEventListener("message", function (event) {
      if (event.origin === origin && event.data && event.data.type === "pt-chat-close" && !panel.hidden) close();
    });

    root.appendChild(panel);
    root.appendChild(button);
    document.body.appendChild(root);
  }

  function place() {
    var target = targetSelector ? document.querySelector(targetSelector) : null;
    if (target) { inline(target); } else { floating(); }
  }

  if (document.body) { place(); } else { document.addEventListener("DOMContentLoaded", place); }
})();
