// Chat client for the tornuv demo. With WebSocket (every current browser) it
// talks to /chat/ws: the server sends the history, then each new message,
// and a text message posts one. Without it, or when the socket cannot open,
// it long-polls: POST /chat/updates waits on the server until messages newer
// than the cursor exist, POST /chat/new posts.
(function () {
  "use strict";
  var cursor = 0;
  var box = document.getElementById("messages");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var status = document.getElementById("status");
  var socket = null;

  function show(messages) {
    messages.forEach(function (m) {
      if (m.id <= cursor) return; // already shown
      var div = document.createElement("div");
      div.className = "msg";
      div.id = "m" + m.id;
      div.textContent = m.body;
      box.appendChild(div);
      cursor = m.id;
    });
  }

  function poll() {
    fetch("/chat/updates", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "cursor=" + cursor
    }).then(function (r) {
      if (!r.ok) throw new Error("status " + r.status);
      return r.json();
    }).then(function (data) {
      show(data.messages);
      poll();
    }).catch(function () {
      setTimeout(poll, 1000);
    });
  }

  function longPolling() {
    socket = null;
    status.textContent = "connected";
    status.dataset.transport = "long-polling";
    poll();
  }

  function webSocket() {
    var opened = false;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chat/ws";
    socket = new WebSocket(url);
    socket.onopen = function () {
      opened = true;
      status.textContent = "connected";
      status.dataset.transport = "websocket";
    };
    socket.onmessage = function (e) {
      show(JSON.parse(e.data).messages);
    };
    socket.onclose = function () {
      socket = null;
      if (!opened) {
        longPolling(); // no WebSocket through this path: fall back
      } else {
        status.textContent = "reconnecting";
        setTimeout(webSocket, 1000);
      }
    };
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text) return;
    input.value = "";
    if (socket && socket.readyState === 1) {
      socket.send(text);
      return;
    }
    fetch("/chat/new", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "body=" + encodeURIComponent(text)
    });
  });

  // ?transport=long-polling forces the fallback (the browser test uses it).
  if (typeof WebSocket === "function" && location.search.indexOf("transport=long-polling") < 0) {
    webSocket();
  } else {
    longPolling();
  }
})();
