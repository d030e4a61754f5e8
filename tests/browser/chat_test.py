#!/usr/bin/env python3
"""Real-browser test of the demo's long-polling chat.

Starts examples/demo on a free loopback port, drives two headless Chromium
sessions through chromedriver's W3C WebDriver HTTP API (standard library
only: no Selenium, no npm), opens /chat in both, sends a message from the
first page and waits for it to appear in the second.

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

        url = "http://127.0.0.1:%d/chat" % port
        for i in range(2):
            d = Driver(dport)
            d.start(chrome, os.path.join(tmp, "profile%d" % i))
            drivers.append(d)
            d.go(url)
        a, b = drivers
        # both pages loaded their script and started polling
        for d in drivers:
            end = time.time() + 15
            while d.script("return document.getElementById('status').textContent") != "connected":
                if time.time() > end:
                    print("chat_test: chat.js did not start")
                    return 1
                time.sleep(0.1)
        time.sleep(0.5)  # let both long polls reach the server
        text = "hello from page one %d" % os.getpid()
        a.type(a.find("#chat-input"), text)
        a.click(a.find("#chat-form button"))
        end = time.time() + 15
        while time.time() < end:
            seen = b.script("return Array.from(document.querySelectorAll('#messages .msg'))"
                            ".map(function (e) { return e.textContent; })")
            if text in (seen or []):
                print("chat_test: the message reached the second page: ok")
                return 0
            time.sleep(0.1)
        print("chat_test: the message never appeared in the second page")
        return 1
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
