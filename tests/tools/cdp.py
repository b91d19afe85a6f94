#!/usr/bin/python3
"""cdp.py - drive a headless Chromium over the DevTools protocol, one step
per run, for the web tests (tests/integration/t_web.sh).

    cdp.py DIR start [CHROMIUM ARGS...]   start Chromium with its profile in DIR
    cdp.py DIR stop
    cdp.py DIR nav URL                    open URL, wait for the page to load
    cdp.py DIR eval JS                    print the value of JS (awaited)
    cdp.py DIR fill SELECTOR VALUE        set a form field
    cdp.py DIR submit SELECTOR            click it and wait for the next page
    cdp.py DIR shot FILE                  a PNG screenshot of the page
    cdp.py DIR cookie NAME                the value of a cookie (even HttpOnly)

Every step prints what it found and exits 0, or says what went wrong on
stderr and exits 1.  Only python3-websockets (Debian) beyond the standard
library.  The page is the first "page" target of the one Chromium.
"""
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import websockets


def die(msg):
    print("cdp: " + msg, file=sys.stderr)
    sys.exit(1)


def port_of(d):
    for _ in range(200):
        try:
            with open(os.path.join(d, "profile", "DevToolsActivePort")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            time.sleep(0.05)
    die("Chromium did not start (no DevToolsActivePort)")


def page_ws(d):
    port = port_of(d)
    with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port,
                                timeout=5) as r:
        targets = json.load(r)
    for t in targets:
        if t.get("type") == "page":
            return t["webSocketDebuggerUrl"]
    die("no page target")


class Page:
    def __init__(self, ws):
        self.ws = ws
        self.n = 0

    async def call(self, method, **params):
        self.n += 1
        my = self.n
        await self.ws.send(json.dumps({"id": my, "method": method,
                                       "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
            if msg.get("id") == my:
                if "error" in msg:
                    die("%s: %s" % (method, msg["error"].get("message")))
                return msg.get("result", {})

    async def eval(self, js):
        r = await self.call("Runtime.evaluate", expression=js,
                            awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            die("eval: " + json.dumps(r["exceptionDetails"])[:300])
        return r.get("result", {}).get("value")

    async def settle(self, token):
        """Wait until a new document (not the one marked with token) has
        loaded."""
        for _ in range(400):
            try:
                v = await self.eval(
                    "window.__cdp === %s ? 'old' : document.readyState"
                    % json.dumps(token))
            except SystemExit:
                v = "old"
            if v == "complete":
                return
            await asyncio.sleep(0.025)
        die("the page did not load")


async def step(d, cmd, args):
    async with websockets.connect(page_ws(d), max_size=None) as ws:
        p = Page(ws)
        token = "%d.%d" % (os.getpid(), time.time_ns())
        if cmd == "nav":
            await p.eval("window.__cdp = %s" % json.dumps(token))
            r = await p.call("Page.navigate", url=args[0])
            if r.get("errorText"):
                die("nav: " + r["errorText"])
            await p.settle(token)
            print(await p.eval("location.pathname"))
        elif cmd == "eval":
            v = await p.eval(args[0])
            print(v if isinstance(v, str) else json.dumps(v))
        elif cmd == "fill":
            ok = await p.eval(
                "(function(){var e=document.querySelector(%s);"
                "if(!e)return false;e.value=%s;return true})()"
                % (json.dumps(args[0]), json.dumps(args[1])))
            if not ok:
                die("fill: no " + args[0])
        elif cmd == "submit":
            await p.eval("window.__cdp = %s" % json.dumps(token))
            ok = await p.eval(
                "(function(){var e=document.querySelector(%s);"
                "if(!e)return false;setTimeout(function(){e.click()},0);"
                "return true})()" % json.dumps(args[0]))
            if not ok:
                die("submit: no " + args[0])
            await p.settle(token)
            print(await p.eval("location.pathname"))
        elif cmd == "shot":
            await p.call("Emulation.setDeviceMetricsOverride", width=420,
                         height=900, deviceScaleFactor=1, mobile=True)
            r = await p.call("Page.captureScreenshot", format="png",
                             captureBeyondViewport=True)
            with open(args[0], "wb") as f:
                f.write(base64.b64decode(r["data"]))
            await p.call("Emulation.clearDeviceMetricsOverride")
        elif cmd == "cookie":
            r = await p.call("Network.getCookies")
            for c in r.get("cookies", []):
                if c["name"] == args[0]:
                    print(c["value"])
                    return
            die("no cookie " + args[0])
        else:
            die("unknown step " + cmd)


def main():
    if len(sys.argv) < 3:
        die("usage: cdp.py DIR STEP ARGS...")
    d, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "start":
        os.makedirs(os.path.join(d, "profile"), exist_ok=True)
        argv = ["chromium", "--headless=new", "--no-sandbox",
                "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-dev-shm-usage", "--disable-extensions",
                "--disable-background-networking", "--disable-sync",
                "--remote-debugging-port=0", "--remote-allow-origins=*",
                "--user-data-dir=" + os.path.join(d, "profile")] + args + \
            ["about:blank"]
        with open(os.path.join(d, "chromium.log"), "wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=log,
                                    stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        with open(os.path.join(d, "pid"), "w") as f:
            f.write(str(proc.pid))
        port_of(d)
        page_ws(d)
        return
    if cmd == "stop":
        try:
            with open(os.path.join(d, "pid")) as f:
                pid = int(f.read())
            os.killpg(pid, signal.SIGTERM)
            for i in range(100):  # its profile is removed next: wait
                time.sleep(0.05)
                if i == 60:
                    os.killpg(pid, signal.SIGKILL)
                os.killpg(pid, 0)
        except (OSError, ValueError):
            pass
        return
    asyncio.run(step(d, cmd, args))


if __name__ == "__main__":
    main()
