/* The web chat page: talks to /chat/api, builds every message with textContent (never HTML). */
(function () {
  "use strict";

  var STORAGE_KEY = "pt-screening-chat-session";
  var SESSION_FORMAT = /^[A-Za-z0-9_-]{22,64}$/;
  var POLL_EVERY = 10000; // ms between collecting staff replies while talking to a person
  var RETRIES = 2; // a request that got no answer is sent again, with the same message id
  var SAFE_LINK = /^(https?:\/\/|mailto:|tel:)/i;

  // The page's words, from templates/web/page.j2 and errors.j2 (see chat.html).
  var words = document.querySelector("main.chat").dataset;
  var log = document.getElementById("log");
  var statusLine = document.getElementById("status");
  var form = document.getElementById("compose");
  var input = document.getElementById("answer");
  var busy = false;
  var pollTimer = null;
  var memorySession = null; // when the browser keeps no storage
  var query = new URLSearchParams(location.search);
  var embedded = query.get("embed") === "1";
  // In a practice's page, focus stays where the person is until they open the chat.
  var holdFocus = embedded;
  var typing = null; // the indicator shown while the bot answers

  if (embedded) document.documentElement.classList.add("embedded");
  // The practice's colour (web_chat.brand_color, checked to be dark enough for white text).
  if (/^#[0-9a-f]{6}$/i.test(words.brand || "")) {
    document.documentElement.style.setProperty("--brand", words.brand);
  }
  // In the box a practice's page opens (not one shown inline), the header has a close button.
  var closeButton = document.getElementById("close");
  if (embedded && query.get("close") === "1" && window.parent !== window) {
    closeButton.hidden = false;
    closeButton.addEventListener("click", function () {
      window.parent.postMessage({ type: "pt-chat-close" }, "*"); // carries nothing but the ask
    });
  }

  function randomId(bytes) {
    var data = new Uint8Array(bytes);
    crypto.getRandomValues(data);
    var text = "";
    for (var i = 0; i < data.length; i++) text += String.fromCharCode(data[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function session(fresh) {
    var id = null;
    try { id = fresh ? null : localStorage.getItem(STORAGE_KEY); } catch (e) { id = memorySession; }
    if (!id || !SESSION_FORMAT.test(id)) {
      id = randomId(18);
      try { localStorage.setItem(STORAGE_KEY, id); } catch (e) { memorySession = id; }
    }
    return id;
  }

  function say(message) { statusLine.textContent = message || ""; }

  function post(path, body) {
    body.session = session(false);
    var attempt = 0;
    function send() {
      return fetch("/chat/api/" + path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store"
      }).catch(function (error) {
        if (attempt++ < RETRIES) {
          return new Promise(function (resolve) { setTimeout(resolve, 800 * attempt); }).then(send);
        }
        throw error;
      });
    }
    return send().then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.error || words.failed);
        }
        return data;
      });
    }, function () {
      throw new Error(words.unreachable);
    });
  }

  // -- building messages --------------------------------------------------------------------

  function spans(parent, list) {
    list.forEach(function (span) {
      var node;
      if (span.kind === "bold") { node = document.createElement("strong"); }
      else if (span.kind === "italic") { node = document.createElement("em"); }
      else if (span.kind === "link" && SAFE_LINK.test(span.url)) {
        node = document.createElement("a");
        node.href = span.url;
        node.target = "_blank";
        node.rel = "noopener noreferrer";
      }
      if (!node) { parent.appendChild(document.createTextNode(span.text)); return; }
      node.textContent = span.text;
      parent.appendChild(node);
    });
  }

  function blocks(parent, list) {
    list.forEach(function (block) {
      var node;
      if (block.type === "heading") {
        node = document.createElement("h2");
        spans(node, block.spans);
      } else if (block.type === "list") {
        node = document.createElement("ul");
        block.items.forEach(function (item) {
          var li = document.createElement("li");
          spans(li, item);
          node.appendChild(li);
        });
      } else {
        node = document.createElement("p");
        block.lines.forEach(function (line, index) {
          if (index) node.appendChild(document.createElement("br"));
          spans(node, line);
        });
      }
      parent.appendChild(node);
    });
  }

  function choiceButton(message, choice) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = choice.label;
    button.dataset.choice = choice.id;
    button.dataset.turn = String(message.turn);
    if (choice.style) button.dataset.style = choice.style;
    if (message.multi && choice.id !== "done") {
      button.setAttribute("aria-pressed", choice.selected ? "true" : "false");
    }
    return button;
  }

  // Urgent advice (a red flag's): marked, announced at once, and a button that calls the
  // emergency number set for the practice's country when it is an emergency.
  function urgent(node, message) {
    node.classList.add("urgent");
    node.setAttribute("role", "alert");
    var label = document.createElement("p");
    label.className = "urgent-label";
    label.textContent = words.urgent;
    node.insertBefore(label, node.firstChild);
    if (message.urgency === "emergency" && /^[0-9]{2,6}$/.test(words.emergency || "")) {
      var call = document.createElement("a");
      call.className = "call-button";
      call.href = "tel:" + words.emergency;
      call.textContent = words.call;
      var row = document.createElement("p");
      row.appendChild(call);
      var after = label.nextSibling; // the advice's first line, then the button
      node.insertBefore(row, after ? after.nextSibling : null);
    }
  }

  function botMessage(message) {
    var node = document.createElement("div");
    node.className = "msg bot";
    node.tabIndex = -1;
    blocks(node, message.blocks);
    if (message.urgency) urgent(node, message);
    var group = null;
    if (message.choices.length) {
      group = document.createElement("div");
      group.className = "choices";
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Answers");
      var done = null;
      message.choices.forEach(function (choice) {
        var button = choiceButton(message, choice);
        if (message.multi && choice.id === "done") { done = button; } else { group.appendChild(button); }
      });
      node.appendChild(group);
      if (done) { // its own row, kept in view (chat.css) while the options scroll
        var row = document.createElement("div");
        row.className = "choices done-row";
        row.appendChild(done);
        node.appendChild(row);
      }
      if (message.multi) node.dataset.multi = "true";
    }
    // The leading link (the booking) comes before the answers, filled; the others after.
    var lead = message.links.filter(function (link) { return link.style === "primary"; });
    var rest = message.links.filter(function (link) { return link.style !== "primary"; });
    if (lead.length) node.insertBefore(linkGroup(lead), group || null);
    if (rest.length) node.appendChild(linkGroup(rest));
    return node;
  }

  function linkGroup(list) {
    var links = document.createElement("div");
    links.className = "links";
    list.forEach(function (link) {
      if (!SAFE_LINK.test(link.url)) return;
      var a = document.createElement("a");
      a.className = "link-button";
      a.href = link.url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.textContent = link.label;
      if (link.style) a.dataset.style = link.style;
      var hint = document.createElement("span");
      hint.className = "visually-hidden";
      hint.textContent = " (" + words.newTab + ")";
      a.appendChild(hint);
      links.appendChild(a);
    });
    return links;
  }

  function myMessage(text) {
    var node = document.createElement("div");
    node.className = "msg me";
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = words.you + " ";
    node.appendChild(who);
    node.appendChild(document.createTextNode(text));
    log.appendChild(node);
  }

  function retireOldButtons() {
    // An answered question's buttons go (as on the other channels): only the current one's stay.
    log.querySelectorAll(".msg.bot .choices").forEach(function (group) { group.remove(); });
  }

  function lastBotMessage(selector) {
    return Array.prototype.slice.call(log.querySelectorAll(selector || ".msg.bot")).pop();
  }

  // The conversation shows the start of a new message (not its end, not the middle).
  function reveal(node) {
    if (!node) return;
    log.scrollTop += node.getBoundingClientRect().top - log.getBoundingClientRect().top
      - parseFloat(getComputedStyle(log).paddingTop);
  }

  function focusOn(node, expectsText) {
    // The new question's answer gets focus: the text field when it asks for typing (a
    // number, a name), else its first button, else the message itself; without scrolling
    // the message's start out of view. A first button the typing area would hide (a long
    // question on a small or zoomed screen) is not focused, the question is: focus is never
    // out of sight, and Tab brings the answers into view.
    if (holdFocus) return;
    var first = node && node.querySelector(".choices button");
    if (expectsText || !node) { input.focus({ preventScroll: true }); }
    else if (first && inView(first)) { first.focus({ preventScroll: true }); }
    else { node.focus({ preventScroll: true }); }
  }

  function inView(element) {
    var shown = element.getBoundingClientRect();
    var bottom = Math.min(log.getBoundingClientRect().bottom, form.getBoundingClientRect().top);
    return shown.top >= log.getBoundingClientRect().top && shown.bottom <= bottom + 1;
  }

  function showTyping(on) {
    if (on && !typing) {
      typing = document.createElement("div");
      typing.className = "typing";
      typing.setAttribute("aria-hidden", "true"); // screen readers hear the log's aria-busy
      for (var i = 0; i < 3; i++) typing.appendChild(document.createElement("span"));
      log.appendChild(typing);
      log.setAttribute("aria-busy", "true");
      typing.scrollIntoView({ block: "nearest" });
    } else if (!on && typing) {
      typing.remove();
      typing = null;
      log.removeAttribute("aria-busy");
    }
  }

  // options: choice (the button pressed, to keep focus on in a pick-several question), echoed
  // (the person's words are shown already), quiet (collected in the background: the live
  // region announces it, focus stays where the person is).
  function show(data, options) {
    options = options || {};
    if (data.forgotten) session(true); // everything was deleted: a new anonymous id from now on
    if (data.answered && !options.echoed) myMessage(data.answered);
    var added = null;
    if (data.edit && data.messages.length === 1) {
      var old = lastBotMessage(".msg.bot[data-multi='true']");
      added = botMessage(data.messages[0]);
      if (old) { old.replaceWith(added); } else { retireOldButtons(); log.appendChild(added); }
      var same = options.choice
        && added.querySelector("button[data-choice='" + CSS.escape(options.choice) + "']");
      if (same) { same.focus(); } else { focusOn(added, false); }
    } else if (data.messages.length) {
      if (!options.quiet) retireOldButtons(); // a staff message leaves the question answerable
      var firstAdded = null;
      data.messages.forEach(function (message) {
        added = botMessage(message);
        log.appendChild(added);
        firstAdded = firstAdded || added;
      });
      if (!options.quiet) {
        reveal(firstAdded);
        focusOn(added, data.expects_text);
      }
    }
    polling(Boolean(data.relay));
  }

  // -- what the person does -----------------------------------------------------------------

  function turn(body, echo) {
    if (busy) return Promise.resolve();
    busy = true;
    document.body.setAttribute("aria-busy", "true");
    say("");
    body.message_id = randomId(12);
    if (echo) myMessage(echo);
    showTyping(true);
    return post("turn", body).then(function (data) {
      showTyping(false);
      show(data, { choice: body.choice, echoed: Boolean(echo) });
      return true;
    }, function (error) {
      showTyping(false);
      say(error.message);
      return false;
    }).then(function (sent) {
      busy = false;
      document.body.removeAttribute("aria-busy");
      return sent;
    });
  }

  log.addEventListener("click", function (event) {
    var button = event.target.closest(".choices button");
    if (!button) return;
    holdFocus = false;
    turn({ choice: button.dataset.choice, turn: Number(button.dataset.turn) }, "");
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    holdFocus = false;
    var text = input.value;
    if (!text.trim()) { say(words.empty); input.focus(); return; }
    turn({ text: text }, text).then(function (sent) {
      if (sent) input.value = ""; // kept when it could not be sent: nothing typed is lost
    });
  });

  document.querySelector(".tools").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-command]");
    if (!button) return;
    holdFocus = false;
    turn({ text: button.dataset.command }, button.textContent);
  });

  // -- staff replies, collected while the person talks to one -----------------------------

  function polling(on) {
    if (on && !pollTimer) {
      pollTimer = setInterval(function () {
        if (document.visibilityState !== "visible" || busy) return;
        post("poll", {}).then(function (data) { show(data, { quiet: true }); }, function () {});
      }, POLL_EVERY);
    } else if (!on && pollTimer) {
      clearInterval(pollTimer);
      pollTimer = null;
    }
  }

  // -- the embedding page asks for focus or is told to close ------------------------------

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || !event.data || event.data.type !== "pt-chat-focus") return;
    holdFocus = false;
    focusOn(lastBotMessage(), false);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && window.parent !== window) {
      window.parent.postMessage({ type: "pt-chat-close" }, "*"); // carries nothing but the ask
    }
  });

  // -- on load: where the person left off, or a new start ----------------------------------

  post("resume", {}).then(function (data) {
    if (!data.messages.length) return turn({ text: "/start" }, "");
    show(data);
  }, function (error) { say(error.message); });
})();
