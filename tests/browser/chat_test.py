#!/usr/bin/env python3
"""Real-browser test of the demo's WebSocket echo and chat.

Starts examples/demo on a free loopback port, drives two headless Chromium
sessions through chromedriver's W3C WebDriver HTTP API (standard library
only: no Selenium, no npm), and checks:
  1. /ws/echo sends back a text message (non-ASCII) and a binary one
     (every byte value) unchanged, and closes cleanly with code 1000;
  2. the chat over WebSockets (/chat, the default in a browser that has
     them): a message sent from one page appears in the other;
  3. the same over long polling (/chat?transport=long-polling);
  4. a WebSocket page and a long-polling page see each other's messages.

Usage: chat_test.py BUILD_DIR   (exit status 0 on success)
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CHROME_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-dev-shm-usage",
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, deadline):
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class Driver:
    """The few WebDriver commands this test needs."""

    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.session = None

    def call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read().decode() or "{}").get("value")

    def start(self, chrome, profile):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chrome,
                "args": CHROME_FLAGS + ["--user-data-dir=" + profile],
            }}}}
        self.session = self.call("POST", "/session", caps, timeout=60)["sessionId"]

    def s(self, path):
        return "/session/%s%s" % (self.session, path)

    def go(self, url):
        self.call("POST", self.s("/url"), {"url": url})

    def find(self, css):
        v = self.call("POST", self.s("/element"), {"using": "css selector", "value": css})
        return list(v.values())[0]

    def type(self, el, text):
        self.call("POST", self.s("/element/%s/value" % el), {"text": text})

    def click(self, el):
        self.call("POST", self.s("/element/%s/click" % el), {})

    def script(self, js):
        return self.call("POST", self.s("/execute/sync"), {"script": js, "args": []})

    def async_script(self, js):
        return self.call("POST", self.s("/execute/async"), {"script": js, "args": []})

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", self.s(""))
            except OSError:
                pass


def which(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


ECHO_JS = """
var done = arguments[arguments.length - 1];
var ws = new WebSocket("ws://" + location.host + "/ws/echo");
ws.binaryType = "arraybuffer";
var bytes = new Uint8Array(256);
for (var i = 0; i < 256; i++) bytes[i] = i;
var text = "h\u00e9llo \u2603 \ud83d\ude00 " + "x".repeat(70000);
var got = [];
ws.onopen = function () { ws.send(text); ws.send(bytes.buffer); };
ws.onmessage = function (e) {
  got.push(e.data);
  if (got.length < 2) return;
  var b = new Uint8Array(got[1]);
  var same = b.length === 256;
  for (var i = 0; same && i < 256; i++) same = b[i] === i;
  ws.onclose = function (c) { done({text: got[0] === text, binary: same, code: c.code}); };
  ws.close(1000, "bye");
};
ws.onerror = function () { done({error: true}); };
"""


def ws_echo(d, base):
    d.go(base + "/hello")
    r = d.async_script(ECHO_JS)
    if r != {"text": True, "binary": True, "code": 1000}:
        print("chat_test: /ws/echo answered %r" % (r,))
        return False
    print("chat_test: /ws/echo echoed text and binary, closed with 1000: ok")
    return True


def chat_round(a, b, url_a, url_b, name):
    a.go(url_a)
    b.go(url_b)
    want = {url_a: "long-polling" if "long-polling" in url_a else "websocket",
            url_b: "long-polling" if "long-polling" in url_b else "websocket"}
    for d, u in ((a, url_a), (b, url_b)):
        end = time.time() + 15
        while True:
            st = d.script("var s = document.getElementById('status');"
                          "return [s.textContent, s.dataset.transport || '']")
            if st == ["connected", want[u]]:
                break
            if time.time() > end:
                print("chat_test (%s): chat.js did not connect (%r)" % (name, st))
                return False
            time.sleep(0.1)
    time.sleep(0.5)  # let long polls reach the server
    for src, dst in ((a, b), (b, a)):
        text = "%s: hello %d %f" % (name, os.getpid(), time.time())
        src.type(src.find("#chat-input"), text)
        src.click(src.find("#chat-form button"))
        end = time.time() + 15
        while True:
            seen = dst.script("return Array.from(document.querySelectorAll('#messages .msg'))"
                              ".map(function (e) { return e.textContent; })")
            if text in (seen or []):
                break
            if time.time() > end:
                print("chat_test (%s): the message never appeared on the other page" % name)
                return False
            time.sleep(0.1)
    print("chat_test (%s): messages crossed both ways: ok" % name)
    return True


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    demo = os.path.join(build, "examples", "demo")
    chrome = which("chromium", "chromium-browser", "google-chrome")
    driver_bin = which("chromedriver")
    if not os.path.exists(demo) or not chrome or not driver_bin:
        print("chat_test: missing demo (%s), chromium (%s) or chromedriver (%s)"
              % (demo, chrome, driver_bin))
        return 1

    procs = []
    tmp = tempfile.mkdtemp(prefix="tn-browser-")
    drivers = []
    try:
        port = free_port()
        procs.append(subprocess.Popen(
            [demo, "--port", str(port), "--static", os.path.join(root, "examples", "static")],
            stdout=subprocess.DEVNULL))
        dport = free_port()
        procs.append(subprocess.Popen(
            [driver_bin, "--port=%d" % dport, "--allowed-ips=127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + 30
        if not wait_port(port, deadline) or not wait_port(dport, deadline):
            print("chat_test: demo or chromedriver did not start")
            return 1

        base = "http://127.0.0.1:%d" % port
        for i in range(2):
            d = Driver(dport)
            d.start(chrome, os.path.join(tmp, "profile%d" % i))
            drivers.append(d)
        a, b = drivers
        if not ws_echo(a, base):
            return 1
        for name, qa, qb in (("websocket", "", ""),
                             ("long-polling", "?transport=long-polling",
                              "?transport=long-polling"),
                             ("websocket and long-polling", "", "?transport=long-polling")):
            if not chat_round(a, b, base + "/chat" + qa, base + "/chat" + qb, name):
                return 1
        return 0
    finally:
        for d in drivers:
            d.quit()
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
