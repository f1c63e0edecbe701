// The chat page: talks to the server with the official Socket.IO client (window.io),
// following docs/socket-protocol.md. All user text goes in through textContent.
(function () {
  "use strict";
  const page = document.getElementById("play");
  if (!page) return;
  const $ = (id) => document.getElementById(id);
  const maxChars = Number(page.dataset.maxChars);
  const state = { gameId: null, myTurn: false, over: false, judged: false,
                  typingSent: false, deadline: 0, clock: null };
  const transcript = [];

  function show(el, on) { el.hidden = !on; }
  function phase(text) { $("phase").textContent = text; }
  function notice(text) { $("notice").textContent = text; show($("notice"), Boolean(text)); }

  if (typeof window.io !== "function") {
    phase("The chat library is missing on the server (run `make run`, which installs it).");
    return;
  }
  const socket = window.io();  // reconnects by itself; a verdict names its game_id

  function bubble(list, who, text) {
    const li = document.createElement("li");
    li.className = "bubble " + who;
    const label = document.createElement("span");
    label.className = "visually-hidden";
    label.textContent = who === "mine" ? "You: " : "Partner: ";
    li.append(label, document.createTextNode(text));
    list.append(li);
    li.scrollIntoView({ block: "nearest" });
  }

  function addMessage(who, text) {
    transcript.push([who, text]);
    bubble($("log"), who, text);
    phase("Chatting. Give your verdict whenever you are ready.");
  }

  function setTurn(mine) {
    state.myTurn = mine && !state.over;
    state.typingSent = false;
    $("turn").textContent = state.over ? "" : (mine ? "Your turn" : "Partner's turn");
    $("turn").classList.toggle("mine", state.myTurn);
    updateSend();
  }

  function updateSend() {
    const len = $("message").value.length;
    $("counter").textContent = len + " / " + maxChars;
    $("send").disabled = !state.myTurn || len === 0 || len > maxChars || !$("message").value.trim();
  }

  function tick() {
    const left = Math.max(0, Math.round((state.deadline - Date.now()) / 1000));
    $("timer").textContent = Math.floor(left / 60) + ":" + String(left % 60).padStart(2, "0");
  }

  // (Re)connected: ask for a game unless we have one. A server forgets a waiting
  // player whose connection dropped, so a reconnect while waiting asks again.
  socket.on("connect", () => {
    if (state.gameId === null) socket.emit("find_game", {});
  });
  socket.on("connect_error", (err) => phase("Could not connect: " + err.message + " Reload the page to try again."));
  socket.on("disconnect", () => {
    if (!state.over && state.gameId !== null) endGame("Connection lost: the chat has ended.");
  });

  socket.on("waiting", () => phase("Looking for a partner…"));

  socket.on("game_started", (game) => {
    state.gameId = game.game_id;
    state.deadline = Date.now() + game.seconds * 1000;
    state.clock = setInterval(tick, 500);
    tick();
    phase(game.you_first ? "Connected. Say hello: you go first." : "Connected. Your partner goes first.");
    show($("composer"), true);
    show($("verdict"), true);
    show($("report"), true);
    setTurn(game.you_first);
    $("message").focus();
  });

  socket.on("partner_typing", () => show($("typing"), true));

  socket.on("chat", (msg) => {
    show($("typing"), false);
    addMessage("theirs", msg.text);
    setTurn(true);
  });

  const REASONS = { time_up: "Time is up.", partner_left: "Your partner has left the chat.",
                    verdict: "You ended the chat with your verdict." };
  socket.on("game_over", (info) => endGame(REASONS[info.reason] || "The chat has ended."));

  function endGame(text) {
    state.over = true;
    clearInterval(state.clock);
    show($("typing"), false);
    show($("composer"), false);
    setTurn(false);
    phase(text);
    $("verdict-note").textContent = state.judged ? "" : "The chat is over. Please give your verdict.";
  }

  socket.on("reveal", (r) => {
    state.judged = true;
    show($("verdict"), false);
    const truth = r.partner === "human" ? "a person" : "a machine" + (r.bot ? " (" + r.bot + ")" : "");
    $("reveal-title").textContent = r.correct ? "You were right!" : "Not this time.";
    const guess = new FormData($("verdict"));
    $("reveal-text").textContent = "Your partner was " + truth + ". You said " +
      (guess.get("guess") === "human" ? "a person" : "a machine") + ", " + guess.get("confidence") + "% sure.";
    show($("log"), false);  // the transcript below replaces the live log
    transcript.forEach(([who, text]) => bubble($("transcript"), who, text));
    if (!transcript.length) $("transcript").textContent = "No messages were exchanged.";
    show($("reveal"), true);
    $("reveal").scrollIntoView({ block: "start" });
  });

  socket.on("error", (e) => notice(e.message));

  $("message").addEventListener("input", () => {
    notice("");
    updateSend();
    if (state.myTurn && !state.typingSent && $("message").value) {
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
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });

  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("message").value.trim();
    if (!state.myTurn || !text) return;
    $("send").disabled = true;
    socket.emit("chat", { text }, (ack) => {
      if (!ack || !ack.ok) { updateSend(); return; }
      addMessage("mine", text);
      $("message").value = "";
      setTurn(false);
    });
  });

  $("confidence").addEventListener("input", () => { $("confidence-out").textContent = $("confidence").value; });

  $("verdict").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = new FormData($("verdict"));
    socket.emit("verdict", { game_id: state.gameId, guess: form.get("guess"),
                             confidence: Number(form.get("confidence")),
                             reason: String(form.get("reason") || "") });
  });

  $("report").addEventListener("click", () => {
    const text = window.prompt("What was abusive? (optional)");
    if (text === null) return;
    socket.emit("report", { game_id: state.gameId, text: text.slice(0, 500) },
                (ack) => notice(ack && ack.ok ? "Thank you: a moderator will read this chat." : ""));
  });
})();
