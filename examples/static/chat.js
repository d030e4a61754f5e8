// Long-polling chat client for the tornuv demo: POST /chat/updates waits on
// the server until messages newer than the cursor exist.
(function () {
  "use strict";
  var cursor = 0;
  var box = document.getElementById("messages");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");

  function show(messages) {
    messages.forEach(function (m) {
      var div = document.createElement("div");
      div.className = "msg";
      div.id = "m" + m.id;
      div.textContent = m.body;
      box.appendChild(div);
      if (m.id > cursor) cursor = m.id;
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

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    if (!text) return;
    input.value = "";
    fetch("/chat/new", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "body=" + encodeURIComponent(text)
    });
  });

  document.getElementById("status").textContent = "connected";
  poll();
})();
