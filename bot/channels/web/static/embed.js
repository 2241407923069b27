/* The practice's pages load this with one tag:
 *   <script src="https://bot.your-practice.com/chat/embed.js" async></script>
 * It adds a button that opens the chat (the bot's /chat page, in a frame), bottom right (or
 * left: web_chat.launcher_position); on a narrow screen the open chat fills it.
 * Options, as attributes of the tag:
 *   data-label="Questions about your knee?"   the button's words (web_chat.launcher_label)
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

  // The practice's settings (web_chat: launcher_label, launcher_position, brand_color), put
  // here by the server that serves this file.
  var settings = /*settings*/{"label": "Chat with us", "close": "Close the chat", "position": "right", "brand": "#0b4f8a"}/*end*/;
  var origin = new URL(script.src, location.href).origin;
  var words = script.getAttribute("data-label") || settings.label;
  var title = script.getAttribute("data-title") || "Chat";
  var targetSelector = script.getAttribute("data-target");
  var ink = "#ffffff", brand = settings.brand, focus = "#b35c00";
  var side = settings.position === "left" ? "left" : "right";
  // Its own font, not the page's: the button looks the same on every site.
  var FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  // Narrower than this, the open chat takes the whole screen (as on a phone).
  var NARROW = window.matchMedia ? window.matchMedia("(max-width: 40rem)") : { matches: false };

  function frame(closable) {
    var element = document.createElement("iframe");
    element.src = origin + "/chat?embed=1" + (closable ? "&close=1" : "");
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
    s.fontFamily = FONT;
    s.fontSize = "16px";
    s.lineHeight = "1.4";
    s.fontWeight = "600";
    s.minHeight = "2.75rem";
    s.padding = "0.5rem 1rem";
    s.border = "2px solid " + ink;
    s.borderRadius = "999px";
    s.background = brand;
    s.color = ink;
    s.cursor = "pointer";
    s.maxWidth = "calc(100vw - 2rem)";
    s.boxShadow = "0 0.25rem 1rem rgba(0, 0, 0, 0.25)";
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
    box.appendChild(frame(false));
    target.appendChild(box);
  }

  function floating() {
    var root = document.createElement("div");
    root.style.position = "fixed";
    root.style[side] = "1rem";
    root.style.bottom = "1rem";
    root.style.zIndex = "2147483000";
    root.style.display = "flex";
    root.style.flexDirection = "column";
    root.style.alignItems = side === "left" ? "flex-start" : "flex-end";
    root.style.gap = "0.5rem";

    var panel = document.createElement("div");
    panel.id = "pt-screening-chat-panel";
    panel.hidden = true;
    panel.setAttribute("role", "region");
    panel.setAttribute("aria-label", title);
    panel.style.background = "#ffffff";
    panel.style.overflow = "hidden";

    var button = document.createElement("button");
    button.type = "button";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", panel.id);
    button.setAttribute("data-pt-chat-launcher", "");
    styleButton(button);

    var html = document.documentElement;
    var saved = null; // the page's own overflow, while full-screen hides it
    var stilled = []; // the page's parts made inert while the chat covers them

    function label(text, closing) { // the launcher's words; the x is not read out
      button.textContent = "";
      if (closing) {
        var x = document.createElement("span");
        x.setAttribute("aria-hidden", "true");
        x.textContent = "\u2715 ";
        button.appendChild(x);
      }
      button.appendChild(document.createTextNode(text));
    }

    function layout() {
      var p = panel.style;
      var full = !panel.hidden && NARROW.matches;
      if (full) { // the whole screen; its own header has the close button
        p.position = "fixed"; p.top = "0"; p.left = "0"; p.right = "0"; p.bottom = "0";
        p.width = "100%"; p.height = "100%"; p.border = "0"; p.borderRadius = "0";
        p.boxShadow = "none";
      } else {
        p.position = "static"; p.top = p.left = p.right = p.bottom = "";
        p.width = "min(26rem, calc(100vw - 2rem))";
        p.height = "min(40rem, calc(100vh - 6rem))";
        p.border = "1px solid #c8cdd2"; p.borderRadius = "0.75rem";
        p.boxShadow = "0 0.5rem 2rem rgba(0, 0, 0, 0.25)";
      }
      button.style.display = full ? "none" : "";
      // The page behind does not scroll while the chat covers it.
      // Nor can a keyboard or screen reader wander into it: the rest of the page is inert.
      if (full && saved === null) {
        saved = [html.style.overflow, document.body.style.overflow];
        html.style.overflow = "hidden";
        document.body.style.overflow = "hidden";
        stilled = Array.prototype.filter.call(document.body.children, function (child) {
          return child !== root && !child.inert && child.tagName !== "SCRIPT";
        });
        stilled.forEach(function (child) { child.inert = true; });
      } else if (!full && saved !== null) {
        html.style.overflow = saved[0];
        document.body.style.overflow = saved[1];
        saved = null;
        stilled.forEach(function (child) { child.inert = false; });
        stilled = [];
      }
    }

    label(words, false);

    var loaded = null;
    function open() {
      if (!loaded) { loaded = frame(true); panel.appendChild(loaded); }
      panel.hidden = false;
      button.setAttribute("aria-expanded", "true");
      label(settings.close, true);
      layout();
      loaded.focus();
      var ask = function () { loaded.contentWindow.postMessage({ type: "pt-chat-focus" }, origin); };
      if (loaded.dataset.ready) { ask(); } else {
        loaded.addEventListener("load", function () { loaded.dataset.ready = "1"; ask(); }, { once: true });
      }
    }
    function close() {
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
      label(words, false);
      layout();
      button.focus();
    }
    button.addEventListener("click", function () { if (panel.hidden) { open(); } else { close(); } });
    root.addEventListener("keydown", function (event) { if (event.key === "Escape" && !panel.hidden) close(); });
    window.addEventListener("message", function (event) {
      if (event.origin === origin && event.data && event.data.type === "pt-chat-close" && !panel.hidden) close();
    });
    window.addEventListener("resize", layout);

    layout();
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
