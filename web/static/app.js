// The browser side of the arena: the chat page, which talks to the server with the
// official Socket.IO client (window.io) as docs/socket-protocol.md describes, and the
// leaderboard's live refresh. All user text goes into the page through textContent.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  function show(el, on) { el.hidden = !on; }

  // The server counts a message after tidying it (trimmed, runs of white space made one
  // space), in characters (code points): the counter counts the same way.
  function tidyLength(text) {
    return [...text.trim().split(/\s+/).join(" ")].length;
  }

  function confidenceWord(value) {
    if (value <= 10) return "a pure guess";
    if (value <= 35) return "a hunch";
    if (value <= 65) return "fairly sure";
    if (value <= 90) return "quite sure";
    return "certain";
  }

  function playPage(page) {
    const maxChars = Number(page.dataset.maxChars);
    // In a judging session: its code goes with `find_game`, and witnesses never judge.
    const sessionCode = page.dataset.session || null;
    const judge = page.dataset.judge !== "false";
    const state = { gameId: null, myTurn: false, over: false, judged: false, judging: false,
                    typingSent: false, connected: false, resumed: false, deadline: 0, clock: null };
    let transcript = [];

    function phase(text, busy) {
      $("phase").textContent = text;
      $("phase").classList.toggle("busy", Boolean(busy));
    }
    function notice(text) { $("notice").textContent = text; show($("notice"), Boolean(text)); }

    if (typeof window.io !== "function") {
      phase("The chat library is missing on the server (run `make run`, which installs it).");
      return;
    }
    // The server keeps a player's seat for a while when the connection drops; closing
    // the socket on unload lets it know at once that a reload has begun.
    const socket = window.io({ closeOnBeforeunload: true });

    function bubble(list, who, text) {
      const li = document.createElement("li");
      li.className = "bubble " + who;
      const label = document.createElement("span");
      label.className = "visually-hidden";
      label.textContent = who === "mine" ? "You: " : "Partner: ";
      li.append(label, document.createTextNode(text));
      list.append(li);
      return li;
    }

    function addMessage(who, text) {
      transcript.push([who, text]);
      bubble($("log"), who, text).scrollIntoView({ block: "nearest" });
    }

    function setTurn(mine) {
      state.myTurn = mine && !state.over;
      state.typingSent = false;
      const turn = $("turn");
      turn.textContent = state.over ? "" : (mine ? "Your turn" : "Partner's turn");
      turn.classList.toggle("mine", state.myTurn);
      $("message").placeholder = state.myTurn ? "Type your message" : "Wait for your partner's reply…";
      updateSend();
    }

    function updateSend() {
      const len = tidyLength($("message").value);
      const over = len > maxChars;
      $("counter").textContent = len + " / " + maxChars + (over ? " · " + (len - maxChars) + " too many" : "");
      $("counter").classList.toggle("over", over);
      $("send").disabled = !state.myTurn || !state.connected || len === 0 || over;
    }

    function tick() {
      const left = Math.max(0, Math.ceil((state.deadline - Date.now()) / 1000));
      $("timer").textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
      $("timer").parentElement.classList.toggle("low", left <= Math.min(30, state.seconds / 5));
    }

    // A game begins (game_started) or is taken up again after a reload (resume).
    function begin(game) {
      state.gameId = game.game_id;
      state.seconds = game.seconds;
      state.deadline = Date.now() + game.seconds * 1000;
      clearInterval(state.clock);
      state.clock = setInterval(tick, 250);
      tick();
      show($("timer").parentElement, true);
      show($("tips"), false);
      show($("composer"), true);
      show($("decide-row"), judge);
      show($("report"), true);
    }

    function endGame(text) {
      state.over = true;
      clearInterval(state.clock);
      $("timer").parentElement.classList.add("stopped");
      show($("typing"), false);
      show($("composer"), false);
      show($("decide-row"), false);
      setTurn(false);
      phase(text);
      if (!judge) {
        show($("witness-done"), true);
      } else if (!state.judged) {
        $("verdict-note").textContent = "The chat is over. Please give your verdict.";
        openVerdict();
      }
    }

    function openVerdict() {
      const form = $("verdict");
      const wasHidden = form.hidden;
      show(form, true);
      if (wasHidden) {
        form.scrollIntoView({ block: "nearest", behavior: "smooth" });
        form.querySelector("input[name=guess]").focus({ preventScroll: true });
      }
    }

    socket.on("connect", () => {
      state.connected = true;
      if (state.gameId === null) {
        socket.emit("find_game", sessionCode ? { session: sessionCode } : {});
      } else if (!state.over && !state.resumed) {  // `resume` comes before `connect`
        endGame("The connection was lost for too long: the chat has ended.");
      }
      state.resumed = false;
      updateSend();
    });
    socket.on("connect_error", (err) => phase("Could not connect: " + err.message + " Reload the page to try again."));
    socket.on("disconnect", () => {
      state.connected = false;
      updateSend();
      if (!state.over && state.gameId !== null) phase("Connection lost. Reconnecting…", true);
    });

    socket.on("waiting", () => phase("Looking for a partner…", true));

    socket.on("game_started", (game) => {
      begin(game);
      phase(game.you_first ? "Connected. Say hello: you go first." : "Connected. Your partner goes first.");
      setTurn(game.you_first);
      $("message").focus();
    });

    // Back after a reload: the page is drawn again from the server's state of the game.
    socket.on("resume", (game) => {
      state.resumed = true;
      transcript = [];
      $("log").replaceChildren();
      game.messages.forEach((m) => addMessage(m.mine ? "mine" : "theirs", m.text));
      begin(game);
      if (game.over) {
        endGame(REASONS[game.over] || "The chat has ended.");
        return;
      }
      phase("Welcome back: the chat goes on.");
      setTurn(game.your_turn);
      show($("typing"), game.partner_typing);
      $("message").focus();
    });

    socket.on("partner_typing", () => {
      show($("typing"), true);
      $("typing").scrollIntoView({ block: "nearest" });
    });

    socket.on("chat", (msg, ack) => {
      if (ack) ack();  // the server times the round trip, for machines to wait as long
      show($("typing"), false);
      addMessage("theirs", msg.text);
      phase("Chatting. Give your verdict whenever you are ready.");
      setTurn(true);
    });

    const REASONS = { time_up: "Time is up.", partner_left: "Your partner has left the chat.",
                      verdict: "You ended the chat with your verdict." };
    socket.on("game_over", (info) => {
      if (info.reason === "time_up") {  // the server's clock decides; ours may lag a little
        state.deadline = Date.now();
        tick();
      }
      endGame(REASONS[info.reason] || "The chat has ended.");
    });

    socket.on("reveal", (r) => {
      state.judged = true;
      show($("verdict"), false);
      if (r.hidden) {  // a judging session that keeps the answers until it ends
        $("reveal-title").textContent = "Verdict stored.";
        $("reveal-text").textContent = "The organiser will show who was who when the session ends.";
      } else {
        const truth = r.partner === "human" ? "a person" : "a machine" + (r.bot ? " (" + r.bot + ")" : "");
        $("reveal").classList.toggle("right", r.correct);
        $("reveal-title").textContent = r.correct ? "You were right!" : "Not this time.";
        const guess = new FormData($("verdict"));
        $("reveal-text").textContent = "Your partner was " + truth + ". You said " +
          (guess.get("guess") === "human" ? "a person" : "a machine") + ", " + guess.get("confidence") + "% sure.";
      }
      show($("log"), false);  // the transcript below replaces the live log
      transcript.forEach(([who, text]) => bubble($("transcript"), who, text));
      if (!transcript.length) $("transcript").textContent = "No messages were exchanged.";
      show($("reveal"), true);
      $("reveal").focus({ preventScroll: true });
      $("reveal").scrollIntoView({ block: "start" });
    });

    socket.on("error", (e) => notice(e.message));

    $("message").addEventListener("input", () => {
      notice("");
      updateSend();
      if (state.myTurn && !state.typingSent && $("message").value.trim()) {
        state.typingSent = true;
        socket.emit("typing", {});
      }
    });
    for (const type of ["paste", "drop"]) {
      $("message").addEventListener(type, (e) => {
        e.preventDefault();
        notice("Pasting is turned off: please type your messages.");
      });
    }
    $("message").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        $("composer").requestSubmit();
      }
    });

    $("composer").addEventListener("submit", (e) => {
      e.preventDefault();
      const text = $("message").value.trim();
      if ($("send").disabled || !text) return;
      $("send").disabled = true;
      socket.emit("chat", { text }, (ack) => {
        if (!ack || !ack.ok) { updateSend(); return; }
        addMessage("mine", text);
        $("message").value = "";
        phase("Chatting. Give your verdict whenever you are ready.");
        setTurn(false);
      });
    });

    $("decide").addEventListener("click", openVerdict);

    function showConfidence() {
      const value = Number($("confidence").value);
      const text = value + "% · " + confidenceWord(value);
      $("confidence-out").textContent = text;
      $("confidence").setAttribute("aria-valuetext", text);
    }
    $("confidence").addEventListener("input", showConfidence);
    showConfidence();

    $("verdict").addEventListener("submit", (e) => {
      e.preventDefault();
      if (state.judging || state.judged) return;  // one verdict per game, however often one clicks
      state.judging = true;
      $("verdict-send").disabled = true;
      const form = new FormData($("verdict"));
      socket.emit("verdict", { game_id: state.gameId, guess: form.get("guess"),
                               confidence: Number(form.get("confidence")),
                               reason: String(form.get("reason") || "") }, (ack) => {
        if (ack && ack.ok) return;  // the reveal follows
        state.judging = false;  // refused (the `error` event says why): it may be sent again
        $("verdict-send").disabled = false;
      });
    });

    $("report-form").addEventListener("submit", (e) => {
      e.preventDefault();
      socket.emit("report", { game_id: state.gameId, text: $("report-text").value.slice(0, 500) }, (ack) => {
        if (!ack || !ack.ok) return;
        $("report").open = false;
        $("report-text").value = "";
        notice("Thank you: a moderator will read this chat.");
      });
    });
  }

  // The leaderboard fetches its figures again every few seconds while it is visible.
  function leaderboardPage(board) {
    let last = board.innerHTML;
    let busy = false;
    async function refresh() {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const response = await fetch(board.dataset.src, { cache: "no-store" });
        if (!response.ok) return;
        const html = await response.text();
        if (html !== last) {
          board.innerHTML = html;
          last = html;
        }
        $("board-status").textContent = "Updated at " + new Date().toLocaleTimeString() + ".";
      } catch (err) {
        // Offline for a moment: keep the figures we have and try again later.
      } finally {
        busy = false;
      }
    }
    setInterval(refresh, Number(board.dataset.refreshSeconds) * 1000);
    document.addEventListener("visibilitychange", refresh);
  }

  // A judging session's organiser: the key arrives in the link's fragment, which the
  // browser never sends; post it once, so the cookie remembers this organiser.
  function organiserKey(form) {
    const key = new URLSearchParams(location.hash.slice(1)).get("key");
    if (!key) return;
    history.replaceState(null, "", location.pathname);
    $("key").value = key;
    form.submit();
  }

  // The organiser's live view: the session's figures, fetched every few seconds.
  function liveSession(panel) {
    const fields = { "live-judges": (d) => d.online.judges, "live-witnesses": (d) => d.online.witnesses,
                     "live-joined-judges": (d) => d.joined.judges, "live-joined-witnesses": (d) => d.joined.witnesses,
                     "live-games": (d) => d.online.games_running, "live-finished": (d) => d.games_finished,
                     "live-verdicts": (d) => d.verdicts, "live-correct": (d) => d.verdicts_correct,
                     "live-state": (d) => (d.session.closed_at ? "Closed" : "Open") };
    async function refresh() {
      try {
        const response = await fetch(panel.dataset.src, { cache: "no-store" });
        if (!response.ok) return;
        const data = await response.json();
        for (const [id, get] of Object.entries(fields)) $(id).textContent = String(get(data));
        $("live-status").textContent = "Updated at " + new Date().toLocaleTimeString() + ".";
      } catch (err) {
        // Offline for a moment: keep the figures and try again.
      }
    }
    setInterval(refresh, Number(panel.dataset.refreshSeconds) * 1000);
  }

  if ($("play")) playPage($("play"));
  if ($("organiser-key")) organiserKey($("organiser-key"));
  if ($("live")) liveSession($("live"));
  if ($("board")) leaderboardPage($("board"));
})();
